-- DROP VIEW drops no table.
-- kind: DROP_VIEW
-- creates:
-- writes:
-- reads:
-- drops:
-- alters:
-- stateful:
DROP VIEW IF EXISTS big_orders;
