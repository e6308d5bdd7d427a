-- The SQL-client form; a target written twice is listed once.
-- kind: EXECUTE_STATEMENT_SET
-- creates:
-- writes: audit_log, archive
-- reads: orders, refunds
-- drops:
-- alters:
-- stateful:
BEGIN STATEMENT SET;
INSERT INTO audit_log SELECT * FROM orders;
INSERT INTO audit_log SELECT * FROM refunds;
INSERT OVERWRITE archive SELECT * FROM orders;
END;
