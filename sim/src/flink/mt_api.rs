//! The materialized tables REST resource (`flink-v1-openapi.yaml`, `/materialized-tables`):
//! list per environment and per database, create, read, update (PUT), delete, and the versions.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use flink_sql::{Column, TableRef};
use serde_json::{json, Value};

use super::engine::{self, Outcome};
use super::materialized::{self as mt, column_json, MtDef, MtPhase, MtRec, Proposal, Refused};
use super::{base_url, check_scope, decode_token, encode_token, opt_str, string_map};
use crate::http::{
    flink_bad_request, flink_error, flink_error_with_source, flink_json, parse_json,
};
use crate::Sim;

const ENV: &str = "/sql/v1/organizations/{org}/environments/{env}";

pub fn router() -> Router<Arc<Sim>> {
    let db = format!("{ENV}/databases/{{cluster}}/materialized-tables");
    Router::new()
        .route(&format!("{ENV}/materialized-tables"), get(list_env))
        .route(&db, get(list_db).post(create))
        .route(
            &format!("{db}/{{name}}"),
            get(read).put(update).delete(delete),
        )
        .route(&format!("{db}/{{name}}/versions"), get(versions))
        .route(&format!("{db}/{{name}}/versions/{{version}}"), get(version))
}

/// The one Kafka cluster (by id or display name); another is 404.
fn check_cluster(sim: &Sim, cluster: &str) -> Result<(), Response> {
    if cluster == sim.cfg.kafka_cluster_id || cluster == sim.cfg.kafka_cluster_name {
        Ok(())
    } else {
        Err(flink_error(
            StatusCode::NOT_FOUND,
            "not_found",
            "Not Found",
            &format!(
                "Kafka cluster '{cluster}' does not exist in environment '{}'",
                sim.cfg.env_id
            ),
        ))
    }
}

fn not_found(name: &str) -> Response {
    flink_json(
        StatusCode::NOT_FOUND,
        &json!({ "errors": [{
            "status": "404",
            "detail": format!("Materialized table resource={name} does not exist"),
            "source": {},
        }]}),
    )
}

fn refused(r: &Refused, pointer: Option<&str>) -> Response {
    match r {
        Refused::Exists(m) => flink_error_with_source(
            StatusCode::CONFLICT,
            "resource_already_exists",
            "Conflict",
            m,
            Some("/name"),
        ),
        Refused::Busy(m) => flink_error(StatusCode::CONFLICT, "conflict", "Conflict", m),
        Refused::Invalid(m) => flink_bad_request(m, pointer),
    }
}

fn render(sim: &Sim, base: &str, rec: &MtRec) -> Value {
    rec.to_json(
        base,
        &sim.cfg.org_id,
        &sim.cfg.env_id,
        &sim.cfg.kafka_cluster_id,
    )
}

/// The spec's name rule: `^[a-zA-Z0-9._-]+$`, at most 249, not `.` or `..` (a topic name).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

// ---- lists ----

async fn list_env(
    State(sim): State<Arc<Sim>>,
    Path((org, env)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env) {
        return r;
    }
    let base = base_url(&headers, &sim);
    let url = format!("{base}/sql/v1/organizations/{org}/environments/{env}/materialized-tables");
    list(&sim, &base, &url, &q)
}

async fn list_db(
    State(sim): State<Arc<Sim>>,
    Path((org, env, cluster)): Path<(String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env).and_then(|()| check_cluster(&sim, &cluster)) {
        return r;
    }
    let base = base_url(&headers, &sim);
    let url = mt::tables_url(&base, &org, &env, &cluster);
    list(&sim, &base, &url, &q)
}

/// `page_size` (1..=100, default 10) and the opaque `page_token`, as the statements list has.
fn page_params(q: &HashMap<String, String>) -> Result<(usize, Option<String>), Response> {
    let size = match q.get("page_size").map(|s| s.parse::<usize>()) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return Err(flink_error(
                StatusCode::BAD_REQUEST,
                "invalid_filter",
                "Bad Request",
                "page_size must be an integer between 1 and 100",
            ))
        }
    };
    let after = match q.get("page_token") {
        None => None,
        Some(t) => Some(decode_token(t).ok_or_else(|| {
            flink_error(
                StatusCode::BAD_REQUEST,
                "invalid_filter",
                "Bad Request",
                "page_token is invalid",
            )
        })?),
    };
    Ok((size, after))
}

/// A full URL to the next page, carrying the page size and the token.
fn next_url(url: &str, size: usize, last: Option<String>) -> String {
    let Some(last) = last else {
        return String::new();
    };
    let mut u = url::Url::parse(url).expect("list URL is valid");
    u.query_pairs_mut()
        .append_pair("page_size", &size.to_string())
        .append_pair("page_token", &encode_token(&last));
    u.to_string()
}

fn list(sim: &Sim, base: &str, url: &str, q: &HashMap<String, String>) -> Response {
    let (size, after) = match page_params(q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let mts = sim.materialized();
    // A stable order that is not the names' (as the statements list): no client may rely on it.
    let mut recs: Vec<&MtRec> = mts
        .values()
        .filter(|r| {
            after
                .as_ref()
                .is_none_or(|a| crate::http::list_key(&r.name) > crate::http::list_key(a))
        })
        .collect();
    recs.sort_by_key(|r| crate::http::list_key(&r.name));
    let more = recs.len() > size;
    let page: Vec<&MtRec> = recs.into_iter().take(size).collect();
    let last = more.then(|| page.last().map(|r| r.name.clone())).flatten();
    flink_json(
        StatusCode::OK,
        &json!({
            "api_version": "sql/v1",
            "kind": "MaterializedTableList",
            "metadata": { "self": url, "next": next_url(url, size, last) },
            "data": page.iter().map(|r| render(sim, base, r)).collect::<Vec<_>>(),
        }),
    )
}

// ---- the body ----

/// `sql.v1.ColumnDetails` → a column as the parser would read it from DDL.
fn parse_column(v: &Value, i: usize) -> Result<Column, Response> {
    let pointer = format!("/spec/columns/{i}");
    let bad = |what: &str| flink_bad_request(&format!("{pointer}: {what}"), Some(&pointer));
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("name is required"))?;
    let ty = v.get("type").cloned().unwrap_or(Value::Null);
    let nullable = ty.get("nullable").and_then(Value::as_bool).unwrap_or(true);
    let mut data_type = ty
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let num = |k: &str| ty.get(k).and_then(Value::as_i64);
    match (num("length"), num("precision"), num("scale")) {
        (Some(l), _, _) => data_type = format!("{data_type}({l})"),
        (None, Some(p), Some(s)) => data_type = format!("{data_type}({p}, {s})"),
        (None, Some(p), None) => data_type = format!("{data_type}({p})"),
        _ => {}
    }
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("Physical");
    let (data_type, computed) = match kind {
        "Physical" => (data_type, false),
        "Computed" => (String::new(), true),
        "Metadata" => {
            let key = v
                .get("metadata_key")
                .and_then(Value::as_str)
                .unwrap_or(name);
            let virt = if v.get("virtual").and_then(Value::as_bool) == Some(true) {
                " VIRTUAL"
            } else {
                ""
            };
            (format!("{data_type} METADATA FROM '{key}'{virt}"), true)
        }
        other => return Err(bad(&format!("unknown column kind '{other}'"))),
    };
    if !computed && data_type.is_empty() {
        return Err(bad("type.type is required"));
    }
    Ok(Column {
        name: name.into(),
        data_type,
        nullable,
        computed,
    })
}

fn parse_columns(v: &Value) -> Result<Option<Vec<Column>>, Response> {
    match v.pointer("/spec/columns") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(cols)) => cols
            .iter()
            .enumerate()
            .map(|(i, c)| parse_column(c, i))
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(flink_bad_request(
            "spec.columns must be an array",
            Some("/spec/columns"),
        )),
    }
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `spec.distribution` → (keys, buckets); `None` when not given.
fn parse_distribution(v: &Value, default_buckets: u32) -> Option<(Vec<String>, u32)> {
    let d = v.pointer("/spec/distribution").filter(|d| d.is_object())?;
    let buckets = d
        .get("bucket_count")
        .and_then(Value::as_u64)
        .map_or(default_buckets, |n| n as u32);
    Some((strings(d.get("keys")), buckets))
}

/// The primary key of `spec.constraints`, when given.
fn parse_primary_key(v: &Value) -> Option<Vec<String>> {
    let cs = v.pointer("/spec/constraints")?.as_array()?;
    Some(
        cs.iter()
            .find(|c| c.get("type").and_then(Value::as_str) == Some("PRIMARY_KEY"))
            .map(|c| strings(c.get("columns")))
            .unwrap_or_default(),
    )
}

/// `spec.watermark`: `Some(None)` when given as null or empty.
fn parse_watermark(v: &Value) -> Option<Option<(String, String)>> {
    let w = v.pointer("/spec/watermark")?;
    let col = w
        .get("column")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let expr = w
        .get("expression")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    Some(col.zip(expr).map(|(c, e)| (c.to_string(), e.to_string())))
}

/// The query's reads, resolved to topics, each of which must exist; and its output columns
/// (read by analysing the query as a materialized table's).
async fn analyze_query(
    sim: &Sim,
    name: &str,
    query: &str,
) -> Result<(Vec<(TableRef, String)>, Option<Vec<String>>), Response> {
    let bad = |m: &str| flink_bad_request(m, Some("/spec/query"));
    let sql = format!(
        "CREATE MATERIALIZED TABLE `{}` AS {query}",
        name.replace('`', "``")
    );
    let a = flink_sql::analyze(&sql).map_err(|e| bad(&e.to_string()))?;
    let query_columns = a
        .materialized()
        .and_then(|c| c.materialized.as_ref())
        .and_then(|m| m.query_columns.clone());
    let props = mt::sim_props(sim);
    let topics = engine::broker_topics(sim).await.map_err(|o| match o {
        Outcome::Fail(_, m) | Outcome::Phase(_, m) => flink_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "Internal Server Error",
            &m,
        ),
    })?;
    let mut sources = Vec::new();
    for t in &a.reads {
        match engine::topic_of(sim, t, &props).filter(|topic| topics.contains_key(topic)) {
            Some(topic) => sources.push((t.clone(), topic)),
            None => return Err(bad(&engine::missing_table(t))),
        }
    }
    Ok((sources, query_columns))
}

fn body_object(body: &Bytes) -> Result<Value, Response> {
    match parse_json(body) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(_) => Err(flink_bad_request(
            "request body must be a JSON object",
            None,
        )),
        Err(e) => Err(flink_bad_request(&e, None)),
    }
}

fn pool_of(sim: &Sim, v: &Value, current: &str) -> Result<String, Response> {
    match opt_str(v, "/spec/compute_pool_id")? {
        None | Some("") => Ok(current.to_string()),
        Some(p) if p == sim.cfg.compute_pool_id => Ok(p.to_string()),
        Some(p) => Err(flink_error_with_source(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_configuration",
            "Unprocessable Entity",
            &format!(
                "Compute pool '{p}' does not exist in environment '{}'",
                sim.cfg.env_id
            ),
            Some("/spec/compute_pool_id"),
        )),
    }
}

fn check_cluster_field(v: &Value, cluster: &str, required: bool) -> Result<(), Response> {
    match opt_str(v, "/spec/kafka_cluster_id")? {
        Some(c) if c == cluster => Ok(()),
        None if !required => Ok(()),
        None => Err(flink_bad_request(
            "spec.kafka_cluster_id is required",
            Some("/spec/kafka_cluster_id"),
        )),
        Some(_) => Err(flink_bad_request(
            "spec.kafka_cluster_id must match the kafka_cluster_id of the path",
            Some("/spec/kafka_cluster_id"),
        )),
    }
}

// ---- create ----

async fn create(
    State(sim): State<Arc<Sim>>,
    Path((org, env, cluster)): Path<(String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env).and_then(|()| check_cluster(&sim, &cluster)) {
        return r;
    }
    match create_from(&sim, &body, &cluster).await {
        Ok(rec) => {
            let base = base_url(&headers, &sim);
            let body = render(&sim, &base, &rec);
            let mut resp = flink_json(StatusCode::CREATED, &body);
            if let Some(Ok(loc)) = body["metadata"]["self"].as_str().map(HeaderValue::from_str) {
                resp.headers_mut().insert(header::LOCATION, loc);
            }
            resp
        }
        Err(r) => r,
    }
}

async fn create_from(sim: &Sim, body: &Bytes, cluster: &str) -> Result<MtRec, Response> {
    let v = body_object(body)?;
    let name = opt_str(&v, "/name")?
        .ok_or_else(|| flink_bad_request("name is required", Some("/name")))?;
    if !valid_name(name) {
        return Err(flink_bad_request(
            &format!("name '{name}' is invalid: at most 249 characters of ASCII letters, digits, '.', '_' and '-', and not '.' or '..'"),
            Some("/name"),
        ));
    }
    if !v.get("spec").is_some_and(Value::is_object) {
        return Err(flink_bad_request("spec is required", Some("/spec")));
    }
    check_cluster_field(&v, cluster, true)?;
    let query = opt_str(&v, "/spec/query")?
        .filter(|q| !q.trim().is_empty())
        .ok_or_else(|| flink_bad_request("spec.query is required", Some("/spec/query")))?
        .trim()
        .trim_end_matches(';')
        .to_string();
    let pool = pool_of(sim, &v, &sim.cfg.compute_pool_id)?;
    let principal = opt_str(&v, "/spec/principal")?
        .filter(|p| !p.is_empty())
        .unwrap_or(&sim.cfg.principal_id)
        .to_string();
    let labels = string_map(v.pointer("/metadata/labels"), "/metadata/labels")?;
    let table_options = string_map(v.pointer("/spec/table_options"), "/spec/table_options")?;
    let session_options = string_map(v.pointer("/spec/session_options"), "/spec/session_options")?;
    let columns = parse_columns(&v)?;
    let default_buckets = sim.cfg.default_partitions as u32;
    let (distributed_by, buckets) =
        parse_distribution(&v, default_buckets).unwrap_or((Vec::new(), default_buckets));
    let (sources, query_columns) = analyze_query(sim, name, &query).await?;
    let name_taken = |sim: &Sim| -> Result<(), Response> {
        if sim.materialized().contains_key(name) {
            return Err(refused(
                &Refused::Exists(format!("Materialized table '{name}' already exists")),
                None,
            ));
        }
        mt::check_not_lingering(sim, name).map_err(|r| refused(&r, None))
    };
    name_taken(sim)?;
    let mut p = Proposal {
        table: name.to_string(),
        name: name.to_string(),
        def: MtDef {
            query,
            columns: columns.clone().unwrap_or_default(),
            primary_key: parse_primary_key(&v).unwrap_or_default(),
            distributed_by,
            buckets,
            options: table_options.into_iter().collect(),
            watermark: parse_watermark(&v).flatten(),
            sources,
        },
        declared_columns: columns.is_some(),
        query_columns,
        start_mode: None,
        by: mt::version_name(name, 1),
        statement: String::new(),
    };
    let source_cols = mt::source_columns(sim, &p.def.sources);
    p.def.columns = mt::initial_columns(&p, &source_cols);
    p.statement = mt::show_create(name, &p.def, mt::DEFAULT_START_MODE);
    let topics = engine::broker_topics(sim).await.map_err(outcome_response)?;
    if topics.contains_key(name) {
        // A regular table of that name: it cannot become a materialized table (§G.1).
        return Err(refused(
            &Refused::Exists(mt::TABLE_ALREADY_EXISTS.into()),
            None,
        ));
    }
    engine::create_table(sim, &p.def.as_created(name), &mt::sim_props(sim), &topics)
        .await
        .map_err(outcome_response)?;
    let rec = mt::new_record(sim, p, labels, pool, principal, session_options);
    sim.tables().insert(name.to_string(), rec.def.table_def());
    let mut mts = sim.materialized();
    if mts.contains_key(name) {
        return Err(refused(
            &Refused::Exists(format!("Materialized table '{name}' already exists")),
            None,
        ));
    }
    mts.insert(name.to_string(), rec.clone());
    tracing::info!(table = %name, "materialized table created over REST");
    Ok(rec)
}

fn outcome_response(o: Outcome) -> Response {
    match o {
        Outcome::Fail(_, m) | Outcome::Phase(_, m) => flink_bad_request(&m, None),
    }
}

// ---- read ----

async fn read(
    State(sim): State<Arc<Sim>>,
    Path((org, env, cluster, name)): Path<(String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env).and_then(|()| check_cluster(&sim, &cluster)) {
        return r;
    }
    let base = base_url(&headers, &sim);
    match sim.materialized().get(&name) {
        Some(rec) => flink_json(StatusCode::OK, &render(&sim, &base, rec)),
        None => not_found(&name),
    }
}

// ---- update ----

async fn update(
    State(sim): State<Arc<Sim>>,
    Path((org, env, cluster, name)): Path<(String, String, String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env).and_then(|()| check_cluster(&sim, &cluster)) {
        return r;
    }
    let base = base_url(&headers, &sim);
    match update_from(&sim, &name, &cluster, &body).await {
        Ok(()) => match sim.materialized().get(&name) {
            Some(rec) => flink_json(StatusCode::OK, &render(&sim, &base, rec)),
            None => not_found(&name),
        },
        Err(r) => r,
    }
}

async fn update_from(sim: &Sim, name: &str, cluster: &str, body: &Bytes) -> Result<(), Response> {
    let v = body_object(body)?;
    if opt_str(&v, "/name")?.is_some_and(|n| n != name) {
        return Err(flink_bad_request("name must match the path", Some("/name")));
    }
    check_cluster_field(&v, cluster, false)?;
    let version = match v.pointer("/metadata/resource_version") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return Err(flink_bad_request(
                "metadata.resource_version is required",
                Some("/metadata/resource_version"),
            ))
        }
    };
    // The parts that need no lock first: the query's analysis talks to the broker.
    let current = sim
        .materialized()
        .get(name)
        .cloned()
        .ok_or_else(|| not_found(name))?;
    let query = opt_str(&v, "/spec/query")?.map(|q| q.trim().trim_end_matches(';').to_string());
    let analysed = match &query {
        Some(q) if *q != current.def.query => Some(analyze_query(sim, name, q).await?),
        _ => None,
    };
    let mut mts = sim.materialized();
    let rec = mts.get_mut(name).ok_or_else(|| not_found(name))?;
    if version != rec.resource_version.to_string() {
        return Err(flink_error_with_source(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            &format!("The materialized table has been modified since it was read (resource_version {version}, current {}); get it again and retry", rec.resource_version),
            Some("/metadata/resource_version"),
        ));
    }
    if let Some(by) = rec.modified_by() {
        return Err(refused(&Refused::Busy(mt::being_modified(&by)), None));
    }
    if rec.phase == MtPhase::Deleting {
        return Err(refused(
            &Refused::Busy(format!("Materialized table '{name}' is being deleted.")),
            None,
        ));
    }
    // Fixed at creation (the spec's x-immutable): a change is refused, naming the field.
    if let Some((keys, buckets)) = parse_distribution(&v, rec.def.buckets) {
        if keys != rec.def.distributed_by || buckets != rec.def.buckets {
            return Err(flink_bad_request(
                "spec.distribution cannot be changed after creation",
                Some("/spec/distribution"),
            ));
        }
    }
    if let Some(s) = v.pointer("/spec/session_options").filter(|s| !s.is_null()) {
        if string_map(Some(s), "/spec/session_options")? != rec.session_options {
            return Err(flink_bad_request(
                "spec.session_options cannot be changed after creation",
                Some("/spec/session_options"),
            ));
        }
    }
    let pool = pool_of(sim, &v, &rec.compute_pool_id)?;
    let principal = opt_str(&v, "/spec/principal")?
        .filter(|p| !p.is_empty())
        .map(str::to_string);
    let labels = match v.pointer("/metadata/labels") {
        None | Some(Value::Null) => None,
        some => Some(string_map(some, "/metadata/labels")?),
    };
    let table_options = match v.pointer("/spec/table_options") {
        None | Some(Value::Null) => None,
        some => Some(string_map(some, "/spec/table_options")?),
    };
    let stopped = match v.pointer("/spec/stopped") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            return Err(flink_bad_request(
                "spec.stopped must be a boolean",
                Some("/spec/stopped"),
            ))
        }
    };
    let columns = parse_columns(&v)?;
    // Columns compare as the service shows them (a GET's columns sent back are no change).
    let columns_changed = columns.as_ref().is_some_and(|cols| {
        cols.iter().map(column_json).collect::<Vec<_>>()
            != rec.def.columns.iter().map(column_json).collect::<Vec<_>>()
    });
    let mut def = rec.def.clone();
    if let Some(opts) = table_options {
        def.options = opts.into_iter().collect();
    }
    if let Some(w) = parse_watermark(&v) {
        def.watermark = w;
    }
    if let Some(pk) = parse_primary_key(&v) {
        def.primary_key = pk;
    }
    let mut query_columns = None;
    if let (Some(q), Some((sources, qc))) = (&query, analysed) {
        def.query = q.clone();
        def.sources = sources;
        query_columns = qc;
    }
    let evolves = def.query != rec.def.query || columns_changed;
    if evolves {
        if let Some(cols) = &columns {
            def.columns = cols.clone();
        }
        let p = Proposal {
            table: name.to_string(),
            name: name.to_string(),
            statement: mt::show_create(name, &def, mt::DEFAULT_START_MODE),
            def,
            declared_columns: columns_changed,
            query_columns,
            start_mode: None,
            by: mt::version_name(name, rec.latest_version + 1),
        };
        mt::evolve(sim, rec, p).map_err(|r| refused(&r, Some("/spec/query")))?;
    } else if def != rec.def {
        // Options, watermark, constraints: no new query, no new version.
        rec.def = def;
        rec.touch();
    }
    rec.compute_pool_id = pool;
    if let Some(p) = principal {
        rec.principal = p;
    }
    if let Some(l) = labels {
        rec.labels = l;
    }
    if let Some(s) = stopped.filter(|s| *s != rec.stopped) {
        mt::set_stopped(sim, rec, s);
    }
    rec.touch();
    let snapshot = rec.clone();
    drop(mts);
    mt::publish_definition(sim, &snapshot);
    Ok(())
}

// ---- delete ----

async fn delete(
    State(sim): State<Arc<Sim>>,
    Path((org, env, cluster, name)): Path<(String, String, String, String)>,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env).and_then(|()| check_cluster(&sim, &cluster)) {
        return r;
    }
    let mut mts = sim.materialized();
    let Some(rec) = mts.get_mut(&name) else {
        return not_found(&name);
    };
    match mt::begin_drop(&sim, rec) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(r) => refused(&r, None),
    }
}

// ---- versions ----

async fn versions(
    State(sim): State<Arc<Sim>>,
    Path((org, env, cluster, name)): Path<(String, String, String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env).and_then(|()| check_cluster(&sim, &cluster)) {
        return r;
    }
    let (size, after) = match page_params(&q) {
        Ok(p) => p,
        Err(r) => return r,
    };
    let after: u32 = match after.map(|a| a.parse()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => {
            return flink_error(
                StatusCode::BAD_REQUEST,
                "invalid_filter",
                "Bad Request",
                "page_token is invalid",
            )
        }
    };
    let base = base_url(&headers, &sim);
    let (org_id, env_id, cluster_id) =
        (&sim.cfg.org_id, &sim.cfg.env_id, &sim.cfg.kafka_cluster_id);
    let mts = sim.materialized();
    let Some(rec) = mts.get(&name) else {
        return not_found(&name);
    };
    let rest: Vec<_> = rec.versions.iter().filter(|v| v.version > after).collect();
    let more = rest.len() > size;
    let page: Vec<Value> = rest
        .iter()
        .take(size)
        .map(|v| rec.version_json(v, &base, org_id, env_id, cluster_id))
        .collect();
    let last = more.then(|| rest[size - 1].version.to_string());
    let url = format!(
        "{}/versions",
        mt::table_url(&base, &org, &env, &cluster, &name)
    );
    flink_json(
        StatusCode::OK,
        &json!({
            "api_version": "sql/v1",
            "kind": "MaterializedTableVersionList",
            "metadata": { "self": url, "next": next_url(&url, size, last) },
            "data": page,
        }),
    )
}

async fn version(
    State(sim): State<Arc<Sim>>,
    Path((org, env, cluster, name, version)): Path<(String, String, String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env).and_then(|()| check_cluster(&sim, &cluster)) {
        return r;
    }
    let base = base_url(&headers, &sim);
    let mts = sim.materialized();
    let Some(rec) = mts.get(&name) else {
        return not_found(&name);
    };
    match version
        .parse::<u32>()
        .ok()
        .and_then(|n| rec.versions.iter().find(|v| v.version == n))
    {
        Some(v) => flink_json(
            StatusCode::OK,
            &rec.version_json(
                v,
                &base,
                &sim.cfg.org_id,
                &sim.cfg.env_id,
                &sim.cfg.kafka_cluster_id,
            ),
        ),
        None => not_found(&format!("{name}/versions/{version}")),
    }
}
