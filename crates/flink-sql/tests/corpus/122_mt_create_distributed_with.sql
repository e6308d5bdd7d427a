-- DISTRIBUTED BY and WITH, as Confluent's reference orders them; the distribution is the key.
-- kind: CREATE_MATERIALIZED_TABLE
-- creates: totals_by_customer
-- writes: totals_by_customer
-- reads: payments
-- drops:
-- alters:
-- stateful: aggregation
-- key: customer_id
-- distributed-by: customer_id
-- buckets: 4
-- options: changelog.mode=upsert, kafka.retention.time=7 d
-- materialized: create
-- query-columns: customer_id, total
CREATE MATERIALIZED TABLE totals_by_customer
DISTRIBUTED BY HASH(customer_id) INTO 4 BUCKETS
WITH ('changelog.mode' = 'upsert', 'kafka.retention.time' = '7 d')
AS SELECT customer_id, SUM(amount) AS total FROM payments GROUP BY customer_id;
