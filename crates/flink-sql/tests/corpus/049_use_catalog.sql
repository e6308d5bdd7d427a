-- kind: USE
-- creates:
-- writes:
-- reads:
-- drops:
-- alters:
-- stateful:
USE CATALOG `my-env`
