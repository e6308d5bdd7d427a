//! Materialized tables as the planner compares them (§G): what a definition is made of, whether
//! a change evolves the table in place or must replace it, and the SQL an evolution submits.
//! Pure: no I/O.
//!
//! The definition is compared here, never by resubmitting it: the service may start a new
//! evolution for an identical definition (§G.4), and an evolution discards the query's state.

use flink_sql::{CreatedTable, StartMode, TableRef};

/// One materialized table's definition, as its SQL declares it, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub table: TableRef,
    /// Physical columns (`name TYPE[ NOT NULL]`), computed and metadata ones left out: those
    /// can be added in place.
    pub columns: Vec<String>,
    pub computed: Vec<String>,
    /// The Kafka key: `DISTRIBUTED BY`, else the primary key.
    pub key: Vec<String>,
    pub primary_key: Vec<String>,
    pub buckets: Option<u32>,
    pub options: Vec<(String, String)>,
    pub watermark: Option<String>,
    pub query: String,
    pub query_columns: Option<Vec<String>>,
    pub start_mode: Option<StartMode>,
    pub or_alter: bool,
}

/// What of a definition changed, in the words the plan uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Query,
    Columns,
    Watermark,
    Options,
    PrimaryKey,
}

impl Part {
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Query => "query",
            Part::Columns => "columns",
            Part::Watermark => "watermark",
            Part::Options => "options",
            Part::PrimaryKey => "primary key",
        }
    }
}

/// How a materialized table goes from one definition to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Nothing the service would do differently: leave it.
    Same,
    /// `CREATE OR ALTER` in place: same topic, a new version.
    Evolve(Vec<Part>),
    /// The service refuses this in place: drop, then create. Why, for the plan.
    Replace(String),
}

impl Shape {
    /// The shape of a table a statement creates, when it is a materialized one (`table` is the
    /// resolved name).
    pub fn of(c: &CreatedTable, table: TableRef) -> Option<Shape> {
        let m = c.materialized.as_ref()?;
        let render = |col: &flink_sql::Column| {
            let mut s = format!("{} {}", col.name, col.data_type);
            if !col.nullable {
                s.push_str(" NOT NULL");
            }
            s
        };
        Some(Shape {
            table,
            columns: c
                .columns
                .iter()
                .filter(|col| !col.computed)
                .map(render)
                .collect(),
            computed: c
                .columns
                .iter()
                .filter(|col| col.computed)
                .map(|col| col.name.clone())
                .collect(),
            key: c.key_columns().to_vec(),
            primary_key: c.primary_key.clone(),
            buckets: c.buckets,
            options: c.options.clone(),
            watermark: m.watermark.clone(),
            query: m.query.clone(),
            query_columns: m.query_columns.clone(),
            start_mode: m.start_mode.clone(),
            or_alter: m.or_alter,
        })
    }

    /// The definition as one text, without what does not change the table (its start mode, how
    /// it was declared, layout): the statement's name is derived from this, so an edit that
    /// changes nothing keeps the name and the buildup leaves the table alone.
    pub fn fingerprint(&self) -> String {
        let opts: Vec<String> = self
            .options
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!(
            "materialized table {}\ncolumns {}\ncomputed {}\nkey {}\nprimary key {}\nbuckets {:?}\n\
             options {}\nwatermark {}\nquery {}",
            self.table,
            self.columns.join(", "),
            self.computed.join(", "),
            self.key.join(", "),
            self.primary_key.join(", "),
            self.buckets,
            opts.join(", "),
            self.watermark.as_deref().unwrap_or(""),
            self.query
        )
    }

    /// The output columns the table has: declared, else its query's (when the text tells).
    fn column_names(&self) -> Option<Vec<String>> {
        if self.columns.is_empty() {
            return self.query_columns.clone();
        }
        Some(
            self.columns
                .iter()
                .map(|c| c.split(' ').next().unwrap_or_default().to_string())
                .collect(),
        )
    }
}

/// How `old` becomes `new` (the same table).
pub fn change(old: &Shape, new: &Shape) -> Change {
    if old.key != new.key || old.buckets != new.buckets {
        return Change::Replace(format!(
            "its distribution changed ({} → {}), which the service fixes when the table is \
             created",
            distribution(old),
            distribution(new)
        ));
    }
    if let (Some(was), Some(now)) = (old.column_names(), new.column_names()) {
        let dropped: Vec<&String> = was.iter().filter(|c| !now.contains(c)).collect();
        if !dropped.is_empty() {
            let names: Vec<&str> = dropped.iter().map(|c| c.as_str()).collect();
            return Change::Replace(format!(
                "column{} {} dropped, which the service refuses in place",
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ));
        }
    }
    let mut parts = Vec::new();
    if old.query != new.query {
        parts.push(Part::Query);
    }
    if old.columns != new.columns || old.computed != new.computed {
        parts.push(Part::Columns);
    }
    if old.watermark != new.watermark {
        parts.push(Part::Watermark);
    }
    if old.options != new.options {
        parts.push(Part::Options);
    }
    if old.primary_key != new.primary_key {
        parts.push(Part::PrimaryKey);
    }
    if parts.is_empty() {
        Change::Same
    } else {
        Change::Evolve(parts)
    }
}

fn distribution(s: &Shape) -> String {
    let by = if s.key.is_empty() {
        "none".to_string()
    } else {
        format!("by {}", s.key.join(", "))
    };
    match s.buckets {
        Some(n) => format!("{by} into {n} buckets"),
        None => by,
    }
}

/// The start mode an evolution uses when the definition names none: the service's default, as
/// dbt-confluent observed it (§G.3).
pub const SERVICE_DEFAULT_START: StartMode = StartMode::ResumeOrFromBeginning;

/// The SQL that evolves the table: `sql` itself when it says `CREATE OR ALTER`, else its
/// `CREATE MATERIALIZED TABLE [IF NOT EXISTS]` head turned into `CREATE OR ALTER MATERIALIZED
/// TABLE` (the only form that evolves; `IF NOT EXISTS` would make it a no-op). The rest of the
/// text is kept byte for byte. `None` when the head is not found (the SQL is not a create).
pub fn evolving_sql(sql: &str) -> Option<String> {
    let words = head_words(sql, 6);
    let upper: Vec<String> = words.iter().map(|(_, w)| w.to_ascii_uppercase()).collect();
    let is = |i: usize, w: &str| upper.get(i).is_some_and(|u| u == w);
    if is(0, "CREATE") && is(1, "OR") && is(2, "ALTER") {
        return Some(sql.to_string());
    }
    if !(is(0, "CREATE") && is(1, "MATERIALIZED") && is(2, "TABLE")) {
        return None;
    }
    let (create_at, _) = words[0];
    let (table_at, _) = words[2];
    let mut rest_at = table_at + "TABLE".len();
    if is(3, "IF") && is(4, "NOT") && is(5, "EXISTS") {
        rest_at = words[5].0 + "EXISTS".len();
    }
    Some(format!(
        "{}CREATE OR ALTER MATERIALIZED TABLE{}",
        &sql[..create_at],
        &sql[rest_at..]
    ))
}

/// The first `n` words of `sql` with their byte offsets, skipping whitespace and comments.
fn head_words(sql: &str, n: usize) -> Vec<(usize, &str)> {
    let b = sql.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() && out.len() < n {
        match b[i] {
            c if c.is_ascii_whitespace() => i += 1,
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i < b.len() && !(b[i] == b'*' && b.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i += 2;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                out.push((start, &sql[start..i]));
            }
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(sql: &str) -> Shape {
        let a = flink_sql::analyze(sql).unwrap();
        let c = a.materialized().unwrap();
        Shape::of(c, c.table.clone()).unwrap()
    }

    #[test]
    fn layout_and_start_mode_change_nothing() {
        let a = shape("CREATE MATERIALIZED TABLE t AS SELECT a, b FROM s WHERE a > 1");
        let b = shape(
            "create or alter materialized table t\nSTART_MODE = FROM_NOW\nAS select `a`, b -- x\n from s where a > 1",
        );
        assert_eq!(change(&a, &b), Change::Same);
        assert_eq!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn a_query_or_option_edit_evolves() {
        let a = shape("CREATE OR ALTER MATERIALIZED TABLE t AS SELECT a, b FROM s");
        let b = shape("CREATE OR ALTER MATERIALIZED TABLE t AS SELECT a, b, c FROM s");
        assert_eq!(change(&a, &b), Change::Evolve(vec![Part::Query]));
        let c =
            shape("CREATE OR ALTER MATERIALIZED TABLE t WITH ('k' = 'v') AS SELECT a, b FROM s");
        assert_eq!(change(&a, &c), Change::Evolve(vec![Part::Options]));
        assert_ne!(a.fingerprint(), c.fingerprint());
    }

    #[test]
    fn distribution_and_dropped_columns_replace() {
        let a = shape("CREATE OR ALTER MATERIALIZED TABLE t DISTRIBUTED BY (a) INTO 2 BUCKETS AS SELECT a, b FROM s");
        let b = shape("CREATE OR ALTER MATERIALIZED TABLE t DISTRIBUTED BY (a) INTO 4 BUCKETS AS SELECT a, b FROM s");
        match change(&a, &b) {
            Change::Replace(why) => assert!(why.contains("distribution"), "{why}"),
            other => panic!("{other:?}"),
        }
        let c = shape("CREATE OR ALTER MATERIALIZED TABLE t DISTRIBUTED BY (a) INTO 2 BUCKETS AS SELECT a FROM s");
        match change(&a, &c) {
            Change::Replace(why) => assert!(why.contains("column b dropped"), "{why}"),
            other => panic!("{other:?}"),
        }
        // `SELECT *` cannot tell: evolve, and the service says if it refuses.
        let d = shape("CREATE OR ALTER MATERIALIZED TABLE t DISTRIBUTED BY (a) INTO 2 BUCKETS AS SELECT * FROM s");
        assert_eq!(change(&a, &d), Change::Evolve(vec![Part::Query]));
    }

    #[test]
    fn the_evolving_sql_keeps_the_rest_byte_for_byte() {
        let sql = "-- the sink\nCREATE  MATERIALIZED\tTABLE IF NOT EXISTS t\nAS SELECT 'CREATE MATERIALIZED TABLE' AS x FROM s";
        assert_eq!(
            evolving_sql(sql).unwrap(),
            "-- the sink\nCREATE OR ALTER MATERIALIZED TABLE t\nAS SELECT 'CREATE MATERIALIZED TABLE' AS x FROM s"
        );
        let or_alter = "/* c */ create or alter materialized table t AS SELECT 1 AS a FROM s";
        assert_eq!(evolving_sql(or_alter).unwrap(), or_alter);
        assert_eq!(evolving_sql("CREATE TABLE t (a INT)"), None);
        let out = evolving_sql("create materialized table `t` as select a from s").unwrap();
        assert_eq!(
            out,
            "CREATE OR ALTER MATERIALIZED TABLE `t` as select a from s"
        );
        assert!(
            flink_sql::analyze(&out)
                .unwrap()
                .materialized()
                .unwrap()
                .materialized
                .as_ref()
                .unwrap()
                .or_alter
        );
    }
}
