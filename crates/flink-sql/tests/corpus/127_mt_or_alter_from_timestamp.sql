-- FROM_TIMESTAMP with a timestamp literal; `SELECT *` leaves the query's columns unknown.
-- kind: CREATE_MATERIALIZED_TABLE
-- creates: orders_since_jan
-- writes: orders_since_jan
-- reads: orders
-- drops:
-- alters:
-- stateful:
-- key:
-- materialized: or-alter
-- start-mode: FROM_TIMESTAMP(TIMESTAMP '2026-01-01 00:00:00')
-- query-columns: ?
CREATE OR ALTER MATERIALIZED TABLE orders_since_jan
START_MODE = FROM_TIMESTAMP(TIMESTAMP '2026-01-01 00:00:00')
AS SELECT * FROM orders;
