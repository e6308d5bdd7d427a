-- Query hints are comments; they neither break parsing nor add tables.
-- kind: SELECT
-- creates:
-- writes:
-- reads: orders, customers
-- drops:
-- alters:
-- stateful: join
SELECT /*+ STATE_TTL('o' = '1d') */ o.id
FROM orders /*+ OPTIONS('scan.startup.mode'='earliest-offset') */ AS o
JOIN customers /*+ OPTIONS('scan.startup.mode'='latest-offset') */ c ON o.cid = c.id
