-- A CTE named like a table shadows it after its definition; its own body reads the real table.
-- kind: SELECT
-- creates:
-- writes:
-- reads: orders, shipments
-- drops:
-- alters:
-- stateful: join, subquery
WITH orders AS (SELECT * FROM orders WHERE amount > 0),
     big AS (SELECT * FROM orders WHERE amount > 100)
SELECT b.id, s.name
FROM big b
JOIN shipments s ON b.id = s.order_id
WHERE b.id IN (SELECT order_id FROM orders)
