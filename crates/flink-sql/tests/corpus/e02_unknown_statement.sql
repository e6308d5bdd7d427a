-- error: Encountered "SELEC" at line 3, column 1. Was expecting a statement
-- at: 3:1
SELEC 1
