-- CREATE OR REPLACE TABLE ... AS SELECT, qualified names.
-- kind: CREATE_TABLE_AS
-- creates: shop.latest_orders
-- writes: shop.latest_orders
-- reads: shop.orders
-- drops:
-- alters:
-- stateful:
-- key:
-- options:
CREATE OR REPLACE TABLE shop.latest_orders AS
SELECT * FROM shop.orders WHERE ts > CURRENT_TIMESTAMP - INTERVAL '1' DAY
