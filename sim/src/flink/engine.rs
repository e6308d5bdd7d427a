//! The phase machine: a background task that ends each transitional phase when it is due and
//! applies a statement's effects on real resources — topics in the broker, subjects in the
//! registry — the way Confluent Cloud couples them to Flink SQL.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use flink_sql::{Analysis, CreatedTable, StatementKind, TableRef};
use serde_json::{json, Value};

use super::model::{Phase, ScalingState, StatementRec, Transition};
use crate::broker::{BrokerError, TopicInfo};
use crate::Sim;

const TICK: Duration = Duration::from_millis(20);
pub(super) const VALIDATION: &str = "org.apache.flink.table.api.ValidationException";
const PARSE: &str = "org.apache.flink.sql.parser.impl.ParseException";

/// Runs until the process ends.
pub async fn run(sim: Arc<Sim>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_health = Instant::now();
    loop {
        interval.tick().await;
        let now = Instant::now();
        let timings = sim.control.timings();
        let due: Vec<(String, Phase)> = {
            let mut st = sim.statements();
            let mut due = Vec::new();
            for r in st
                .values_mut()
                .filter(|r| !r.busy && r.due.is_some_and(|d| d <= now))
            {
                // An accepted stop or resume starts now.
                if let Some(t) = r.transition.take() {
                    start_transition(r, t, &timings);
                    continue;
                }
                r.busy = true;
                due.push((r.name.clone(), r.phase));
            }
            due
        };
        for (name, phase) in due {
            let sim = sim.clone();
            tokio::spawn(async move {
                match phase {
                    Phase::Pending => settle_pending(&sim, &name).await,
                    Phase::Stopping => finish_stop(&sim, &name).await,
                    Phase::Deleting => sim.remove_statement(&name),
                    _ => {}
                }
                if let Some(r) = sim.statements().get_mut(&name) {
                    r.busy = false;
                    // A phase that is no longer transitional has nothing more to wait for
                    // (unless a stop or resume arrived meanwhile).
                    if r.transition.is_none()
                        && !matches!(r.phase, Phase::Pending | Phase::Stopping | Phase::Deleting)
                    {
                        r.due = None;
                    }
                }
            });
        }
        super::materialized::tick(&sim);
        let health_every = Duration::from_millis(timings.health_check_ms.max(10));
        if now.duration_since(last_health) >= health_every {
            last_health = now;
            check_health(&sim).await;
            purge(&sim, &timings);
        }
    }
}

/// A stop or resume the service accepted a moment ago begins: STOPPING, or PENDING again.
fn start_transition(r: &mut StatementRec, t: Transition, timings: &crate::config::Timings) {
    let now = Instant::now();
    match t {
        Transition::Stop
            if matches!(r.phase, Phase::Pending | Phase::Running | Phase::Degraded) =>
        {
            r.phase = Phase::Stopping;
            r.detail = String::new();
            r.scaling_state = ScalingState::Ok;
            r.due = Some(now + Duration::from_millis(timings.stopping_ms));
            r.touch();
        }
        Transition::Resume if r.phase == Phase::Stopped => {
            r.phase = Phase::Pending;
            r.detail = String::new();
            r.end_time = None;
            r.admitted = false;
            r.due = Some(now + Duration::from_millis(timings.pending_ms));
            r.touch();
        }
        // Nothing to start any more (it completed, failed or was stopped meanwhile).
        _ => r.due = None,
    }
}

/// Statements in a terminal phase for longer than `purge_after_ms` are gone (Confluent Cloud
/// purges them after about 30 days, §F.11).
fn purge(sim: &Sim, timings: &crate::config::Timings) {
    let Ok(after) = chrono::Duration::from_std(Duration::from_millis(timings.purge_after_ms))
    else {
        return;
    };
    let now = Utc::now();
    let old: Vec<String> = sim
        .statements()
        .values()
        .filter(|r| !r.busy && r.transition.is_none())
        .filter(|r| matches!(r.phase, Phase::Completed | Phase::Failed | Phase::Stopped))
        .filter(|r| r.end_time.is_some_and(|end| now - end >= after))
        .map(|r| r.name.clone())
        .collect();
    for name in old {
        tracing::info!(statement = %name, "purged");
        sim.remove_statement(&name);
    }
}

/// A table's topic, if the name resolves to the simulated catalog (environment) and database
/// (Kafka cluster), each given by id or display name.
pub fn topic_of(sim: &Sim, table: &TableRef, props: &BTreeMap<String, String>) -> Option<String> {
    let catalog = table
        .catalog
        .as_deref()
        .or(props.get("sql.current-catalog").map(String::as_str))?;
    let database = table
        .database
        .as_deref()
        .or(props.get("sql.current-database").map(String::as_str))?;
    let cfg = &sim.cfg;
    let catalog_ok = catalog == cfg.env_id || catalog == cfg.env_name;
    let database_ok = database == cfg.kafka_cluster_id || database == cfg.kafka_cluster_name;
    (catalog_ok && database_ok).then(|| table.name.clone())
}

pub(super) fn missing_table(table: &TableRef) -> String {
    format!(
        "SQL validation failed. Error while validating the statement.\n\nCaused by: Table (or view) '{table}' does not exist, may be on a different cluster, or you have no access to it."
    )
}

pub(super) enum Outcome {
    Phase(Phase, String),
    Fail(&'static str, String),
}

async fn settle_pending(sim: &Sim, name: &str) {
    let snapshot = {
        let mut st = sim.statements();
        let Some(rec) = st.get_mut(name) else { return };
        if rec.phase != Phase::Pending {
            return;
        }
        match &rec.parsed {
            Err(e) => {
                let msg = e.to_string();
                rec.fail(PARSE, &msg);
                return;
            }
            Ok(a) => (
                a.clone(),
                rec.properties.clone(),
                rec.effects_applied,
                rec.is_bounded(),
                rec.is_dry_run(),
                rec.sql.clone(),
            ),
        }
    };
    if !carried_over(sim, name, &snapshot.0, &snapshot.1).await || !admitted(sim, name) {
        return;
    }
    let (analysis, props, applied, bounded, dry_run, sql) = snapshot;
    let mut result = None;
    let outcome = if dry_run {
        // Validated and classified (`traits.sql_kind`), never run.
        match validate(sim, &analysis, &props).await {
            Ok(()) => Outcome::Phase(Phase::Completed, String::new()),
            Err(o) => o,
        }
    } else if super::info_schema::is_query(&analysis) {
        match catalog_query(sim, &sql).await {
            Ok(rows) => {
                result = Some(rows);
                Outcome::Phase(Phase::Completed, String::new())
            }
            Err(o) => o,
        }
    } else {
        match apply_effects(sim, name, &sql, &analysis, &props, applied).await {
            Ok(()) if bounded => Outcome::Phase(Phase::Completed, String::new()),
            Ok(()) => Outcome::Phase(Phase::Running, String::new()),
            Err(o) => o,
        }
    };
    let mut st = sim.statements();
    let Some(rec) = st.get_mut(name) else { return };
    if !matches!(outcome, Outcome::Fail(..)) {
        rec.effects_applied = !dry_run;
        rec.result = result;
    }
    // A stop or delete that arrived meanwhile wins over the outcome.
    if rec.phase != Phase::Pending {
        return;
    }
    match outcome {
        Outcome::Phase(p, d) => rec.set_phase(p, d),
        Outcome::Fail(exception, detail) => rec.fail(exception, &detail),
    }
}

/// Carry-over offsets (`sql.tables.initial-offset-from`): checked once — only a stateless
/// statement may carry offsets over (§F.11), and one the service would refuse fails before it
/// waits — then PENDING, with the service's detail, until the referenced statement is STOPPED.
/// `true` when the statement may go on (no carry-over, or its statement is stopped).
async fn carried_over(
    sim: &Sim,
    name: &str,
    a: &Analysis,
    props: &BTreeMap<String, String>,
) -> bool {
    let (from, checked) = {
        let st = sim.statements();
        let Some(rec) = st.get(name) else {
            return false;
        };
        match rec.carry_over_from() {
            Some(from) => (from.to_string(), rec.carry_checked),
            None => return true,
        }
    };
    if !checked {
        let refused = if a.is_stateful() {
            let features: Vec<&str> = a.stateful.iter().map(|f| f.description()).collect();
            Some(Outcome::Fail(
                VALIDATION,
                format!(
                    "The statement cannot start from the offsets of '{from}' \
                     ('sql.tables.initial-offset-from'): carry-over offsets are supported for \
                     stateless statements only, and this one uses {}.",
                    features.join(", ")
                ),
            ))
        } else {
            validate(sim, a, props).await.err()
        };
        let mut st = sim.statements();
        let Some(rec) = st.get_mut(name) else {
            return false;
        };
        if rec.phase != Phase::Pending {
            return false;
        }
        if let Some(Outcome::Fail(exception, detail)) = refused {
            rec.fail(exception, &detail);
            return false;
        }
        rec.carry_checked = true;
    }
    let mut st = sim.statements();
    let from_phase = st.get(&from).map(|r| r.phase);
    let Some(rec) = st.get_mut(name) else {
        return false;
    };
    if rec.phase != Phase::Pending {
        return false;
    }
    match from_phase {
        Some(Phase::Stopped) => true,
        Some(_) => {
            let deadline = rec.created_at + chrono::Duration::hours(6);
            let detail = format!(
                "Statement is currently pending until referenced statement {from} is stopped. If {from} is not stopped before {}, this statement will fail.",
                super::model::rfc3339(deadline)
            );
            if rec.detail != detail {
                rec.detail = detail;
                rec.touch();
            }
            rec.due = Some(Instant::now() + TICK);
            false
        }
        None => {
            rec.fail(
                VALIDATION,
                &format!("The statement referenced by 'sql.tables.initial-offset-from' ({from}) does not exist."),
            );
            false
        }
    }
}

/// A place in the compute pool: a statement beyond the pool's capacity stays PENDING with
/// `scaling_state` `POOL_EXHAUSTED` until a place frees up (§F.8). Dry runs need none.
fn admitted(sim: &Sim, name: &str) -> bool {
    let capacity = sim.control.behaviour().pool_capacity;
    let mut st = sim.statements();
    let Some(rec) = st.get(name) else {
        return false;
    };
    if rec.admitted || rec.is_dry_run() {
        return true;
    }
    let pool = rec.compute_pool_id.clone();
    let used = st
        .values()
        .filter(|r| r.name != name && r.compute_pool_id == pool && r.holds_pool_place())
        .count();
    let rec = st.get_mut(name).expect("looked up above");
    if capacity.is_some_and(|c| used >= c as usize) {
        let detail = format!(
            "Statement is pending: compute pool {pool} has no capacity left for it ({} of {} \
             statements running); it starts when capacity frees up.",
            used,
            capacity.unwrap_or_default()
        );
        if rec.scaling_state != ScalingState::PoolExhausted || rec.detail != detail {
            rec.scaling_state = ScalingState::PoolExhausted;
            rec.detail = detail;
            rec.touch();
        }
        rec.due = Some(Instant::now() + TICK * 5);
        return false;
    }
    rec.admitted = true;
    if rec.scaling_state != ScalingState::Ok {
        rec.scaling_state = ScalingState::Ok;
        rec.detail = String::new();
        rec.touch();
    }
    true
}

/// What a statement's effects need, checked without applying them (a dry run).
/// The broker's topics; a broker that cannot be read fails the statement as the service would.
pub(super) async fn broker_topics(
    sim: &Sim,
) -> Result<BTreeMap<String, crate::broker::TopicInfo>, Outcome> {
    sim.broker
        .topics()
        .await
        .map_err(|e| Outcome::Fail("java.lang.RuntimeException", e.to_string()))
}

async fn validate(
    sim: &Sim,
    a: &Analysis,
    props: &BTreeMap<String, String>,
) -> Result<(), Outcome> {
    let topics = broker_topics(sim).await?;
    let exists = |t: &TableRef| topic_of(sim, t, props).is_some_and(|n| topics.contains_key(&n));
    let require = |tables: &[TableRef]| match tables.iter().find(|t| !exists(t)) {
        Some(t) => Err(Outcome::Fail(VALIDATION, missing_table(t))),
        None => Ok(()),
    };
    if !super::info_schema::is_query(a) {
        require(&a.reads)?;
    }
    match a.kind {
        StatementKind::CreateTable | StatementKind::CreateTableAs => {
            for c in &a.creates {
                if topic_of(sim, &c.table, props).is_none() {
                    return Err(Outcome::Fail(
                        VALIDATION,
                        format!("SQL validation failed. Catalog or database of '{}' does not exist, or you have no access to it.", c.table),
                    ));
                }
                if exists(&c.table) && !c.if_not_exists {
                    return Err(Outcome::Fail(
                        VALIDATION,
                        format!("SQL validation failed. Table '{}' already exists.", c.table),
                    ));
                }
            }
            Ok(())
        }
        StatementKind::DropTable => {
            match a.drops.iter().find(|d| !d.if_exists && !exists(&d.table)) {
                Some(d) => Err(Outcome::Fail(VALIDATION, missing_table(&d.table))),
                None => Ok(()),
            }
        }
        StatementKind::Insert | StatementKind::StatementSet => require(&a.writes),
        _ => Ok(()),
    }
}

/// Answer a query on `INFORMATION_SCHEMA` from the catalog: the tables DDL declared here, and
/// every other topic of the cluster as Confluent Cloud infers it.
async fn catalog_query(sim: &Sim, sql: &str) -> Result<super::info_schema::ResultSet, Outcome> {
    use super::info_schema::{evaluate, Catalog, TableDef};
    let topics = broker_topics(sim).await?;
    let declared = sim.tables().clone();
    let tables: BTreeMap<String, TableDef> = topics
        .iter()
        .filter(|(name, _)| !name.starts_with("__"))
        .map(|(name, info)| {
            let def = declared
                .get(name)
                .cloned()
                .unwrap_or_else(|| TableDef::inferred(info.partitions as u32));
            (name.clone(), def)
        })
        .collect();
    let mut tables = tables;
    // A dropped materialized table's entry lingers after its topic went (§G.7).
    for (name, def) in sim.lingering_tables() {
        tables.entry(name).or_insert(def);
    }
    let cfg = &sim.cfg;
    let catalog = Catalog {
        env_id: &cfg.env_id,
        env_name: &cfg.env_name,
        cluster_id: &cfg.kafka_cluster_id,
        cluster_name: &cfg.kafka_cluster_name,
        tables: &tables,
        columns_lag: Duration::from_millis(sim.control.timings().catalog_lag_ms),
    };
    evaluate(sql, &catalog).map_err(|e| {
        Outcome::Fail(
            VALIDATION,
            format!(
                "SQL validation failed. Error while validating the statement.\n\nCaused by: {e}"
            ),
        )
    })
}

async fn apply_effects(
    sim: &Sim,
    name: &str,
    sql: &str,
    a: &Analysis,
    props: &BTreeMap<String, String>,
    already_applied: bool,
) -> Result<(), Outcome> {
    let topics = broker_topics(sim).await?;
    let exists = |t: &TableRef| topic_of(sim, t, props).filter(|n| topics.contains_key(n));
    let require = |tables: &[TableRef]| -> Result<(), Outcome> {
        match tables.iter().find(|t| exists(t).is_none()) {
            Some(t) => Err(Outcome::Fail(VALIDATION, missing_table(t))),
            None => Ok(()),
        }
    };
    match a.kind {
        StatementKind::CreateTable | StatementKind::CreateTableAs => {
            require(&a.reads)?;
            if already_applied {
                return Ok(());
            }
            for c in &a.creates {
                create_table(sim, c, props, &topics).await?;
            }
            Ok(())
        }
        StatementKind::DropTable => {
            for d in &a.drops {
                let Some(topic) = topic_of(sim, &d.table, props) else {
                    return Err(Outcome::Fail(VALIDATION, missing_table(&d.table)));
                };
                if !topics.contains_key(&topic) {
                    if d.if_exists {
                        continue;
                    }
                    return Err(Outcome::Fail(VALIDATION, missing_table(&d.table)));
                }
                if sim.control.partial_drops() {
                    continue;
                }
                if sim.materialized().contains_key(&topic) {
                    // Accepted, and nothing durable goes: the table, its topic and its query
                    // stay (§G.7). DROP MATERIALIZED TABLE is the way.
                    continue;
                }
                match sim.broker.delete_topic(&topic).await {
                    Ok(()) | Err(BrokerError::NotFound(_)) => sim.table_gone(&topic),
                    Err(e) => {
                        return Err(Outcome::Fail("java.lang.RuntimeException", e.to_string()))
                    }
                }
                let mut reg = sim.registry();
                for subject in [format!("{topic}-key"), format!("{topic}-value")] {
                    if let Err(e) = reg.purge_subject(&subject) {
                        // DROP TABLE is not atomic on Confluent Cloud either: the topic is gone.
                        return Err(Outcome::Fail(
                            "io.confluent.kafka.schemaregistry.client.rest.exceptions.RestClientException",
                            format!("Table '{}' was dropped but its schema subject '{subject}' could not be deleted: {}", d.table, e.2),
                        ));
                    }
                }
            }
            Ok(())
        }
        StatementKind::Insert | StatementKind::StatementSet | StatementKind::Select => {
            require(&a.reads)?;
            require(&a.writes)
        }
        StatementKind::CreateView => require(&a.reads),
        StatementKind::CreateMaterializedTable
        | StatementKind::AlterMaterializedTable
        | StatementKind::DropMaterializedTable => {
            // Validated like a CTAS: every source must exist.
            require(&a.reads)?;
            super::materialized::apply_statement(sim, name, sql, a, props, &topics)
                .await
                .map_err(|r| Outcome::Fail(VALIDATION, r.into_message()))
        }
        _ => Ok(()),
    }
}

pub(super) async fn create_table(
    sim: &Sim,
    c: &CreatedTable,
    props: &BTreeMap<String, String>,
    topics: &BTreeMap<String, TopicInfo>,
) -> Result<(), Outcome> {
    let Some(topic) = topic_of(sim, &c.table, props) else {
        return Err(Outcome::Fail(
            VALIDATION,
            format!(
                "SQL validation failed. Catalog or database of '{}' does not exist, or you have no access to it.",
                c.table
            ),
        ));
    };
    if let Some(like) = &c.like {
        if topic_of(sim, like, props).is_none_or(|t| !topics.contains_key(&t)) {
            return Err(Outcome::Fail(VALIDATION, missing_table(like)));
        }
    }
    if topics.contains_key(&topic) || sim.mt_lingering(&topic) {
        if c.if_not_exists {
            return Ok(());
        }
        if !topics.contains_key(&topic) {
            // A dropped materialized table's catalog entry has not gone yet (§G.7).
            return Err(Outcome::Fail(
                VALIDATION,
                super::materialized::TABLE_ALREADY_EXISTS.into(),
            ));
        }
        return Err(Outcome::Fail(
            VALIDATION,
            format!("SQL validation failed. Table '{}' already exists.", c.table),
        ));
    }
    let subjects = table_subjects(c, &topic);
    if let Some(subject) = {
        let reg = sim.registry();
        subjects
            .iter()
            .find(|(subject, ty, schema)| reg.conflicts(subject, ty, schema))
            .map(|(subject, _, _)| subject.clone())
    } {
        // Left over by someone (a drop that did not finish, another tool): it never clears by
        // waiting (§F.6).
        return Err(Outcome::Fail(
            VALIDATION,
            format!(
                "Cannot create table because the Schema Registry subject '{subject}' doesn't \
                 match the existing one."
            ),
        ));
    }
    let partitions = c
        .buckets
        .map(|b| b as i32)
        .unwrap_or(sim.cfg.default_partitions);
    let option = |k: &str| {
        c.options
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let mut configs = Vec::new();
    if let Some(p) = option("kafka.cleanup-policy") {
        configs.push(("cleanup.policy".to_string(), p.replace('-', ",")));
    }
    match sim.broker.create_topic(&topic, partitions, &configs).await {
        Ok(()) | Err(BrokerError::AlreadyExists(_)) => {
            sim.tables().insert(
                topic.clone(),
                super::info_schema::TableDef::of(c, partitions as u32),
            );
        }
        // The service validates the name before it touches Kafka.
        Err(BrokerError::IllegalName(why)) => {
            return Err(Outcome::Fail(
                VALIDATION,
                format!("SQL validation failed. {why}"),
            ))
        }
        Err(e) => return Err(Outcome::Fail("java.lang.RuntimeException", e.to_string())),
    }
    let mut reg = sim.registry();
    for (subject, ty, schema) in subjects {
        reg.register(&subject, ty, &schema, vec![])
            .map_err(|e| Outcome::Fail(VALIDATION, e.2))?;
    }
    Ok(())
}

/// The subjects a table registers (TopicNameStrategy), with their type and schema: `-value`
/// for a registry value format, `-key` for a keyed table with a registry key format.
pub(super) fn table_subjects(c: &CreatedTable, topic: &str) -> Vec<(String, &'static str, String)> {
    let option = |k: &str| {
        c.options
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let value_format = option("value.format").unwrap_or_else(|| "avro-registry".into());
    let key_format = option("key.format").unwrap_or_else(|| "avro-registry".into());
    let key_cols = c.key_columns();
    let mut out = Vec::new();
    if let Some(ty) = registry_type(&value_format) {
        let value_cols: Vec<_> = c
            .columns
            .iter()
            .filter(|col| !col.computed && !key_cols.contains(&col.name))
            .collect();
        let schema = schema_text(ty, &format!("{topic}_value"), &value_cols);
        out.push((format!("{topic}-value"), ty, schema));
    }
    if c.has_key() {
        if let Some(ty) = registry_type(&key_format) {
            let cols: Vec<_> = c
                .columns
                .iter()
                .filter(|col| key_cols.contains(&col.name))
                .collect();
            let schema = schema_text(ty, &format!("{topic}_key"), &cols);
            out.push((format!("{topic}-key"), ty, schema));
        }
    }
    out
}

fn registry_type(format: &str) -> Option<&'static str> {
    match format {
        "avro-registry" => Some("AVRO"),
        "json-registry" => Some("JSON"),
        "proto-registry" => Some("PROTOBUF"),
        _ => None,
    }
}

/// A schema of the table's columns in the registry's format, close to what Confluent Cloud
/// derives (Avro records named `<table>_value` / `<table>_key`).
fn schema_text(ty: &str, record: &str, cols: &[&flink_sql::Column]) -> String {
    let record = record.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_");
    match ty {
        "AVRO" => {
            let fields: Vec<Value> = cols
                .iter()
                .map(|c| {
                    let t = avro_type(&c.data_type);
                    if c.nullable {
                        json!({ "name": c.name, "type": ["null", t], "default": null })
                    } else {
                        json!({ "name": c.name, "type": t })
                    }
                })
                .collect();
            json!({
                "type": "record",
                "name": record,
                "namespace": "org.apache.flink.avro.generated.record",
                "fields": fields,
            })
            .to_string()
        }
        "JSON" => {
            let props: serde_json::Map<String, Value> = cols
                .iter()
                .map(|c| (c.name.clone(), json!({ "type": json_type(&c.data_type) })))
                .collect();
            json!({ "type": "object", "title": record, "properties": props }).to_string()
        }
        _ => {
            let fields: String = cols
                .iter()
                .enumerate()
                .map(|(i, c)| format!("  optional string {} = {};\n", c.name, i + 1))
                .collect();
            format!("syntax = \"proto3\";\npackage org.apache.flink;\n\nmessage {record} {{\n{fields}}}\n")
        }
    }
}

fn avro_type(sql: &str) -> Value {
    let upper = sql.to_ascii_uppercase();
    let base = upper.split(['(', '<', ' ']).next().unwrap_or("");
    match base {
        "INT" | "INTEGER" | "SMALLINT" | "TINYINT" => json!("int"),
        "BIGINT" => json!("long"),
        "BOOLEAN" => json!("boolean"),
        "FLOAT" => json!("float"),
        "DOUBLE" => json!("double"),
        "BYTES" | "VARBINARY" | "BINARY" => json!("bytes"),
        "DATE" => json!({ "type": "int", "logicalType": "date" }),
        "TIMESTAMP" | "TIMESTAMP_LTZ" => {
            json!({ "type": "long", "logicalType": "timestamp-millis" })
        }
        _ => json!("string"),
    }
}

fn json_type(sql: &str) -> &'static str {
    match avro_type(sql).as_str() {
        Some("int") | Some("long") => "integer",
        Some("float") | Some("double") => "number",
        Some("boolean") => "boolean",
        _ => "string",
    }
}

async fn finish_stop(sim: &Sim, name: &str) {
    let tables = {
        let st = sim.statements();
        let Some(rec) = st.get(name) else { return };
        if rec.phase != Phase::Stopping {
            return;
        }
        match &rec.parsed {
            Ok(a) => a
                .reads
                .iter()
                .filter_map(|t| topic_of(sim, t, &rec.properties))
                .collect::<Vec<_>>(),
            Err(_) => Vec::new(),
        }
    };
    // `latest_offsets`: where a replacement with carry-over offsets would start.
    let mut offsets = BTreeMap::new();
    if let Ok(topics) = sim.broker.topics().await {
        for t in tables {
            if let Some(info) = topics.get(&t) {
                let marks = sim.broker.high_watermarks(&t, info.partitions).await;
                let text: Vec<String> = marks
                    .iter()
                    .map(|(p, o)| format!("partition:{p},offset:{o}"))
                    .collect();
                offsets.insert(t, text.join(";"));
            }
        }
    }
    let mut st = sim.statements();
    if let Some(rec) = st.get_mut(name) {
        if rec.phase == Phase::Stopping {
            rec.latest_offsets = offsets;
            rec.latest_offsets_timestamp = Some(Utc::now());
            rec.set_phase(Phase::Stopped, "");
        }
    }
}

/// A declared table whose topic is gone (deleted directly, not by DROP TABLE) is gone from the
/// catalog too, from now on: it counts as dropped for the recreate window.
async fn notice_vanished_tables(sim: &Sim) {
    // The declared tables first: a table is declared only once its topic exists, so a topic
    // the broker does not show afterwards is really gone.
    let declared: Vec<String> = sim.tables().keys().cloned().collect();
    if declared.is_empty() {
        return;
    }
    let Ok(topics) = sim.broker.topics().await else {
        return;
    };
    for topic in declared.iter().filter(|t| !topics.contains_key(*t)) {
        tracing::info!(%topic, "table's topic is gone");
        sim.table_gone(topic);
    }
}

/// A running statement whose source or sink topic has gone turns DEGRADED, as a Flink job that
/// keeps restarting does.
async fn check_health(sim: &Sim) {
    notice_vanished_tables(sim).await;
    if !sim.materialized().is_empty() {
        if let Ok(topics) = sim.broker.topics().await {
            super::materialized::check_health(sim, &topics);
        }
    }
    // Each running statement with its tables and their topics (None: does not resolve).
    type Watched = Vec<(String, Vec<(TableRef, Option<String>)>)>;
    let running: Watched = {
        let st = sim.statements();
        st.values()
            .filter(|r| r.phase == Phase::Running && !r.busy)
            .filter_map(|r| {
                let a = r.parsed.as_ref().ok()?;
                let tables = a
                    .reads
                    .iter()
                    .chain(&a.writes)
                    .map(|t| (t.clone(), topic_of(sim, t, &r.properties)))
                    .collect();
                Some((r.name.clone(), tables))
            })
            .collect()
    };
    if running.is_empty() {
        return;
    }
    let Ok(topics) = sim.broker.topics().await else {
        return;
    };
    for (name, tables) in running {
        let gone = tables
            .iter()
            .find(|(_, topic)| topic.as_ref().is_none_or(|t| !topics.contains_key(t)));
        let Some((table, _)) = gone else { continue };
        let mut st = sim.statements();
        if let Some(rec) = st.get_mut(&name) {
            if rec.phase == Phase::Running {
                let detail = format!(
                    "The statement is degraded: it keeps restarting because the topic of table '{table}' no longer exists."
                );
                rec.exceptions.push(super::model::StatementException {
                    name: "org.apache.kafka.common.errors.UnknownTopicOrPartitionException".into(),
                    message: format!(
                        "This server does not host this topic-partition (table '{table}')."
                    ),
                    timestamp: Utc::now(),
                });
                rec.set_phase(Phase::Degraded, detail);
            }
        }
    }
}
