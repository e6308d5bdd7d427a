-- ALTER TABLE IF EXISTS with a three-part, backquoted name: the table it alters, as written.
-- Adding a column neither reads nor writes anything.
-- kind: ALTER_TABLE
-- creates:
-- writes:
-- reads:
-- drops:
-- alters: `my-env`.`my cluster`.audit_log
-- stateful:
ALTER TABLE IF EXISTS `my-env`.`my cluster`.`audit_log` ADD (`note` STRING COMMENT 'DROP TABLE audit_log');
