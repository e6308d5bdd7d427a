-- error: Encountered "SELECT" at line 3, column 11.
-- at: 3:11
SELECT 1; SELECT 2
