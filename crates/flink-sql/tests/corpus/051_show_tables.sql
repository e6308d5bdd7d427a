-- kind: SHOW
-- creates:
-- writes:
-- reads:
-- drops:
-- alters:
-- stateful:
SHOW TABLES LIKE 'orders%';
