-- ORDER BY with FETCH FIRST is a sort; ORDER BY inside OVER is not.
-- kind: SELECT
-- creates:
-- writes:
-- reads: orders
-- drops:
-- alters:
-- stateful: sort
SELECT * FROM orders ORDER BY $rowtime FETCH FIRST 5 ROWS ONLY
