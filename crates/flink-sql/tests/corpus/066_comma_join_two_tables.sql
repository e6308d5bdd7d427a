-- A comma between two tables is a join, even with the condition in WHERE.
-- kind: SELECT
-- creates:
-- writes:
-- reads: orders, customers
-- drops:
-- alters:
-- stateful: join
SELECT o.id, c.name
FROM orders o, customers c
WHERE o.cid = c.id
