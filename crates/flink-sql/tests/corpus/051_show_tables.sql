-- kind: SHOW
-- creates:
-- writes:
-- reads:
-- drops:
SHOW TABLES LIKE 'orders%';
