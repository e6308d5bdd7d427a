-- Lower-case keywords, two-part name, no IF EXISTS, no semicolon.
-- kind: DROP_TABLE
-- creates:
-- writes:
-- reads:
-- drops: sales.orders
-- alters:
-- stateful:
drop table sales.orders
