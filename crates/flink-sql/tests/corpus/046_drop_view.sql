-- DROP VIEW drops no table.
-- kind: DROP_VIEW
-- creates:
-- writes:
-- reads:
-- drops:
DROP VIEW IF EXISTS big_orders;
