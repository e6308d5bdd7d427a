-- error: Encountered "PRIMARY" at line 5, column 3. Duplicate primary key definition.
-- at: 5:3
CREATE TABLE t (
  a INT PRIMARY KEY NOT ENFORCED,
  PRIMARY KEY (a) NOT ENFORCED
)
