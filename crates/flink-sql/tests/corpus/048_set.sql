-- kind: SET
-- creates:
-- writes:
-- reads:
-- drops:
SET 'sql.state-ttl' = '1 h';
