-- DROP MATERIALIZED TABLE: a drop, not of a regular table.
-- kind: DROP_MATERIALIZED_TABLE
-- creates:
-- writes:
-- reads:
-- drops: shop.high_value_orders (if exists)
-- alters:
-- stateful:
DROP MATERIALIZED TABLE IF EXISTS shop.high_value_orders;
