-- error: Encountered "END" at line 6, column 1. Was expecting ";".
-- at: 6:1
EXECUTE STATEMENT SET
BEGIN
  INSERT INTO a SELECT * FROM b
END
