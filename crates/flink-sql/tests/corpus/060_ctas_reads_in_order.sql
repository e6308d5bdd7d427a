-- CTAS from a join with a temporal lookup and a Confluent-style $rowtime watermark read.
-- kind: CREATE_TABLE_AS
-- creates: `prod-env`.orders_enriched
-- writes: `prod-env`.orders_enriched
-- reads: orders, `prod-env`.rates
-- drops:
-- alters:
-- stateful: join
-- key:
CREATE TABLE `prod-env`.orders_enriched AS
SELECT o.*, r.rate
FROM orders o
LEFT JOIN `prod-env`.rates FOR SYSTEM_TIME AS OF o.`$rowtime` r ON o.currency = r.currency;
