-- Two windowing TVFs joined: a window and a join (a windowing TVF is a relation, not a table function).
-- kind: SELECT
-- creates:
-- writes:
-- reads: clicks, views
-- drops:
-- alters:
-- stateful: window, join
SELECT c.user_id, c.window_start
FROM TABLE(TUMBLE(TABLE clicks, DESCRIPTOR($rowtime), INTERVAL '5' MINUTES)) c
JOIN TABLE(TUMBLE(TABLE views, DESCRIPTOR($rowtime), INTERVAL '5' MINUTES)) v
  ON c.user_id = v.user_id AND c.window_start = v.window_start AND c.window_end = v.window_end
