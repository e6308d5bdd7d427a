-- A statement set has the features of all its INSERTs: one stateless, one aggregating.
-- kind: EXECUTE_STATEMENT_SET
-- creates:
-- writes: orders_copy, totals
-- reads: orders
-- drops:
-- alters:
-- stateful: aggregation
EXECUTE STATEMENT SET
BEGIN
  INSERT INTO orders_copy SELECT * FROM orders WHERE amount > 0;
  INSERT INTO totals SELECT customer_id, SUM(amount) FROM orders GROUP BY customer_id;
END;
