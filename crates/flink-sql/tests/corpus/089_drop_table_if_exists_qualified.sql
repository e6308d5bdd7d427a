-- DROP TABLE of a two-part name: dropped, not altered.
-- kind: DROP_TABLE
-- creates:
-- writes:
-- reads:
-- drops: other_team.audit_log (if exists)
-- alters:
-- stateful:
DROP TABLE IF EXISTS other_team.audit_log;
