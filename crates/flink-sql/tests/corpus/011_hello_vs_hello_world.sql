-- A column and a literal named hello do not make hello_world's neighbour a table.
-- kind: SELECT
-- creates:
-- writes:
-- reads: hello_world
-- drops:
-- alters:
-- stateful:
SELECT hello, hello_world.hello AS hello2 FROM hello_world WHERE hello = 'hello'
