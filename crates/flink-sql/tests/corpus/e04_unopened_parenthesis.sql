-- error: Encountered ")" at line 3, column 9. Unbalanced parentheses.
-- at: 3:9
SELECT a) FROM t
