-- Subqueries in the SELECT list, in FROM (nested twice) and in WHERE (EXISTS, NOT IN).
-- kind: SELECT
-- creates:
-- writes:
-- reads: payments, customers, orders, refunds
-- drops:
-- alters:
-- stateful: subquery, aggregation
SELECT name,
       (SELECT MAX(amount) FROM payments p WHERE p.cid = c.id) AS max_payment
FROM (SELECT * FROM (SELECT id, name, active FROM customers) AS a WHERE active) AS c
WHERE EXISTS (
    SELECT 1 FROM orders o
    WHERE o.cid = c.id AND o.id NOT IN (SELECT order_id FROM refunds)
)
