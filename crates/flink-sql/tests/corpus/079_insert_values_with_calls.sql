-- INSERT ... VALUES runs no stateful query, whatever its literals or calls say.
-- kind: INSERT_INTO
-- creates:
-- writes: audit
-- reads:
-- drops:
-- alters:
-- stateful:
INSERT INTO audit VALUES (1, 'SELECT COUNT(*) FROM t GROUP BY x', UPPER('join'), CURRENT_TIMESTAMP)
