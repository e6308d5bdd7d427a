-- error: Encountered "TABEL" at line 3, column 8.
-- at: 3:8
CREATE TABEL t (a INT)
