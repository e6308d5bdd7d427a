-- CROSS JOIN UNNEST expands each row in place: stateless, a carry-over candidate.
-- kind: INSERT_INTO
-- creates:
-- writes: order_tags
-- reads: orders
-- drops:
-- alters:
-- stateful:
INSERT INTO order_tags
SELECT o.id, tag
FROM orders AS o
CROSS JOIN UNNEST(o.tags) AS t(tag)
WHERE tag <> ''
