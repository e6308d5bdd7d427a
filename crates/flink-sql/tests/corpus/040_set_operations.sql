-- UNION, INTERSECT, a parenthesised EXCEPT, UNION ALL; a repeated table is read once.
-- kind: SELECT
-- creates:
-- writes:
-- reads: a_orders, b_orders, c_orders, d_orders
-- drops:
-- alters:
-- stateful: set-operation
SELECT id FROM a_orders
UNION
SELECT id FROM b_orders
INTERSECT
(SELECT id FROM c_orders EXCEPT SELECT id FROM d_orders)
UNION ALL
SELECT id FROM a_orders
