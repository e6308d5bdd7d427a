-- The smallest materialized table: a name and a query. It creates the table and writes it.
-- kind: CREATE_MATERIALIZED_TABLE
-- creates: high_value_orders
-- writes: high_value_orders
-- reads: orders
-- drops:
-- alters:
-- stateful:
-- key:
-- materialized: create
-- start-mode:
-- query: SELECT user_id , product_id , price FROM orders WHERE price > 1000
-- query-columns: user_id, product_id, price
-- evolves:
CREATE MATERIALIZED TABLE high_value_orders
AS SELECT user_id, product_id, price
   FROM orders
   WHERE price > 1000;
