-- A CTE inside a subquery shadows only inside it.
-- kind: SELECT
-- creates:
-- writes:
-- reads: accounts, users
-- drops:
-- alters:
-- stateful: join
SELECT *
FROM (
  WITH users AS (SELECT * FROM accounts) SELECT * FROM users
) x
JOIN users ON x.id = users.id
