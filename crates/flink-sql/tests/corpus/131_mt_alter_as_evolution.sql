-- ALTER MATERIALIZED TABLE ... AS: an evolution of an existing table, with a start mode.
-- kind: ALTER_MATERIALIZED_TABLE
-- creates:
-- writes: high_value_orders
-- reads: orders
-- drops:
-- alters: high_value_orders
-- stateful:
-- evolves: high_value_orders
-- materialized: or-alter
-- start-mode: FROM_NOW
-- query-columns: user_id, price, quantity
ALTER MATERIALIZED TABLE high_value_orders
START_MODE = FROM_NOW
AS SELECT user_id, price, quantity FROM orders WHERE price > 1000;
