-- error: Encountered "<EOF>" at line 3, column 27. Was expecting an expression.
-- at: 3:27
SELECT * FROM orders WHERE
