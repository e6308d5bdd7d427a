-- An aggregate function without GROUP BY still aggregates (one running total).
-- kind: SELECT
-- creates:
-- writes:
-- reads: orders
-- drops:
-- alters:
-- stateful: aggregation
SELECT COUNT(*) FROM orders
