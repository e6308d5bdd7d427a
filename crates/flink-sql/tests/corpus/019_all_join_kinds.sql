-- Every join kind, USING, and comma joins.
-- kind: SELECT
-- creates:
-- writes:
-- reads: a, b, c, d, e, f, g, h, i, j, k, l, m
-- drops:
-- alters:
-- stateful: join
SELECT *
FROM a
JOIN b ON a.id = b.id
INNER JOIN c ON b.id = c.id
LEFT JOIN d ON c.id = d.id
LEFT OUTER JOIN e USING (id)
RIGHT JOIN f ON e.id = f.id
RIGHT OUTER JOIN g ON f.id = g.id
FULL JOIN h ON g.id = h.id
FULL OUTER JOIN i ON h.id = i.id
CROSS JOIN j
NATURAL JOIN k,
l, m AS mm
