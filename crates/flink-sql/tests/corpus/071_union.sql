-- UNION without ALL removes duplicates across inputs.
-- kind: SELECT
-- creates:
-- writes:
-- reads: a_orders, b_orders
-- drops:
-- alters:
-- stateful: set-operation
SELECT id FROM a_orders
UNION
SELECT id FROM b_orders
