-- RESUME_OR_FROM_BEGINNING (the service's default) on a stateful query: a count per key.
-- kind: CREATE_MATERIALIZED_TABLE
-- creates: orders_per_user
-- writes: orders_per_user
-- reads: orders
-- drops:
-- alters:
-- stateful: aggregation
-- key: user_id
-- primary-key: user_id
-- columns: user_id STRING NOT NULL | n BIGINT
-- materialized: or-alter
-- start-mode: RESUME_OR_FROM_BEGINNING
-- query-columns: user_id, EXPR$1
CREATE OR ALTER MATERIALIZED TABLE orders_per_user (
  user_id STRING NOT NULL PRIMARY KEY NOT ENFORCED,
  n BIGINT
)
START_MODE = RESUME_OR_FROM_BEGINNING
AS SELECT user_id, COUNT(*) FROM orders GROUP BY user_id;
