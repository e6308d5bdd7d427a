-- kind: SHOW
-- creates:
-- writes:
-- reads:
-- drops:
-- stateful:
SHOW TABLES LIKE 'orders%';
