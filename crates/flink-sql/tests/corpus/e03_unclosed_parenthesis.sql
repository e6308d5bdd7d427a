-- error: Unbalanced parentheses: "(" at line 3, column 13 is never closed.
-- at: 3:13
SELECT COUNT(* FROM orders
