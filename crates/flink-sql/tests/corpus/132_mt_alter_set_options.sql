-- A property change: SET options. No new query, so nothing read or written.
-- kind: ALTER_MATERIALIZED_TABLE
-- creates:
-- writes:
-- reads:
-- drops:
-- alters: high_value_orders
-- stateful:
-- evolves:
ALTER MATERIALIZED TABLE high_value_orders SET ('kafka.retention.time' = '1 d');
