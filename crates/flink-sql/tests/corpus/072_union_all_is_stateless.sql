-- UNION ALL with filters only concatenates: stateless.
-- kind: INSERT_INTO
-- creates:
-- writes: all_orders
-- reads: a_orders, b_orders, c_orders
-- drops:
-- alters:
-- stateful:
INSERT INTO all_orders
SELECT id, 'a' AS origin FROM a_orders WHERE id IS NOT NULL
UNION ALL
SELECT id, 'b' FROM b_orders WHERE id > 0
UNION ALL
(SELECT id, 'c' FROM c_orders)
