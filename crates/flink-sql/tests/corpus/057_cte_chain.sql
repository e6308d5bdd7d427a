-- Several CTEs referencing each other.
-- kind: SELECT
-- creates:
-- writes:
-- reads: raw_events, users
-- drops:
-- alters:
-- stateful: join
WITH a AS (SELECT id FROM raw_events),
     b (id) AS (SELECT a.id FROM a JOIN users ON a.id = users.id),
     c AS (SELECT * FROM b UNION ALL SELECT * FROM a)
SELECT * FROM c
