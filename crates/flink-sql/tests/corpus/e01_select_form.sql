-- error: SQL parse failed. Encountered "FORM" at line 3, column 10.
-- at: 3:10
SELECT * FORM t
