-- CTAS with DISTRIBUTED BY HASH and WITH: the target is created and written.
-- kind: CREATE_TABLE_AS
-- creates: vip_customers (if not exists)
-- writes: vip_customers
-- reads: payments
-- drops:
-- alters:
-- stateful: aggregation
-- key: customer_id
-- distributed-by: customer_id
-- buckets: 4
-- columns:
-- options: changelog.mode=retract, kafka.retention.time=0
CREATE TABLE IF NOT EXISTS vip_customers
DISTRIBUTED BY HASH(customer_id) INTO 4 BUCKETS
WITH ('changelog.mode' = 'retract', 'kafka.retention.time' = '0')
AS SELECT customer_id, SUM(amount) AS total
FROM payments
GROUP BY customer_id
HAVING SUM(amount) > 1000;
