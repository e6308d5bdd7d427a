-- error: Was expecting "(" and a timestamp
-- at: 4:1
CREATE MATERIALIZED TABLE t START_MODE = FROM_TIMESTAMP
AS SELECT a FROM s;
