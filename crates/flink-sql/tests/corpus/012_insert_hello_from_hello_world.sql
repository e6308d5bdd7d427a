-- Whole identifiers only: hello is written, hello_world read.
-- kind: INSERT_INTO
-- creates:
-- writes: hello
-- reads: hello_world
-- drops:
-- alters:
-- stateful:
INSERT INTO hello SELECT * FROM hello_world;
