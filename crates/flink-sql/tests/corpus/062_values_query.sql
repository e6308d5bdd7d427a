-- A derived VALUES table reads nothing but the joined table.
-- kind: SELECT
-- creates:
-- writes:
-- reads: prices
-- drops:
-- alters:
-- stateful: join
SELECT v.code, p.amount
FROM (VALUES ('EUR', 1), ('USD', 2)) AS v(code, rank_no)
JOIN prices p ON p.code = v.code
