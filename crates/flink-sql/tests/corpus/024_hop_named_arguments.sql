-- Named arguments, qualified table argument.
-- kind: SELECT
-- creates:
-- writes:
-- reads: shop.clicks
-- drops:
-- alters:
-- stateful: aggregation, window
SELECT window_start, user_id, COUNT(*) AS clicks
FROM TABLE(
    HOP(
        DATA => TABLE shop.clicks,
        TIMECOL => DESCRIPTOR(ts),
        SLIDE => INTERVAL '5' MINUTES,
        SIZE => INTERVAL '10' MINUTES))
GROUP BY window_start, window_end, user_id
