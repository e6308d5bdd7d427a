-- A parenthesised query right after the target is the query, not a column list.
-- kind: INSERT_INTO
-- creates:
-- writes: env.cluster.`sink-topic`
-- reads: src
-- drops:
-- alters:
-- stateful:
INSERT INTO `env`.`cluster`.`sink-topic` (SELECT * FROM src)
