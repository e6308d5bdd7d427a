-- DESCRIBE does not count as a read.
-- kind: DESCRIBE
-- creates:
-- writes:
-- reads:
-- drops:
-- alters:
-- stateful:
DESCRIBE EXTENDED shop.orders
