//! The front door every request passes: fault injection, authentication, the request log, and the
//! `/_sim/` control endpoint that adjusts faults and timings at run time.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::config::{Behaviour, Timings};
use crate::http::{self, basic_credentials, constant_time_eq};
use crate::Sim;

/// Which API a path belongs to: each has its own credentials and error shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    Flink,
    SchemaRegistry,
    KafkaRest,
    Control,
    Unknown,
}

impl Api {
    pub fn of(path: &str) -> Api {
        let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}/"));
        if under("/sql/v1") {
            Api::Flink
        } else if under("/subjects") || under("/schemas") || path == "/" {
            Api::SchemaRegistry
        } else if under("/kafka/v3") {
            Api::KafkaRest
        } else if under("/_sim") {
            Api::Control
        } else {
            Api::Unknown
        }
    }
}

/// Faults to inject into API responses. Every field is optional in the JSON body of
/// `PUT /_sim/faults`; a missing field means "off".
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Added to every API request before it is answered.
    pub latency_ms: u64,
    /// Fraction (0..=1) of requests answered 429 with `Retry-After: retry_after_secs`.
    pub throttle_fraction: f64,
    pub retry_after_secs: u64,
    /// A token-bucket rate limit: requests beyond it get 429 with the time until the next token.
    pub rate_limit_rps: Option<f64>,
    /// Bucket size for `rate_limit_rps` (default: the rate, rounded up).
    pub rate_limit_burst: Option<u32>,
    /// Fraction (0..=1) of requests answered with one of `error_statuses`.
    pub error_fraction: f64,
    pub error_statuses: Vec<u16>,
    /// Fraction (0..=1) of requests addressed to `127.0.0.1` answered with a 307 redirect to the
    /// same path on `localhost` (another host, as the real gateway does).
    pub redirect_fraction: f64,
    /// Which APIs the faults apply to (default: all three).
    pub apis: Vec<Api>,
    /// Seed for the fault dice, for reproducible runs.
    pub seed: Option<u64>,
    /// DROP TABLE completes but leaves the topic and its subjects in place: Confluent Cloud's
    /// drop is not atomic and can be left partially done (the reference's DROP TABLE notes).
    pub partial_drops: bool,
    /// DROP TABLE statements created while this is on stay PENDING until they are deleted, as
    /// on a compute pool that never picks them up (turning it off does not release them).
    pub stall_drops: bool,
    /// Authenticated requests with these HTTP methods (to the APIs in `apis`) are answered 403
    /// in the API's error shape: a key whose principal lacks the permission.
    pub forbidden_methods: Vec<String>,
    /// The work is done, then the answer is lost: per API (`{"flink": 0.3}`), the fraction of
    /// requests with one of `lost_answer_methods` that the handler carries out but whose answer
    /// the client never sees: it gets one of `lost_answer_statuses` instead, as from a gateway
    /// that failed or timed out after the backend did the work.
    pub lost_answer_fraction: BTreeMap<Api, f64>,
    pub lost_answer_statuses: Vec<u16>,
    pub lost_answer_methods: Vec<String>,
    /// Hold a lost answer this long before sending it: longer than the client's request
    /// timeout, the client sees a timeout rather than a status.
    pub lost_answer_hang_ms: u64,
    /// The message of the injected errors and 403s (the Flink error's `detail`, Schema Registry's
    /// and Kafka REST's `message`) instead of the built-in one: text from the API that the client
    /// prints, for tests of hostile messages.
    pub error_message: Option<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            throttle_fraction: 0.0,
            retry_after_secs: 1,
            rate_limit_rps: None,
            rate_limit_burst: None,
            error_fraction: 0.0,
            error_statuses: vec![500, 503],
            redirect_fraction: 0.0,
            apis: vec![Api::Flink, Api::SchemaRegistry, Api::KafkaRest],
            seed: None,
            partial_drops: false,
            stall_drops: false,
            forbidden_methods: Vec::new(),
            lost_answer_fraction: BTreeMap::new(),
            lost_answer_statuses: vec![500, 502, 504],
            lost_answer_methods: ["POST", "PUT", "PATCH", "DELETE"]
                .map(String::from)
                .to_vec(),
            lost_answer_hang_ms: 0,
            error_message: None,
        }
    }
}

impl Faults {
    fn validate(&self) -> Result<(), String> {
        for (name, f) in [
            ("throttle_fraction", self.throttle_fraction),
            ("error_fraction", self.error_fraction),
            ("redirect_fraction", self.redirect_fraction),
        ] {
            if !(0.0..=1.0).contains(&f) {
                return Err(format!("{name} must be between 0 and 1, got {f}"));
            }
        }
        if let Some(s) = self
            .error_statuses
            .iter()
            .find(|s| !(500..=599).contains(*s))
        {
            return Err(format!("error_statuses must be 5xx, got {s}"));
        }
        if self.error_fraction > 0.0 && self.error_statuses.is_empty() {
            return Err("error_fraction needs at least one of error_statuses".into());
        }
        for (api, f) in &self.lost_answer_fraction {
            if !(0.0..=1.0).contains(f) {
                return Err(format!(
                    "lost_answer_fraction of {api:?} must be between 0 and 1, got {f}"
                ));
            }
        }
        if let Some(s) = self
            .lost_answer_statuses
            .iter()
            .find(|s| !(500..=599).contains(*s))
        {
            return Err(format!("lost_answer_statuses must be 5xx, got {s}"));
        }
        if !self.lost_answer_fraction.is_empty() && self.lost_answer_statuses.is_empty() {
            return Err("lost_answer_fraction needs at least one of lost_answer_statuses".into());
        }
        if let Some(r) = self.rate_limit_rps {
            if !(r > 0.0 && r.is_finite()) {
                return Err(format!("rate_limit_rps must be positive, got {r}"));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthOutcome {
    Ok,
    Missing,
    Invalid,
    NotRequired,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    pub seq: u64,
    /// Arrival time in milliseconds since the simulator started.
    pub at_ms: f64,
    pub duration_ms: f64,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub host: Option<String>,
    pub api: Api,
    pub status: u16,
    pub auth: AuthOutcome,
    /// The fault injected, if any: `throttle`, `rate_limit`, `error`, `redirect`, `forbidden`,
    /// `lost_answer` (the request was carried out).
    pub fault: Option<&'static str>,
}

const LOG_CAPACITY: usize = 200_000;

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// What a Flink API key may see: the whole environment, or one compute pool (a FlinkDeveloper
/// role scoped to the pool), under which a statement that does not exist answers 403 rather
/// than 404 (the reference, §F.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyScope {
    Environment,
    ComputePool,
}

/// A Flink API key issued through `/_sim/keys`.
#[derive(Debug, Clone)]
struct IssuedKey {
    key: String,
    secret: String,
    scope: KeyScope,
}

/// Run-time adjustable behaviour: faults, timings, behaviours, issued keys, the log.
pub struct Control {
    state: Mutex<ControlState>,
    started: Instant,
    initial_timings: Timings,
    initial_behaviour: Behaviour,
}

struct ControlState {
    faults: Faults,
    rng: StdRng,
    bucket: Option<Bucket>,
    timings: Timings,
    behaviour: Behaviour,
    keys: Vec<IssuedKey>,
    log: VecDeque<LoggedRequest>,
    next_seq: u64,
}

enum Injected {
    Redirect,
    Throttle {
        retry_after: u64,
        limit: u64,
        remaining: u64,
        reset: u64,
        kind: &'static str,
    },
    Error(StatusCode),
}

impl Control {
    pub fn new(timings: Timings, behaviour: Behaviour) -> Control {
        Control {
            state: Mutex::new(ControlState {
                faults: Faults::default(),
                rng: StdRng::from_os_rng(),
                bucket: None,
                timings: timings.clone(),
                behaviour: behaviour.clone(),
                keys: Vec::new(),
                log: VecDeque::new(),
                next_seq: 1,
            }),
            started: Instant::now(),
            initial_timings: timings,
            initial_behaviour: behaviour,
        }
    }

    pub fn timings(&self) -> Timings {
        self.lock().timings.clone()
    }

    pub fn behaviour(&self) -> Behaviour {
        self.lock().behaviour.clone()
    }

    /// The scope of an issued Flink key with these credentials, if there is one.
    fn issued_key(&self, key: &str, secret: &str) -> Option<KeyScope> {
        self.lock()
            .keys
            .iter()
            .find(|k| constant_time_eq(&k.key, key) && constant_time_eq(&k.secret, secret))
            .map(|k| k.scope)
    }

    pub fn partial_drops(&self) -> bool {
        self.lock().faults.partial_drops
    }

    pub fn stall_drops(&self) -> bool {
        self.lock().faults.stall_drops
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ControlState> {
        // A poisoned lock only means a handler panicked mid-update; the state is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_faults(&self, faults: Faults) {
        let mut st = self.lock();
        st.rng = match faults.seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        st.bucket = faults.rate_limit_rps.map(|_| Bucket {
            tokens: f64::from(burst_of(&faults)),
            last: Instant::now(),
        });
        st.faults = faults;
    }

    pub fn reset(&self) {
        self.set_faults(Faults::default());
        let mut st = self.lock();
        st.timings = self.initial_timings.clone();
        st.behaviour = self.initial_behaviour.clone();
        st.keys.clear();
        st.log.clear();
    }

    /// Whether an authenticated request is refused for want of permission.
    fn forbidden(&self, api: Api, method: &str) -> bool {
        let st = self.lock();
        st.faults.apis.contains(&api)
            && st
                .faults
                .forbidden_methods
                .iter()
                .any(|m| m.eq_ignore_ascii_case(method))
    }

    fn error_message(&self) -> Option<String> {
        self.lock().faults.error_message.clone()
    }

    /// Roll the dice for one request: latency to add and the fault to answer with, if any.
    fn decide(&self, api: Api, primary_host: bool) -> (Duration, Option<Injected>) {
        let mut st = self.lock();
        let st = &mut *st;
        if !st.faults.apis.contains(&api) {
            return (Duration::ZERO, None);
        }
        let latency = Duration::from_millis(st.faults.latency_ms);
        if let (Some(rps), Some(bucket)) = (st.faults.rate_limit_rps, st.bucket.as_mut()) {
            let burst = f64::from(burst_of(&st.faults));
            let now = Instant::now();
            bucket.tokens =
                (bucket.tokens + now.duration_since(bucket.last).as_secs_f64() * rps).min(burst);
            bucket.last = now;
            if bucket.tokens >= 1.0 {
                bucket.tokens -= 1.0;
            } else {
                let wait = (1.0 - bucket.tokens) / rps;
                return (
                    latency,
                    Some(Injected::Throttle {
                        retry_after: wait.ceil().max(1.0) as u64,
                        limit: burst as u64,
                        remaining: 0,
                        reset: ((burst - bucket.tokens) / rps).ceil() as u64,
                        kind: "rate_limit",
                    }),
                );
            }
        }
        if primary_host && st.faults.redirect_fraction > 0.0 {
            let roll: f64 = st.rng.random();
            if roll < st.faults.redirect_fraction {
                return (latency, Some(Injected::Redirect));
            }
        }
        if st.faults.throttle_fraction > 0.0 {
            let roll: f64 = st.rng.random();
            if roll < st.faults.throttle_fraction {
                let ra = st.faults.retry_after_secs;
                return (
                    latency,
                    Some(Injected::Throttle {
                        retry_after: ra,
                        limit: 100,
                        remaining: 0,
                        reset: ra,
                        kind: "throttle",
                    }),
                );
            }
        }
        if st.faults.error_fraction > 0.0 {
            let roll: f64 = st.rng.random();
            if roll < st.faults.error_fraction {
                let i = st.rng.random_range(0..st.faults.error_statuses.len());
                let status = StatusCode::from_u16(st.faults.error_statuses[i])
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return (latency, Some(Injected::Error(status)));
            }
        }
        (latency, None)
    }

    /// After the handler did the work: whether its answer is lost, and what the client gets
    /// instead (a status, after how long).
    fn lose_answer(&self, api: Api, method: &str) -> Option<(StatusCode, Duration)> {
        let mut st = self.lock();
        let st = &mut *st;
        let fraction = st.faults.lost_answer_fraction.get(&api).copied()?;
        let applies = st
            .faults
            .lost_answer_methods
            .iter()
            .any(|m| m.eq_ignore_ascii_case(method));
        if !applies || fraction <= 0.0 || st.faults.lost_answer_statuses.is_empty() {
            return None;
        }
        let roll: f64 = st.rng.random();
        if roll >= fraction {
            return None;
        }
        let i = st.rng.random_range(0..st.faults.lost_answer_statuses.len());
        let status = StatusCode::from_u16(st.faults.lost_answer_statuses[i])
            .unwrap_or(StatusCode::GATEWAY_TIMEOUT);
        Some((status, Duration::from_millis(st.faults.lost_answer_hang_ms)))
    }

    fn record(&self, mut entry: LoggedRequest) {
        let mut st = self.lock();
        entry.seq = st.next_seq;
        st.next_seq += 1;
        if st.log.len() == LOG_CAPACITY {
            st.log.pop_front();
        }
        st.log.push_back(entry);
    }

    fn since_start_ms(&self, t: Instant) -> f64 {
        t.duration_since(self.started).as_secs_f64() * 1000.0
    }
}

fn burst_of(f: &Faults) -> u32 {
    f.rate_limit_burst
        .unwrap_or_else(|| f.rate_limit_rps.unwrap_or(1.0).ceil() as u32)
        .max(1)
}

/// The middleware every request passes through.
pub async fn front_door(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    let arrived = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let api = Api::of(&path);

    if api == Api::Control {
        // The control endpoint is not logged (it would drown what tests look for).
        if !sim.cfg.control {
            return StatusCode::NOT_FOUND.into_response();
        }
        return next.run(req).await;
    }

    let primary_host = host
        .as_deref()
        .map(|h| !h.starts_with("localhost"))
        .unwrap_or(true);
    let (latency, injected) = sim.control.decide(api, primary_host);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let mut auth = AuthOutcome::NotRequired;
    let mut fault = None;
    let mut resp = match injected {
        Some(Injected::Redirect) => {
            fault = Some("redirect");
            let port = sim.port();
            let target = match &query {
                Some(q) => format!("http://localhost:{port}{path}?{q}"),
                None => format!("http://localhost:{port}{path}"),
            };
            let mut r = StatusCode::TEMPORARY_REDIRECT.into_response();
            if let Ok(v) = HeaderValue::from_str(&target) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Some(Injected::Throttle {
            retry_after,
            limit,
            remaining,
            reset,
            kind,
        }) => {
            fault = Some(kind);
            let mut r = throttled_response(api);
            let h = r.headers_mut();
            h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            h.insert("x-ratelimit-limit", HeaderValue::from(limit));
            h.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
            h.insert("x-ratelimit-reset", HeaderValue::from(reset));
            r
        }
        Some(Injected::Error(status)) => {
            fault = Some("error");
            server_error_response(api, status, sim.control.error_message().as_deref())
        }
        None => {
            let scope;
            (auth, scope) = check_auth(&sim, api, &req);
            let mut req = req;
            if let Some(scope) = scope {
                req.extensions_mut().insert(scope);
            }
            match auth {
                AuthOutcome::Ok if sim.control.forbidden(api, method.as_str()) => {
                    fault = Some("forbidden");
                    forbidden_response(api, sim.control.error_message().as_deref())
                }
                AuthOutcome::Ok | AuthOutcome::NotRequired => {
                    let answer = next.run(req).await;
                    match sim.control.lose_answer(api, method.as_str()) {
                        Some((status, hang)) => {
                            fault = Some("lost_answer");
                            if !hang.is_zero() {
                                tokio::time::sleep(hang).await;
                            }
                            server_error_response(api, status, None)
                        }
                        None => answer,
                    }
                }
                AuthOutcome::Missing | AuthOutcome::Invalid => unauthorized_response(api),
            }
        }
    };
    resp.headers_mut().insert(
        "x-request-id",
        HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
            .unwrap_or(HeaderValue::from_static("-")),
    );
    sim.control.record(LoggedRequest {
        seq: 0,
        at_ms: sim.control.since_start_ms(arrived),
        duration_ms: arrived.elapsed().as_secs_f64() * 1000.0,
        method: method.to_string(),
        path,
        query,
        host,
        api,
        status: resp.status().as_u16(),
        auth,
        fault,
    });
    resp
}

/// Whether the request's credentials are the API's, and for the Flink API which scope the key
/// has (the configured key: the environment; a key issued by `/_sim/keys`: its own).
fn check_auth(sim: &Sim, api: Api, req: &Request) -> (AuthOutcome, Option<KeyScope>) {
    let (key, secret) = match api {
        Api::Flink => (&sim.cfg.flink_api_key, &sim.cfg.flink_api_secret),
        Api::SchemaRegistry => (&sim.cfg.sr_api_key, &sim.cfg.sr_api_secret),
        Api::KafkaRest => (&sim.cfg.kafka_api_key, &sim.cfg.kafka_api_secret),
        Api::Control | Api::Unknown => return (AuthOutcome::NotRequired, None),
    };
    match basic_credentials(req.headers()) {
        None => (AuthOutcome::Missing, None),
        Some((k, s)) if constant_time_eq(&k, key) && constant_time_eq(&s, secret) => (
            AuthOutcome::Ok,
            (api == Api::Flink).then_some(KeyScope::Environment),
        ),
        Some((k, s)) if api == Api::Flink => match sim.control.issued_key(&k, &s) {
            Some(scope) => (AuthOutcome::Ok, Some(scope)),
            None => (AuthOutcome::Invalid, None),
        },
        Some(_) => (AuthOutcome::Invalid, None),
    }
}

fn unauthorized_response(api: Api) -> Response {
    match api {
        Api::Flink => {
            let mut r = http::flink_error(
                StatusCode::UNAUTHORIZED,
                "user_unauthenticated",
                "Unauthorized",
                "The API Key is invalid",
            );
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(
                    r#"Basic error="invalid_key", error_description="The API Key is invalid""#,
                ),
            );
            r
        }
        Api::SchemaRegistry => {
            let mut r = http::sr_error(StatusCode::UNAUTHORIZED, 401, "Unauthorized");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="SchemaRegistry""#),
            );
            r
        }
        _ => {
            let mut r = http::kafka_error(StatusCode::UNAUTHORIZED, 40101, "Authentication failed");
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="KafkaRest""#),
            );
            r
        }
    }
}

fn forbidden_response(api: Api, message: Option<&str>) -> Response {
    match api {
        Api::Flink => http::flink_error(
            StatusCode::FORBIDDEN,
            "user_unauthorized",
            "Forbidden",
            message.unwrap_or("Forbidden Access"),
        ),
        Api::SchemaRegistry => http::sr_error(
            StatusCode::FORBIDDEN,
            40301,
            message.unwrap_or("User is denied operation on this server."),
        ),
        _ => http::kafka_error(
            StatusCode::FORBIDDEN,
            40301,
            message.unwrap_or("Request is not authorized"),
        ),
    }
}

fn throttled_response(api: Api) -> Response {
    match api {
        Api::Flink => http::flink_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too Many Requests",
            "Rate Limit Exceeded",
        ),
        Api::SchemaRegistry => {
            http::sr_error(StatusCode::TOO_MANY_REQUESTS, 42901, "Too Many Requests")
        }
        // Confluent Cloud's Kafka REST answers 429 with an HTML page (Jetty's DoSFilter).
        _ => {
            let mut r = (
                StatusCode::TOO_MANY_REQUESTS,
                "<html><head><title>Error 429 Too Many Requests</title></head><body><h2>HTTP ERROR 429 Too Many Requests</h2></body></html>",
            )
                .into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html;charset=iso-8859-1"),
            );
            r
        }
    }
}

fn server_error_response(api: Api, status: StatusCode, message: Option<&str>) -> Response {
    let reason = status.canonical_reason().unwrap_or("Server Error");
    match api {
        Api::Flink => http::flink_error(
            status,
            "internal_error",
            reason,
            message.unwrap_or("Internal error, please retry"),
        ),
        Api::SchemaRegistry => http::sr_error(
            status,
            50001,
            message.unwrap_or("Error in the backend data store"),
        ),
        _ => http::kafka_error(status, 50003, message.unwrap_or("Retriable Kafka error")),
    }
}

/// `/_sim/…`: the control endpoint (only routed when `--control` is on).
pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/_sim/faults", get(get_faults).put(put_faults))
        .route("/_sim/timings", get(get_timings).put(put_timings))
        .route("/_sim/behaviour", get(get_behaviour).put(put_behaviour))
        .route("/_sim/keys", post(issue_key))
        .route("/_sim/requests", get(get_requests).delete(clear_requests))
        .route("/_sim/reset", post(reset))
        .route("/_sim/state", get(get_state))
        .route("/_sim/statements", get(get_statements))
        .route("/_sim/materialized-tables", get(get_materialized))
        .route(
            "/_sim/materialized-tables/{name}/hold",
            post(hold_materialized),
        )
}

async fn get_faults(State(sim): State<Arc<Sim>>) -> Response {
    let f = sim.control.lock().faults.clone();
    http::flink_json(StatusCode::OK, &json!(f))
}

async fn put_faults(State(sim): State<Arc<Sim>>, body: axum::body::Bytes) -> Response {
    let faults: Faults = match http::parse_json(&body).and_then(|v| {
        // serde also reads a struct from a JSON array (`[]` would mean "all off"): only an
        // object is a faults document.
        if !v.is_object() {
            return Err("faults must be a JSON object".to_string());
        }
        serde_json::from_value(v).map_err(|e| format!("invalid faults: {e}"))
    }) {
        Ok(f) => f,
        Err(e) => return control_error(&e),
    };
    if let Err(e) = faults.validate() {
        return control_error(&e);
    }
    sim.control.set_faults(faults.clone());
    tracing::info!(?faults, "faults set");
    http::flink_json(StatusCode::OK, &json!(faults))
}

async fn get_timings(State(sim): State<Arc<Sim>>) -> Response {
    http::flink_json(StatusCode::OK, &json!(sim.control.timings()))
}

async fn put_timings(State(sim): State<Arc<Sim>>, body: axum::body::Bytes) -> Response {
    // Fields left out keep their current values, not the built-in defaults: a test that only
    // slows deletes must not silently reset the pending time the simulator was started with.
    let timings: Timings = match merged(&sim.control.timings(), &body, "timings") {
        Ok(t) => t,
        Err(e) => return control_error(&e),
    };
    sim.control.lock().timings = timings.clone();
    http::flink_json(StatusCode::OK, &json!(timings))
}

/// A JSON object merged over `current` (fields left out keep their values), read back as `T`.
fn merged<T: Serialize + serde::de::DeserializeOwned>(
    current: &T,
    body: &axum::body::Bytes,
    what: &str,
) -> Result<T, String> {
    let serde_json::Value::Object(given) = http::parse_json(body)? else {
        return Err(format!("{what} must be a JSON object"));
    };
    let mut merged = match serde_json::to_value(current) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    merged.extend(given);
    serde_json::from_value(serde_json::Value::Object(merged))
        .map_err(|e| format!("invalid {what}: {e}"))
}

async fn get_behaviour(State(sim): State<Arc<Sim>>) -> Response {
    http::flink_json(StatusCode::OK, &json!(sim.control.behaviour()))
}

async fn put_behaviour(State(sim): State<Arc<Sim>>, body: axum::body::Bytes) -> Response {
    let behaviour = match merged(&sim.control.behaviour(), &body, "behaviour") {
        Ok(b) => b,
        Err(e) => return control_error(&e),
    };
    sim.control.lock().behaviour = behaviour.clone();
    tracing::info!(?behaviour, "behaviour set");
    http::flink_json(StatusCode::OK, &json!(behaviour))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRequest {
    scope: KeyScope,
}

/// A new Flink API key with the scope asked for (`{"scope": "compute-pool"}`): what a test
/// needs to act as a principal whose role is scoped to the compute pool.
async fn issue_key(State(sim): State<Arc<Sim>>, body: axum::body::Bytes) -> Response {
    let req: KeyRequest = match http::parse_json(&body)
        .and_then(|v| serde_json::from_value(v).map_err(|e| format!("invalid key request: {e}")))
    {
        Ok(r) => r,
        Err(e) => return control_error(&e),
    };
    let n: u64 = rand::random();
    let issued = IssuedKey {
        key: format!("SIMPOOL{n:016X}"),
        secret: format!("{:032x}", rand::random::<u128>()),
        scope: req.scope,
    };
    let body = json!({ "key": issued.key, "secret": issued.secret, "scope": issued.scope });
    sim.control.lock().keys.push(issued);
    http::flink_json(StatusCode::CREATED, &body)
}

#[derive(Deserialize)]
struct RequestsQuery {
    /// Only entries with a sequence number greater than this.
    after: Option<u64>,
}

async fn get_requests(State(sim): State<Arc<Sim>>, Query(q): Query<RequestsQuery>) -> Response {
    let after = q.after.unwrap_or(0);
    let st = sim.control.lock();
    let entries: Vec<&LoggedRequest> = st.log.iter().filter(|e| e.seq > after).collect();
    http::flink_json(StatusCode::OK, &json!({ "requests": entries }))
}

async fn clear_requests(State(sim): State<Arc<Sim>>) -> Response {
    sim.control.lock().log.clear();
    StatusCode::NO_CONTENT.into_response()
}

async fn reset(State(sim): State<Arc<Sim>>) -> Response {
    sim.reset();
    StatusCode::NO_CONTENT.into_response()
}

async fn get_state(State(sim): State<Arc<Sim>>) -> Response {
    http::flink_json(StatusCode::OK, &sim.state_summary())
}

/// Every statement as the service holds it now — no list lag, no ghosts: what a test checks a
/// run's end state against.
async fn get_statements(State(sim): State<Arc<Sim>>) -> Response {
    let all: Vec<serde_json::Value> = sim
        .statements()
        .values()
        .map(|r| {
            json!({
                "name": r.name,
                "uid": r.uid,
                "phase": r.phase.as_str(),
                "labels": r.labels,
                "scaling_state": r.scaling_state.as_str(),
            })
        })
        .collect();
    http::flink_json(StatusCode::OK, &json!({ "statements": all }))
}

/// Every materialized table as held now: name, phase (as shown), versions, who modifies it.
async fn get_materialized(State(sim): State<Arc<Sim>>) -> Response {
    let all: Vec<serde_json::Value> = sim
        .materialized()
        .values()
        .map(|r| {
            json!({
                "name": r.name,
                "uid": r.uid,
                "phase": r.shown_phase().as_str(),
                "version": r.version,
                "latest_version": r.latest_version,
                "modified_by": r.modified_by(),
            })
        })
        .collect();
    http::flink_json(StatusCode::OK, &json!({ "materialized_tables": all }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldQuery {
    /// How long the hold lasts.
    ms: u64,
    /// The statement said to be modifying the table (default `sim-hold-<random>`).
    by: Option<String>,
}

/// `POST /_sim/materialized-tables/{name}/hold?ms=N[&by=S]`: another statement is changing the
/// table for N ms — it reads ALTERING, and a change meets "being modified" (§G.6) — so a test
/// can make its own evolution meet it.
async fn hold_materialized(
    State(sim): State<Arc<Sim>>,
    axum::extract::Path(name): axum::extract::Path<String>,
    Query(q): Query<HoldQuery>,
) -> Response {
    let by =
        q.by.unwrap_or_else(|| format!("sim-hold-{:08x}", rand::random::<u32>()));
    let mut mts = sim.materialized();
    let Some(rec) = mts.get_mut(&name) else {
        return http::flink_json(
            StatusCode::NOT_FOUND,
            &json!({ "error": format!("no materialized table '{name}'") }),
        );
    };
    rec.hold = Some((by.clone(), Instant::now() + Duration::from_millis(q.ms)));
    rec.touch();
    http::flink_json(
        StatusCode::OK,
        &json!({ "name": name, "by": by, "ms": q.ms }),
    )
}

fn control_error(msg: &str) -> Response {
    http::flink_json(StatusCode::BAD_REQUEST, &json!({ "error": msg }))
}
