-- IN (SELECT ...) in WHERE is a subquery; the FROM table alone would be stateless.
-- kind: INSERT_INTO
-- creates:
-- writes: vip_orders
-- reads: orders, vip_customers
-- drops:
-- alters:
-- stateful: subquery
INSERT INTO vip_orders
SELECT * FROM orders
WHERE customer_id IN (SELECT id FROM vip_customers)
