-- error: Encountered "END" at line 3, column 29. Was expecting INSERT.
-- at: 3:29
EXECUTE STATEMENT SET BEGIN END
