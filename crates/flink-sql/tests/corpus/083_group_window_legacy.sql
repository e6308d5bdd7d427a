-- A legacy group window: TUMBLE called in GROUP BY is a window too.
-- kind: SELECT
-- creates:
-- writes:
-- reads: clicks
-- drops:
-- alters:
-- stateful: aggregation, window
SELECT user_id, COUNT(*) AS n
FROM clicks
GROUP BY user_id, TUMBLE($rowtime, INTERVAL '1' HOUR)
