-- kind: USE
-- creates:
-- writes:
-- reads:
-- drops:
-- stateful:
use `my-cluster`;
