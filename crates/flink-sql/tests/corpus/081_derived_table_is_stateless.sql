-- A derived table in FROM is not by itself stateful.
-- kind: INSERT_INTO
-- creates:
-- writes: positive_orders
-- reads: orders
-- drops:
-- alters:
-- stateful:
INSERT INTO positive_orders
SELECT o.id, o.amount
FROM (SELECT id, amount FROM (SELECT * FROM orders) AS inner_o WHERE amount > 0) AS o
