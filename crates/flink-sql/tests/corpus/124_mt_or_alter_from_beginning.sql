-- CREATE OR ALTER with START_MODE = FROM_BEGINNING: reprocess the sources' whole history.
-- kind: CREATE_MATERIALIZED_TABLE
-- creates: high_value_orders
-- writes: high_value_orders
-- reads: orders
-- drops:
-- alters:
-- stateful:
-- key:
-- materialized: or-alter
-- start-mode: FROM_BEGINNING
-- query-columns: user_id, price
CREATE OR ALTER MATERIALIZED TABLE high_value_orders
START_MODE = FROM_BEGINNING
AS SELECT user_id, price FROM orders WHERE price > 500;
