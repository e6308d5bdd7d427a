-- error: Encountered "WITH" at line 3, column 41. Each clause may appear only once.
-- at: 3:41
CREATE TABLE t (a INT) WITH ('k' = 'v') WITH ('x' = 'y')
