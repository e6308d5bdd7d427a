-- A column-level primary key; backquoted column names lose their quotes.
-- kind: CREATE_TABLE
-- creates: users
-- writes:
-- reads:
-- drops:
-- alters:
-- stateful:
-- key: user_id
-- primary-key: user_id
-- columns: user_id STRING NOT NULL | name STRING | value DOUBLE | seen_at TIMESTAMP_LTZ(3)
CREATE TABLE users (
  user_id STRING NOT NULL PRIMARY KEY NOT ENFORCED,
  `name` STRING,
  `value` DOUBLE,
  seen_at TIMESTAMP_LTZ(3),
  WATERMARK FOR seen_at AS seen_at
)
