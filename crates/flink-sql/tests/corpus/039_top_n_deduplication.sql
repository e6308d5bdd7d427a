-- Deduplication: a derived table without alias, SELECT *, ROW_NUMBER.
-- kind: SELECT
-- creates:
-- writes:
-- reads: orders
-- drops:
-- alters:
-- stateful: ranking, over
SELECT * FROM (
  SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY $rowtime DESC) AS rn
  FROM orders
) WHERE rn = 1
