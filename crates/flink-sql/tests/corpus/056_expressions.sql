-- FILTER, simple CASE, BETWEEN, NOT LIKE, IS DISTINCT FROM, typed literal, subscript, ORDER BY, LIMIT;
-- an alias named like a table is not a table.
-- kind: SELECT
-- creates:
-- writes:
-- reads: orders
-- drops:
-- alters:
-- stateful: aggregation, distinct, sort
SELECT customer_id,
  COUNT(DISTINCT order_id) FILTER (WHERE amount > 0) AS payments,
  CASE status WHEN 'A' THEN 'active' WHEN 'I' THEN 'inactive' ELSE 'unknown' END AS s
FROM orders
WHERE amount BETWEEN 10 AND 100
  AND name NOT LIKE '%test%'
  AND region IS DISTINCT FROM 'EU'
  AND ts > TIMESTAMP '2024-01-01 00:00:00'
  AND tags[1] = 'x'
  AND NOT (a = 1 OR b = 2)
  AND -amount < +5
GROUP BY customer_id, status
HAVING COUNT(*) > 1
ORDER BY customer_id DESC NULLS LAST, 2
LIMIT 10
