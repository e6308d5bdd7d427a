//! The one home of how the app's statements translate between their three forms: a
//! [`Definition`] (what the planner works with), a tracker [`Record`] (what was deployed), and a
//! live [`Statement`] (what the service shows) — and of how a statement's tables are resolved
//! against its `sql.current-catalog` / `sql.current-database`.

use std::collections::BTreeMap;

use flink_sql::{Analysis, StatementKind, TableRef};

use crate::confluent::flink::Statement;
use crate::identity::Names;
use crate::ownership::{HIDDEN_LABEL, OWNER_LABEL};
use crate::plan::Definition;
use crate::tracker::{Record, Tables};

/// The tables a statement creates, writes, reads, drops and alters, each resolved against its
/// properties.
#[derive(Default)]
pub struct ResolvedTables {
    pub creates: Vec<TableRef>,
    pub writes: Vec<TableRef>,
    pub reads: Vec<TableRef>,
    pub drops: Vec<TableRef>,
    pub alters: Vec<TableRef>,
    /// The created tables that have a primary key.
    pub keyed: Vec<TableRef>,
    /// The materialized table it declares, if it does.
    pub materialized: Option<crate::materialized::Shape>,
}

/// `t` resolved against a statement's `sql.current-catalog` and `sql.current-database`, as its
/// one identity ([`Names::canonical`]).
pub fn resolve(t: &TableRef, props: &BTreeMap<String, String>, names: &Names) -> TableRef {
    let cat = props.get("sql.current-catalog").map(String::as_str);
    let db = props.get("sql.current-database").map(String::as_str);
    names.canonical(&t.resolve(cat, db))
}

/// The tables of an analysed statement, resolved against its properties.
pub fn resolved_tables(
    a: &Analysis,
    props: &BTreeMap<String, String>,
    names: &Names,
) -> ResolvedTables {
    let resolve = |t: &TableRef| resolve(t, props, names);
    ResolvedTables {
        creates: a.creates.iter().map(|c| resolve(&c.table)).collect(),
        writes: a.writes.iter().map(resolve).collect(),
        reads: a.reads.iter().map(resolve).collect(),
        drops: a.drops.iter().map(|d| resolve(&d.table)).collect(),
        alters: a.alters.iter().map(resolve).collect(),
        keyed: a
            .creates
            .iter()
            .filter(|c| !c.primary_key.is_empty())
            .map(|c| resolve(&c.table))
            .collect(),
        materialized: a
            .creates
            .iter()
            .find_map(|c| crate::materialized::Shape::of(c, resolve(&c.table))),
    }
}

/// A record's tables — `creates`, `reads`, `writes` and the ownership evidence's keys — as
/// their one identity: a record written before the run knew the names (or by a version that
/// kept the spelling) reads as the same tables.
pub fn normalize(rec: &mut Record, names: &Names) {
    let one = |text: &mut String| {
        if let Ok(t) = TableRef::parse(text) {
            *text = names.canonical(&t).to_string();
        }
    };
    let t = &mut rec.tables;
    t.creates
        .iter_mut()
        .chain(t.reads.iter_mut())
        .chain(t.writes.iter_mut())
        .for_each(one);
    t.ownership.iter_mut().for_each(|o| one(&mut o.table));
}

/// The catalog and database spellings a record uses.
pub fn record_spellings(rec: &Record) -> Vec<(Option<String>, Option<String>)> {
    let t = &rec.tables;
    let mut out: Vec<(Option<String>, Option<String>)> = t
        .creates
        .iter()
        .chain(&t.reads)
        .chain(&t.writes)
        .chain(t.ownership.iter().map(|o| &o.table))
        .filter_map(|s| TableRef::parse(s).ok())
        .map(|t| (t.catalog, t.database))
        .collect();
    out.push((
        rec.properties.get("sql.current-catalog").cloned(),
        rec.properties.get("sql.current-database").cloned(),
    ));
    out
}

/// What the service does with a statement, from its SQL: whether it is table DDL, whether it
/// can be resumed once stopped, and what in it keeps state.
pub struct Shape {
    pub is_table_ddl: bool,
    pub resumable: bool,
    pub query_state: Vec<flink_sql::Stateful>,
}

impl Shape {
    pub fn of(a: &Analysis) -> Shape {
        Shape {
            is_table_ddl: a.kind == StatementKind::CreateTable,
            resumable: matches!(
                a.kind,
                StatementKind::Insert | StatementKind::CreateTableAs | StatementKind::StatementSet
            ),
            query_state: a.stateful.clone(),
        }
    }

    /// SQL this version cannot read: nothing is known of it.
    fn unknown() -> Shape {
        Shape {
            is_table_ddl: false,
            resumable: false,
            query_state: Vec::new(),
        }
    }
}

/// A statement's labels without the tool's own.
pub fn user_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| k.as_str() != OWNER_LABEL && k.as_str() != HIDDEN_LABEL)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// One of the tool's own DROP TABLE statements.
pub fn is_hidden(r: &Record) -> bool {
    r.labels.get(HIDDEN_LABEL).map(String::as_str) == Some("true")
}

/// The tables a statement touches, as the tracker records them.
pub fn tables_of(def: &Definition) -> Tables {
    let s = |ts: &[TableRef]| ts.iter().map(ToString::to_string).collect();
    Tables {
        reads: s(&def.reads),
        writes: s(&def.writes),
        creates: s(&def.creates),
        ownership: Vec::new(),
        extra: Default::default(),
    }
}

/// Write `def` into its record: SQL, properties, pool, principal and tables. The table
/// ownership evidence the record holds is kept: only the executor and `adopt` change it.
pub fn write_definition(rec: &mut Record, def: &Definition) {
    rec.logical_name = (def.logical != def.name).then(|| def.logical.clone());
    rec.sql = def.sql.clone();
    rec.properties = def.properties.clone();
    rec.compute_pool_id = Some(def.compute_pool.clone()).filter(|p| !p.is_empty());
    rec.principal = Some(def.principal.clone()).filter(|p| !p.is_empty());
    let kept = std::mem::take(&mut rec.tables.ownership);
    rec.tables = tables_of(def);
    rec.tables.ownership = kept;
}

/// A tracker record read back as a definition. Its tables come from the record; whether it is
/// table DDL, and what it drops or alters (which a record does not keep), from its SQL.
/// Per logical name, the app's latest record: what a buildup without a manifest wants (and what
/// `export` writes). Hidden records are the tool's own DROP TABLE statements: never wanted again.
pub fn latest_per_logical<'a>(
    records: impl IntoIterator<Item = &'a Record>,
) -> BTreeMap<String, &'a Record> {
    let mut latest: BTreeMap<String, &Record> = BTreeMap::new();
    for r in records.into_iter().filter(|r| !is_hidden(r)) {
        let logical = r
            .logical_name
            .clone()
            .unwrap_or_else(|| r.statement_name.clone());
        match latest.get(&logical) {
            Some(prev) if prev.provenance.at >= r.provenance.at => {}
            _ => {
                latest.insert(logical, r);
            }
        }
    }
    latest
}

pub fn from_record(r: &Record, names: &Names) -> Definition {
    let parse = |ts: &[String]| {
        ts.iter()
            .filter_map(|t| TableRef::parse(t).ok())
            .map(|t| names.canonical(&t))
            .collect::<Vec<_>>()
    };
    let analysis = flink_sql::analyze(&r.sql).ok();
    let shape = analysis.as_ref().map_or_else(Shape::unknown, Shape::of);
    // The tables are the record's own SQL's, not what the record lists: a record is evidence
    // of what its statement does only as far as its SQL says so.
    let derived = analysis
        .as_ref()
        .map(|a| resolved_tables(a, &r.properties, names));
    let keyed = derived
        .as_ref()
        .map(|t| t.keyed.clone())
        .unwrap_or_default();
    Definition {
        logical: r
            .logical_name
            .clone()
            .unwrap_or_else(|| r.statement_name.clone()),
        name: r.statement_name.clone(),
        sql: r.sql.clone(),
        properties: r.properties.clone(),
        compute_pool: r.compute_pool_id.clone().unwrap_or_default(),
        principal: r.principal.clone().unwrap_or_default(),
        labels: user_labels(&r.labels),
        creates: derived
            .as_ref()
            .map_or_else(|| parse(&r.tables.creates), |t| t.creates.clone()),
        writes: derived
            .as_ref()
            .map_or_else(|| parse(&r.tables.writes), |t| t.writes.clone()),
        reads: derived
            .as_ref()
            .map_or_else(|| parse(&r.tables.reads), |t| t.reads.clone()),
        drops: derived
            .as_ref()
            .map(|t| t.drops.clone())
            .unwrap_or_default(),
        alters: derived
            .as_ref()
            .map(|t| t.alters.clone())
            .unwrap_or_default(),
        depends_on: Vec::new(),
        is_table_ddl: shape.is_table_ddl,
        resumable: shape.resumable,
        query_state: shape.query_state,
        keyed,
        materialized: derived.and_then(|t| t.materialized),
    }
}

/// A live statement read as a definition (what `adopt` records): its logical name is its own.
pub fn from_statement(s: &Statement, names: &Names) -> Definition {
    let sql = s.sql().to_string();
    let properties = s.spec.properties.clone();
    let (tables, shape) = match flink_sql::analyze(&sql) {
        Ok(a) => (resolved_tables(&a, &properties, names), Shape::of(&a)),
        // SQL we cannot read is still adopted; it just has no tables to order or drop.
        Err(_) => (ResolvedTables::default(), Shape::unknown()),
    };
    Definition {
        logical: s.name.clone(),
        name: s.name.clone(),
        sql,
        properties,
        compute_pool: s.spec.compute_pool_id.clone().unwrap_or_default(),
        principal: s.spec.principal.clone().unwrap_or_default(),
        labels: user_labels(&s.metadata.labels),
        creates: tables.creates,
        writes: tables.writes,
        reads: tables.reads,
        drops: tables.drops,
        alters: tables.alters,
        depends_on: Vec::new(),
        is_table_ddl: shape.is_table_ddl,
        resumable: shape.resumable,
        query_state: shape.query_state,
        keyed: tables.keyed,
        materialized: tables.materialized,
    }
}
