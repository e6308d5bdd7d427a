-- Table names inside string literals and comments are never references.
-- kind: SELECT
-- creates:
-- writes:
-- reads: orders
-- drops:
-- alters:
-- stateful:
SELECT 'FROM customers JOIN payments' AS note, /* JOIN refunds r ON TRUE */ id,
       'it''s FROM skyone_avro' AS quoted
FROM orders -- , sunset_avro
WHERE status <> 'flight_avro' /* FROM hidden */;
