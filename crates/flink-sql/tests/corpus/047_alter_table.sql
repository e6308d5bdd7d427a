-- ALTER TABLE neither reads nor writes: it alters the table.
-- kind: ALTER_TABLE
-- creates:
-- writes:
-- reads:
-- drops:
-- alters: shop.orders
-- stateful:
ALTER TABLE shop.orders SET ('kafka.retention.time' = '30 d', 'changelog.mode' = 'append');
