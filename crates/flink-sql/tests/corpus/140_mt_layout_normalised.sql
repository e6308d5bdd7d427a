-- Comments, line breaks, backquotes that are not needed and keyword case vanish from the query.
-- kind: CREATE_MATERIALIZED_TABLE
-- creates: high_value_orders
-- writes: high_value_orders
-- reads: orders
-- drops:
-- alters:
-- stateful:
-- key:
-- materialized: or-alter
-- query: SELECT user_id , product_id , price FROM orders WHERE price > 1000
CREATE OR ALTER MATERIALIZED TABLE high_value_orders AS
  select `user_id`,   -- who
         product_id,
         price
  /* only the big ones */
  from `orders` where price > 1000
