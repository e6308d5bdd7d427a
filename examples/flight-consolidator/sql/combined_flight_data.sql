-- The seed app's job: both sources into the sink, dropping incomplete rows.
INSERT INTO flight_avro
SELECT
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
  AND flight_departure_airport IS NOT NULL
  AND flight_arrival_time IS NOT NULL
  AND flight_arrival_airport IS NOT NULL
  AND flight_number IS NOT NULL
  AND confirmation IS NOT NULL
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
  AND departure_airport IS NOT NULL
  AND arrival_time IS NOT NULL
  AND arrival_airport IS NOT NULL
  AND flight_id IS NOT NULL
  AND reference_number IS NOT NULL;
