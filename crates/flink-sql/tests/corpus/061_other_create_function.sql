-- Statements the walk recognises without looking inside.
-- kind: OTHER
-- creates:
-- writes:
-- reads:
-- drops:
-- alters:
-- stateful:
CREATE FUNCTION to_upper AS 'com.example.ToUpper' USING JAR 'confluent-artifact://cfa-123';
