-- Backquoted parts with dashes, dots, spaces and a doubled backquote.
-- kind: SELECT
-- creates:
-- writes:
-- reads: `my-env`.`my.cluster`.`order items`, `weird``name`
-- drops:
-- alters:
-- stateful: join
SELECT `o`.`id`
FROM `my-env`.`my.cluster`.`order items` AS `o`
JOIN `weird``name` w ON `o`.id = w.id
