-- SESSION with PARTITION BY inside the TVF call.
-- kind: SELECT
-- creates:
-- writes:
-- reads: clicks
-- drops:
-- alters:
-- stateful: aggregation, window
SELECT user_id, window_start, window_end, COUNT(*) AS n
FROM TABLE(SESSION(TABLE clicks PARTITION BY user_id, DESCRIPTOR($rowtime), INTERVAL '5' MINUTES))
GROUP BY user_id, window_start, window_end
