-- error: Encountered "<EOF>" at line 3, column 11. Was expecting a table name.
-- at: 3:11
DROP TABLE
