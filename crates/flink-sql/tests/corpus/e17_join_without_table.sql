-- error: Encountered "ON" at line 3, column 22. Was expecting a table name.
-- at: 3:22
SELECT * FROM a JOIN ON a.id = b.id
