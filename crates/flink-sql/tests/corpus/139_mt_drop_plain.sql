-- DROP MATERIALIZED TABLE without IF EXISTS.
-- kind: DROP_MATERIALIZED_TABLE
-- creates:
-- writes:
-- reads:
-- drops: high_value_orders
-- alters:
-- stateful:
DROP MATERIALIZED TABLE high_value_orders;
