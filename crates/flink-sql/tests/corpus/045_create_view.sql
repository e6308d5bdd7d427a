-- A view reads its query's tables and creates no table.
-- kind: CREATE_VIEW
-- creates:
-- writes:
-- reads: orders, customers
-- drops:
-- alters:
-- stateful: join
CREATE TEMPORARY VIEW big_orders AS
SELECT o.* FROM orders o JOIN customers c ON o.cid = c.id WHERE o.amount > 100
