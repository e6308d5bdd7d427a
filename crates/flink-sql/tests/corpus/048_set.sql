-- kind: SET
-- creates:
-- writes:
-- reads:
-- drops:
-- stateful:
SET 'sql.state-ttl' = '1 h';
