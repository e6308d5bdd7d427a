-- The seed app's sink table (Confluent's flight consolidator).
CREATE TABLE flight_avro (
    email_address STRING,
    departure_time STRING,
    departure_airport_code STRING,
    arrival_time STRING,
    arrival_airport_code STRING,
    flight_number STRING,
    confirmation_code STRING,
    airline STRING
)
DISTRIBUTED BY (departure_airport_code, flight_number) INTO 1 BUCKETS
WITH (
    'changelog.mode' = 'append',
    'kafka.cleanup-policy' = 'delete',
    'kafka.retention.time' = '7 d',
    'key.format' = 'avro-registry',
    'value.format' = 'avro-registry',
    'value.fields-include' = 'all'
);
