-- A temporal join keeps the versioned table's history: a join.
-- kind: INSERT_INTO
-- creates:
-- writes: orders_in_eur
-- reads: orders, currency_rates
-- drops:
-- alters:
-- stateful: join
INSERT INTO orders_in_eur
SELECT o.order_id, o.price * r.rate AS price_eur
FROM orders AS o
LEFT JOIN currency_rates FOR SYSTEM_TIME AS OF o.$rowtime AS r
  ON o.currency = r.currency
