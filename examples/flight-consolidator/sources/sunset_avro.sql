-- The seed app's second source, keyed by a table-level primary key.
create table sunset_avro (
    email_address STRING,
    departure_time STRING,
    departure_airport STRING,
    arrival_time STRING,
    arrival_airport STRING,
    flight_id STRING,
    reference_number STRING NOT NULL,
    total_price DECIMAL( 10 , 2 ),
    aircraft_details STRING,
    PRIMARY KEY (reference_number) NOT ENFORCED
) with ('changelog.mode' = 'upsert')
