//! Materialized tables (the reference, §G): one object owning a table definition, its topic,
//! its Schema Registry subjects and the continuous query that fills the topic. The SQL forms
//! (`CREATE [OR ALTER] MATERIALIZED TABLE`, `ALTER …`, `DROP …`, run by the phase engine) and the
//! REST resource (`mt_api`) both come here, so the two ways in meet the same rules.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flink_sql::{Analysis, Column, CreatedTable, DroppedTable, StatementKind, TableRef};
use serde_json::{json, Value};

use super::engine::topic_of;
use super::info_schema::TableDef;
use super::model::rfc3339;
use crate::broker::BrokerError;
use crate::Sim;

/// The START_MODE the service uses when a statement names none (dbt observed it, §G.3).
pub const DEFAULT_START_MODE: &str = "RESUME_OR_FROM_BEGINNING";

/// `status.phase` of a materialized table (an extensible enum in the spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtPhase {
    Creating,
    Altering,
    Running,
    Pending,
    Stopping,
    Stopped,
    Degraded,
    Deleting,
}

impl MtPhase {
    pub fn as_str(self) -> &'static str {
        match self {
            MtPhase::Creating => "CREATING",
            MtPhase::Altering => "ALTERING",
            MtPhase::Running => "RUNNING",
            MtPhase::Pending => "PENDING",
            MtPhase::Stopping => "STOPPING",
            MtPhase::Stopped => "STOPPED",
            MtPhase::Degraded => "DEGRADED",
            MtPhase::Deleting => "DELETING",
        }
    }
}

/// What a materialized table is: its query and the table the query fills.
#[derive(Debug, Clone, PartialEq)]
pub struct MtDef {
    /// The query after `AS`, normalised.
    pub query: String,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    pub distributed_by: Vec<String>,
    /// Resolved: the declared `INTO n BUCKETS`, else the cluster's default.
    pub buckets: u32,
    pub options: Vec<(String, String)>,
    /// `(column, expression)` of a declared watermark.
    pub watermark: Option<(String, String)>,
    /// The tables the query reads, each with its topic: what the health check watches.
    pub sources: Vec<(TableRef, String)>,
}

impl MtDef {
    /// The definition as a `CREATE TABLE` would declare it (for the topic and subjects).
    pub fn as_created(&self, name: &str) -> CreatedTable {
        let mut c = created_defaults();
        c.table = TableRef::new(name);
        c.columns = self.columns.clone();
        c.primary_key = self.primary_key.clone();
        c.distributed_by = self.distributed_by.clone();
        c.buckets = Some(self.buckets);
        c.options = self.options.clone();
        c
    }

    /// What the catalog shows of it.
    pub fn table_def(&self) -> TableDef {
        let mut t = TableDef::of(&self.as_created("-"), self.buckets);
        t.materialized = true;
        t.watermark = self.watermark.clone();
        t
    }

    fn physical(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| !c.computed)
    }
}

/// `CreatedTable` grows fields on the shared parser's side; the simulator fills only the ones it
/// knows and leaves the rest at their defaults.
fn created_defaults() -> CreatedTable {
    CreatedTable {
        table: TableRef::new("-"),
        if_not_exists: false,
        columns: Vec::new(),
        primary_key: Vec::new(),
        distributed_by: Vec::new(),
        buckets: None,
        options: Vec::new(),
        like: None,
        materialized: None,
    }
}

/// One entry under `/versions`: what the table was at that version.
#[derive(Debug, Clone)]
pub struct MtVersion {
    pub version: u32,
    /// The definition as `SHOW CREATE MATERIALIZED TABLE` prints it, START_MODE included.
    pub statement: String,
    pub start_mode: String,
    pub details: Vec<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct MtRec {
    /// The table's name (and its topic's).
    pub name: String,
    pub uid: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resource_version: u64,
    pub labels: BTreeMap<String, String>,
    /// The latest accepted definition (the query of `latest_version`).
    pub def: MtDef,
    pub compute_pool_id: String,
    pub principal: String,
    pub stopped: bool,
    pub session_options: BTreeMap<String, String>,
    pub phase: MtPhase,
    pub detail: String,
    pub version: u32,
    pub latest_version: u32,
    pub versions: Vec<MtVersion>,
    /// The statement as the user submitted it (for a REST create, as SHOW CREATE prints it).
    pub creation_statement: String,
    /// When the current transitional phase ends.
    pub due: Option<Instant>,
    /// The statement that started the change under way (CREATING, ALTERING).
    pub modifying: Option<String>,
    /// Another statement is changing the table until then (`/_sim/materialized-tables/…/hold`).
    pub hold: Option<(String, Instant)>,
    /// The engine is finishing its drop.
    pub busy: bool,
}

impl MtRec {
    pub fn touch(&mut self) {
        self.resource_version += 1;
        self.updated_at = Utc::now();
    }

    fn held_by(&self) -> Option<&str> {
        self.hold
            .as_ref()
            .filter(|(_, until)| *until > Instant::now())
            .map(|(by, _)| by.as_str())
    }

    /// The phase as the service shows it: a hold by another statement reads ALTERING.
    pub fn shown_phase(&self) -> MtPhase {
        match self.held_by() {
            Some(_) if self.phase != MtPhase::Deleting => MtPhase::Altering,
            _ => self.phase,
        }
    }

    /// The statement changing the table now, if a change is settling (§G.6).
    pub fn modified_by(&self) -> Option<String> {
        if let Some(by) = self.held_by() {
            return Some(by.to_string());
        }
        match self.phase {
            MtPhase::Creating | MtPhase::Altering => {
                Some(self.modifying.clone().unwrap_or_else(|| self.name.clone()))
            }
            _ => None,
        }
    }

    pub fn to_json(&self, base: &str, org: &str, env: &str, cluster: &str) -> Value {
        let d = &self.def;
        let constraints: Vec<Value> = if d.primary_key.is_empty() {
            Vec::new()
        } else {
            vec![json!({
                "name": format!("PK_{}", self.name),
                "type": "PRIMARY_KEY",
                "columns": d.primary_key,
                "enforced": false,
            })]
        };
        let phase = self.shown_phase();
        let detail = match (self.held_by(), phase) {
            (Some(by), MtPhase::Altering) => {
                format!("Materialized table is being altered by statement {by}.")
            }
            _ => self.detail.clone(),
        };
        json!({
            "api_version": "sql/v1",
            "kind": "MaterializedTable",
            "metadata": {
                "self": table_url(base, org, env, cluster, &self.name),
                "uid": self.uid,
                "resource_version": self.resource_version.to_string(),
                "created_at": rfc3339(self.created_at),
                "updated_at": rfc3339(self.updated_at),
                "labels": self.labels,
            },
            "name": self.name,
            "organization_id": org,
            "environment_id": env,
            "spec": {
                "kafka_cluster_id": cluster,
                "compute_pool_id": self.compute_pool_id,
                "principal": self.principal,
                "stopped": self.stopped,
                "table_options": d.options.iter().cloned().collect::<BTreeMap<_, _>>(),
                "session_options": self.session_options,
                "columns": d.columns.iter().map(column_json).collect::<Vec<_>>(),
                "watermark": d.watermark.as_ref().map(|(c, e)| json!({ "column": c, "expression": e })),
                "constraints": constraints,
                "distribution": distribution_json(d),
                "query": d.query,
            },
            "status": {
                "phase": phase.as_str(),
                "detail": detail,
                "warnings": [],
                "creation_statement": self.creation_statement,
                "scaling_status": { "scaling_state": "OK", "last_updated": rfc3339(self.updated_at) },
                "version": self.version,
                "latest_version": self.latest_version,
            },
        })
    }

    pub fn version_json(
        &self,
        v: &MtVersion,
        base: &str,
        org: &str,
        env: &str,
        cluster: &str,
    ) -> Value {
        json!({
            "api_version": "sql/v1",
            "kind": "MaterializedTableVersion",
            "metadata": {
                "self": format!("{}/versions/{}", table_url(base, org, env, cluster, &self.name), v.version),
                "created_at": rfc3339(v.created_at),
                "updated_at": rfc3339(v.created_at),
            },
            "name": version_name(&self.name, v.version),
            "organization_id": org,
            "environment_id": env,
            "spec": {
                "version": v.version,
                "statement": v.statement,
                "changes": [{
                    "kind": "MATERIALIZED_TABLE",
                    "environment_locator": env,
                    "database_locator": cluster,
                    "name": self.name,
                    "details": v.details,
                }],
            },
        })
    }
}

pub fn tables_url(base: &str, org: &str, env: &str, cluster: &str) -> String {
    format!("{base}/sql/v1/organizations/{org}/environments/{env}/databases/{cluster}/materialized-tables")
}

pub fn table_url(base: &str, org: &str, env: &str, cluster: &str, name: &str) -> String {
    format!("{}/{name}", tables_url(base, org, env, cluster))
}

/// A version's resource name: DNS-like (`[a-z0-9-.]`), as the spec's pattern wants, so a table
/// name with `_` or capitals is folded. Also the name of the statement a REST change runs as.
pub fn version_name(table: &str, version: u32) -> String {
    let folded: String = table
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{}-v{version}", folded.trim_matches('-'))
}

fn distribution_json(d: &MtDef) -> Value {
    json!({ "kind": "HASH", "keys": d.distributed_by, "bucket_count": d.buckets })
}

/// A column as `sql.v1.ColumnDetails`: Physical, Metadata or Computed.
pub fn column_json(c: &Column) -> Value {
    let upper = c.data_type.to_ascii_uppercase();
    if c.computed && c.data_type.is_empty() {
        return json!({ "kind": "Computed", "name": c.name, "type": { "type": "", "nullable": true }, "expression": "", "virtual": true });
    }
    let ty = data_type_json(&c.data_type, c.nullable);
    if c.computed {
        let key = upper
            .find(" METADATA FROM ")
            .and_then(|i| c.data_type[i + 15..].split('\'').nth(1))
            .unwrap_or(&c.name);
        return json!({ "kind": "Metadata", "name": c.name, "type": ty, "metadata_key": key, "virtual": upper.contains(" VIRTUAL") });
    }
    json!({ "kind": "Physical", "name": c.name, "type": ty })
}

/// `DataType`: the type's name with its length, or precision and scale.
fn data_type_json(written: &str, nullable: bool) -> Value {
    let full = super::info_schema::flink_type(written);
    let (base, args) = match full.split_once('(') {
        Some((b, rest)) => (
            b.trim().to_string(),
            rest.split(')').next().unwrap_or("").to_string(),
        ),
        None => (full.clone(), String::new()),
    };
    let nums: Vec<i64> = args
        .split(',')
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    let mut ty = json!({ "type": base, "nullable": nullable });
    match (base.as_str(), nums.as_slice()) {
        ("VARCHAR" | "CHAR" | "BINARY" | "VARBINARY", [n, ..]) => ty["length"] = json!(n),
        ("DECIMAL", [p, s]) => {
            ty["precision"] = json!(p);
            ty["scale"] = json!(s);
        }
        (_, [p]) => ty["precision"] = json!(p),
        _ => {}
    }
    ty
}

/// The definition as `SHOW CREATE MATERIALIZED TABLE` prints it: what each version records.
pub fn show_create(name: &str, d: &MtDef, start_mode: &str) -> String {
    let mut parts: Vec<String> = d
        .columns
        .iter()
        .map(|c| {
            let null = if c.nullable || c.computed {
                ""
            } else {
                " NOT NULL"
            };
            format!("`{}` {}{null}", c.name, c.data_type)
                .trim_end()
                .to_string()
        })
        .collect();
    if !d.primary_key.is_empty() {
        parts.push(format!(
            "PRIMARY KEY ({}) NOT ENFORCED",
            quoted(&d.primary_key)
        ));
    }
    if let Some((col, expr)) = &d.watermark {
        parts.push(format!("WATERMARK FOR `{col}` AS {expr}"));
    }
    let mut sql = format!("CREATE OR ALTER MATERIALIZED TABLE `{name}`");
    if !parts.is_empty() {
        sql.push_str(&format!(" ({})", parts.join(", ")));
    }
    if d.distributed_by.is_empty() {
        sql.push_str(&format!(" DISTRIBUTED INTO {} BUCKETS", d.buckets));
    } else {
        sql.push_str(&format!(
            " DISTRIBUTED BY HASH({}) INTO {} BUCKETS",
            quoted(&d.distributed_by),
            d.buckets
        ));
    }
    if !d.options.is_empty() {
        let opts: Vec<String> = d
            .options
            .iter()
            .map(|(k, v)| format!("'{k}' = '{v}'"))
            .collect();
        sql.push_str(&format!(" WITH ({})", opts.join(", ")));
    }
    sql.push_str(&format!(" START_MODE = {start_mode} AS {}", d.query));
    sql
}

fn quoted(cols: &[String]) -> String {
    cols.iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

// ---- the rules both ways in share -----------------------------------------------------------

/// Why a change is refused; the statement fails with the message, REST answers with the status.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::enum_variant_names)]
pub enum Refused {
    /// The name is taken (409 on REST).
    Exists(String),
    /// A change is settling (409 on REST, §G.6).
    Busy(String),
    /// The service refuses the definition (400 on REST).
    Invalid(String),
}

impl Refused {
    pub fn into_message(self) -> String {
        match self {
            Refused::Exists(m) | Refused::Busy(m) | Refused::Invalid(m) => m,
        }
    }
}

pub fn being_modified(by: &str) -> String {
    format!("Materialized table is currently being modified by statement: {by}")
}

/// What dbt met creating a table whose dropped namesake's catalog entry had not gone (§G.7).
pub const TABLE_ALREADY_EXISTS: &str = "failed creating table: table already exists";

/// A new definition for a table, from a statement or a REST request.
#[derive(Debug, Clone)]
pub struct Proposal {
    /// The table as the request wrote it (for messages).
    pub table: String,
    /// Its topic (the table's name in the cluster).
    pub name: String,
    pub def: MtDef,
    /// Columns were declared (else they come from the query's, or stay).
    pub declared_columns: bool,
    /// The query's output columns, when known.
    pub query_columns: Option<Vec<String>>,
    pub start_mode: Option<String>,
    /// The statement asking (its name), or the version a REST change runs as.
    pub by: String,
    /// The text submitted, for `creation_statement`.
    pub statement: String,
}

impl Proposal {
    /// The columns the new definition ends with: the declared ones, else the query's (typed as
    /// the current columns or the sources' columns of that name are, else `STRING`), else the
    /// current ones.
    fn columns(&self, current: &[Column], sources: &[Column]) -> Vec<Column> {
        if self.declared_columns {
            return self.def.columns.clone();
        }
        match &self.query_columns {
            Some(names) => names
                .iter()
                .map(|n| {
                    current
                        .iter()
                        .chain(sources)
                        .find(|c| c.name == *n && !c.computed)
                        .cloned()
                        .unwrap_or_else(|| Column {
                            name: n.clone(),
                            data_type: "STRING".into(),
                            nullable: true,
                            computed: false,
                        })
                })
                .collect(),
            None => current.to_vec(),
        }
    }
}

/// The columns of the tables a query reads, as the catalog knows them: where the types of a
/// query's output columns are looked up.
pub fn source_columns(sim: &Sim, sources: &[(TableRef, String)]) -> Vec<Column> {
    let tables = sim.tables();
    sources
        .iter()
        .filter_map(|(_, topic)| tables.get(topic))
        .flat_map(|t| t.columns.iter().cloned())
        .collect()
}

/// The columns of a new table: declared, else the query's output columns.
pub fn initial_columns(p: &Proposal, sources: &[Column]) -> Vec<Column> {
    p.columns(&[], sources)
}

/// A create of a name whose dropped materialized table's catalog entry lingers fails (§G.7).
pub fn check_not_lingering(sim: &Sim, name: &str) -> Result<(), Refused> {
    if sim.mt_lingering(name) {
        Err(Refused::Exists(TABLE_ALREADY_EXISTS.into()))
    } else {
        Ok(())
    }
}

/// A new materialized table, CREATING; its topic and subjects exist already.
pub fn new_record(
    sim: &Sim,
    p: Proposal,
    labels: BTreeMap<String, String>,
    pool: String,
    principal: String,
    session_options: BTreeMap<String, String>,
) -> MtRec {
    let now = Utc::now();
    let start_mode = p
        .start_mode
        .clone()
        .unwrap_or_else(|| DEFAULT_START_MODE.into());
    let due = Instant::now() + Duration::from_millis(sim.control.timings().mt_creating_ms);
    MtRec {
        uid: uuid::Uuid::new_v4().to_string(),
        created_at: now,
        updated_at: now,
        resource_version: 1,
        labels,
        compute_pool_id: pool,
        principal,
        stopped: false,
        session_options,
        phase: MtPhase::Creating,
        detail: "Materialized table is being created.".into(),
        version: 1,
        latest_version: 1,
        versions: vec![MtVersion {
            version: 1,
            statement: show_create(&p.name, &p.def, &start_mode),
            start_mode,
            details: vec!["Materialized table created".into()],
            created_at: now,
        }],
        creation_statement: p.statement,
        due: Some(due),
        modifying: Some(p.by),
        hold: None,
        busy: false,
        def: p.def,
        name: p.name,
    }
}

/// An evolution (`CREATE OR ALTER` with a new query, `ALTER … AS`, a PUT of another query):
/// refused while a change settles, for another distribution or fewer columns (§G.5); else
/// accepted: `latest_version` rises now and the table is ALTERING until the new query is live.
/// An identical definition evolves all the same (§G.4, the reading one doc version gives).
/// Returns the columns the table gained.
pub fn evolve(sim: &Sim, rec: &mut MtRec, mut p: Proposal) -> Result<Vec<Column>, Refused> {
    if let Some(by) = rec.modified_by() {
        return Err(Refused::Busy(being_modified(&by)));
    }
    if rec.phase == MtPhase::Deleting {
        return Err(Refused::Busy(format!(
            "Materialized table '{}' is being deleted.",
            rec.name
        )));
    }
    let (old, new) = (&rec.def, &p.def);
    if old.distributed_by != new.distributed_by || old.buckets != new.buckets {
        return Err(Refused::Invalid(format!(
            "Cannot alter materialized table '{}': its distribution cannot change (DISTRIBUTED BY ({}) INTO {} BUCKETS, asked: ({}) INTO {} BUCKETS); drop and re-create it instead.",
            p.table,
            old.distributed_by.join(", "),
            old.buckets,
            new.distributed_by.join(", "),
            new.buckets
        )));
    }
    let sources = source_columns(sim, &p.def.sources);
    let columns = p.columns(&old.columns, &sources);
    let dropped = old
        .physical()
        .any(|c| !columns.iter().any(|n| n.name == c.name && !n.computed))
        || p.query_columns
            .as_ref()
            .is_some_and(|q| q.len() < old.physical().count());
    if dropped {
        return Err(Refused::Invalid(format!(
            "Column types of query result and sink for '{}' do not match. Cause: Different number of columns.",
            p.table
        )));
    }
    let added: Vec<Column> = columns
        .iter()
        .filter(|c| !old.columns.iter().any(|o| o.name == c.name))
        .cloned()
        .collect();
    p.def.columns = columns;
    let start_mode = p
        .start_mode
        .clone()
        .unwrap_or_else(|| DEFAULT_START_MODE.into());
    let mut details: Vec<String> = added
        .iter()
        .map(|c| format!("Column '{}: {}' added", c.name, c.data_type))
        .collect();
    if old.query != p.def.query {
        details.push("Query changed".into());
    }
    details.push(format!("Query restarted with START_MODE = {start_mode}"));
    rec.latest_version += 1;
    rec.versions.push(MtVersion {
        version: rec.latest_version,
        statement: show_create(&rec.name, &p.def, &start_mode),
        start_mode,
        details,
        created_at: Utc::now(),
    });
    rec.def = p.def;
    rec.creation_statement = p.statement;
    rec.modifying = Some(p.by);
    rec.phase = MtPhase::Altering;
    rec.detail = format!(
        "Materialized table is being altered to version {}.",
        rec.latest_version
    );
    rec.due = Some(Instant::now() + Duration::from_millis(sim.control.timings().mt_altering_ms));
    rec.touch();
    Ok(added)
}

/// After an evolution: the catalog shows the new definition, and the value (and key) subjects
/// get a version with the new columns (physical columns evolve through Schema Registry, §G.5).
pub fn publish_definition(sim: &Sim, rec: &MtRec) {
    {
        let mut tables = sim.tables();
        let mut def = rec.def.table_def();
        if let Some(old) = tables.get(&rec.name) {
            def.declared_at = old.declared_at;
        }
        tables.insert(rec.name.clone(), def);
    }
    let created = rec.def.as_created(&rec.name);
    let mut reg = sim.registry();
    for (subject, ty, schema) in super::engine::table_subjects(&created, &rec.name) {
        if !reg.conflicts(&subject, ty, &schema) {
            continue;
        }
        if let Err(e) = reg.register(&subject, ty, &schema, vec![]) {
            tracing::warn!(%subject, error = %e.2, "could not register the evolved schema");
        }
    }
}

/// Stop (`SUSPEND`, PUT `stopped: true`) or resume the query; nothing else changes.
pub fn set_stopped(sim: &Sim, rec: &mut MtRec, stopped: bool) {
    let timings = sim.control.timings();
    let now = Instant::now();
    if stopped && !rec.stopped {
        if matches!(
            rec.phase,
            MtPhase::Running | MtPhase::Degraded | MtPhase::Pending
        ) {
            rec.phase = MtPhase::Stopping;
            rec.detail = "Materialized table query is stopping.".into();
            rec.due = Some(now + Duration::from_millis(timings.stopping_ms));
        }
    } else if !stopped && rec.stopped && matches!(rec.phase, MtPhase::Stopped | MtPhase::Stopping) {
        rec.phase = MtPhase::Pending;
        rec.detail = "Materialized table query is resuming.".into();
        rec.due = Some(now + Duration::from_millis(timings.pending_ms));
    }
    rec.stopped = stopped;
    rec.touch();
}

/// Start a drop: the query stops, the resource is DELETING; the engine finishes it when due.
/// Refused while a change settles (a REST DELETE answers 409, "pending operation", §G.6).
pub fn begin_drop(sim: &Sim, rec: &mut MtRec) -> Result<(), Refused> {
    if let Some(by) = rec.modified_by() {
        return Err(Refused::Busy(format!(
            "Materialized table '{}' has a pending operation: {}",
            rec.name,
            being_modified(&by)
        )));
    }
    if rec.phase != MtPhase::Deleting {
        rec.phase = MtPhase::Deleting;
        rec.detail = "Materialized table is being deleted.".into();
        rec.due = Some(Instant::now() + Duration::from_millis(sim.control.timings().deleting_ms));
        rec.touch();
    }
    Ok(())
}

/// The end of a drop (§G.7): the topic goes, the subjects survive (unless told otherwise), the
/// resource is gone (404), and the catalog entry lingers for `mt_catalog_linger_ms`.
async fn finish_drop(sim: &Sim, name: &str) {
    let def = sim.tables().get(name).cloned();
    match sim.broker.delete_topic(name).await {
        Ok(()) | Err(BrokerError::NotFound(_)) => {}
        Err(e) => {
            // Try again on the next tick.
            tracing::warn!(table = %name, error = %e, "could not delete a materialized table's topic");
            if let Some(r) = sim.materialized().get_mut(name) {
                r.busy = false;
            }
            return;
        }
    }
    sim.table_gone(name);
    if !sim.control.behaviour().mt_drop_keeps_subjects {
        let mut reg = sim.registry();
        for subject in [format!("{name}-key"), format!("{name}-value")] {
            let _ = reg.purge_subject(&subject);
        }
    }
    let linger = Duration::from_millis(sim.control.timings().mt_catalog_linger_ms);
    if let Some(mut def) = def.filter(|_| !linger.is_zero()) {
        def.declared_at = None;
        sim.mt_linger(name, def, Instant::now() + linger);
    }
    sim.materialized().remove(name);
    tracing::info!(table = %name, "materialized table dropped");
}

/// One tick of the phase machine for materialized tables: each transitional phase ends when due.
pub fn tick(sim: &std::sync::Arc<Sim>) {
    let now = Instant::now();
    let mut drops = Vec::new();
    {
        let mut mts = sim.materialized();
        for rec in mts.values_mut() {
            if rec.hold.as_ref().is_some_and(|(_, until)| *until <= now) {
                rec.hold = None;
                rec.touch();
            }
            if rec.busy || rec.due.is_none_or(|d| d > now) {
                continue;
            }
            rec.due = None;
            match rec.phase {
                MtPhase::Creating | MtPhase::Altering | MtPhase::Pending => {
                    // The new query is live.
                    rec.version = rec.latest_version;
                    rec.modifying = None;
                    rec.phase = MtPhase::Running;
                    rec.detail = "Materialized table is running.".into();
                    rec.touch();
                }
                MtPhase::Stopping => {
                    rec.phase = MtPhase::Stopped;
                    rec.detail = "Materialized table query is stopped.".into();
                    rec.touch();
                }
                MtPhase::Deleting => {
                    rec.busy = true;
                    drops.push(rec.name.clone());
                }
                _ => {}
            }
        }
    }
    for name in drops {
        let sim = sim.clone();
        tokio::spawn(async move {
            finish_drop(&sim, &name).await;
            if let Some(r) = sim.materialized().get_mut(&name) {
                r.due = Some(Instant::now() + Duration::from_millis(100));
            }
        });
    }
}

/// A running materialized table whose sources or own topic went turns DEGRADED, as a statement
/// does.
pub fn check_health(sim: &Sim, topics: &BTreeMap<String, crate::broker::TopicInfo>) {
    let mut mts = sim.materialized();
    for rec in mts.values_mut().filter(|r| r.phase == MtPhase::Running) {
        let own = TableRef::new(&rec.name);
        let gone = std::iter::once((&own, &rec.name))
            .chain(rec.def.sources.iter().map(|(t, topic)| (t, topic)))
            .find(|(_, topic)| !topics.contains_key(*topic))
            .map(|(t, _)| t.to_string());
        if let Some(table) = gone {
            rec.phase = MtPhase::Degraded;
            rec.detail = format!(
                "The materialized table is degraded: its query keeps restarting because the topic of table '{table}' no longer exists."
            );
            rec.touch();
        }
    }
}

// ---- the SQL forms ----------------------------------------------------------------------------

/// The environment and cluster as `sql.current-catalog` / `-database`: how a table's bare name
/// resolves once the statement's own names are resolved.
pub fn sim_props(sim: &Sim) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("sql.current-catalog".to_string(), sim.cfg.env_id.clone()),
        (
            "sql.current-database".to_string(),
            sim.cfg.kafka_cluster_id.clone(),
        ),
    ])
}

fn catalog_missing(t: &TableRef) -> Refused {
    Refused::Invalid(format!(
        "SQL validation failed. Catalog or database of '{t}' does not exist, or you have no access to it."
    ))
}

fn already_exists(t: &TableRef) -> Refused {
    Refused::Invalid(format!(
        "SQL validation failed. Table '{t}' already exists."
    ))
}

fn not_materialized(t: &TableRef) -> Refused {
    Refused::Invalid(format!(
        "SQL validation failed. Table '{t}' is not a materialized table: a regular table cannot be turned into one, or be changed as one."
    ))
}

/// A materialized table statement's effects; the statement COMPLETES once they are accepted
/// (the table itself moves on in its own phases).
pub async fn apply_statement(
    sim: &Sim,
    stmt: &str,
    sql: &str,
    a: &Analysis,
    props: &BTreeMap<String, String>,
    topics: &BTreeMap<String, crate::broker::TopicInfo>,
) -> Result<(), Refused> {
    let sources = a
        .reads
        .iter()
        .filter_map(|t| topic_of(sim, t, props).map(|topic| (t.clone(), topic)))
        .collect::<Vec<_>>();
    match a.kind {
        StatementKind::CreateMaterializedTable => match a.creates.first() {
            Some(c) => create_or_alter(sim, stmt, sql, c, sources, props, topics, false).await,
            None => Ok(()),
        },
        StatementKind::AlterMaterializedTable => match (a.evolves.first(), a.alters.first()) {
            (Some(c), _) => create_or_alter(sim, stmt, sql, c, sources, props, topics, true).await,
            (None, Some(t)) => alter_properties(sim, sql, t, props, topics),
            (None, None) => Ok(()),
        },
        StatementKind::DropMaterializedTable => {
            for d in &a.drops {
                drop_statement(sim, d, props, topics)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// `col AS expr` → `(col, expr)`.
fn split_watermark(w: &str) -> Option<(String, String)> {
    let (col, expr) = w.split_once(" AS ")?;
    Some((
        col.trim().trim_matches('`').to_string(),
        expr.trim().to_string(),
    ))
}

/// `CREATE [OR ALTER] MATERIALIZED TABLE` and `ALTER MATERIALIZED TABLE … AS`.
#[allow(clippy::too_many_arguments)]
async fn create_or_alter(
    sim: &Sim,
    stmt: &str,
    sql: &str,
    c: &CreatedTable,
    sources: Vec<(TableRef, String)>,
    props: &BTreeMap<String, String>,
    topics: &BTreeMap<String, crate::broker::TopicInfo>,
    alter_only: bool,
) -> Result<(), Refused> {
    let Some(m) = &c.materialized else {
        return Ok(());
    };
    let name = topic_of(sim, &c.table, props).ok_or_else(|| catalog_missing(&c.table))?;
    let p = Proposal {
        table: c.table.to_string(),
        name: name.clone(),
        def: MtDef {
            query: m.query.clone(),
            columns: c.columns.clone(),
            primary_key: c.primary_key.clone(),
            distributed_by: c.distributed_by.clone(),
            buckets: c.buckets.unwrap_or(sim.cfg.default_partitions as u32),
            options: c.options.clone(),
            watermark: m.watermark.as_deref().and_then(split_watermark),
            sources,
        },
        declared_columns: !c.columns.is_empty(),
        query_columns: m.query_columns.clone(),
        start_mode: m.start_mode.as_ref().map(|s| s.as_sql()),
        by: stmt.to_string(),
        statement: sql.trim().to_string(),
    };
    let exists = sim.materialized().contains_key(&name);
    if exists {
        if !m.or_alter {
            return if c.if_not_exists {
                Ok(())
            } else {
                Err(already_exists(&c.table))
            };
        }
        let snapshot = {
            let mut mts = sim.materialized();
            let rec = mts.get_mut(&name).ok_or_else(|| missing(&c.table))?;
            evolve(sim, rec, p)?;
            rec.clone()
        };
        publish_definition(sim, &snapshot);
        tracing::info!(table = %name, version = snapshot.latest_version, statement = %stmt, "materialized table evolving");
        return Ok(());
    }
    if alter_only {
        return Err(if topics.contains_key(&name) {
            not_materialized(&c.table)
        } else {
            missing(&c.table)
        });
    }
    check_not_lingering(sim, &name)?;
    if topics.contains_key(&name) {
        return match (m.or_alter, c.if_not_exists) {
            // A regular table cannot be turned into a materialized one (§G.1).
            (true, _) => Err(not_materialized(&c.table)),
            (false, true) => Ok(()),
            (false, false) => Err(already_exists(&c.table)),
        };
    }
    let mut p = p;
    let source_cols = source_columns(sim, &p.def.sources);
    p.def.columns = initial_columns(&p, &source_cols);
    super::engine::create_table(sim, &p.def.as_created(&name), &sim_props(sim), topics)
        .await
        .map_err(|o| match o {
            super::engine::Outcome::Fail(_, m) | super::engine::Outcome::Phase(_, m) => {
                Refused::Invalid(m)
            }
        })?;
    let rec = new_record(
        sim,
        p,
        BTreeMap::new(),
        sim.cfg.compute_pool_id.clone(),
        sim.cfg.principal_id.clone(),
        BTreeMap::new(),
    );
    sim.tables().insert(name.clone(), rec.def.table_def());
    sim.materialized().insert(name.clone(), rec);
    tracing::info!(table = %name, statement = %stmt, "materialized table created");
    Ok(())
}

fn missing(t: &TableRef) -> Refused {
    Refused::Invalid(super::engine::missing_table(t))
}

/// What a property-only `ALTER MATERIALIZED TABLE` does.
#[derive(Debug, PartialEq)]
enum AlterAction {
    Suspend,
    Resume,
    Set(Vec<(String, String)>),
    Reset(Vec<String>),
    Watermark(Option<(String, String)>),
    /// `ADD` of computed or metadata columns, and the rest: no new query, nothing modelled.
    Other,
}

/// Reads the action after `ALTER MATERIALIZED TABLE <name>` (the shared parser classifies the
/// statement but does not say which property ALTER it is).
fn alter_action(sql: &str) -> AlterAction {
    use flink_sql::TokenKind as K;
    let Ok(t) = flink_sql::tokens(sql) else {
        return AlterAction::Other;
    };
    let word = |i: usize, w: &str| {
        t.get(i)
            .is_some_and(|x| x.kind == K::Word && x.text.eq_ignore_ascii_case(w))
    };
    let symbol = |i: usize, s: &str| t.get(i).is_some_and(|x| x.kind == K::Symbol && x.text == s);
    let Some(mut i) = (0..t.len()).find(|&i| word(i, "TABLE")).map(|i| i + 1) else {
        return AlterAction::Other;
    };
    // The name: identifiers joined by dots.
    while t
        .get(i)
        .is_some_and(|x| matches!(x.kind, K::Word | K::QuotedIdent))
    {
        i += 1;
        if !symbol(i, ".") {
            break;
        }
        i += 1;
    }
    let strings_from = |mut i: usize| {
        let mut out = Vec::new();
        while let Some(x) = t.get(i) {
            if x.kind == K::Str {
                out.push(x.text.clone());
            }
            if x.kind == K::Symbol && x.text == ")" {
                break;
            }
            i += 1;
        }
        out
    };
    let sql_of = |from: usize| {
        t[from.min(t.len())..]
            .iter()
            .filter(|x| !(x.kind == K::Symbol && x.text == ";"))
            .map(|x| match x.kind {
                K::Str => format!("'{}'", x.text.replace('\'', "''")),
                K::QuotedIdent => format!("`{}`", x.text),
                _ => x.text.clone(),
            })
            .collect::<Vec<_>>()
            .join(" ")
    };
    if word(i, "SUSPEND") {
        AlterAction::Suspend
    } else if word(i, "RESUME") {
        AlterAction::Resume
    } else if word(i, "SET") {
        let s = strings_from(i + 1);
        AlterAction::Set(
            s.chunks(2)
                .filter(|kv| kv.len() == 2)
                .map(|kv| (kv[0].clone(), kv[1].clone()))
                .collect(),
        )
    } else if word(i, "RESET") {
        AlterAction::Reset(strings_from(i + 1))
    } else if word(i, "DROP") && word(i + 1, "WATERMARK") {
        AlterAction::Watermark(None)
    } else if word(i, "MODIFY") && word(i + 1, "WATERMARK") && word(i + 2, "FOR") {
        let col = t.get(i + 3).map(|x| x.text.clone()).unwrap_or_default();
        AlterAction::Watermark(Some((col, sql_of(i + 5))))
    } else {
        AlterAction::Other
    }
}

/// `ALTER MATERIALIZED TABLE t SET | RESET | ADD | MODIFY WATERMARK | DROP WATERMARK | SUSPEND |
/// RESUME`: no new query and no new version (§G.5); SUSPEND and RESUME stop and start it.
fn alter_properties(
    sim: &Sim,
    sql: &str,
    table: &TableRef,
    props: &BTreeMap<String, String>,
    topics: &BTreeMap<String, crate::broker::TopicInfo>,
) -> Result<(), Refused> {
    let name = topic_of(sim, table, props).ok_or_else(|| catalog_missing(table))?;
    let snapshot = {
        let mut mts = sim.materialized();
        let Some(rec) = mts.get_mut(&name) else {
            return Err(if topics.contains_key(&name) {
                not_materialized(table)
            } else {
                missing(table)
            });
        };
        if let Some(by) = rec.modified_by() {
            return Err(Refused::Busy(being_modified(&by)));
        }
        match alter_action(sql) {
            AlterAction::Suspend => set_stopped(sim, rec, true),
            AlterAction::Resume => set_stopped(sim, rec, false),
            AlterAction::Set(kvs) => {
                for (k, v) in kvs {
                    match rec.def.options.iter_mut().find(|(key, _)| *key == k) {
                        Some(slot) => slot.1 = v,
                        None => rec.def.options.push((k, v)),
                    }
                }
                rec.touch();
            }
            AlterAction::Reset(keys) => {
                rec.def.options.retain(|(k, _)| !keys.contains(k));
                rec.touch();
            }
            AlterAction::Watermark(w) => {
                rec.def.watermark = w;
                rec.touch();
            }
            AlterAction::Other => rec.touch(),
        }
        rec.clone()
    };
    publish_definition(sim, &snapshot);
    Ok(())
}

/// `DROP MATERIALIZED TABLE [IF EXISTS] t`: the statement completes, the table goes DELETING.
fn drop_statement(
    sim: &Sim,
    d: &DroppedTable,
    props: &BTreeMap<String, String>,
    topics: &BTreeMap<String, crate::broker::TopicInfo>,
) -> Result<(), Refused> {
    let name = topic_of(sim, &d.table, props).ok_or_else(|| catalog_missing(&d.table))?;
    let mut mts = sim.materialized();
    match mts.get_mut(&name) {
        Some(rec) => begin_drop(sim, rec),
        None if topics.contains_key(&name) => Err(not_materialized(&d.table)),
        None if d.if_exists => Ok(()),
        None => Err(missing(&d.table)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn property_alters_are_told_apart() {
        let a = |s: &str| alter_action(s);
        assert_eq!(
            a("ALTER MATERIALIZED TABLE t SUSPEND"),
            AlterAction::Suspend
        );
        assert_eq!(
            a("ALTER MATERIALIZED TABLE `e`.`d`.`t` RESUME;"),
            AlterAction::Resume
        );
        assert_eq!(
            a("ALTER MATERIALIZED TABLE d.t SET ('a' = '1', 'b' = '2')"),
            AlterAction::Set(vec![("a".into(), "1".into()), ("b".into(), "2".into())])
        );
        assert_eq!(
            a("ALTER MATERIALIZED TABLE t RESET ('a')"),
            AlterAction::Reset(vec!["a".into()])
        );
        assert_eq!(
            a("ALTER MATERIALIZED TABLE t DROP WATERMARK"),
            AlterAction::Watermark(None)
        );
        assert_eq!(
            a("ALTER MATERIALIZED TABLE t MODIFY WATERMARK FOR ts AS ts - INTERVAL '5' SECOND"),
            AlterAction::Watermark(Some(("ts".into(), "ts - INTERVAL '5' SECOND".into())))
        );
        assert_eq!(
            a("ALTER MATERIALIZED TABLE t ADD c AS 1"),
            AlterAction::Other
        );
    }

    #[test]
    fn version_names_follow_the_dns_pattern() {
        assert_eq!(version_name("Orders_By_Day", 3), "orders-by-day-v3");
    }
}
