-- Columns, tables and functions merely named like features do not count: a column `count`, a
-- table orders_join, columns hop, rank_no, lag_ms, overdue, a function counter_label, keywords in
-- strings and comments, and IS DISTINCT FROM.
-- kind: INSERT_INTO
-- creates:
-- writes: orders_join_copy
-- reads: orders_join
-- drops:
-- alters:
-- stateful:
INSERT INTO orders_join_copy
SELECT
  j.`count`,
  j.hop,
  j.rank_no,
  j.lag_ms AS lead_ms,
  j.overdue,
  counter_label(j.`count`) AS label, -- COUNT(*) OVER w
  'GROUP BY x ORDER BY y UNION SELECT 1' AS note /* JOIN t ON TRUE */
FROM orders_join AS j
WHERE j.distinct_users IS DISTINCT FROM j.union_id
  AND IF(j.hop IS NOT DISTINCT FROM 0, TRUE, FALSE)
