-- A column list with a watermark, a primary key and a comment; the watermark is kept normalised.
-- kind: CREATE_MATERIALIZED_TABLE
-- creates: enriched_orders
-- writes: enriched_orders
-- reads: orders, customers
-- drops:
-- alters:
-- stateful: join
-- key: order_id
-- primary-key: order_id
-- columns: order_id BIGINT NOT NULL | customer_name STRING | order_time TIMESTAMP_LTZ(3)
-- materialized: create
-- watermark: order_time AS order_time - INTERVAL '5' SECOND
-- query-columns: order_id, customer_name, order_time
CREATE MATERIALIZED TABLE enriched_orders (
  order_id BIGINT NOT NULL,
  customer_name STRING,
  order_time TIMESTAMP_LTZ(3),
  WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND,
  PRIMARY KEY (order_id) NOT ENFORCED
)
COMMENT 'orders with the customer''s name'
AS SELECT o.order_id, c.name AS customer_name, o.order_time
   FROM orders o
   JOIN customers c ON o.customer_id = c.id;
