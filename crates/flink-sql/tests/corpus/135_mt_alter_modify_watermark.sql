-- MODIFY WATERMARK.
-- kind: ALTER_MATERIALIZED_TABLE
-- creates:
-- writes:
-- reads:
-- drops:
-- alters: enriched_orders
-- stateful:
ALTER MATERIALIZED TABLE enriched_orders
MODIFY WATERMARK FOR order_time AS order_time - INTERVAL '10' SECOND;
