-- Aggregates inside other functions' arguments still aggregate.
-- kind: SELECT
-- creates:
-- writes:
-- reads: payments
-- drops:
-- alters:
-- stateful: aggregation, distinct
SELECT customer_id,
  ROUND(AVG(amount), 2) AS avg_amount,
  CAST(COUNT(DISTINCT order_id) AS INT) AS orders
FROM payments
GROUP BY customer_id
