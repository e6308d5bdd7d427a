-- Both airlines' flights in one table, incomplete rows dropped: the seed app's sink and job as
-- one materialized table. Stateless (a UNION ALL of filters), so an evolution that resumes from
-- the old query's offsets loses nothing.
CREATE OR ALTER MATERIALIZED TABLE combined_flights
DISTRIBUTED BY (departure_airport_code, flight_number) INTO 1 BUCKETS
WITH (
    'changelog.mode' = 'append',
    'kafka.retention.time' = '7 d'
)
START_MODE = RESUME_OR_FROM_BEGINNING
AS SELECT
    customer_email AS email_address,
    flight_departure_time AS departure_time,
    flight_departure_airport AS departure_airport_code,
    flight_arrival_time AS arrival_time,
    flight_arrival_airport AS arrival_airport_code,
    flight_number,
    confirmation AS confirmation_code,
    'SkyOne' AS airline
FROM skyone_avro
WHERE customer_email IS NOT NULL
  AND flight_departure_time IS NOT NULL
  AND flight_number IS NOT NULL
UNION ALL
SELECT
    email_address,
    departure_time,
    departure_airport AS departure_airport_code,
    arrival_time,
    arrival_airport AS arrival_airport_code,
    flight_id AS flight_number,
    reference_number AS confirmation_code,
    'Sunset' AS airline
FROM sunset_avro
WHERE email_address IS NOT NULL
  AND departure_time IS NOT NULL
  AND flight_id IS NOT NULL;
