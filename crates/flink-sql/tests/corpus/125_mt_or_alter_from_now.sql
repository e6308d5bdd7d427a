-- START_MODE = FROM_NOW without an interval: only records from now on.
-- kind: CREATE_MATERIALIZED_TABLE
-- creates: high_value_orders
-- writes: high_value_orders
-- reads: orders
-- drops:
-- alters:
-- stateful:
-- key:
-- materialized: or-alter
-- start-mode: FROM_NOW
CREATE OR ALTER MATERIALIZED TABLE high_value_orders
START_MODE = FROM_NOW
AS SELECT user_id, price FROM orders;
