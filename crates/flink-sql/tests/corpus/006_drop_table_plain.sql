-- Lower-case keywords, two-part name, no IF EXISTS, no semicolon.
-- kind: DROP_TABLE
-- creates:
-- writes:
-- reads:
-- drops: sales.orders
-- stateful:
drop table sales.orders
