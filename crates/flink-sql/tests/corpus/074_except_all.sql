-- EXCEPT ALL, like INTERSECT ALL, compares rows across inputs.
-- kind: SELECT
-- creates:
-- writes:
-- reads: a_orders, refunds
-- drops:
-- alters:
-- stateful: set-operation
SELECT id FROM a_orders
EXCEPT ALL
SELECT order_id FROM refunds
