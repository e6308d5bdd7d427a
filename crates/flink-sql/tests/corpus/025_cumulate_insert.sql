-- CUMULATE with a backquoted table argument, feeding an INSERT.
-- kind: INSERT_INTO
-- creates:
-- writes: revenue_by_window
-- reads: payments
-- drops:
-- alters:
-- stateful: aggregation, window
INSERT INTO revenue_by_window
SELECT window_start, window_end, SUM(amount) AS revenue
FROM TABLE(CUMULATE(TABLE `payments`, DESCRIPTOR(`$rowtime`), INTERVAL '1' HOUR, INTERVAL '1' DAY))
GROUP BY window_start, window_end;
