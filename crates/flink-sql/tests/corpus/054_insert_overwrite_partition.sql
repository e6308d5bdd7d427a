-- INSERT OVERWRITE with a static partition.
-- kind: INSERT_INTO
-- creates:
-- writes: sales
-- reads: staging
-- drops:
-- alters:
-- stateful:
INSERT OVERWRITE sales PARTITION (dt = '2024-01-01') SELECT id, amount FROM staging
