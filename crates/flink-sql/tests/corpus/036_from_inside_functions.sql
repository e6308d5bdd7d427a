-- FROM, IN and FOR inside function-call parentheses are not clauses.
-- kind: SELECT
-- creates:
-- writes:
-- reads: customers
-- drops:
-- alters:
-- stateful:
SELECT
  TRIM(BOTH ' ' FROM name) AS trimmed,
  EXTRACT(YEAR FROM created_at) AS y,
  SUBSTRING(code FROM 1 FOR 2) AS prefix,
  OVERLAY(code PLACING 'xx' FROM 2 FOR 2) AS masked,
  POSITION('a' IN name) AS pos,
  CAST(amount AS DECIMAL(10, 2)) AS amount,
  CASE WHEN status = 'FROM' THEN 1 ELSE 0 END AS flag
FROM customers
WHERE TRIM(LEADING '0' FROM zip) <> ''
