-- DESCRIBE does not count as a read.
-- kind: DESCRIBE
-- creates:
-- writes:
-- reads:
-- drops:
DESCRIBE EXTENDED shop.orders
