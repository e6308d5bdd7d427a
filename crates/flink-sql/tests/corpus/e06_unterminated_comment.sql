-- error: Unterminated comment
-- at: 3:10
SELECT 1 /* not closed
FROM t
