//! Flink SQL statements API `sql/v1` (`flink-v1-openapi.yaml`): list, create, get, PUT, PATCH,
//! DELETE, exceptions and results, with the real error shapes.

// Validation helpers fail with the finished HTTP response; it is built once per rejected request,
// so its size does not matter.
#![allow(clippy::result_large_err)]

pub mod engine;
pub mod info_schema;
pub mod materialized;
pub mod model;
mod mt_api;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use chrono::Utc;
use serde_json::{json, Value};

use crate::config::LabelsPatch;
use crate::control::KeyScope;
use crate::http::{
    flink_bad_request, flink_error, flink_error_with_source, flink_json, flink_statement_not_found,
    parse_json,
};
use crate::Sim;
use model::{
    statement_url, statements_url, valid_statement_name, Phase, ScalingState, StatementRec,
    Transition,
};

const BASE: &str = "/sql/v1/organizations/{org}/environments/{env}/statements";
const MAX_STATEMENT_LEN: usize = 131_072;
/// The statements concept page's limit on names, stricter than the spec's 100 (§F.15).
const MAX_NAME_LEN: usize = 72;

type Scope = Option<Extension<KeyScope>>;

/// A statement that does not exist: 404, or 403 for a key scoped to a compute pool (under a
/// pool-scoped role the service cannot tell "missing" from "not yours", §F.2).
fn missing(scope: &Scope, name: &str) -> Response {
    match scope.as_ref().map(|e| e.0) {
        Some(KeyScope::ComputePool) => flink_error(
            StatusCode::FORBIDDEN,
            "user_unauthorized",
            "Forbidden",
            "Forbidden Access",
        ),
        _ => flink_statement_not_found(name),
    }
}

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route(BASE, get(list).post(create))
        .route(
            &format!("{BASE}/{{name}}"),
            get(read).put(update).patch(patch).delete(delete),
        )
        .route(&format!("{BASE}/{{name}}/exceptions"), get(exceptions))
        .route(&format!("{BASE}/{{name}}/results"), get(results))
        .merge(mt_api::router())
}

/// The scheme and host the client used, so `self` and `next` links lead back the same way.
pub fn base_url(headers: &HeaderMap, sim: &Sim) -> String {
    let scheme = match headers.get(crate::tls::SCHEME_HEADER) {
        Some(v) if v == "https" => "https",
        _ => "http",
    };
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) => format!("{scheme}://{host}"),
        None => sim.base_url(),
    }
}

/// A Flink API key is bound to one organization and environment.
pub(super) fn check_scope(sim: &Sim, org: &str, env: &str) -> Result<(), Response> {
    if org == sim.cfg.org_id && env == sim.cfg.env_id {
        Ok(())
    } else {
        Err(flink_error(
            StatusCode::FORBIDDEN,
            "user_unauthorized",
            "Forbidden",
            "Forbidden Access",
        ))
    }
}

fn render(sim: &Sim, base: &str, rec: &StatementRec) -> Value {
    rec.to_json(base, &sim.cfg.org_id, &sim.cfg.env_id)
}

// ---- list ----

async fn list(
    State(sim): State<Arc<Sim>>,
    Path((org, env)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env) {
        return r;
    }
    let page_size = match q.get("page_size").map(|s| s.parse::<usize>()) {
        None => 10,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return flink_error_with_source(
                StatusCode::BAD_REQUEST,
                "invalid_filter",
                "Bad Request",
                "page_size must be an integer between 1 and 100",
                None,
            )
        }
    };
    let after = match q.get("page_token") {
        None => None,
        Some(t) => match decode_token(t) {
            Some(name) => Some(name),
            None => {
                return flink_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_filter",
                    "Bad Request",
                    "page_token is invalid",
                )
            }
        },
    };
    let selector = match q.get("label_selector").map(|s| parse_selector(s)) {
        None => Vec::new(),
        Some(Ok(s)) => s,
        Some(Err(e)) => {
            return flink_error(StatusCode::BAD_REQUEST, "invalid_filter", "Bad Request", &e)
        }
    };
    let pool = q.get("spec.compute_pool_id");
    let base = base_url(&headers, &sim);
    let (data, next_after) = {
        let timings = sim.control.timings();
        let now = Instant::now();
        let new_lag = Duration::from_millis(timings.list_new_lag_ms);
        let phase_lag = Duration::from_millis(timings.list_phase_lag_ms);
        let mut st = sim.statements();
        // The list lags the service (the reference, §F.9): each statement as it was a moment
        // ago, a new one only once it is old enough.
        let shown: Vec<Arc<StatementRec>> = st
            .values_mut()
            .filter(|r| now.duration_since(r.created_instant) >= new_lag)
            .map(|r| r.listed_version(now, phase_lag))
            .collect();
        let shown_names: std::collections::BTreeSet<&str> =
            shown.iter().map(|r| r.name.as_str()).collect();
        let ghosts = sim.ghosts();
        // Deleted statements linger for a while, and so does a name's old incarnation until
        // the list shows the new one.
        let lingering = ghosts
            .iter()
            .filter(|(g, until)| *until > now && !shown_names.contains(g.name.as_str()))
            .map(|(g, _)| g);
        // A stable order that is not the names' (the real one is undocumented): no client may
        // rely on listing order.
        let mut matching: Vec<&StatementRec> = shown
            .iter()
            .map(|r| &**r)
            .chain(lingering)
            .filter(|r| {
                after
                    .as_ref()
                    .is_none_or(|a| crate::http::list_key(&r.name) > crate::http::list_key(a))
            })
            .filter(|r| pool.is_none_or(|p| &r.compute_pool_id == p))
            .filter(|r| selector.iter().all(|s| s.matches(&r.labels)))
            .collect();
        matching.sort_by_key(|r| crate::http::list_key(&r.name));
        let more = matching.len() > page_size;
        let page: Vec<Value> = matching
            .iter()
            .take(page_size)
            .map(|r| render(&sim, &base, r))
            .collect();
        let last = page
            .last()
            .and_then(|v| v["name"].as_str())
            .map(str::to_string);
        (page, if more { last } else { None })
    };
    let list_url = statements_url(&base, &org, &env);
    let next = match next_after {
        Some(last) => {
            let mut u = url::Url::parse(&list_url).expect("statements URL is valid");
            {
                let mut qp = u.query_pairs_mut();
                qp.append_pair("page_size", &page_size.to_string());
                qp.append_pair("page_token", &encode_token(&last));
                if let Some(s) = q.get("label_selector") {
                    qp.append_pair("label_selector", s);
                }
                if let Some(p) = pool {
                    qp.append_pair("spec.compute_pool_id", p);
                }
            }
            u.to_string()
        }
        None => String::new(),
    };
    flink_json(
        StatusCode::OK,
        &json!({
            "api_version": "sql/v1",
            "kind": "StatementList",
            "metadata": { "self": list_url, "next": next },
            "data": data,
        }),
    )
}

pub(super) fn encode_token(last_name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{last_name}"))
}

pub(super) fn decode_token(token: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("after:")
        .map(str::to_string)
}

/// One term of a comma-separated label selector: `k=v`, `k==v`, `k!=v`, `k` or `!k`.
enum Selector {
    Eq(String, String),
    NotEq(String, String),
    Exists(String),
    Absent(String),
}

impl Selector {
    fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Selector::Eq(k, v) => labels.get(k) == Some(v),
            Selector::NotEq(k, v) => labels.get(k) != Some(v),
            Selector::Exists(k) => labels.contains_key(k),
            Selector::Absent(k) => !labels.contains_key(k),
        }
    }
}

fn parse_selector(s: &str) -> Result<Vec<Selector>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|term| {
            let sel = if let Some((k, v)) = term.split_once("!=") {
                Selector::NotEq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = term.split_once("==") {
                Selector::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = term.split_once('=') {
                Selector::Eq(k.trim().into(), v.trim().into())
            } else if let Some(k) = term.strip_prefix('!') {
                Selector::Absent(k.trim().into())
            } else {
                Selector::Exists(term.into())
            };
            match &sel {
                Selector::Eq(k, _)
                | Selector::NotEq(k, _)
                | Selector::Exists(k)
                | Selector::Absent(k)
                    if k.is_empty() =>
                {
                    Err(format!("label_selector term '{term}' has no key"))
                }
                _ => Ok(sel),
            }
        })
        .collect()
}

// ---- create ----

pub(super) fn string_map(
    v: Option<&Value>,
    pointer: &str,
) -> Result<BTreeMap<String, String>, Response> {
    match v {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(flink_bad_request(
                    &format!("{pointer}/{k} must be a string"),
                    Some(&format!("{pointer}/{k}")),
                )),
            })
            .collect(),
        Some(_) => Err(flink_bad_request(
            &format!("{pointer} must be an object of strings"),
            Some(pointer),
        )),
    }
}

pub(super) fn opt_str<'a>(v: &'a Value, pointer: &str) -> Result<Option<&'a str>, Response> {
    match v.pointer(pointer) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(flink_bad_request(
            &format!("{pointer} must be a string"),
            Some(pointer),
        )),
    }
}

async fn create(
    State(sim): State<Arc<Sim>>,
    Path((org, env)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env) {
        return r;
    }
    let v = match parse_json(&body) {
        Ok(v) if v.is_object() => v,
        Ok(_) => return flink_bad_request("request body must be a JSON object", None),
        Err(e) => return flink_bad_request(&e, None),
    };
    let mut rec = match new_statement(&sim, &v) {
        Ok(r) => r,
        Err(resp) => return resp,
    };
    let is_drop = matches!(&rec.parsed, Ok(a) if a.kind == flink_sql::StatementKind::DropTable);
    if is_drop && sim.control.stall_drops() {
        // Never due: PENDING until deleted.
        rec.due = None;
        rec.detail = "Waiting for resources in the compute pool.".into();
    }
    if let Some(table) = recreated_too_soon(&sim, &rec) {
        // The catalog still has the table its drop removed: the answer to the create is the
        // statement, already FAILED (§F.5).
        let detail = format!(
            "The table '{table}' was found, but its Kafka topic does not exist; this may be due \
             to delayed deletion or eventual consistency, so try again later"
        );
        rec.due = None;
        rec.fail("org.apache.flink.table.api.TableException", &detail);
    }
    let base = base_url(&headers, &sim);
    let body = {
        let mut st = sim.statements();
        if st.contains_key(&rec.name) || sim.name_held(&rec.name) {
            return flink_error_with_source(
                StatusCode::CONFLICT,
                "resource_already_exists",
                "Conflict",
                &format!("Statement name '{}' already exists", rec.name),
                Some("/name"),
            );
        }
        let body = render(&sim, &base, &rec);
        tracing::info!(statement = %rec.name, "created");
        rec.remember();
        st.insert(rec.name.clone(), rec);
        body
    };
    let mut resp = flink_json(StatusCode::CREATED, &body);
    if let Some(Ok(loc)) = body["metadata"]["self"].as_str().map(HeaderValue::from_str) {
        resp.headers_mut().insert(header::LOCATION, loc);
    }
    resp
}

/// The table a CREATE TABLE or CTAS creates whose topic went less than the recreate window ago.
fn recreated_too_soon(sim: &Sim, rec: &StatementRec) -> Option<flink_sql::TableRef> {
    let a = rec.parsed.as_ref().ok()?;
    if rec.is_dry_run()
        || !matches!(
            a.kind,
            flink_sql::StatementKind::CreateTable | flink_sql::StatementKind::CreateTableAs
        )
    {
        return None;
    }
    a.creates
        .iter()
        .find(|c| {
            engine::topic_of(sim, &c.table, &rec.properties)
                .is_some_and(|topic| sim.recently_dropped(&topic))
        })
        .map(|c| c.table.clone())
}

fn new_statement(sim: &Sim, v: &Value) -> Result<StatementRec, Response> {
    let name =
        opt_str(v, "/name")?.ok_or_else(|| flink_bad_request("name is required", Some("/name")))?;
    if !valid_statement_name(name) {
        return Err(flink_bad_request(
            &format!("name '{name}' is invalid: it must be at most 100 characters of lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"),
            Some("/name"),
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(flink_bad_request(
            &format!(
                "name '{name}' is too long: a statement name has at most {MAX_NAME_LEN} characters"
            ),
            Some("/name"),
        ));
    }
    for (pointer, expected) in [
        ("/organization_id", &sim.cfg.org_id),
        ("/environment_id", &sim.cfg.env_id),
    ] {
        if let Some(given) = opt_str(v, pointer)? {
            if given != expected {
                return Err(flink_bad_request(
                    &format!(
                        "{} '{given}' does not match the request path",
                        &pointer[1..]
                    ),
                    Some(pointer),
                ));
            }
        }
    }
    let spec = match v.get("spec") {
        Some(Value::Object(_)) => &v["spec"],
        _ => return Err(flink_bad_request("spec is required", Some("/spec"))),
    };
    let sql = opt_str(v, "/spec/statement")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| flink_bad_request("spec.statement is required", Some("/spec/statement")))?;
    if sql.len() > MAX_STATEMENT_LEN {
        return Err(flink_bad_request(
            "spec.statement is longer than 131072 characters",
            Some("/spec/statement"),
        ));
    }
    let properties = string_map(spec.get("properties"), "/spec/properties")?;
    let pool = match opt_str(v, "/spec/compute_pool_id")? {
        None | Some("") => sim.cfg.compute_pool_id.clone(),
        Some(p) if p == sim.cfg.compute_pool_id => p.to_string(),
        Some(p) => {
            return Err(flink_error_with_source(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_configuration",
                "Unprocessable Entity",
                &format!(
                    "Compute pool '{p}' does not exist in environment '{}'",
                    sim.cfg.env_id
                ),
                Some("/spec/compute_pool_id"),
            ))
        }
    };
    let principal = match opt_str(v, "/spec/principal")? {
        None | Some("") => sim.cfg.principal_id.clone(),
        Some(p) => p.to_string(),
    };
    let labels = string_map(v.pointer("/metadata/labels"), "/metadata/labels")?;
    let baseline_cfu = v
        .pointer("/spec/scaling/baseline_cfu")
        .and_then(Value::as_i64);
    let now = Utc::now();
    Ok(StatementRec {
        name: name.to_string(),
        uid: uuid::Uuid::new_v4().to_string(),
        created_at: now,
        updated_at: now,
        resource_version: 1,
        labels,
        parsed: flink_sql::analyze(sql),
        sql: sql.to_string(),
        properties,
        compute_pool_id: pool,
        principal,
        // The service does not provision stopped statements: `spec.stopped` on create is ignored.
        stopped: false,
        baseline_cfu,
        phase: Phase::Pending,
        detail: String::new(),
        due: Some(Instant::now() + Duration::from_millis(sim.control.timings().pending_ms)),
        busy: false,
        effects_applied: false,
        exceptions: Vec::new(),
        latest_offsets: BTreeMap::new(),
        latest_offsets_timestamp: None,
        end_time: None,
        result: None,
        transition: None,
        admitted: false,
        carry_checked: false,
        scaling_state: ScalingState::Ok,
        created_instant: Instant::now(),
        history: Vec::new(),
    })
}

// ---- read ----

async fn read(
    State(sim): State<Arc<Sim>>,
    Path((org, env, name)): Path<(String, String, String)>,
    scope: Scope,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env) {
        return r;
    }
    let base = base_url(&headers, &sim);
    match sim.statements().get(&name) {
        Some(rec) => flink_json(StatusCode::OK, &render(&sim, &base, rec)),
        None => missing(&scope, &name),
    }
}

// ---- update (PUT) and patch ----

/// The mutable part of a statement: what PUT and PATCH may change.
struct Desired {
    stopped: bool,
    principal: String,
    compute_pool_id: String,
    labels: BTreeMap<String, String>,
    baseline_cfu: Option<i64>,
}

fn desired_from(rec: &StatementRec, v: &Value) -> Result<Desired, Response> {
    if let Some(sql) = opt_str(v, "/spec/statement")? {
        if sql != rec.sql {
            return Err(flink_bad_request(
                "spec.statement cannot be changed",
                Some("/spec/statement"),
            ));
        }
    }
    if let Some(p) = v.pointer("/spec/properties").filter(|p| !p.is_null()) {
        let given = string_map(Some(p), "/spec/properties")?;
        if given != rec.properties {
            return Err(flink_bad_request(
                "spec.properties cannot be changed; create a new statement instead",
                Some("/spec/properties"),
            ));
        }
    }
    let stopped = match v.pointer("/spec/stopped") {
        Some(Value::Bool(b)) => *b,
        _ => {
            return Err(flink_bad_request(
                "spec.stopped is required and must be a boolean",
                Some("/spec/stopped"),
            ))
        }
    };
    let principal = opt_str(v, "/spec/principal")?
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| rec.principal.clone());
    let compute_pool_id = opt_str(v, "/spec/compute_pool_id")?
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| rec.compute_pool_id.clone());
    let labels = match v.pointer("/metadata/labels") {
        None | Some(Value::Null) => rec.labels.clone(),
        some => string_map(some, "/metadata/labels")?,
    };
    let baseline_cfu = match v.pointer("/spec/scaling/baseline_cfu") {
        Some(Value::Number(n)) => n.as_i64(),
        _ => rec.baseline_cfu,
    };
    Ok(Desired {
        stopped,
        principal,
        compute_pool_id,
        labels,
        baseline_cfu,
    })
}

fn apply(sim: &Sim, rec: &mut StatementRec, d: Desired) -> Result<(), Response> {
    let moving = d.principal != rec.principal || d.compute_pool_id != rec.compute_pool_id;
    // Principal and pool change only when resuming a stopped statement (Terraform, the CLI).
    let resuming = rec.phase == Phase::Stopped && !d.stopped;
    if moving && !resuming {
        return Err(flink_bad_request(
            "spec.principal and spec.compute_pool_id can only change when resuming a stopped statement",
            Some("/spec"),
        ));
    }
    if d.compute_pool_id != sim.cfg.compute_pool_id {
        return Err(flink_error_with_source(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_configuration",
            "Unprocessable Entity",
            &format!("Compute pool '{}' does not exist", d.compute_pool_id),
            Some("/spec/compute_pool_id"),
        ));
    }
    if resuming && rec.stopped && !rec.is_resumable() {
        return Err(flink_bad_request(
            &format!(
                "statement '{}' cannot be resumed: only INSERT INTO, CREATE TABLE AS SELECT and \
                 EXECUTE STATEMENT SET statements can be resumed",
                rec.name
            ),
            Some("/spec/stopped"),
        ));
    }
    // Statement metadata is read-only in the spec; what the service does with a label change
    // after create is undocumented (§F.13): the test chooses.
    let labels = if d.labels == rec.labels {
        d.labels
    } else {
        match sim.control.behaviour().labels_patch {
            LabelsPatch::Apply => d.labels,
            LabelsPatch::Ignore => rec.labels.clone(),
            LabelsPatch::Reject => {
                return Err(flink_error_with_source(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_patch",
                    "Unprocessable Entity",
                    "metadata.labels cannot be changed: statement metadata is read-only",
                    Some("/metadata/labels"),
                ))
            }
        }
    };
    let timings = sim.control.timings();
    rec.principal = d.principal;
    rec.compute_pool_id = d.compute_pool_id;
    rec.labels = labels;
    rec.baseline_cfu = d.baseline_cfu;
    // Accepted now, carried out later: until the lag is over a GET shows the old phase (§F.1).
    let later = Some(Instant::now() + Duration::from_millis(timings.update_lag_ms));
    if d.stopped && !rec.stopped {
        if matches!(rec.phase, Phase::Pending | Phase::Running | Phase::Degraded) {
            rec.transition = Some(Transition::Stop);
            rec.due = later;
        }
    } else if !d.stopped && rec.stopped && rec.phase == Phase::Stopped {
        rec.transition = Some(Transition::Resume);
        rec.due = later;
    }
    rec.stopped = d.stopped;
    rec.touch();
    Ok(())
}

fn stale(given: &str, current: u64) -> Response {
    flink_error_with_source(
        StatusCode::CONFLICT,
        "conflict",
        "Conflict",
        &format!("The statement has been modified since it was read (resource_version {given}, current {current}); get it again and retry"),
        Some("/metadata/resource_version"),
    )
}

async fn update(
    State(sim): State<Arc<Sim>>,
    Path((org, env, name)): Path<(String, String, String)>,
    scope: Scope,
    body: Bytes,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env) {
        return r;
    }
    let v = match parse_json(&body) {
        Ok(v) if v.is_object() => v,
        Ok(_) => return flink_bad_request("request body must be a JSON object", None),
        Err(e) => return flink_bad_request(&e, None),
    };
    let mut st = sim.statements();
    let Some(rec) = st.get_mut(&name) else {
        return missing(&scope, &name);
    };
    // Confluent's Table API plugin sends no `name` (nor `api_version`, `kind`) when it stops a
    // statement, and the service accepts that; a name that is given must match the path.
    match opt_str(&v, "/name") {
        Ok(Some(n)) if n != name => {
            return flink_bad_request("name must match the path", Some("/name"))
        }
        Ok(_) => {}
        Err(r) => return r,
    }
    let version = match v.pointer("/metadata/resource_version") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => {
            return flink_bad_request(
                "metadata.resource_version is required",
                Some("/metadata/resource_version"),
            )
        }
    };
    if version != rec.resource_version.to_string() {
        return stale(&version, rec.resource_version);
    }
    if rec.phase == Phase::Deleting {
        return flink_error(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            "The statement is being deleted",
        );
    }
    let desired = match desired_from(rec, &v) {
        Ok(d) => d,
        Err(r) => return r,
    };
    match apply(&sim, rec, desired) {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(r) => r,
    }
}

/// JSON Patch (RFC 6902) on the statement document; the spec spells ops in upper case and
/// clients in lower case, so both are accepted. Only the mutable fields may change.
async fn patch(
    State(sim): State<Arc<Sim>>,
    Path((org, env, name)): Path<(String, String, String)>,
    scope: Scope,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env) {
        return r;
    }
    let mut ops = match parse_json(&body) {
        Ok(Value::Array(ops)) => ops,
        Ok(_) => return flink_bad_request("a JSON Patch body is an array of operations", None),
        Err(e) => return flink_bad_request(&e, None),
    };
    for op in &mut ops {
        if let Some(Value::String(o)) = op.get_mut("op") {
            *o = o.to_ascii_lowercase();
        }
    }
    let patch: json_patch::Patch = match serde_json::from_value(Value::Array(ops)) {
        Ok(p) => p,
        Err(e) => return flink_bad_request(&format!("invalid JSON Patch: {e}"), None),
    };
    let base = base_url(&headers, &sim);
    let mut st = sim.statements();
    let Some(rec) = st.get_mut(&name) else {
        return missing(&scope, &name);
    };
    let before = render(&sim, &base, rec);
    let mut doc = before.clone();
    if let Err(e) = json_patch::patch(&mut doc, &patch) {
        let status = if matches!(e.kind, json_patch::PatchErrorKind::TestFailed) {
            StatusCode::CONFLICT
        } else {
            StatusCode::UNPROCESSABLE_ENTITY
        };
        return flink_error(status, "invalid_patch", "Invalid Patch", &e.to_string());
    }
    if let Some(path) = changed_outside_mutable(&before, &doc) {
        return flink_error_with_source(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_patch",
            "Unprocessable Entity",
            &format!("{path} cannot be changed; only /spec/stopped, /spec/principal, /spec/compute_pool_id, /spec/scaling and /metadata/labels can"),
            Some(&path),
        );
    }
    let desired = match desired_from(rec, &doc) {
        Ok(d) => d,
        Err(r) => return r,
    };
    if rec.phase == Phase::Deleting {
        return flink_error(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            "The statement is being deleted",
        );
    }
    if let Err(r) = apply(&sim, rec, desired) {
        return r;
    }
    flink_json(StatusCode::OK, &render(&sim, &base, rec))
}

fn changed_outside_mutable(before: &Value, after: &Value) -> Option<String> {
    const MUTABLE: [&str; 5] = [
        "/spec/stopped",
        "/spec/principal",
        "/spec/compute_pool_id",
        "/spec/scaling",
        "/metadata/labels",
    ];
    fn walk(path: &str, a: &Value, b: &Value, out: &mut Option<String>) {
        if out.is_some()
            || MUTABLE
                .iter()
                .any(|m| path == *m || path.starts_with(&format!("{m}/")))
        {
            return;
        }
        match (a, b) {
            (Value::Object(x), Value::Object(y)) => {
                let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
                for k in keys {
                    let null = Value::Null;
                    walk(
                        &format!("{path}/{k}"),
                        x.get(k).unwrap_or(&null),
                        y.get(k).unwrap_or(&null),
                        out,
                    );
                }
            }
            _ if a != b => {
                *out = Some(if path.is_empty() {
                    "/".into()
                } else {
                    path.into()
                })
            }
            _ => {}
        }
    }
    let mut out = None;
    walk("", before, after, &mut out);
    out
}

// ---- delete ----

async fn delete(
    State(sim): State<Arc<Sim>>,
    Path((org, env, name)): Path<(String, String, String)>,
    scope: Scope,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env) {
        return r;
    }
    let deleting_ms = sim.control.timings().deleting_ms;
    let mut st = sim.statements();
    let Some(rec) = st.get_mut(&name) else {
        return missing(&scope, &name);
    };
    if rec.phase != Phase::Deleting {
        rec.phase = Phase::Deleting;
        rec.transition = None;
        rec.detail = String::new();
        rec.due = Some(Instant::now() + Duration::from_millis(deleting_ms));
        rec.touch();
        tracing::info!(statement = %name, "deleting");
    }
    StatusCode::ACCEPTED.into_response()
}

// ---- exceptions and results ----

async fn exceptions(
    State(sim): State<Arc<Sim>>,
    Path((org, env, name)): Path<(String, String, String)>,
    scope: Scope,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env) {
        return r;
    }
    let base = base_url(&headers, &sim);
    let st = sim.statements();
    let Some(rec) = st.get(&name) else {
        return missing(&scope, &name);
    };
    // The ten most recent, newest first.
    let data: Vec<Value> = rec
        .exceptions
        .iter()
        .rev()
        .take(10)
        .map(|e| {
            json!({
                "kind": "StatementException",
                "name": e.name,
                "message": e.message,
                "timestamp": model::rfc3339(e.timestamp),
            })
        })
        .collect();
    flink_json(
        StatusCode::OK,
        &json!({
            "api_version": "sql/v1",
            "kind": "StatementExceptionList",
            "metadata": { "self": format!("{}/exceptions", statement_url(&base, &org, &env, &name)) },
            "data": data,
        }),
    )
}

/// Rows per page of `/results`.
const RESULT_PAGE: usize = 100;

/// A statement's result rows, a page at a time (`page_token` is the offset of the page's first
/// row). Only `INFORMATION_SCHEMA` queries have rows: no data flows through tables.
async fn results(
    State(sim): State<Arc<Sim>>,
    Path((org, env, name)): Path<(String, String, String)>,
    scope: Scope,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = check_scope(&sim, &org, &env) {
        return r;
    }
    let base = base_url(&headers, &sim);
    let rows = {
        let st = sim.statements();
        let Some(rec) = st.get(&name) else {
            return missing(&scope, &name);
        };
        rec.result
            .as_ref()
            .map(|r| r.rows.clone())
            .unwrap_or_default()
    };
    let from = match q.get("page_token").map(|t| t.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) if n <= rows.len() => n,
        Some(_) => return flink_bad_request("page_token is not a token this statement gave", None),
    };
    let to = (from + RESULT_PAGE).min(rows.len());
    let url = format!("{}/results", statement_url(&base, &org, &env, &name));
    let next = if to < rows.len() {
        format!("{url}?page_token={to}")
    } else {
        String::new()
    };
    let data: Vec<Value> = rows[from..to]
        .iter()
        .map(|row| json!({ "op": 0, "row": row }))
        .collect();
    flink_json(
        StatusCode::OK,
        &json!({
            "api_version": "sql/v1",
            "kind": "StatementResult",
            "metadata": {
                "self": url,
                "created_at": model::rfc3339(Utc::now()),
                "next": next,
            },
            "results": { "data": data },
        }),
    )
}
