-- LIKE reads its source; LIKE options are skipped.
-- kind: CREATE_TABLE
-- creates: orders_copy
-- writes:
-- reads: shop.orders
-- drops:
-- alters:
-- stateful:
-- key:
-- like: shop.orders
-- columns:
-- options: kafka.retention.time=1 d
CREATE TABLE orders_copy
WITH ('kafka.retention.time' = '1 d')
LIKE shop.orders (EXCLUDING OPTIONS);
