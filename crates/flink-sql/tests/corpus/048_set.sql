-- kind: SET
-- creates:
-- writes:
-- reads:
-- drops:
-- alters:
-- stateful:
SET 'sql.state-ttl' = '1 h';
