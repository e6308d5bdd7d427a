-- A comma bringing in a table function (LATERAL TABLE, UNNEST) correlates, it does not join.
-- kind: INSERT_INTO
-- creates:
-- writes: order_words
-- reads: orders
-- drops:
-- alters:
-- stateful:
INSERT INTO order_words
SELECT o.id, t.word, u.tag
FROM orders o, LATERAL TABLE(split_words(o.description)) AS t(word), UNNEST(o.tags) AS u(tag)
