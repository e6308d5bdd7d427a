-- error: Lexical error at line 3, column 8. Unterminated string literal.
-- at: 3:8
SELECT 'abc FROM t
