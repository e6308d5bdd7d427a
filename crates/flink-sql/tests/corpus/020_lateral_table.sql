-- LATERAL TABLE(f(...)) is a table function, even when f is named like a table.
-- kind: SELECT
-- creates:
-- writes:
-- reads: orders
-- drops:
-- alters:
-- stateful:
SELECT o.id, t.word, u.tag
FROM orders o, LATERAL TABLE(split_words(o.description)) AS t(word)
LEFT JOIN LATERAL TABLE(customers(o.tags)) AS u(tag) ON TRUE
