-- UNNEST ... WITH ORDINALITY, in an INSERT.
-- kind: INSERT_INTO
-- creates:
-- writes: order_lines
-- reads: orders
-- drops:
-- alters:
-- stateful:
INSERT INTO order_lines
SELECT o.id, t.item, t.pos
FROM orders o
CROSS JOIN UNNEST(o.items) WITH ORDINALITY AS t(item, pos)
