-- RENAME TO: the table altered is the one named before the rename.
-- kind: ALTER_TABLE
-- creates:
-- writes:
-- reads:
-- drops:
-- alters: shop.audit_log
-- stateful:
ALTER TABLE shop.audit_log RENAME TO audit_log_old;
