-- error: Unterminated quoted identifier
-- at: 3:15
SELECT * FROM `orders
