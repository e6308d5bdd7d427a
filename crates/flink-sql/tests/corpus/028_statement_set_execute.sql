-- EXECUTE STATEMENT SET BEGIN ... END: each INSERT writes, each query reads.
-- kind: EXECUTE_STATEMENT_SET
-- creates:
-- writes: sink_a, sink_b
-- reads: source_x, source_y
-- drops:
-- alters:
-- stateful: join
EXECUTE STATEMENT SET
BEGIN
  INSERT INTO sink_a SELECT * FROM source_x;
  INSERT INTO sink_b SELECT x.id, y.name FROM source_x x JOIN source_y y ON x.id = y.id;
END;
