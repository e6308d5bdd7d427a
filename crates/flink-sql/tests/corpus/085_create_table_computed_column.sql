-- A plain CREATE TABLE runs no query, even when a computed column calls a function.
-- kind: CREATE_TABLE
-- creates: events
-- writes:
-- reads:
-- drops:
-- alters:
-- stateful:
-- key:
-- columns: id BIGINT | payload STRING | size computed
CREATE TABLE events (
  id BIGINT,
  payload STRING,
  size AS CHAR_LENGTH(payload)
)
