-- DROP WATERMARK.
-- kind: ALTER_MATERIALIZED_TABLE
-- creates:
-- writes:
-- reads:
-- drops:
-- alters: enriched_orders
-- stateful:
ALTER MATERIALIZED TABLE enriched_orders DROP WATERMARK;
