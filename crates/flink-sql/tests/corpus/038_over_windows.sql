-- OVER windows, inline and named.
-- kind: SELECT
-- creates:
-- writes:
-- reads: payments
-- drops:
-- alters:
-- stateful: over, ranking
SELECT id, amount,
  SUM(amount) OVER (
    PARTITION BY customer_id ORDER BY $rowtime
    RANGE BETWEEN INTERVAL '1' HOUR PRECEDING AND CURRENT ROW) AS hourly,
  ROW_NUMBER() OVER w AS rn
FROM payments
WINDOW w AS (PARTITION BY customer_id ORDER BY $rowtime)
