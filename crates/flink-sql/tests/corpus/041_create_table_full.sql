-- Nested types, computed, metadata and watermark columns, a named constraint, every clause.
-- kind: CREATE_TABLE
-- creates: shop.orders (if not exists)
-- writes:
-- reads:
-- drops:
-- alters:
-- stateful:
-- key: order_id
-- primary-key: order_id
-- distributed-by:
-- columns: order_id BIGINT NOT NULL | customer ROW<name STRING, tags ARRAY<STRING NOT NULL>> | attributes MAP<STRING, INT> | amount DECIMAL(10, 2) NOT NULL | placed_at TIMESTAMP(3) WITH LOCAL TIME ZONE | total computed | event_time TIMESTAMP_LTZ(3) computed | part INT computed
-- options: connector=kafka, scan.startup.mode=earliest-offset
CREATE TABLE IF NOT EXISTS `shop`.`orders` (
  `order_id` BIGINT NOT NULL,
  customer ROW<name STRING, tags ARRAY<STRING NOT NULL>>,
  attributes MAP<STRING,INT>,
  amount DECIMAL(10,2) NOT NULL COMMENT 'in cents',
  placed_at TIMESTAMP(3)   WITH LOCAL TIME ZONE,
  total AS amount * 2,
  event_time TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  part INT METADATA VIRTUAL,
  WATERMARK FOR placed_at AS placed_at - INTERVAL '5' SECOND,
  CONSTRAINT pk_orders PRIMARY KEY (order_id) NOT ENFORCED
)
COMMENT 'all orders'
PARTITIONED BY (order_id)
WITH ('connector' = 'kafka', 'scan.startup.mode' = 'earliest-offset')
