-- DISTINCT inside an aggregate call is a distinct aggregation as well.
-- kind: SELECT
-- creates:
-- writes:
-- reads: orders
-- drops:
-- alters:
-- stateful: aggregation, distinct
SELECT COUNT(DISTINCT customer_id) AS customers FROM orders
