-- UNNEST is not a table.
-- kind: SELECT
-- creates:
-- writes:
-- reads: orders
-- drops:
-- alters:
-- stateful:
SELECT o.id, item
FROM orders AS o
CROSS JOIN UNNEST(o.items) AS t(item)
