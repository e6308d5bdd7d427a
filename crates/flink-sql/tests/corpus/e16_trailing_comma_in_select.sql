-- error: Encountered "FROM" at line 3, column 11. Was expecting an expression.
-- at: 3:11
SELECT a, FROM t
