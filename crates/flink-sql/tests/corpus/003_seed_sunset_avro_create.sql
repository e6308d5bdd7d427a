-- The seed app's second source, keyed by a table-level primary key.
-- kind: CREATE_TABLE
-- creates: sunset_avro
-- writes:
-- reads:
-- drops:
-- key: reference_number
-- primary-key: reference_number
-- distributed-by:
-- buckets:
-- columns: email_address STRING | departure_time STRING | departure_airport STRING | arrival_time STRING | arrival_airport STRING | flight_id STRING | reference_number STRING NOT NULL | total_price DECIMAL(10, 2) | aircraft_details STRING
-- options: changelog.mode=upsert
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
