//! `INFORMATION_SCHEMA`: the catalog views Confluent Cloud answers queries on, and the part of SQL
//! the Table API plugin queries them with — `SELECT` of columns, `CAST(NULL AS type)` and string
//! literals, each `AS` an alias, `FROM <catalog>.INFORMATION_SCHEMA.<view>`, an optional `WHERE`
//! of `column = 'value'` conjunctions, and `UNION ALL` of such selects, each maybe in
//! parentheses. Values come back as the service sends them: every one a JSON string, or null.

use std::collections::BTreeMap;

use flink_sql::{Column, CreatedTable, Token, TokenKind};
use serde_json::{json, Value};

/// What the catalog knows about one table (a topic of the simulated cluster).
#[derive(Debug, Clone)]
pub struct TableDef {
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    pub distributed_by: Vec<String>,
    pub buckets: u32,
    pub options: Vec<(String, String)>,
    /// When its DDL declared it (`None`: inferred from a topic): its columns show in `COLUMNS`
    /// only a while after (the catalog lags, §F.10).
    pub declared_at: Option<std::time::Instant>,
    /// A materialized table's (`IS_MATERIALIZED` = `YES`).
    pub materialized: bool,
    /// `WATERMARK FOR column AS expression`, when declared (else Confluent's default on
    /// `$rowtime`).
    pub watermark: Option<(String, String)>,
}

impl TableDef {
    pub fn of(c: &CreatedTable, buckets: u32) -> TableDef {
        TableDef {
            columns: c.columns.clone(),
            primary_key: c.primary_key.clone(),
            distributed_by: c.distributed_by.clone(),
            buckets,
            options: c.options.clone(),
            declared_at: Some(std::time::Instant::now()),
            materialized: false,
            watermark: None,
        }
    }

    /// Whether `COLUMNS` lists its columns yet.
    fn columns_listed(&self, lag: std::time::Duration) -> bool {
        self.declared_at.is_none_or(|at| at.elapsed() >= lag)
    }

    /// A topic nobody declared: Confluent Cloud shows it with its raw key and value.
    pub fn inferred(partitions: u32) -> TableDef {
        let col = |name: &str| Column {
            name: name.into(),
            data_type: "VARBINARY(2147483647)".into(),
            nullable: true,
            computed: false,
        };
        TableDef {
            columns: vec![col("key"), col("val")],
            primary_key: Vec::new(),
            distributed_by: vec!["key".into()],
            buckets: partitions,
            options: Vec::new(),
            declared_at: None,
            materialized: false,
            watermark: None,
        }
    }
}

/// The catalog the views describe: one environment, one Kafka cluster, its tables.
pub struct Catalog<'a> {
    pub env_id: &'a str,
    pub env_name: &'a str,
    pub cluster_id: &'a str,
    pub cluster_name: &'a str,
    pub tables: &'a BTreeMap<String, TableDef>,
    /// How long a newly declared table's columns are missing from `COLUMNS`.
    pub columns_lag: std::time::Duration,
}

/// A column of a result: its name and type, as `status.traits.schema.columns[]` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultColumn {
    pub name: String,
    pub ty: Ty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    String,
    Int,
    /// A one-character literal (`'T' AS KIND`): `CHAR(1) NOT NULL`.
    Char1,
}

impl ResultColumn {
    pub fn to_json(&self) -> Value {
        let ty = match self.ty {
            Ty::String => json!({"type": "VARCHAR", "nullable": true, "length": 2147483647}),
            Ty::Int => json!({"type": "INTEGER", "nullable": true}),
            Ty::Char1 => json!({"type": "CHAR", "nullable": false, "length": 1}),
        };
        json!({ "name": self.name, "type": ty })
    }
}

/// A query's answer: its columns and rows (values are JSON strings or null).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSet {
    pub columns: Vec<ResultColumn>,
    pub rows: Vec<Vec<Value>>,
}

/// Is this statement a query on `INFORMATION_SCHEMA` (its every read is one of the views)?
pub fn is_query(a: &flink_sql::Analysis) -> bool {
    a.kind == flink_sql::StatementKind::Select
        && !a.reads.is_empty()
        && a.reads
            .iter()
            .all(|t| t.database.as_deref() == Some("INFORMATION_SCHEMA"))
}

/// Answer `sql`, a query on the views, against `catalog`. `Err` is Flink's validation message.
pub fn evaluate(sql: &str, catalog: &Catalog<'_>) -> Result<ResultSet, String> {
    let tokens = flink_sql::tokens(sql).map_err(|e| e.to_string())?;
    let mut p = Parser { t: &tokens, i: 0 };
    let selects = p.query()?;
    if p.i != tokens.len() {
        return Err(format!("unexpected '{}' after the query", tokens[p.i].text));
    }
    let mut out = ResultSet::default();
    for (n, s) in selects.iter().enumerate() {
        let view = view(&s.from_catalog, &s.from_view, catalog)?;
        let columns: Vec<ResultColumn> = s
            .items
            .iter()
            .map(|it| {
                let ty = match &it.expr {
                    Expr::Column(c) => view.type_of(c).ok_or_else(|| {
                        format!(
                            "Column '{c}' not found in INFORMATION_SCHEMA.{}",
                            s.from_view
                        )
                    }),
                    Expr::Null(ty) => Ok(*ty),
                    Expr::Str(v) if v.chars().count() == 1 => Ok(Ty::Char1),
                    Expr::Str(_) => Ok(Ty::String),
                }?;
                Ok(ResultColumn {
                    name: it.alias.clone(),
                    ty,
                })
            })
            .collect::<Result<_, String>>()?;
        if n == 0 {
            out.columns = columns;
        } else if columns.len() != out.columns.len() {
            return Err("the selects of a UNION ALL have different numbers of columns".into());
        } else {
            // Typed nulls in one branch take the type the column has in another.
            for (have, got) in out.columns.iter_mut().zip(columns) {
                if have.ty == Ty::String && got.ty == Ty::Int {
                    have.ty = Ty::Int;
                }
            }
        }
        for row in &view.rows {
            let matches = s.filters.iter().all(|(col, want)| {
                view.value(row, col)
                    .is_some_and(|v| v.as_str() == Some(want.as_str()))
            });
            if !matches {
                continue;
            }
            out.rows.push(
                s.items
                    .iter()
                    .map(|it| match &it.expr {
                        Expr::Column(c) => view.value(row, c).cloned().unwrap_or(Value::Null),
                        Expr::Null(_) => Value::Null,
                        Expr::Str(v) => Value::String(v.clone()),
                    })
                    .collect(),
            );
        }
    }
    Ok(out)
}

// ---- the views ------------------------------------------------------------------------------

/// One view's rows: column name → value (a JSON string, or null).
struct View {
    columns: Vec<(&'static str, Ty)>,
    rows: Vec<Vec<Value>>,
}

impl View {
    fn index(&self, col: &str) -> Option<usize> {
        self.columns.iter().position(|(c, _)| *c == col)
    }

    fn type_of(&self, col: &str) -> Option<Ty> {
        self.index(col).map(|i| self.columns[i].1)
    }

    fn value<'r>(&self, row: &'r [Value], col: &str) -> Option<&'r Value> {
        self.index(col).map(|i| &row[i])
    }
}

fn s(v: &str) -> Value {
    Value::String(v.to_string())
}

fn opt(v: Option<&str>) -> Value {
    v.map_or(Value::Null, s)
}

fn int(v: usize) -> Value {
    Value::String(v.to_string())
}

const TABLE_KEYS: [(&str, Ty); 6] = [
    ("TABLE_CATALOG_ID", Ty::String),
    ("TABLE_CATALOG", Ty::String),
    ("TABLE_SCHEMA_ID", Ty::String),
    ("TABLE_SCHEMA", Ty::String),
    ("TABLE_NAME", Ty::String),
    ("TABLE_TYPE", Ty::String),
];

fn view(catalog_part: &str, name: &str, c: &Catalog<'_>) -> Result<View, String> {
    if catalog_part != c.env_id && catalog_part != c.env_name {
        return Err(format!(
            "Catalog '{catalog_part}' does not exist, or you have no access to it."
        ));
    }
    let table_keys = |table: &str| {
        vec![
            s(c.env_id),
            s(c.env_name),
            s(c.cluster_id),
            s(c.cluster_name),
            s(table),
            s("BASE TABLE"),
        ]
    };
    let with = |extra: &[(&'static str, Ty)]| {
        let mut cols: Vec<(&'static str, Ty)> = TABLE_KEYS.to_vec();
        cols.extend_from_slice(extra);
        cols
    };
    Ok(match name {
        "CATALOGS" => View {
            columns: vec![("CATALOG_ID", Ty::String), ("CATALOG_NAME", Ty::String)],
            rows: vec![vec![s(c.env_id), s(c.env_name)]],
        },
        "SCHEMATA" => View {
            columns: vec![
                ("CATALOG_ID", Ty::String),
                ("CATALOG_NAME", Ty::String),
                ("SCHEMA_ID", Ty::String),
                ("SCHEMA_NAME", Ty::String),
            ],
            rows: vec![vec![
                s(c.env_id),
                s(c.env_name),
                s(c.cluster_id),
                s(c.cluster_name),
            ]],
        },
        "TABLES" => View {
            columns: with(&[
                ("DISTRIBUTION_ALGORITHM", Ty::String),
                ("DISTRIBUTION_BUCKETS", Ty::Int),
                ("WATERMARK_COLUMN", Ty::String),
                ("WATERMARK_EXPRESSION", Ty::String),
                ("COMMENT", Ty::String),
                ("IS_MATERIALIZED", Ty::String),
            ]),
            rows: c
                .tables
                .iter()
                .map(|(name, t)| {
                    let mut row = table_keys(name);
                    let (wm_column, wm_expression) = match &t.watermark {
                        Some((col, expr)) => (col.as_str(), expr.as_str()),
                        None => ("$rowtime", "`SOURCE_WATERMARK`()"),
                    };
                    row.extend([
                        s("HASH"),
                        int(t.buckets as usize),
                        s(wm_column),
                        s(wm_expression),
                        Value::Null,
                        s(if t.materialized { "YES" } else { "NO" }),
                    ]);
                    row
                })
                .collect(),
        },
        "COLUMNS" => View {
            columns: with(&[
                ("COLUMN_NAME", Ty::String),
                ("ORDINAL_POSITION", Ty::Int),
                ("IS_NULLABLE", Ty::String),
                ("DATA_TYPE", Ty::String),
                ("FULL_DATA_TYPE", Ty::String),
                ("IS_HIDDEN", Ty::String),
                ("GENERATION_EXPRESSION", Ty::String),
                ("IS_METADATA", Ty::String),
                ("METADATA_KEY", Ty::String),
                ("IS_PERSISTED", Ty::String),
                ("DISTRIBUTION_ORDINAL_POSITION", Ty::Int),
                ("COMMENT", Ty::String),
            ]),
            rows: c
                .tables
                .iter()
                .filter(|(_, t)| t.columns_listed(c.columns_lag))
                .flat_map(|(name, t)| columns_of(t).into_iter().map(move |col| (name, t, col)))
                .map(|(name, t, (pos, col))| {
                    let mut row = table_keys(name);
                    let rowtime = col.name == "$rowtime";
                    let full = flink_type(&col.data_type);
                    let data_type = full.split('(').next().unwrap_or(&full).to_string();
                    let dist = t.distributed_by.iter().position(|d| *d == col.name);
                    row.extend([
                        s(&col.name),
                        int(pos),
                        s(if col.nullable { "YES" } else { "NO" }),
                        s(&data_type),
                        s(&full),
                        s(if rowtime { "YES" } else { "NO" }),
                        Value::Null,
                        s(if rowtime { "YES" } else { "NO" }),
                        opt(rowtime.then_some("timestamp")),
                        s(if col.computed { "NO" } else { "YES" }),
                        dist.map_or(Value::Null, |d| int(d + 1)),
                        opt(rowtime.then_some("SYSTEM")),
                    ]);
                    row
                })
                .collect(),
        },
        "KEY_COLUMN_USAGE" => View {
            columns: with(&[
                ("CONSTRAINT_NAME", Ty::String),
                ("COLUMN_NAME", Ty::String),
                ("ORDINAL_POSITION", Ty::Int),
            ]),
            rows: c
                .tables
                .iter()
                .flat_map(|(name, t)| {
                    t.primary_key.iter().enumerate().map(move |(i, col)| {
                        let mut row = table_keys(name);
                        row.extend([s(&format!("PK_{name}")), s(col), int(i + 1)]);
                        row
                    })
                })
                .collect(),
        },
        "TABLE_OPTIONS" => View {
            columns: with(&[("OPTION_KEY", Ty::String), ("OPTION_VALUE", Ty::String)]),
            rows: c
                .tables
                .iter()
                .flat_map(|(name, t)| {
                    t.options.iter().map(move |(k, v)| {
                        let mut row = table_keys(name);
                        row.extend([s(k), s(v)]);
                        row
                    })
                })
                .collect(),
        },
        other => {
            return Err(format!(
                "Table (or view) 'INFORMATION_SCHEMA.{other}' does not exist."
            ))
        }
    })
}

/// A table's columns, 1-based, with Confluent Cloud's `$rowtime` system column last unless the
/// table declares it.
fn columns_of(t: &TableDef) -> Vec<(usize, Column)> {
    let mut cols = t.columns.clone();
    if !cols.iter().any(|c| c.name == "$rowtime") {
        cols.push(Column {
            name: "$rowtime".into(),
            data_type: "TIMESTAMP_LTZ(3)".into(),
            nullable: false,
            computed: true,
        });
    }
    cols.into_iter()
        .enumerate()
        .map(|(i, c)| (i + 1, c))
        .collect()
}

/// A type as Flink's type parser reads it back: the SQL aliases spelled out, no `NOT NULL`, no
/// `METADATA …` tail (nullability and metadata have columns of their own).
pub(super) fn flink_type(written: &str) -> String {
    let upper = written.trim().to_ascii_uppercase();
    let cut = [" NOT NULL", " NULL", " METADATA", " VIRTUAL", " COMMENT"]
        .iter()
        .filter_map(|k| upper.find(k))
        .min()
        .unwrap_or(upper.len());
    let t = written.trim()[..cut].trim();
    let u = t.to_ascii_uppercase();
    if u == "STRING" {
        return "VARCHAR(2147483647)".into();
    }
    if u == "BYTES" {
        return "VARBINARY(2147483647)".into();
    }
    if let Some(p) = u.strip_prefix("TIMESTAMP_LTZ") {
        let p = p.trim();
        let p = if p.is_empty() { "(6)" } else { p };
        return format!("TIMESTAMP{p} WITH LOCAL TIME ZONE");
    }
    t.to_string()
}

// ---- the query language ---------------------------------------------------------------------

#[derive(Debug)]
enum Expr {
    Column(String),
    Null(Ty),
    Str(String),
}

#[derive(Debug)]
struct Item {
    expr: Expr,
    alias: String,
}

#[derive(Debug)]
struct Select {
    items: Vec<Item>,
    from_catalog: String,
    from_view: String,
    filters: Vec<(String, String)>,
}

struct Parser<'t> {
    t: &'t [Token],
    i: usize,
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&'t Token> {
        self.t.get(self.i)
    }

    fn is_word(&self, w: &str) -> bool {
        self.peek()
            .is_some_and(|t| t.kind == TokenKind::Word && t.text.eq_ignore_ascii_case(w))
    }

    fn is_symbol(&self, s: &str) -> bool {
        self.peek()
            .is_some_and(|t| t.kind == TokenKind::Symbol && t.text == s)
    }

    fn word(&mut self, w: &str) -> Result<(), String> {
        if self.is_word(w) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.expected(w))
        }
    }

    fn symbol(&mut self, s: &str) -> Result<(), String> {
        if self.is_symbol(s) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.expected(s))
        }
    }

    fn expected(&self, what: &str) -> String {
        match self.peek() {
            Some(t) => format!("expected {what}, found '{}'", t.text),
            None => format!("expected {what} at the end of the query"),
        }
    }

    fn ident(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(t) if matches!(t.kind, TokenKind::Word | TokenKind::QuotedIdent) => {
                self.i += 1;
                Ok(t.text.clone())
            }
            _ => Err(self.expected("a name")),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        match self.peek() {
            Some(t) if t.kind == TokenKind::Str => {
                self.i += 1;
                Ok(t.text.clone())
            }
            _ => Err(self.expected("a string literal")),
        }
    }

    fn query(&mut self) -> Result<Vec<Select>, String> {
        let mut out = vec![self.select()?];
        while self.is_word("UNION") {
            self.i += 1;
            self.word("ALL")?;
            out.push(self.select()?);
        }
        Ok(out)
    }

    fn select(&mut self) -> Result<Select, String> {
        if self.is_symbol("(") {
            self.i += 1;
            let s = self.select()?;
            self.symbol(")")?;
            return Ok(s);
        }
        self.word("SELECT")?;
        let mut items = vec![self.item()?];
        while self.is_symbol(",") {
            self.i += 1;
            items.push(self.item()?);
        }
        self.word("FROM")?;
        let from_catalog = self.ident()?;
        self.symbol(".")?;
        let db = self.ident()?;
        if db != "INFORMATION_SCHEMA" {
            return Err(format!(
                "only INFORMATION_SCHEMA can be queried here, not '{db}'"
            ));
        }
        self.symbol(".")?;
        let from_view = self.ident()?;
        let mut filters = Vec::new();
        if self.is_word("WHERE") {
            self.i += 1;
            loop {
                let col = self.ident()?;
                self.symbol("=")?;
                filters.push((col, self.string()?));
                if !self.is_word("AND") {
                    break;
                }
                self.i += 1;
            }
        }
        Ok(Select {
            items,
            from_catalog,
            from_view,
            filters,
        })
    }

    fn item(&mut self) -> Result<Item, String> {
        let expr = if self.is_word("CAST") {
            self.i += 1;
            self.symbol("(")?;
            self.word("NULL")?;
            self.word("AS")?;
            let ty = self.ident()?.to_ascii_uppercase();
            let ty = match ty.as_str() {
                "STRING" | "VARCHAR" => Ty::String,
                "INT" | "INTEGER" => Ty::Int,
                other => return Err(format!("CAST(NULL AS {other}) is not supported here")),
            };
            self.symbol(")")?;
            Expr::Null(ty)
        } else if self.peek().is_some_and(|t| t.kind == TokenKind::Str) {
            Expr::Str(self.string()?)
        } else {
            Expr::Column(self.ident()?)
        };
        let alias = if self.is_word("AS") {
            self.i += 1;
            self.ident()?
        } else {
            match &expr {
                Expr::Column(c) => c.clone(),
                _ => return Err(self.expected("AS and a column name")),
            }
        };
        Ok(Item { expr, alias })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog_with(tables: &BTreeMap<String, TableDef>) -> Catalog<'_> {
        Catalog {
            env_id: "env-1",
            env_name: "prod",
            cluster_id: "lkc-1",
            cluster_name: "main",
            tables,
            columns_lag: std::time::Duration::ZERO,
        }
    }

    #[test]
    fn types_read_back_as_flink_parses_them() {
        assert_eq!(flink_type("STRING"), "VARCHAR(2147483647)");
        assert_eq!(flink_type("STRING NOT NULL"), "VARCHAR(2147483647)");
        assert_eq!(flink_type("DECIMAL(10, 2)"), "DECIMAL(10, 2)");
        assert_eq!(
            flink_type("TIMESTAMP_LTZ(3)"),
            "TIMESTAMP(3) WITH LOCAL TIME ZONE"
        );
        assert_eq!(
            flink_type("TIMESTAMP(3) WITH LOCAL TIME ZONE NOT NULL METADATA VIRTUAL"),
            "TIMESTAMP(3) WITH LOCAL TIME ZONE"
        );
    }

    #[test]
    fn a_query_outside_the_grammar_is_an_error_not_a_guess() {
        let tables = BTreeMap::new();
        let c = catalog_with(&tables);
        for bad in [
            "SELECT `CATALOG_ID` FROM `env-1`.`other`.`CATALOGS`",
            "SELECT `CATALOG_ID` FROM `env-2`.`INFORMATION_SCHEMA`.`CATALOGS`",
            "SELECT `NOPE` FROM `env-1`.`INFORMATION_SCHEMA`.`CATALOGS`",
            "SELECT `CATALOG_ID` FROM `env-1`.`INFORMATION_SCHEMA`.`NOPE`",
            "SELECT `CATALOG_ID` FROM `env-1`.`INFORMATION_SCHEMA`.`CATALOGS` WHERE `CATALOG_ID` > 'a'",
            "SELECT CAST(NULL AS BOOLEAN) AS x FROM `env-1`.`INFORMATION_SCHEMA`.`CATALOGS`",
        ] {
            assert!(evaluate(bad, &c).is_err(), "{bad}");
        }
    }
}
