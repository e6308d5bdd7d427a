//! # flink-sql
//!
//! A small front door to Flink SQL as Confluent Cloud for Apache Flink accepts it: given one
//! statement, say what kind it is and which tables it creates, drops, alters, writes and reads.
//!
//! ## Why it exists
//!
//! Two parts of ccaf-housekeeping need the same answers and must not disagree:
//!
//! * the simulator of Confluent Cloud's Flink statements API decides what a submitted statement
//!   does: a `CREATE TABLE` or CTAS creates a Kafka topic and schema subjects, a `DROP TABLE` deletes
//!   them, a statement that reads a missing table or does not parse fails, and the key columns
//!   decide whether a key subject exists;
//! * the action's planner orders teardown and buildup from which tables each statement creates,
//!   writes, reads and drops.
//!
//! Both go through [`analyze`]; a hand-written corpus (`tests/corpus/`) is the truth for both.
//!
//! ## What it is not
//!
//! It is not a full SQL parser and not a validator. It is a tokenizer plus a structural walk: strict
//! about statement structure (a clause keyword where one is expected, a table name where one is
//! expected, balanced parentheses, terminated strings and comments) and lenient inside expressions
//! and function arguments. A statement it accepts may still be rejected by Flink (unknown
//! functions, type errors, a `SELECT` list naming missing columns); a statement it rejects is one
//! Flink would reject too, as far as the corpus goes.
//!
//! It also says which stateful features a statement's query uses ([`Analysis::stateful`]: joins,
//! aggregations, windows, ...), because Confluent Cloud carries offsets over to a replacement
//! statement only when it keeps no state.
//!
//! Identifiers are compared exactly (Flink's identifiers are case-sensitive); keywords are
//! case-insensitive. Names are reported as written, without backquotes; use [`TableRef::resolve`]
//! to qualify them with the session's default catalog and database.

mod lexer;
mod parser;

use std::fmt;

/// A table name as written, with backquotes removed. Identifiers are case-sensitive (compare
/// exactly).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableRef {
    pub catalog: Option<String>,
    pub database: Option<String>,
    pub name: String,
}

impl TableRef {
    /// An unqualified name. The argument is taken as one name part, never split at dots.
    pub fn new(name: &str) -> Self {
        TableRef {
            catalog: None,
            database: None,
            name: name.to_string(),
        }
    }

    /// Reads a reference as [`TableRef`]'s `Display` writes it (`a.b.c`, parts backquoted as
    /// needed), e.g. from a tracker record.
    pub fn parse(text: &str) -> Result<TableRef, ParseError> {
        // The DROP TABLE walk reads exactly one (qualified) name and rejects anything after it.
        let analysis = parser::parse(&format!("DROP TABLE {text}"))?;
        match analysis.drops.into_iter().next() {
            Some(d) if !text.trim().is_empty() => Ok(d.table),
            _ => Err(ParseError {
                message: format!("'{text}' is not a table name"),
                line: 1,
                column: 1,
            }),
        }
    }

    /// Fills missing parts from the session defaults, the way Flink resolves a name:
    /// `catalog.database.table` stays as it is, `database.table` takes the default catalog, and
    /// `table` takes both defaults.
    ///
    /// The catalog is only filled when a database is known afterwards, so that a missing default
    /// database never turns `table` into a `catalog.table` that would read as `database.table`.
    pub fn resolve(
        &self,
        default_catalog: Option<&str>,
        default_database: Option<&str>,
    ) -> TableRef {
        let database = self
            .database
            .clone()
            .or_else(|| default_database.map(str::to_string));
        let catalog = match (&self.catalog, &database) {
            (Some(catalog), _) => Some(catalog.clone()),
            (None, Some(_)) => default_catalog.map(str::to_string),
            (None, None) => None,
        };
        TableRef {
            catalog,
            database,
            name: self.name.clone(),
        }
    }
}

/// Whether a name part must be backquoted to read back as the same identifier.
fn needs_backquotes(part: &str) -> bool {
    let mut chars = part.chars();
    let plain = match chars.next() {
        Some(first) => {
            (first.is_ascii_alphabetic() || first == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    };
    !plain || parser::is_reserved(part)
}

fn write_part(f: &mut fmt::Formatter<'_>, part: &str) -> fmt::Result {
    if needs_backquotes(part) {
        write!(f, "`{}`", part.replace('`', "``"))
    } else {
        f.write_str(part)
    }
}

impl fmt::Display for TableRef {
    /// `catalog.database.name`, `database.name` or `name`, backquoting the parts that need it, so
    /// that the output parses back to the same reference.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for part in [&self.catalog, &self.database].into_iter().flatten() {
            write_part(f, part)?;
            f.write_str(".")?;
        }
        write_part(f, &self.name)
    }
}

/// What a statement is, as far as the simulator and the planner care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementKind {
    CreateTable,
    CreateTableAs,
    DropTable,
    AlterTable,
    CreateView,
    DropView,
    Insert,
    StatementSet,
    /// `CREATE [OR ALTER] MATERIALIZED TABLE … AS query`: one object owning a table, its topic and
    /// the continuous query that fills it.
    CreateMaterializedTable,
    /// `ALTER MATERIALIZED TABLE`: an evolution (`… AS query`, see [`Analysis::evolves`]) or a
    /// property change (`SET`, `RESET`, `ADD`, `MODIFY WATERMARK`, `SUSPEND`, …).
    AlterMaterializedTable,
    /// `DROP MATERIALIZED TABLE`.
    DropMaterializedTable,
    Select,
    Show,
    Describe,
    Use,
    Set,
    /// Anything else the walk recognises without looking inside: `CREATE FUNCTION`, `DROP MODEL`,
    /// `EXPLAIN`, `RESET`, ...
    Other,
}

impl StatementKind {
    /// The string Confluent Cloud reports in a statement's `status.traits.sql_kind`.
    pub fn sql_kind(&self) -> &'static str {
        match self {
            StatementKind::CreateTable => "CREATE_TABLE",
            StatementKind::CreateTableAs => "CREATE_TABLE_AS",
            StatementKind::DropTable => "DROP_TABLE",
            StatementKind::AlterTable => "ALTER_TABLE",
            StatementKind::CreateView => "CREATE_VIEW",
            StatementKind::DropView => "DROP_VIEW",
            StatementKind::Insert => "INSERT_INTO",
            StatementKind::StatementSet => "EXECUTE_STATEMENT_SET",
            StatementKind::CreateMaterializedTable => "CREATE_MATERIALIZED_TABLE",
            StatementKind::AlterMaterializedTable => "ALTER_MATERIALIZED_TABLE",
            StatementKind::DropMaterializedTable => "DROP_MATERIALIZED_TABLE",
            StatementKind::Select => "SELECT",
            StatementKind::Show => "SHOW",
            StatementKind::Describe => "DESCRIBE",
            StatementKind::Use => "USE",
            StatementKind::Set => "SET",
            StatementKind::Other => "OTHER",
        }
    }
}

/// One column of a `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    /// The type as written with whitespace normalised, e.g. `STRING`, `DECIMAL(10, 2)`,
    /// `ROW<a INT>`. Empty for a computed column `c AS expr`, whose type Flink derives.
    pub data_type: String,
    /// False when declared `NOT NULL`. Only what is written counts: a primary-key column that
    /// Flink implicitly makes `NOT NULL` stays `true` here.
    pub nullable: bool,
    /// `c AS expr` and `METADATA` columns: not part of the value written to Kafka.
    pub computed: bool,
}

/// A table a statement creates (`CREATE TABLE` or CTAS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedTable {
    pub table: TableRef,
    pub if_not_exists: bool,
    /// Empty for a CTAS unless columns were declared.
    pub columns: Vec<Column>,
    /// `PRIMARY KEY (a, b) NOT ENFORCED`, column-level or table-level.
    pub primary_key: Vec<String>,
    /// `DISTRIBUTED BY [HASH](a, b) [INTO n BUCKETS]`.
    pub distributed_by: Vec<String>,
    pub buckets: Option<u32>,
    /// `WITH ('k' = 'v', ...)` in order, quotes removed.
    pub options: Vec<(String, String)>,
    /// `CREATE TABLE t LIKE src`.
    pub like: Option<TableRef>,
    /// What makes a materialized table one: `None` for a regular table.
    pub materialized: Option<Materialized>,
}

/// The parts of a materialized table's definition besides those of any table (columns, key,
/// distribution, options): its query, its watermark and where an evolution starts.
///
/// `query` and `watermark` are normalised (tokens joined by one space, comments dropped,
/// keywords upper-cased, identifiers backquoted only where needed), so two definitions that
/// differ only in layout compare equal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Materialized {
    /// `CREATE OR ALTER` (or `ALTER … AS`): evolves the table when it exists.
    pub or_alter: bool,
    pub start_mode: Option<StartMode>,
    /// The query after `AS`.
    pub query: String,
    /// `WATERMARK FOR col AS expr` as `col AS expr`, when declared.
    pub watermark: Option<String>,
    /// The output columns of the query's top-level `SELECT` (alias, else the column's name, else
    /// Flink's `EXPR$<n>`); `None` when they cannot be known from the text (`*`, `VALUES`,
    /// `TABLE t`).
    pub query_columns: Option<Vec<String>>,
}

/// `START_MODE = …` of a materialized table: where the new query of an evolution (or of a
/// create) starts reading its sources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartMode {
    FromBeginning,
    /// `FROM_NOW[(interval)]`: the interval as written, normalised.
    FromNow(Option<String>),
    FromTimestamp(String),
    ResumeOrFromBeginning,
    ResumeOrFromNow(Option<String>),
    ResumeOrFromTimestamp(String),
}

impl StartMode {
    /// A `RESUME_OR_*` mode: the new query continues from the old one's source offsets where it
    /// can (which undercounts a stateful query: its state is not carried).
    pub fn resumes(&self) -> bool {
        matches!(
            self,
            StartMode::ResumeOrFromBeginning
                | StartMode::ResumeOrFromNow(_)
                | StartMode::ResumeOrFromTimestamp(_)
        )
    }

    /// The clause's value as SQL, e.g. `FROM_NOW(INTERVAL '1' HOUR)`.
    pub fn as_sql(&self) -> String {
        let with = |word: &str, arg: &Option<String>| match arg {
            Some(a) => format!("{word}({a})"),
            None => word.to_string(),
        };
        match self {
            StartMode::FromBeginning => "FROM_BEGINNING".into(),
            StartMode::FromNow(a) => with("FROM_NOW", a),
            StartMode::FromTimestamp(t) => format!("FROM_TIMESTAMP({t})"),
            StartMode::ResumeOrFromBeginning => "RESUME_OR_FROM_BEGINNING".into(),
            StartMode::ResumeOrFromNow(a) => with("RESUME_OR_FROM_NOW", a),
            StartMode::ResumeOrFromTimestamp(t) => format!("RESUME_OR_FROM_TIMESTAMP({t})"),
        }
    }
}

impl fmt::Display for StartMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_sql())
    }
}

impl CreatedTable {
    /// Whether records written to the table carry a key (and so a key schema subject).
    pub fn has_key(&self) -> bool {
        !self.key_columns().is_empty()
    }

    /// The columns of the Kafka record key: `DISTRIBUTED BY` if set, else the primary key.
    pub fn key_columns(&self) -> &[String] {
        if self.distributed_by.is_empty() {
            &self.primary_key
        } else {
            &self.distributed_by
        }
    }
}

/// A table a `DROP TABLE` drops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedTable {
    pub table: TableRef,
    pub if_exists: bool,
}

/// A feature of a statement's query that keeps Flink state (so offsets cannot be carried over to a
/// replacement).
///
/// Features are recognised from the statement's structure and from built-in function names; a
/// user-defined aggregate or table function is not known by name and does not count. Whether the
/// sink is an upsert sink is not the statement's business: it follows from the sink table's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stateful {
    /// GROUP BY, HAVING, GROUPING SETS, or an aggregate function (COUNT, SUM, AVG, MIN, MAX,
    /// COLLECT, LISTAGG, ARRAY_AGG, FIRST_VALUE, LAST_VALUE, STDDEV_*, VAR_*, VARIANCE, STDDEV,
    /// BOOL_AND, BOOL_OR, JSON_OBJECTAGG, JSON_ARRAYAGG, APPROX_COUNT_DISTINCT, …) called outside
    /// OVER.
    Aggregation,
    /// Two relations joined: any JOIN (INNER/LEFT/RIGHT/FULL/CROSS/NATURAL), a comma join
    /// `FROM a, b`, a temporal join (`FOR SYSTEM_TIME AS OF`) — but not a join with a table
    /// function (`LATERAL TABLE(f(x))`, `UNNEST(...)`, `CROSS JOIN UNNEST`, `, LATERAL TABLE(...)`),
    /// which is stateless.
    Join,
    /// A windowing table function: TUMBLE, HOP, CUMULATE, SESSION (e.g.
    /// `TABLE(TUMBLE(TABLE t, …))`).
    Window,
    /// An OVER window (`f(...) OVER (...)`, `OVER w`) or a WINDOW clause.
    Over,
    /// LAG or LEAD.
    LagLead,
    /// ROW_NUMBER, RANK, DENSE_RANK, PERCENT_RANK, CUME_DIST, NTILE (deduplication, Top-N).
    Ranking,
    /// MATCH_RECOGNIZE.
    MatchRecognize,
    /// SELECT DISTINCT, or DISTINCT inside a function call (`COUNT(DISTINCT x)`).
    Distinct,
    /// UNION / INTERSECT / EXCEPT / MINUS without ALL, and INTERSECT ALL / EXCEPT ALL / MINUS ALL.
    /// (UNION ALL is stateless.)
    SetOperation,
    /// ORDER BY, LIMIT, OFFSET or FETCH of a query.
    Sort,
    /// A subquery in an expression: `IN (SELECT …)`, `EXISTS (SELECT …)`, a scalar subquery
    /// `(SELECT …)` used as a value. (A derived table in FROM is not by itself stateful.)
    Subquery,
}

impl Stateful {
    /// Every feature, in declaration order.
    pub const ALL: [Stateful; 11] = [
        Stateful::Aggregation,
        Stateful::Join,
        Stateful::Window,
        Stateful::Over,
        Stateful::LagLead,
        Stateful::Ranking,
        Stateful::MatchRecognize,
        Stateful::Distinct,
        Stateful::SetOperation,
        Stateful::Sort,
        Stateful::Subquery,
    ];

    /// A stable kebab-case word for records and tests, e.g. `set-operation`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stateful::Aggregation => "aggregation",
            Stateful::Join => "join",
            Stateful::Window => "window",
            Stateful::Over => "over",
            Stateful::LagLead => "lag-lead",
            Stateful::Ranking => "ranking",
            Stateful::MatchRecognize => "match-recognize",
            Stateful::Distinct => "distinct",
            Stateful::SetOperation => "set-operation",
            Stateful::Sort => "sort",
            Stateful::Subquery => "subquery",
        }
    }

    /// Short human text for messages, e.g. "a join".
    pub fn description(self) -> &'static str {
        match self {
            Stateful::Aggregation => "aggregation (GROUP BY or an aggregate function)",
            Stateful::Join => "a join",
            Stateful::Window => "a window (TUMBLE, HOP, CUMULATE or SESSION)",
            Stateful::Over => "an OVER window",
            Stateful::LagLead => "LAG/LEAD",
            Stateful::Ranking => "ROW_NUMBER/RANK (deduplication or Top-N)",
            Stateful::MatchRecognize => "MATCH_RECOGNIZE",
            Stateful::Distinct => "DISTINCT",
            Stateful::SetOperation => "UNION/INTERSECT/EXCEPT without ALL",
            Stateful::Sort => "ORDER BY/LIMIT",
            Stateful::Subquery => "a subquery",
        }
    }
}

impl fmt::Display for Stateful {
    /// The [`as_str`](Stateful::as_str) word.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one statement does to tables. Names are as written; see [`TableRef::resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    pub kind: StatementKind,
    /// `CREATE TABLE`, CTAS and `CREATE [OR ALTER] MATERIALIZED TABLE`.
    pub creates: Vec<CreatedTable>,
    /// `ALTER MATERIALIZED TABLE t … AS query`: the table's new definition (with
    /// `materialized.or_alter` set). The table is also in `alters` and `writes`.
    pub evolves: Vec<CreatedTable>,
    /// `DROP TABLE`.
    pub drops: Vec<DroppedTable>,
    /// The table an `ALTER TABLE` changes (its options, columns, watermark or name): neither a
    /// read nor a write, but a change to the table all the same.
    pub alters: Vec<TableRef>,
    /// `INSERT INTO` / `INSERT OVERWRITE` targets (each `INSERT` of a statement set) and the CTAS
    /// target; deduplicated, in first-seen order.
    pub writes: Vec<TableRef>,
    /// Every table read, deduplicated, in first-seen order. CTE names are not reads, table
    /// functions (`LATERAL TABLE(f(x))`, `UNNEST`) are not tables; the `TABLE t` argument of a
    /// windowing function and the source of `CREATE TABLE ... LIKE` are reads.
    pub reads: Vec<TableRef>,
    /// The stateful features of the statement's query, deduplicated, in the order the statement
    /// first shows them; empty when the query keeps no state or there is no query (`CREATE TABLE`,
    /// `DROP TABLE`, `SET`, `EXPLAIN`, ...). Features inside CTEs, derived tables and subqueries
    /// count, as do those of every `INSERT` of a statement set and of a CTAS's query. For a
    /// `CREATE VIEW` they are the view's query's: a statement reading the view inherits them,
    /// which the crate cannot see from that statement alone.
    pub stateful: Vec<Stateful>,
}

impl Analysis {
    /// Whether the statement only changes the catalog and then completes: `CREATE`/`DROP`/`ALTER`
    /// of tables, views and materialized tables. A CTAS is *not* counted: besides creating its
    /// table it starts a job that keeps running, like an `INSERT`, and must be stopped on teardown
    /// like one. A materialized table's statement is: it completes, and the query it starts
    /// belongs to the table (it ends when the table is dropped, not when the statement is
    /// deleted).
    pub fn is_ddl(&self) -> bool {
        matches!(
            self.kind,
            StatementKind::CreateTable
                | StatementKind::DropTable
                | StatementKind::AlterTable
                | StatementKind::CreateView
                | StatementKind::DropView
                | StatementKind::CreateMaterializedTable
                | StatementKind::AlterMaterializedTable
                | StatementKind::DropMaterializedTable
        )
    }

    /// The materialized table the statement declares or evolves, if it does.
    pub fn materialized(&self) -> Option<&CreatedTable> {
        self.creates
            .iter()
            .chain(&self.evolves)
            .find(|c| c.materialized.is_some())
    }

    /// Whether the statement's query keeps state (see [`Analysis::stateful`]), so that a
    /// replacement cannot take over its offsets.
    pub fn is_stateful(&self) -> bool {
        !self.stateful.is_empty()
    }
}

/// Why a statement does not parse. `line` and `column` are 1-based and point at the offending
/// token (for an unclosed parenthesis, at the parenthesis).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The message without the `SQL parse failed.` prefix, e.g.
    /// `Encountered "FORM" at line 1, column 10.`
    pub message: String,
    pub line: u32,
    pub column: u32,
}

impl fmt::Display for ParseError {
    /// Flink-like: `SQL parse failed. Encountered "FORM" at line 1, column 10. ...`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SQL parse failed. {}", self.message)
    }
}

impl std::error::Error for ParseError {}

/// One token of a statement, as [`tokens`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    /// The value: a word as written, an identifier without its backquotes, a string literal's
    /// content (doubled quotes undone), a number or symbol as written.
    pub text: String,
}

/// What a [`Token`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A keyword or an unquoted identifier (which one depends on where it stands).
    Word,
    /// A backquoted identifier.
    QuotedIdent,
    /// A string literal.
    Str,
    Number,
    /// Operators and punctuation.
    Symbol,
}

/// The statement's tokens (comments and whitespace dropped), for callers that read a small
/// language of their own on top of Flink SQL's lexical rules — the simulator's
/// `INFORMATION_SCHEMA` queries.
pub fn tokens(sql: &str) -> Result<Vec<Token>, ParseError> {
    Ok(lexer::tokenize(sql)?
        .into_iter()
        .filter_map(|t| {
            let kind = match t.kind {
                lexer::TokenKind::Word => TokenKind::Word,
                lexer::TokenKind::QuotedIdent => TokenKind::QuotedIdent,
                lexer::TokenKind::Str => TokenKind::Str,
                lexer::TokenKind::Number => TokenKind::Number,
                lexer::TokenKind::Symbol => TokenKind::Symbol,
                lexer::TokenKind::Eof => return None,
            };
            Some(Token { kind, text: t.text })
        })
        .collect())
}

/// Analyses one Flink SQL statement (a trailing `;` is allowed; two statements are not, except
/// inside a statement set).
///
/// ```
/// use flink_sql::{analyze, StatementKind, TableRef};
///
/// let a = analyze("INSERT INTO sink SELECT * FROM `my-env`.src WHERE note <> 'other'").unwrap();
/// assert_eq!(a.kind, StatementKind::Insert);
/// assert_eq!(a.writes, vec![TableRef::new("sink")]);
/// assert_eq!(a.reads[0].to_string(), "`my-env`.src");
///
/// let e = analyze("SELECT * FORM t").unwrap_err();
/// assert_eq!((e.line, e.column), (1, 10));
/// ```
pub fn analyze(sql: &str) -> Result<Analysis, ParseError> {
    parser::parse(sql)
}

#[cfg(test)]
mod table_ref_tests {
    use super::*;

    #[test]
    fn display_parses_back() {
        for t in [
            TableRef::new("orders"),
            TableRef::new("my table"),
            TableRef {
                catalog: Some("my-env".into()),
                database: Some("lkc-1".into()),
                name: "a.b".into(),
            },
            TableRef {
                catalog: None,
                database: Some("db".into()),
                name: "select".into(),
            },
        ] {
            assert_eq!(TableRef::parse(&t.to_string()).unwrap(), t);
        }
        assert!(TableRef::parse("").is_err());
        assert!(TableRef::parse("a b").is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qualified(catalog: &str, database: &str, name: &str) -> TableRef {
        TableRef {
            catalog: Some(catalog.into()),
            database: Some(database.into()),
            name: name.into(),
        }
    }

    #[test]
    fn resolve_fills_missing_parts() {
        let t = TableRef::new("orders");
        assert_eq!(
            t.resolve(Some("env"), Some("cluster")),
            qualified("env", "cluster", "orders")
        );
        assert_eq!(t.resolve(None, None), t);
        // No default database: the catalog alone would misread as a database.
        assert_eq!(t.resolve(Some("env"), None), t);
        let two = TableRef {
            database: Some("other".into()),
            ..TableRef::new("orders")
        };
        assert_eq!(
            two.resolve(Some("env"), Some("cluster")),
            qualified("env", "other", "orders")
        );
        let three = qualified("a", "b", "c");
        assert_eq!(three.resolve(Some("env"), Some("cluster")), three);
    }

    #[test]
    fn display_backquotes_what_needs_it() {
        assert_eq!(TableRef::new("orders").to_string(), "orders");
        assert_eq!(
            qualified("my-env", "my cluster", "t_1").to_string(),
            "`my-env`.`my cluster`.t_1"
        );
        assert_eq!(TableRef::new("a.b").to_string(), "`a.b`");
        assert_eq!(TableRef::new("odd`name").to_string(), "`odd``name`");
        assert_eq!(TableRef::new("select").to_string(), "`select`");
        assert_eq!(TableRef::new("1st").to_string(), "`1st`");
    }

    #[test]
    fn key_columns_prefer_distribution() {
        let mut t = CreatedTable {
            table: TableRef::new("t"),
            if_not_exists: false,
            columns: vec![],
            primary_key: vec![],
            distributed_by: vec![],
            buckets: None,
            options: vec![],
            like: None,
            materialized: None,
        };
        assert!(!t.has_key());
        t.primary_key = vec!["id".into()];
        assert_eq!(t.key_columns(), ["id".to_string()]);
        t.distributed_by = vec!["a".into(), "b".into()];
        assert_eq!(t.key_columns(), ["a".to_string(), "b".to_string()]);
        assert!(t.has_key());
    }

    #[test]
    fn sql_kinds() {
        assert_eq!(StatementKind::Insert.sql_kind(), "INSERT_INTO");
        assert_eq!(
            StatementKind::StatementSet.sql_kind(),
            "EXECUTE_STATEMENT_SET"
        );
        assert_eq!(StatementKind::CreateTableAs.sql_kind(), "CREATE_TABLE_AS");
    }

    #[test]
    fn stateful_words_are_distinct_and_round_trip() {
        // Exhaustive, so that a new variant cannot be left out of `ALL`.
        fn position(s: Stateful) -> usize {
            match s {
                Stateful::Aggregation => 0,
                Stateful::Join => 1,
                Stateful::Window => 2,
                Stateful::Over => 3,
                Stateful::LagLead => 4,
                Stateful::Ranking => 5,
                Stateful::MatchRecognize => 6,
                Stateful::Distinct => 7,
                Stateful::SetOperation => 8,
                Stateful::Sort => 9,
                Stateful::Subquery => 10,
            }
        }
        for (i, s) in Stateful::ALL.into_iter().enumerate() {
            assert_eq!(position(s), i, "{s:?}");
            assert_eq!(s.to_string(), s.as_str());
            let word = s.as_str();
            assert!(
                !word.is_empty() && word.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{word:?} is not kebab-case"
            );
            let back: Vec<Stateful> = Stateful::ALL
                .into_iter()
                .filter(|other| other.as_str() == word)
                .collect();
            assert_eq!(back, vec![s], "{word:?} names one feature");
            let described: Vec<Stateful> = Stateful::ALL
                .into_iter()
                .filter(|other| other.description() == s.description())
                .collect();
            assert_eq!(
                described,
                vec![s],
                "{:?} describes one feature",
                s.description()
            );
        }
        assert!(Stateful::ALL.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn stateful_features_in_first_seen_order() {
        let a =
            analyze("SELECT COUNT(DISTINCT x) FROM a JOIN b ON a.id = b.id GROUP BY y ORDER BY 1")
                .unwrap();
        assert_eq!(
            a.stateful,
            vec![
                Stateful::Aggregation,
                Stateful::Distinct,
                Stateful::Join,
                Stateful::Sort
            ]
        );
        assert!(a.is_stateful());
        let seed =
            analyze("INSERT INTO s SELECT a FROM x WHERE a > 0 UNION ALL SELECT a FROM y").unwrap();
        assert!(!seed.is_stateful());
        // A statement that runs no query has no features, whatever its parentheses hold.
        let explain = analyze("EXPLAIN SELECT COUNT(*) FROM (SELECT DISTINCT a FROM t)").unwrap();
        assert_eq!(explain.kind, StatementKind::Other);
        assert!(explain.stateful.is_empty());
    }

    #[test]
    fn parse_error_display() {
        let e = analyze("SELECT * FORM t").unwrap_err();
        assert_eq!((e.line, e.column), (1, 10));
        assert!(
            e.to_string()
                .starts_with("SQL parse failed. Encountered \"FORM\" at line 1, column 10."),
            "{e}"
        );
    }
}
