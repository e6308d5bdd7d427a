-- SELECT DISTINCT, then a scalar subquery in the SELECT list.
-- kind: SELECT
-- creates:
-- writes:
-- reads: limits, orders
-- drops:
-- alters:
-- stateful: distinct, subquery, aggregation
SELECT DISTINCT customer_id, (SELECT MAX(cap) FROM limits) AS cap
FROM orders
