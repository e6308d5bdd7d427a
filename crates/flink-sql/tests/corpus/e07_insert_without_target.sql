-- error: Encountered "SELECT" at line 3, column 13. Was expecting a table name.
-- at: 3:13
INSERT INTO SELECT * FROM t
