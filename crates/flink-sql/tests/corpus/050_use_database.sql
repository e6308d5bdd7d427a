-- kind: USE
-- creates:
-- writes:
-- reads:
-- drops:
-- alters:
-- stateful:
use `my-cluster`;
