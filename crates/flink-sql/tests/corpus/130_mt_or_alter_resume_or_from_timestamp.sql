-- RESUME_OR_FROM_TIMESTAMP; a CTE's own SELECT does not give the query's columns.
-- kind: CREATE_MATERIALIZED_TABLE
-- creates: big_spenders
-- writes: big_spenders
-- reads: payments
-- drops:
-- alters:
-- stateful: aggregation
-- key:
-- materialized: or-alter
-- start-mode: RESUME_OR_FROM_TIMESTAMP(TIMESTAMP '2026-06-01 12:00:00')
-- query-columns: customer, spent, EXPR$2
CREATE OR ALTER MATERIALIZED TABLE big_spenders
START_MODE = RESUME_OR_FROM_TIMESTAMP(TIMESTAMP '2026-06-01 12:00:00')
AS WITH p AS (SELECT customer_id AS c, amount FROM payments)
   SELECT p.c AS customer, SUM(amount) spent, MAX(amount) + 1
   FROM p GROUP BY p.c;
