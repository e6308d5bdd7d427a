-- IF NOT EXISTS, qualified and backquoted names; DISTRIBUTED BY without HASH or buckets.
-- kind: CREATE_MATERIALIZED_TABLE
-- creates: `my-env`.`my cluster`.`flight-summary` (if not exists)
-- writes: `my-env`.`my cluster`.`flight-summary`
-- reads: `my-env`.`my cluster`.flights
-- drops:
-- alters:
-- stateful:
-- key: airline
-- distributed-by: airline
-- buckets:
-- materialized: create
-- query: SELECT airline , flight_number FROM `my-env` . `my cluster` . flights
-- query-columns: airline, flight_number
CREATE MATERIALIZED TABLE IF NOT EXISTS `my-env`.`my cluster`.`flight-summary`
DISTRIBUTED BY (airline)
AS SELECT `airline`, flight_number FROM `my-env`.`my cluster`.flights;
