-- kind: USE
-- creates:
-- writes:
-- reads:
-- drops:
USE CATALOG `my-env`
