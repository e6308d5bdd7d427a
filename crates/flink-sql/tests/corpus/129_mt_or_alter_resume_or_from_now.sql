-- RESUME_OR_FROM_NOW with an interval: continue from the old query's offsets, else an hour back.
-- kind: CREATE_MATERIALIZED_TABLE
-- creates: high_value_orders
-- writes: high_value_orders
-- reads: orders
-- drops:
-- alters:
-- stateful:
-- key:
-- materialized: or-alter
-- start-mode: RESUME_OR_FROM_NOW(INTERVAL '10' MINUTE)
CREATE OR ALTER MATERIALIZED TABLE high_value_orders
START_MODE = RESUME_OR_FROM_NOW(INTERVAL '10' MINUTE)
AS SELECT user_id, price FROM orders WHERE price > 1000;
