-- Three-part and two-part names are kept as written, not resolved.
-- kind: SELECT
-- creates:
-- writes:
-- reads: prod.sales.orders, sales.customers, orders
-- drops:
-- alters:
-- stateful: join
SELECT o.id, c.name
FROM prod.sales.orders AS o
LEFT JOIN sales.customers c ON o.cid = c.id
JOIN orders x ON x.id = o.id
