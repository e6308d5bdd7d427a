-- kind: USE
-- creates:
-- writes:
-- reads:
-- drops:
-- stateful:
USE CATALOG `my-env`
