CREATE TABLE `{env}`.`{cluster}`.`{table}` (
  `email_address` VARCHAR(2147483647),
  `departure_time` VARCHAR(2147483647),
  `departure_airport_code` VARCHAR(2147483647),
  `arrival_time` VARCHAR(2147483647),
  `arrival_airport_code` VARCHAR(2147483647),
  `flight_number` VARCHAR(2147483647),
  `confirmation_code` VARCHAR(2147483647),
  `$rowtime` TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL METADATA VIRTUAL COMMENT 'SYSTEM'
)
DISTRIBUTED BY (`email_address`) INTO 1 BUCKETS
WITH (
  'connector' = 'confluent',
  'key.format' = 'avro-registry',
  'value.format' = 'avro-registry'
)
