-- The seed app's first source; no key, only a bucket count.
CREATE TABLE IF NOT EXISTS skyone_avro (
    customer_email STRING NOT NULL,
    flight_departure_time STRING,
    flight_departure_airport STRING,
    flight_arrival_time STRING,
    flight_arrival_airport STRING,
    flight_number STRING,
    confirmation STRING,
    ticket_price DECIMAL(10,2),
    aircraft STRING,
    booking_agency_email STRING
) DISTRIBUTED INTO 3 BUCKETS
WITH ('value.format' = 'avro-registry');
