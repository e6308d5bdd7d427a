-- RESET options.
-- kind: ALTER_MATERIALIZED_TABLE
-- creates:
-- writes:
-- reads:
-- drops:
-- alters: high_value_orders
-- stateful:
ALTER MATERIALIZED TABLE high_value_orders RESET ('kafka.retention.time');
