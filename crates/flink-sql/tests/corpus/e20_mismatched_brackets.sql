-- error: Encountered ")" at line 3, column 11. Unbalanced parentheses.
-- at: 3:11
SELECT a[1) FROM t
