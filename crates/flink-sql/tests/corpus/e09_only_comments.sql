-- error: Encountered "<EOF>" at line 1, column 1. Was expecting a statement; the input is empty
-- at: 1:1
/* nothing to see */
