-- Keywords in any case; identifiers keep theirs (Orders and orders are two tables).
-- kind: INSERT_INTO
-- creates:
-- writes: Totals
-- reads: Orders, orders
-- drops:
-- alters:
-- stateful:
InSeRt InTo Totals sElEcT id FrOm Orders uNiOn AlL SeLeCt id from orders
