-- ADD a computed column: a property change, whatever the expression calls.
-- kind: ALTER_MATERIALIZED_TABLE
-- creates:
-- writes:
-- reads:
-- drops:
-- alters: shop.high_value_orders
-- stateful:
ALTER MATERIALIZED TABLE shop.high_value_orders ADD (total AS price * quantity COMMENT 'derived');
