-- CTAS declaring only a primary key in its column list.
-- kind: CREATE_TABLE_AS
-- creates: enriched
-- writes: enriched
-- reads: src, dim
-- drops:
-- alters:
-- stateful: join
-- key: id
-- primary-key: id
-- columns:
-- options: changelog.mode=upsert
CREATE TABLE enriched (PRIMARY KEY (id) NOT ENFORCED)
WITH ('changelog.mode' = 'upsert')
AS SELECT s.id, d.label FROM src s LEFT JOIN dim d ON s.dim_id = d.id
