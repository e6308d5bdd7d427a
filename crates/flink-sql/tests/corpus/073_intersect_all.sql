-- INTERSECT ALL must still match rows across inputs: stateful despite ALL.
-- kind: SELECT
-- creates:
-- writes:
-- reads: a_orders, b_orders
-- drops:
-- alters:
-- stateful: set-operation
SELECT id FROM a_orders
INTERSECT ALL
SELECT id FROM b_orders
