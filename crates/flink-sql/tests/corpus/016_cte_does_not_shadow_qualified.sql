-- Only unqualified names are shadowed by a CTE.
-- kind: SELECT
-- creates:
-- writes:
-- reads: mydb.orders
-- drops:
-- alters:
-- stateful:
WITH orders AS (SELECT 1 AS id)
SELECT id FROM orders
UNION ALL
SELECT id FROM mydb.orders
