-- error: Encountered "(" at line 3, column 14. Was expecting a table name.
-- at: 3:14
CREATE TABLE (id INT)
