//! The Flink SQL statements API (`sql/v1`): list, get, create, stop, resume, delete, exceptions,
//! and waiting for a statement to reach a state.
//!
//! Wire types follow the OpenAPI schema (`sql.v1.Statement`) and tolerate what the service adds:
//! every field but `name` may be missing or null, unknown fields are ignored when reading and
//! kept when a statement is sent back (PUT), and an unknown phase parses as
//! [`Phase::Unknown`].

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{json, Value};
use url::Url;

use crate::http::limit::{Api, ApiUsage, Concurrency};
use crate::http::{
    parse_base_url, ApiError, Attempt, Credentials, ExtraRoots, HttpClient, HttpRequest,
    RetryPolicy,
};

/// Attempts of GET → PUT when the statement keeps changing under us (409 on a stale version).
const MAX_UPDATE_ATTEMPTS: u32 = 6;
/// Page size for listing: the API's maximum.
const PAGE_SIZE: &str = "100";

// ---------------------------------------------------------------------------------------------
// Errors

/// What can go wrong with a statements call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FlinkError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A create found another statement under the name (different SQL, properties, pool or
    /// principal): the name belongs to someone else.
    #[error("statement name '{name}' is already taken by a different statement (different {differences})")]
    NameTaken { name: String, differences: String },
    /// The live statement is not the one the caller meant to change (its ownership check
    /// failed): nothing was sent.
    #[error("statement '{name}' was not changed: {reason}")]
    Refused { name: String, reason: String },
    /// The statement is being deleted: it cannot be updated, and its name is not free yet.
    #[error("statement '{name}' is being deleted; wait until it is gone")]
    BeingDeleted { name: String },
    /// A create met 409 but no statement of that name can be read: the name is still held by
    /// one gone moments ago (the service frees a name a while after the delete), or by one on
    /// a compute pool the key may not see. It frees up by itself; retry later.
    #[error("statement name '{name}' is still held (the service answered 409, but no statement of that name can be read: one was deleted moments ago, or it is on a compute pool this key may not see)")]
    NameHeld { name: String },
    /// Stop or resume of a statement that does not exist.
    #[error("statement '{name}' does not exist")]
    NotFound { name: String },
    /// The statement kept changing under us (stale PUTs) every time we tried.
    #[error("statement '{name}' kept changing while we tried to change it; gave up after {attempts} attempts")]
    Conflict { name: String, attempts: u32 },
    /// The list's `metadata.next` could not be followed.
    #[error("listing statements: {0}")]
    Pagination(String),
    /// The region, cloud or endpoint cannot make a gateway URL.
    #[error("invalid Flink endpoint: {0}")]
    Endpoint(String),
}

// ---------------------------------------------------------------------------------------------
// Wire types

/// `status.phase`: an extensible enum. Any string parses; values this version does not know are
/// kept in [`Phase::Unknown`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Phase {
    Pending,
    Running,
    Completed,
    Deleting,
    Failing,
    Failed,
    Stopping,
    Stopped,
    Degraded,
    /// A phase this version does not know, as the service spelled it (empty when the status
    /// had no phase).
    Unknown(String),
}

impl Default for Phase {
    fn default() -> Phase {
        Phase::Unknown(String::new())
    }
}

impl Phase {
    /// The phases the OpenAPI schema lists.
    pub const KNOWN: [Phase; 9] = [
        Phase::Pending,
        Phase::Running,
        Phase::Completed,
        Phase::Deleting,
        Phase::Failing,
        Phase::Failed,
        Phase::Stopping,
        Phase::Stopped,
        Phase::Degraded,
    ];

    /// Parse the API's spelling (case-insensitive); never fails.
    pub fn parse(s: &str) -> Phase {
        Phase::KNOWN
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .unwrap_or_else(|| Phase::Unknown(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            Phase::Pending => "PENDING",
            Phase::Running => "RUNNING",
            Phase::Completed => "COMPLETED",
            Phase::Deleting => "DELETING",
            Phase::Failing => "FAILING",
            Phase::Failed => "FAILED",
            Phase::Stopping => "STOPPING",
            Phase::Stopped => "STOPPED",
            Phase::Degraded => "DEGRADED",
            Phase::Unknown(s) => s,
        }
    }

    /// Settled: the statement is not on its way to another phase by itself (RUNNING,
    /// COMPLETED, FAILED, STOPPED, DEGRADED).
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            Phase::Running | Phase::Completed | Phase::Failed | Phase::Stopped | Phase::Degraded
        )
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Any spelling is a phase (see [`Phase::parse`]).
impl From<&str> for Phase {
    fn from(s: &str) -> Phase {
        Phase::parse(s)
    }
}

impl std::str::FromStr for Phase {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Phase, Self::Err> {
        Ok(Phase::parse(s))
    }
}

impl Serialize for Phase {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Phase {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Phase, D::Error> {
        Ok(match Option::<Value>::deserialize(d)? {
            Some(Value::String(s)) => Phase::parse(&s),
            None | Some(Value::Null) => Phase::default(),
            Some(other) => Phase::Unknown(other.to_string()),
        })
    }
}

/// A null reads as the default, like an absent field.
pub(super) fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A string, or a number read as its decimal text (`resource_version` is documented as a
/// string; a number must not fail the parse).
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// `sql.v1.StatementObjectMeta`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatementMetadata {
    #[serde(rename = "self")]
    pub self_url: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub uid: Option<String>,
    #[serde(deserialize_with = "lenient_string")]
    pub resource_version: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub labels: BTreeMap<String, String>,
}

/// `sql.v1.StatementSpec`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatementSpec {
    /// The SQL text (immutable).
    pub statement: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub properties: BTreeMap<String, String>,
    pub compute_pool_id: Option<String>,
    pub principal: Option<String>,
    pub stopped: Option<bool>,
    pub execution_mode: Option<String>,
    pub scaling: Option<StatementScaling>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatementScaling {
    pub baseline_cfu: Option<i64>,
}

/// `sql.v1.StatementStatus`. Fields not typed here are in [`Statement::raw`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatementStatus {
    pub phase: Phase,
    pub detail: Option<String>,
    #[serde(deserialize_with = "null_default")]
    pub warnings: Vec<StatementWarning>,
    /// Null while PENDING and when FAILED.
    pub traits: Option<StatementTraits>,
    pub network_kind: Option<String>,
    /// Topic → `partition:0,offset:100;partition:1,offset:200`; filled for stopped statements.
    #[serde(deserialize_with = "null_default")]
    pub latest_offsets: BTreeMap<String, String>,
    pub latest_offsets_timestamp: Option<String>,
    pub end_time: Option<String>,
    pub duration: Option<String>,
    /// Whether the compute pool has room for the statement.
    pub scaling_status: Option<ScalingStatus>,
}

/// `sql.v1.ScalingStatus`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScalingStatus {
    /// `OK`, `PENDING_SCALE_DOWN`, `PENDING_SCALE_UP`, `POOL_EXHAUSTED` (an extensible enum).
    pub scaling_state: Option<String>,
    pub last_updated: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatementWarning {
    pub severity: Option<String>,
    pub created_at: Option<String>,
    pub reason: Option<String>,
    pub message: Option<String>,
}

/// `sql.v1.StatementTraits`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatementTraits {
    /// E.g. `SELECT`, `CREATE_TABLE`, `INSERT_INTO`.
    pub sql_kind: Option<String>,
    pub is_bounded: Option<bool>,
    pub is_append_only: Option<bool>,
    #[serde(deserialize_with = "null_default")]
    pub upsert_columns: Vec<i64>,
    /// The result schema, as the API sends it.
    pub schema: Option<Value>,
    #[serde(deserialize_with = "null_default")]
    pub connection_refs: Vec<String>,
}

/// A statement (`sql.v1.Statement`) as the service returned it: typed fields for reading, and
/// the document itself ([`Statement::raw`]), which is what stop and resume send back so fields
/// this version does not know survive the round trip.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub name: String,
    pub organization_id: Option<String>,
    pub environment_id: Option<String>,
    pub metadata: StatementMetadata,
    pub spec: StatementSpec,
    pub status: StatementStatus,
    raw: Value,
}

#[derive(Deserialize)]
struct StatementWire {
    name: String,
    #[serde(default)]
    organization_id: Option<String>,
    #[serde(default)]
    environment_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    metadata: StatementMetadata,
    #[serde(default, deserialize_with = "null_default")]
    spec: StatementSpec,
    #[serde(default, deserialize_with = "null_default")]
    status: StatementStatus,
}

impl<'de> Deserialize<'de> for Statement {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Statement, D::Error> {
        let raw = Value::deserialize(d)?;
        let w = StatementWire::deserialize(&raw).map_err(serde::de::Error::custom)?;
        Ok(Statement {
            name: w.name,
            organization_id: w.organization_id,
            environment_id: w.environment_id,
            metadata: w.metadata,
            spec: w.spec,
            status: w.status,
            raw,
        })
    }
}

/// Serializes the document as received (see [`Statement::raw`]).
impl Serialize for Statement {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

impl Statement {
    /// The JSON document exactly as the service sent it, unknown fields included.
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    pub fn phase(&self) -> &Phase {
        &self.status.phase
    }

    pub fn sql(&self) -> &str {
        self.spec.statement.as_deref().unwrap_or("")
    }

    /// `status.scaling_status.scaling_state`, when the service says.
    pub fn scaling_state(&self) -> Option<&str> {
        self.status
            .scaling_status
            .as_ref()
            .and_then(|s| s.scaling_state.as_deref())
    }

    /// PENDING because its compute pool has no room for it (`POOL_EXHAUSTED`, §F.8).
    pub fn waits_for_pool(&self) -> bool {
        *self.phase() == Phase::Pending
            && self
                .scaling_state()
                .is_some_and(|s| s.eq_ignore_ascii_case("POOL_EXHAUSTED"))
    }
}

/// The rule for a 403 on one statement (the reference, §F.2). Under a role scoped to a compute
/// pool (FlinkDeveloper on the pool), the service answers 403, not 404, for a statement that
/// does not exist or lives on another pool, while an invalid key is 401. Terraform counts such
/// a 403 as "gone" and dbt-confluent treats it as missing. This client does the same only
/// where the run has evidence besides the 403 that the statement is gone: right after its own
/// delete, when the list shows it DELETING or no longer shows it, or after a 409 on create that
/// no GET can explain. Anywhere else a 403 stays a permission problem.
pub fn forbidden(e: &FlinkError) -> bool {
    matches!(e, FlinkError::Api(ApiError::Status { status: 403, .. }))
}

/// `sql.v1.StatementException`: one of the ten most recent exceptions of a statement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatementException {
    /// E.g. `java.lang.RuntimeException`.
    pub name: Option<String>,
    pub message: Option<String>,
    pub timestamp: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ListMetadata {
    next: Option<String>,
}

#[derive(Deserialize)]
struct StatementListWire {
    #[serde(default, deserialize_with = "null_default")]
    metadata: ListMetadata,
    #[serde(default, deserialize_with = "null_default")]
    data: Vec<Statement>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResultsWire {
    #[serde(deserialize_with = "null_default")]
    metadata: ListMetadata,
    #[serde(deserialize_with = "null_default")]
    results: ResultRows,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResultRows {
    #[serde(deserialize_with = "null_default")]
    data: Vec<ResultRow>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResultRow {
    #[serde(deserialize_with = "null_default")]
    row: Vec<Value>,
}

#[derive(Deserialize)]
struct ExceptionListWire {
    #[serde(default, deserialize_with = "null_default")]
    data: Vec<StatementException>,
}

// ---------------------------------------------------------------------------------------------
// Requests and outcomes

/// Filters for [`FlinkClient::list`]; both are applied by the service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    /// Comma-separated: `k=v`, `k!=v`, `k`, `!k`.
    pub label_selector: Option<String>,
    pub compute_pool_id: Option<String>,
}

/// A statement to create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewStatement {
    pub name: String,
    pub sql: String,
    /// E.g. `sql.current-catalog`, `sql.current-database`, `sql.tables.initial-offset-from`.
    pub properties: BTreeMap<String, String>,
    /// `None`: the service picks the environment's default pool.
    pub compute_pool_id: Option<String>,
    /// `None`: the service runs it as the caller.
    pub principal: Option<String>,
    pub labels: BTreeMap<String, String>,
}

impl NewStatement {
    fn body(&self, org: &str, env: &str) -> Value {
        let mut spec = json!({
            "statement": self.sql,
            "properties": self.properties,
            "stopped": false,
        });
        if let Some(pool) = &self.compute_pool_id {
            spec["compute_pool_id"] = json!(pool);
        }
        if let Some(principal) = &self.principal {
            spec["principal"] = json!(principal);
        }
        let mut body = json!({
            "name": self.name,
            "organization_id": org,
            "environment_id": env,
            "spec": spec,
        });
        if !self.labels.is_empty() {
            body["metadata"] = json!({ "labels": self.labels });
        }
        body
    }

    /// What differs between this request and an existing statement of the same name: SQL, any
    /// property we set (the service may add its own), and pool / principal when we chose them.
    fn differences(&self, existing: &Statement) -> Vec<&'static str> {
        let mut out = Vec::new();
        if existing.spec.statement.as_deref() != Some(self.sql.as_str()) {
            out.push("SQL");
        }
        if self
            .properties
            .iter()
            .any(|(k, v)| existing.spec.properties.get(k) != Some(v))
        {
            out.push("properties");
        }
        if let Some(pool) = &self.compute_pool_id {
            if existing.spec.compute_pool_id.as_ref() != Some(pool) {
                out.push("compute pool");
            }
        }
        if let Some(principal) = &self.principal {
            if existing.spec.principal.as_ref() != Some(principal) {
                out.push("principal");
            }
        }
        // Our labels say whose it is: a statement without them is not the one we asked for.
        if self
            .labels
            .iter()
            .any(|(k, v)| existing.metadata.labels.get(k) != Some(v))
        {
            out.push("labels");
        }
        out
    }
}

/// What the service did with a label patch ([`FlinkClient::patch_labels`]), as a read after it
/// shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelsPatched {
    /// The statement carries the labels now.
    Applied,
    /// Answered with success, but the statement does not carry them.
    Ignored,
    /// The service refused the change (its message).
    Refused(String),
}

/// What one attempt of a DELETE came to ([`FlinkClient::delete_attempt`]).
#[derive(Debug)]
pub enum DeleteAttempt {
    /// Deleted now (`true`: the statement shows DELETING until it is gone), or there was no
    /// such statement (`false`).
    Done(bool),
    /// Not known to be done; the retry policy would send it again after `pause`. `error` is
    /// what this attempt was answered; `maybe_done`: the service may have carried it out (a
    /// 5xx, a timeout or a broken connection; not a 429).
    Again {
        pause: Duration,
        error: FlinkError,
        maybe_done: bool,
    },
}

/// Whether stop / resume changed anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// The service accepted the change (it takes effect asynchronously: wait for the phase).
    Updated,
    /// The statement was already in the desired state; nothing was sent.
    Unchanged,
}

/// The end of a wait.
#[derive(Debug, Clone)]
pub struct WaitOutcome {
    /// The last state seen; `None` = the statement does not exist (404).
    pub last: Option<Statement>,
    /// Whether the condition held when the wait ended (false = timed out, or the statement was
    /// gone while waiting for something else).
    pub satisfied: bool,
    pub waited: Duration,
}

/// A predicate for [`FlinkClient::wait_until`]: the statement has settled (RUNNING, COMPLETED,
/// FAILED, STOPPED, DEGRADED).
pub fn is_settled(s: &Statement) -> bool {
    s.phase().is_settled()
}

/// Which part of a regional endpoint is not a host-name label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndpointPart {
    #[error("cloud '{0}' must be a provider name such as aws, azure or gcp")]
    Cloud(String),
    #[error("region '{0}' must be a region id such as us-east-1")]
    Region(String),
}

/// `https://flink.{region}.{cloud}.confluent.cloud`, the region's public gateway, or with
/// `private` its private one (`….private.confluent.cloud`). The one place the URL is built.
pub fn regional_endpoint(cloud: &str, region: &str, private: bool) -> Result<String, EndpointPart> {
    let cloud = cloud.trim().to_ascii_lowercase();
    let region = region.trim().to_ascii_lowercase();
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !ok(&cloud) {
        return Err(EndpointPart::Cloud(cloud));
    }
    if !ok(&region) {
        return Err(EndpointPart::Region(region));
    }
    let private = if private { "private." } else { "" };
    Ok(format!(
        "https://flink.{region}.{cloud}.{private}confluent.cloud"
    ))
}

// ---------------------------------------------------------------------------------------------
// The client

/// Where and as whom to talk to the statements API.
#[derive(Debug, Clone)]
pub struct FlinkConfig {
    /// The gateway, before `/sql/v1`: [`regional_endpoint`], or an override (private
    /// networking, the simulator).
    pub endpoint: String,
    /// The organization's UUID.
    pub organization_id: String,
    /// `env-…`.
    pub environment_id: String,
    /// A Flink API key for this environment and region.
    pub credentials: Credentials,
    pub retry: RetryPolicy,
}

/// A client for one organization and environment's statements.
#[derive(Debug, Clone)]
pub struct FlinkClient {
    http: HttpClient,
    /// `…/organizations/{org}/environments/{env}`: statements and materialized tables hang
    /// below it.
    environment_url: Url,
    statements_url: Url,
    organization_id: String,
    environment_id: String,
}

impl FlinkClient {
    pub fn new(config: FlinkConfig) -> Result<FlinkClient, FlinkError> {
        FlinkClient::with_roots(config, &ExtraRoots::default())
    }

    /// A client that also trusts `roots` (input `ca-bundle`).
    pub fn with_roots(config: FlinkConfig, roots: &ExtraRoots) -> Result<FlinkClient, FlinkError> {
        let mut statements_url = parse_base_url(&config.endpoint)?;
        for (what, id) in [
            ("organization id", &config.organization_id),
            ("environment id", &config.environment_id),
        ] {
            if id.trim().is_empty() || id.contains('/') {
                return Err(FlinkError::Endpoint(format!("{what} '{id}' is not valid")));
            }
        }
        if let Ok(mut segs) = statements_url.path_segments_mut() {
            segs.pop_if_empty().extend([
                "sql",
                "v1",
                "organizations",
                &config.organization_id,
                "environments",
                &config.environment_id,
            ]);
        }
        let environment_url = statements_url.clone();
        if let Ok(mut segs) = statements_url.path_segments_mut() {
            segs.push("statements");
        }
        Ok(FlinkClient {
            http: HttpClient::with_roots(Api::Flink, &config.credentials, config.retry, roots)?,
            environment_url,
            statements_url,
            organization_id: config.organization_id,
            environment_id: config.environment_id,
        })
    }

    /// The same client with its requests under `concurrency` (shared by later clones).
    pub fn with_concurrency(mut self, concurrency: Concurrency) -> FlinkClient {
        self.http = self.http.with_concurrency(concurrency);
        self
    }

    /// What the statements API was asked so far.
    pub fn usage(&self) -> ApiUsage {
        self.http.usage()
    }

    /// The statements API's limiter (shared by this client's clones).
    pub fn limiter(&self) -> &crate::http::limit::Limiter {
        self.http.limiter()
    }

    pub(super) fn environment_url(&self) -> Url {
        self.environment_url.clone()
    }

    pub(super) fn http(&self) -> &HttpClient {
        &self.http
    }

    fn statement_url(&self, name: &str, sub: Option<&str>) -> Url {
        let mut u = self.statements_url.clone();
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.push(name);
            if let Some(sub) = sub {
                segs.push(sub);
            }
        }
        u
    }

    /// Every statement matching `filter`, reading all pages (100 per page). Each page is read
    /// once: the next page's token is the `page_token` query parameter of `metadata.next`
    /// (parsed as a URL); an absent or empty `next` ends the list, and a token seen before is
    /// an error rather than a loop. A statement listed as DELETING is confirmed by its GET
    /// (left out once gone).
    pub async fn list(&self, filter: &ListFilter) -> Result<Vec<Statement>, FlinkError> {
        let out = self.list_as_listed(filter).await?;
        // The list lags deletes by seconds: a statement it shows DELETING may be gone already.
        // The GET of the one statement is what counts.
        let mut current = Vec::with_capacity(out.len());
        for s in out {
            if *s.phase() == Phase::Deleting {
                match self.get(&s.name).await {
                    Ok(Some(fresh)) => current.push(fresh),
                    Ok(None) => {}
                    // Listed as being deleted, then 403: gone, under a pool-scoped role
                    // (see [`forbidden`]).
                    Err(e) if forbidden(&e) => {}
                    Err(e) => return Err(e),
                }
            } else {
                current.push(s);
            }
        }
        Ok(current)
    }

    /// Every page of the list as the service shows it (lingering deletes included).
    pub(crate) async fn list_as_listed(
        &self,
        filter: &ListFilter,
    ) -> Result<Vec<Statement>, FlinkError> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut token: Option<String> = None;
        loop {
            let mut url = self.statements_url.clone();
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("page_size", PAGE_SIZE);
                if let Some(s) = &filter.label_selector {
                    q.append_pair("label_selector", s);
                }
                if let Some(p) = &filter.compute_pool_id {
                    q.append_pair("spec.compute_pool_id", p);
                }
                if let Some(t) = &token {
                    q.append_pair("page_token", t);
                }
            }
            let resp = self.http.execute(HttpRequest::get(url)).await?;
            if !resp.is_success() {
                return Err(resp.into_error().into());
            }
            let page: StatementListWire = resp.json()?;
            out.extend(page.data);
            let Some(next) = page.metadata.next.filter(|n| !n.trim().is_empty()) else {
                break;
            };
            let t = self.page_token_of(&next)?;
            if !seen.insert(t.clone()) {
                return Err(FlinkError::Pagination(format!(
                    "the service returned page token '{t}' twice; stopping instead of looping"
                )));
            }
            token = Some(t);
        }
        tracing::debug!(count = out.len(), "listed statements");
        Ok(out)
    }

    /// One page of one statement: does the service accept our credentials for this
    /// organization and environment? `Err` says why not.
    pub async fn check_access(&self) -> Result<(), FlinkError> {
        let mut url = self.statements_url.clone();
        url.query_pairs_mut().append_pair("page_size", "1");
        let resp = self.http.execute(HttpRequest::get(url)).await?;
        if resp.is_success() {
            Ok(())
        } else {
            Err(resp.into_error().into())
        }
    }

    fn page_token_of(&self, next: &str) -> Result<String, FlinkError> {
        let url = self.statements_url.join(next.trim()).map_err(|e| {
            FlinkError::Pagination(format!("metadata.next '{next}' is not a URL: {e}"))
        })?;
        url.query_pairs()
            .find(|(k, _)| k == "page_token")
            .map(|(_, v)| v.into_owned())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                FlinkError::Pagination(format!("metadata.next '{next}' has no page_token"))
            })
    }

    /// The statement, or `None` when the service says it does not exist (404).
    pub async fn get(&self, name: &str) -> Result<Option<Statement>, FlinkError> {
        self.get_sent(name).await.map(|(s, _)| s)
    }

    /// [`FlinkClient::get`], with when the request that got the answer left (past the
    /// limiter's queue): the watch learns the service's timings from it.
    pub(crate) async fn get_sent(
        &self,
        name: &str,
    ) -> Result<(Option<Statement>, std::time::Instant), FlinkError> {
        let resp = self
            .http
            .execute(HttpRequest::get(self.statement_url(name, None)))
            .await?;
        let sent = resp.sent_at();
        match resp.status().as_u16() {
            404 => Ok((None, sent)),
            _ if resp.is_success() => Ok((Some(resp.json()?), sent)),
            _ => Err(resp.into_error().into()),
        }
    }

    /// Create a statement and return it as the service answered (usually PENDING; FAILED when
    /// the service refused it at once).
    ///
    /// Safe to repeat: the POST is retried after 5xx and timeouts, and a 409 (name exists) is
    /// success when the existing statement has the same SQL, the properties we set, and the
    /// pool and principal we chose; that statement is returned. Otherwise
    /// [`FlinkError::NameTaken`], [`FlinkError::BeingDeleted`] while a statement of that name
    /// is being deleted, or [`FlinkError::NameHeld`] when no statement of that name can be read
    /// (the name frees up a while after a delete: the caller retries later).
    pub async fn create(&self, new: &NewStatement) -> Result<Statement, FlinkError> {
        let body = new.body(&self.organization_id, &self.environment_id);
        let req = HttpRequest::post_json(self.statements_url.clone(), &body).retry_safe();
        match self.http.execute(req).await {
            Ok(resp) if resp.is_success() => {
                tracing::debug!(statement = %new.name, "created");
                return Ok(resp.json()?);
            }
            Ok(resp) if resp.status().as_u16() == 409 => {}
            // Every answer was lost: the service may have created it all the same.
            Ok(resp) if crate::http::may_have_been_done(resp.status().as_u16()) => {
                return self.confirm_created(new, resp.into_error()).await
            }
            Ok(resp) => return Err(resp.into_error().into()),
            Err(e) if e.is_transient() => return self.confirm_created(new, e).await,
            Err(e) => return Err(e.into()),
        }
        let held = || FlinkError::NameHeld {
            name: new.name.clone(),
        };
        match self.get(&new.name).await {
            Ok(Some(existing)) if *existing.phase() == Phase::Deleting => {
                Err(FlinkError::BeingDeleted {
                    name: new.name.clone(),
                })
            }
            Ok(Some(existing)) => {
                let differences = new.differences(&existing);
                if differences.is_empty() {
                    tracing::debug!(statement = %new.name, "already exists as requested");
                    return Ok(existing);
                }
                Err(FlinkError::NameTaken {
                    name: new.name.clone(),
                    differences: differences.join(", "),
                })
            }
            // Gone between the 409 and the GET, or held a while after its delete.
            Ok(None) => Err(held()),
            // 409, then a 403 for the GET: under a pool-scoped role, the statement holding the
            // name cannot be read (see [`forbidden`]).
            Err(e) if forbidden(&e) => Err(held()),
            Err(e) => Err(e),
        }
    }

    /// After a create whose answers were all lost: the statement, when the service made it as
    /// asked; else the error that ended the create.
    async fn confirm_created(
        &self,
        new: &NewStatement,
        failure: ApiError,
    ) -> Result<Statement, FlinkError> {
        match self.get(&new.name).await {
            Ok(Some(existing)) if new.differences(&existing).is_empty() => {
                tracing::debug!(statement = %new.name, "created (confirmed by GET after a lost answer)");
                Ok(existing)
            }
            _ => Err(failure.into()),
        }
    }

    /// Ask the statement to stop (`spec.stopped = true`). Returns [`UpdateOutcome::Unchanged`]
    /// without a PUT when it is already stopped. The phase moves to STOPPED asynchronously.
    pub async fn stop(&self, name: &str) -> Result<UpdateOutcome, FlinkError> {
        self.update_stopped(name, true, None, None, &|_| Ok(()))
            .await
    }

    /// [`FlinkClient::stop`], only if `check` accepts the statement it reads before the PUT
    /// ([`FlinkError::Refused`] otherwise). The PUT carries that read's `resource_version`, so
    /// it changes the statement that was checked or nothing.
    pub async fn stop_checked(
        &self,
        name: &str,
        check: &(dyn Fn(&Statement) -> Result<(), String> + Sync),
    ) -> Result<UpdateOutcome, FlinkError> {
        self.update_stopped(name, true, None, None, check).await
    }

    /// Ask a stopped statement to run again (`spec.stopped = false`), optionally under another
    /// principal or on another compute pool (same region). [`UpdateOutcome::Unchanged`] without
    /// a PUT when it is already in that state.
    pub async fn resume(
        &self,
        name: &str,
        principal: Option<&str>,
        compute_pool_id: Option<&str>,
    ) -> Result<UpdateOutcome, FlinkError> {
        self.update_stopped(name, false, principal, compute_pool_id, &|_| Ok(()))
            .await
    }

    /// [`FlinkClient::resume`], only if `check` accepts the statement, as
    /// [`FlinkClient::stop_checked`].
    pub async fn resume_checked(
        &self,
        name: &str,
        principal: Option<&str>,
        compute_pool_id: Option<&str>,
        check: &(dyn Fn(&Statement) -> Result<(), String> + Sync),
    ) -> Result<UpdateOutcome, FlinkError> {
        self.update_stopped(name, false, principal, compute_pool_id, check)
            .await
    }

    /// Merge `labels` into the statement's labels with one JSON Patch that first tests the
    /// statement's uid (it changes the statement with that uid, or nothing:
    /// [`FlinkError::Refused`] when another statement has the name now), then read the
    /// statement back: whether a label patch is kept is undocumented (§F.13; the spec marks
    /// statement metadata read-only), so the answer says what the service did.
    pub async fn patch_labels(
        &self,
        name: &str,
        uid: &str,
        labels: &BTreeMap<String, String>,
    ) -> Result<LabelsPatched, FlinkError> {
        let current = self.get(name).await?.ok_or_else(|| FlinkError::NotFound {
            name: name.to_string(),
        })?;
        if current.metadata.uid.as_deref() != Some(uid) {
            return Err(FlinkError::Refused {
                name: name.to_string(),
                reason: format!("its uid is no longer {uid}"),
            });
        }
        let mut merged = current.metadata.labels.clone();
        merged.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        let ops = json!([
            { "op": "test", "path": "/metadata/uid", "value": uid },
            { "op": "add", "path": "/metadata/labels", "value": merged },
        ]);
        let resp = self
            .http
            .execute(HttpRequest::patch_json(
                self.statement_url(name, None),
                &ops,
            ))
            .await?;
        match resp.status().as_u16() {
            _ if resp.is_success() => {}
            404 => {
                return Err(FlinkError::NotFound {
                    name: name.to_string(),
                })
            }
            // The uid test failed, or the statement is being deleted.
            409 => {
                return Err(FlinkError::Refused {
                    name: name.to_string(),
                    reason: format!("it is no longer the statement with uid {uid}"),
                })
            }
            // The service does not take label changes (metadata is read-only).
            400 | 403 | 405 | 422 => {
                let e = resp.into_error();
                return Ok(LabelsPatched::Refused(e.to_string()));
            }
            _ => return Err(resp.into_error().into()),
        }
        // What counts is what a read shows, not the PATCH's answer.
        let kept = match self.get(name).await? {
            Some(s) if s.metadata.uid.as_deref() == Some(uid) => labels
                .iter()
                .all(|(k, v)| s.metadata.labels.get(k) == Some(v)),
            _ => false,
        };
        Ok(if kept {
            LabelsPatched::Applied
        } else {
            LabelsPatched::Ignored
        })
    }

    /// GET → check → change → PUT with the GET's `resource_version`; a 409 (the statement
    /// changed in between) means GET (and check) again, up to [`MAX_UPDATE_ATTEMPTS`] times.
    async fn update_stopped(
        &self,
        name: &str,
        stopped: bool,
        principal: Option<&str>,
        pool: Option<&str>,
        check: &(dyn Fn(&Statement) -> Result<(), String> + Sync),
    ) -> Result<UpdateOutcome, FlinkError> {
        let not_found = || FlinkError::NotFound {
            name: name.to_string(),
        };
        for attempt in 1..=MAX_UPDATE_ATTEMPTS {
            let current = self.get(name).await?.ok_or_else(not_found)?;
            if let Err(reason) = check(&current) {
                return Err(FlinkError::Refused {
                    name: name.to_string(),
                    reason,
                });
            }
            if *current.phase() == Phase::Deleting {
                return Err(FlinkError::BeingDeleted {
                    name: name.to_string(),
                });
            }
            let spec = &current.spec;
            let in_state = spec.stopped.unwrap_or(false) == stopped
                && principal.is_none_or(|p| spec.principal.as_deref() == Some(p))
                && pool.is_none_or(|p| spec.compute_pool_id.as_deref() == Some(p));
            if in_state {
                return Ok(UpdateOutcome::Unchanged);
            }
            let mut doc = current.raw;
            let Some(spec) = doc
                .as_object_mut()
                .and_then(|o| o.entry("spec").or_insert_with(|| json!({})).as_object_mut())
            else {
                return Err(ApiError::Decode {
                    method: "GET".into(),
                    path: self.statement_url(name, None).path().to_string(),
                    message: "the statement's spec is not an object".into(),
                }
                .into());
            };
            spec.insert("stopped".into(), json!(stopped));
            if let Some(p) = principal {
                spec.insert("principal".into(), json!(p));
            }
            if let Some(p) = pool {
                spec.insert("compute_pool_id".into(), json!(p));
            }
            let resp = self
                .http
                .execute(HttpRequest::put_json(self.statement_url(name, None), &doc))
                .await?;
            match resp.status().as_u16() {
                _ if resp.is_success() => {
                    tracing::debug!(statement = name, stopped, attempt, "updated");
                    return Ok(UpdateOutcome::Updated);
                }
                404 => return Err(not_found()),
                409 => {
                    tracing::debug!(
                        statement = name,
                        attempt,
                        "stale resource_version; reading again"
                    );
                    let pause = Duration::from_millis(50 * u64::from(attempt));
                    tokio::time::sleep(pause).await;
                }
                _ => return Err(resp.into_error().into()),
            }
        }
        Err(FlinkError::Conflict {
            name: name.to_string(),
            attempts: MAX_UPDATE_ATTEMPTS,
        })
    }

    /// Ask the service to delete the statement. `true`: accepted (the statement shows DELETING
    /// until it is gone — see [`FlinkClient::wait_gone`]); `false`: there was no such statement.
    /// Retried under the policy without a look at what is under the name between attempts: a
    /// caller that must be sure it deletes one incarnation drives
    /// [`FlinkClient::delete_attempt`] itself.
    pub async fn delete(&self, name: &str) -> Result<bool, FlinkError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.delete_attempt(name, attempt).await? {
                DeleteAttempt::Done(found) => return Ok(found),
                DeleteAttempt::Again { pause, .. } => tokio::time::sleep(pause).await,
            }
        }
    }

    /// Attempt number `attempt` (1 = the first) of the statement's DELETE. When it is not known
    /// to be done and the policy would try again, [`DeleteAttempt::Again`]: the caller may check
    /// the statement under the name before it sends the next attempt. The last attempt whose
    /// answer was lost is confirmed by a GET.
    pub async fn delete_attempt(
        &self,
        name: &str,
        attempt: u32,
    ) -> Result<DeleteAttempt, FlinkError> {
        let req = HttpRequest::delete(self.statement_url(name, None));
        let failure = match self.http.attempt(&req, attempt).await {
            Attempt::Again { pause, outcome } => {
                let (error, maybe_done) = match outcome {
                    Ok(resp) => {
                        let throttled = resp.status().as_u16() == 429;
                        (resp.into_error().into(), !throttled)
                    }
                    Err(e) => (e.into(), true),
                };
                return Ok(DeleteAttempt::Again {
                    pause,
                    error,
                    maybe_done,
                });
            }
            Attempt::Done(Ok(resp)) if resp.status().as_u16() == 404 => {
                return Ok(DeleteAttempt::Done(false))
            }
            Attempt::Done(Ok(resp)) if resp.is_success() => return Ok(DeleteAttempt::Done(true)),
            Attempt::Done(Ok(resp)) if crate::http::may_have_been_done(resp.status().as_u16()) => {
                resp.into_error()
            }
            Attempt::Done(Ok(resp)) => return Err(resp.into_error().into()),
            Attempt::Done(Err(e)) if e.is_transient() => e,
            Attempt::Done(Err(e)) => return Err(e.into()),
        };
        // Every answer was lost: the GET tells whether the delete was carried out.
        match self.get(name).await {
            Ok(None) => Ok(DeleteAttempt::Done(true)),
            Ok(Some(s)) if *s.phase() == Phase::Deleting => Ok(DeleteAttempt::Done(true)),
            _ => Err(failure.into()),
        }
    }

    /// The statement's most recent exceptions (newest first), or `None` when it does not exist.
    pub async fn exceptions(
        &self,
        name: &str,
    ) -> Result<Option<Vec<StatementException>>, FlinkError> {
        let resp = self
            .http
            .execute(HttpRequest::get(
                self.statement_url(name, Some("exceptions")),
            ))
            .await?;
        match resp.status().as_u16() {
            404 => Ok(None),
            _ if resp.is_success() => Ok(Some(resp.json::<ExceptionListWire>()?.data)),
            _ => Err(resp.into_error().into()),
        }
    }

    /// Every row of a bounded statement's result (`/results`, following `metadata.next` page by
    /// page), each as its values — strings or nulls, as the service sends them for catalog
    /// queries. `None` when the statement does not exist.
    pub async fn results(&self, name: &str) -> Result<Option<Vec<Vec<Value>>>, FlinkError> {
        let mut rows = Vec::new();
        let mut seen = HashSet::new();
        let mut url = self.statement_url(name, Some("results"));
        loop {
            let resp = self.http.execute(HttpRequest::get(url.clone())).await?;
            match resp.status().as_u16() {
                404 => return Ok(None),
                _ if resp.is_success() => {}
                _ => return Err(resp.into_error().into()),
            }
            let page: ResultsWire = resp.json()?;
            rows.extend(page.results.data.into_iter().map(|r| r.row));
            let Some(next) = page.metadata.next.filter(|n| !n.trim().is_empty()) else {
                return Ok(Some(rows));
            };
            let token = self.page_token_of(&next)?;
            if !seen.insert(token.clone()) {
                return Err(FlinkError::Pagination(format!(
                    "the results of {name} returned page token '{token}' twice"
                )));
            }
            url = self.statement_url(name, Some("results"));
            url.query_pairs_mut().append_pair("page_token", &token);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_phase_and_an_unknown_one_parse() {
        for (text, phase) in [
            ("PENDING", Phase::Pending),
            ("RUNNING", Phase::Running),
            ("COMPLETED", Phase::Completed),
            ("DELETING", Phase::Deleting),
            ("FAILING", Phase::Failing),
            ("FAILED", Phase::Failed),
            ("STOPPING", Phase::Stopping),
            ("STOPPED", Phase::Stopped),
            ("DEGRADED", Phase::Degraded),
        ] {
            let parsed: Phase = serde_json::from_value(json!(text)).unwrap();
            assert_eq!(parsed, phase);
            assert_eq!(parsed.as_str(), text);
            assert_eq!(serde_json::to_value(&parsed).unwrap(), json!(text));
        }
        assert_eq!(Phase::KNOWN.len(), 9);
        let unknown: Phase = serde_json::from_value(json!("HIBERNATING")).unwrap();
        assert_eq!(unknown, Phase::Unknown("HIBERNATING".into()));
        assert_eq!(unknown.to_string(), "HIBERNATING");
        assert!(!unknown.is_settled());
        assert_eq!(Phase::parse("running"), Phase::Running);
        assert_eq!(
            serde_json::from_value::<Phase>(json!(null)).unwrap(),
            Phase::Unknown(String::new())
        );
        assert_eq!(
            serde_json::from_value::<Phase>(json!(7)).unwrap(),
            Phase::Unknown("7".into())
        );
    }

    #[test]
    fn settled_phases() {
        let settled: Vec<&str> = Phase::KNOWN
            .iter()
            .filter(|p| p.is_settled())
            .map(Phase::as_str)
            .collect();
        assert_eq!(
            settled,
            ["RUNNING", "COMPLETED", "FAILED", "STOPPED", "DEGRADED"]
        );
    }

    #[test]
    fn statements_parse_with_nulls_missing_fields_and_unknown_fields() {
        let minimal: Statement = serde_json::from_value(json!({"name": "a"})).unwrap();
        assert_eq!(minimal.phase(), &Phase::Unknown(String::new()));
        assert!(minimal.status.traits.is_none());
        let doc = json!({
            "name": "b",
            "metadata": {"resource_version": 7, "labels": null, "brand_new": {"x": 1}},
            "spec": {"statement": "SELECT 1", "properties": null, "stopped": false},
            "status": {"phase": "PENDING", "traits": null, "warnings": null,
                       "latest_offsets": null, "something_else": [1, 2]},
            "future_field": "kept"
        });
        let s: Statement = serde_json::from_value(doc.clone()).unwrap();
        assert_eq!(s.metadata.resource_version.as_deref(), Some("7"));
        assert!(s.metadata.labels.is_empty());
        assert_eq!(s.sql(), "SELECT 1");
        assert_eq!(s.phase(), &Phase::Pending);
        assert!(s.status.traits.is_none());
        assert_eq!(s.raw(), &doc);
        assert_eq!(serde_json::to_value(&s).unwrap(), doc);
        let with_traits: Statement = serde_json::from_value(json!({
            "name": "c",
            "status": {"phase": "RUNNING", "traits": {"sql_kind": "INSERT_INTO",
                       "is_bounded": false, "upsert_columns": null, "schema": {"columns": []}}}
        }))
        .unwrap();
        let traits = with_traits.status.traits.expect("traits");
        assert_eq!(traits.sql_kind.as_deref(), Some("INSERT_INTO"));
        assert_eq!(traits.is_bounded, Some(false));
        assert!(serde_json::from_value::<Statement>(json!({"spec": {}})).is_err());
    }

    #[test]
    fn create_body_and_differences() {
        let new = NewStatement {
            name: "n".into(),
            sql: "SELECT 1".into(),
            properties: [("sql.current-catalog".to_string(), "env".to_string())].into(),
            compute_pool_id: Some("lfcp-1".into()),
            principal: None,
            labels: BTreeMap::new(),
        };
        let body = new.body("org", "env-1");
        assert_eq!(body["spec"]["compute_pool_id"], "lfcp-1");
        assert!(body["spec"].get("principal").is_none());
        assert!(body.get("metadata").is_none());
        let same: Statement = serde_json::from_value(json!({"name": "n", "spec": {
            "statement": "SELECT 1", "compute_pool_id": "lfcp-1", "principal": "sa-9",
            "properties": {"sql.current-catalog": "env", "added.by.service": "x"}}}))
        .unwrap();
        assert!(new.differences(&same).is_empty());
        let other: Statement = serde_json::from_value(json!({"name": "n", "spec": {
            "statement": "SELECT 2", "compute_pool_id": "lfcp-2", "properties": {}}}))
        .unwrap();
        assert_eq!(
            new.differences(&other),
            ["SQL", "properties", "compute pool"]
        );
    }

    #[test]
    fn page_tokens_come_from_the_query_not_from_string_search() {
        let client = FlinkClient::new(FlinkConfig {
            endpoint: "http://127.0.0.1:1".into(),
            organization_id: "org".into(),
            environment_id: "env-1".into(),
            credentials: Credentials::new("k", "s"),
            retry: RetryPolicy::default(),
        })
        .unwrap();
        assert_eq!(
            client.statements_url.as_str(),
            "http://127.0.0.1:1/sql/v1/organizations/org/environments/env-1/statements"
        );
        let next = "https://flink.x/sql/v1/organizations/org/environments/env-1/statements?page_size=100&page_token=a%2Bb%3D&label_selector=x%3Dpage_token";
        assert_eq!(client.page_token_of(next).unwrap(), "a+b=");
        assert!(client
            .page_token_of("https://flink.x/statements?page_size=1")
            .is_err());
        assert!(matches!(
            client.page_token_of("https://flink.x/s?page_token="),
            Err(FlinkError::Pagination(_))
        ));
    }

    #[test]
    fn regional_endpoints() {
        assert_eq!(
            regional_endpoint("AWS", "us-east-1", false).unwrap(),
            "https://flink.us-east-1.aws.confluent.cloud"
        );
        assert_eq!(
            regional_endpoint("aws", "us-east-1", true).unwrap(),
            "https://flink.us-east-1.aws.private.confluent.cloud"
        );
        assert!(matches!(
            regional_endpoint("aws", "us east", false),
            Err(EndpointPart::Region(_))
        ));
        assert!(matches!(
            regional_endpoint("", "us-east-1", false),
            Err(EndpointPart::Cloud(_))
        ));
    }
}
