-- The shortest LIKE.
-- kind: CREATE_TABLE
-- creates: t2
-- writes:
-- reads: t1
-- drops:
-- key:
-- like: t1
-- options:
CREATE TABLE t2 LIKE t1;
