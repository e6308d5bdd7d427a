-- kind: USE
-- creates:
-- writes:
-- reads:
-- drops:
use `my-cluster`;
