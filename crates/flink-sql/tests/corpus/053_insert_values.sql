-- INSERT ... VALUES with a column list reads nothing.
-- kind: INSERT_INTO
-- creates:
-- writes: t_values
-- reads:
-- drops:
-- alters:
-- stateful:
INSERT INTO t_values (id, name) VALUES (1, 'orders'), (2, 'FROM x'), (3, CAST(NULL AS STRING));
