-- INSERT whose query starts with WITH.
-- kind: INSERT_INTO
-- creates:
-- writes: daily_totals
-- reads: payments
-- drops:
-- alters:
-- stateful: aggregation
INSERT INTO daily_totals
WITH t AS (SELECT customer_id, amount FROM payments WHERE amount > 0)
SELECT customer_id, SUM(amount) FROM t GROUP BY customer_id
