-- A CTAS's query counts: this one groups.
-- kind: CREATE_TABLE_AS
-- creates: order_counts
-- writes: order_counts
-- reads: orders
-- drops:
-- alters:
-- stateful: aggregation
-- key: customer_id
-- distributed-by: customer_id
CREATE TABLE order_counts
DISTRIBUTED BY (customer_id)
AS SELECT customer_id, COUNT(*) AS n FROM orders GROUP BY customer_id
