-- Temporal join: FOR SYSTEM_TIME AS OF with a $rowtime field.
-- kind: SELECT
-- creates:
-- writes:
-- reads: orders, currency_rates
-- drops:
-- alters:
-- stateful: join
SELECT o.order_id, o.price * r.rate AS converted
FROM orders AS o
JOIN currency_rates FOR SYSTEM_TIME AS OF o.$rowtime AS r
  ON o.currency = r.currency
