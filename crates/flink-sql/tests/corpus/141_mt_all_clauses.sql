-- Every clause of the reference at once, in its order.
-- kind: CREATE_MATERIALIZED_TABLE
-- creates: flight_totals
-- writes: flight_totals
-- reads: flights
-- drops:
-- alters:
-- stateful: aggregation, window
-- key: airline
-- primary-key: airline, window_start
-- distributed-by: airline
-- buckets: 6
-- columns: airline STRING NOT NULL | window_start TIMESTAMP(3) NOT NULL | flights BIGINT
-- options: changelog.mode=upsert
-- materialized: or-alter
-- start-mode: RESUME_OR_FROM_NOW
-- query-columns: airline, window_start, flights
CREATE OR ALTER MATERIALIZED TABLE flight_totals (
  airline STRING NOT NULL,
  window_start TIMESTAMP(3) NOT NULL,
  flights BIGINT,
  PRIMARY KEY (airline, window_start) NOT ENFORCED
)
COMMENT 'flights per airline and hour'
DISTRIBUTED BY HASH(airline) INTO 6 BUCKETS
WITH ('changelog.mode' = 'upsert')
START_MODE = RESUME_OR_FROM_NOW
AS SELECT airline, window_start, COUNT(*) AS flights
   FROM TABLE(TUMBLE(TABLE flights, DESCRIPTOR(departure_time), INTERVAL '1' HOUR))
   GROUP BY airline, window_start;
