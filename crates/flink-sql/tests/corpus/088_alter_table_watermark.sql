-- A watermark change: the name in the expression is a column, never a table.
-- kind: ALTER_TABLE
-- creates:
-- writes:
-- reads:
-- drops:
-- alters: audit_log
-- stateful:
ALTER TABLE audit_log MODIFY WATERMARK FOR `$rowtime` AS `$rowtime` - INTERVAL '5' SECOND;
