-- A parenthesised join in FROM.
-- kind: SELECT
-- creates:
-- writes:
-- reads: a, b, c
-- drops:
-- alters:
-- stateful: join
SELECT * FROM (a JOIN b ON a.id = b.id) JOIN c ON c.id = a.id
