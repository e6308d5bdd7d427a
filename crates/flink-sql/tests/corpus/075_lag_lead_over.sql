-- LAG in an OVER window, and LEAD nested in a function's arguments.
-- kind: SELECT
-- creates:
-- writes:
-- reads: payments
-- drops:
-- alters:
-- stateful: lag-lead, over
SELECT id,
  amount - LAG(amount) OVER (PARTITION BY customer_id ORDER BY $rowtime) AS delta,
  COALESCE(LEAD(amount, 1) OVER (PARTITION BY customer_id ORDER BY $rowtime), 0) AS next_amount
FROM payments
