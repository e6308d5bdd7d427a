-- ALTER TABLE neither reads nor writes.
-- kind: ALTER_TABLE
-- creates:
-- writes:
-- reads:
-- drops:
-- stateful:
ALTER TABLE shop.orders SET ('kafka.retention.time' = '30 d', 'changelog.mode' = 'append');
