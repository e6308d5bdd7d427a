-- SUSPEND stops the table's query (the newer reference); the table stays.
-- kind: ALTER_MATERIALIZED_TABLE
-- creates:
-- writes:
-- reads:
-- drops:
-- alters: `flight-summary`
-- stateful:
ALTER MATERIALIZED TABLE `flight-summary` SUSPEND;
