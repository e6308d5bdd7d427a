-- Teardown of the seed sink, fully qualified with backquoted environment and cluster names.
-- kind: DROP_TABLE
-- creates:
-- writes:
-- reads:
-- drops: `my-env`.`my-cluster`.flight_avro (if exists)
-- alters:
-- stateful:
DROP TABLE IF EXISTS `my-env`.`my-cluster`.`flight_avro`;
