//! The one HTTP client every Confluent Cloud REST client (Flink statements, Schema Registry) is
//! built on: HTTP Basic auth that never leaks, one retry policy, redirects that keep the
//! `Authorization` header, and a typed error that carries the API's own explanation.
//!
//! Retry rules, in one place:
//! - 429: always retried (the request was refused, not processed), after `Retry-After` when the
//!   service sends it, else after exponential backoff with full jitter;
//! - 500, 502, 503, 504, timeouts and broken connections: retried only for idempotent requests
//!   (GET, HEAD, PUT, DELETE) or requests the caller marked [`HttpRequest::retry_safe`];
//! - a refused connection: always retried (nothing was sent).
//!
//! Redirects are followed here (at most [`MAX_REDIRECTS`] hops), not by reqwest: reqwest drops
//! `Authorization` when the host changes, and the Flink gateway redirects across hosts.

use std::fmt;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::Rng as _;
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, RETRY_AFTER,
};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

pub mod limit;

use limit::{Answered, Api, Concurrency, Limiter};

/// Redirect hops followed per attempt (the Confluent CLI's limit).
pub const MAX_REDIRECTS: u32 = 5;

/// Longest error detail kept from a response body.
const MAX_DETAIL_CHARS: usize = 1000;

/// Install rustls' ring crypto provider for the process. reqwest is built without a default
/// provider (one TLS stack for the whole binary), so this must run before any client is built.
/// Idempotent; another provider installed first is left in place.
pub fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err only means a provider is already installed: that one serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// An API key and its secret, sent as HTTP Basic auth. `Debug` shows the key, never the secret.
#[derive(Clone)]
pub struct Credentials {
    key: String,
    secret: String,
}

impl Credentials {
    pub fn new(key: impl Into<String>, secret: impl Into<String>) -> Credentials {
        Credentials {
            key: key.into(),
            secret: secret.into(),
        }
    }

    /// The key id (not secret: it names the key in Confluent Cloud's audit logs).
    pub fn key(&self) -> &str {
        &self.key
    }

    fn basic_token(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", self.key, self.secret))
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("key", &self.key)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// How hard a client tries before it reports a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// First backoff ceiling; doubles per retry (full jitter: the pause is uniform in 0..ceiling).
    pub base_delay: Duration,
    /// Largest backoff ceiling.
    pub max_delay: Duration,
    /// Per attempt, from connecting until the whole body is read (redirect hops included).
    pub request_timeout: Duration,
    /// A `Retry-After` longer than this is shortened to it.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    /// 8 attempts: even at a 30 % rate of injected 5xx a request fails for good only once in
    /// ~15 000, and the pauses add up to about 20 s at worst.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// The pause before retry number `retry` (1 = the first retry): full jitter over
    /// `min(max_delay, base_delay · 2^(retry-1))`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(20))
            .min(self.max_delay);
        ceiling.mul_f64(rand::rng().random::<f64>())
    }
}

/// Why a request failed, with what the API said; never the credentials.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    /// The service answered with an error status (after retries, when it was retryable).
    #[error("{method} {path}: HTTP {status}: {detail}{}{}", request_id_note(.request_id), attempts_note(*.attempts))]
    Status {
        method: String,
        path: String,
        status: u16,
        /// The API's explanation: Flink's joined `errors[].detail`, Schema Registry's / Kafka
        /// REST's `message (error_code N)`, or a short note on a non-JSON body.
        detail: String,
        /// Schema Registry's / Kafka REST's numeric `error_code`, when present.
        error_code: Option<i64>,
        request_id: Option<String>,
        attempts: u32,
    },
    /// No usable answer: the connection failed or broke.
    #[error("{method} {path}: {message}{}", attempts_note(*.attempts))]
    Transport {
        method: String,
        path: String,
        message: String,
        attempts: u32,
    },
    /// No answer within [`RetryPolicy::request_timeout`].
    #[error("{method} {path}: no response within {timeout:?}{}", attempts_note(*.attempts))]
    Timeout {
        method: String,
        path: String,
        timeout: Duration,
        attempts: u32,
    },
    /// A success status with a body that is not what the API documents.
    #[error("{method} {path}: unexpected response body: {message}")]
    Decode {
        method: String,
        path: String,
        message: String,
    },
    /// A redirect that cannot be followed.
    #[error("{method} {path}: {message}")]
    Redirect {
        method: String,
        path: String,
        message: String,
    },
    /// The client could not be set up (bad base URL, TLS initialisation).
    #[error("{0}")]
    Setup(String),
}

fn request_id_note(id: &Option<String>) -> String {
    id.as_deref()
        .map(|id| format!(" (request id {id})"))
        .unwrap_or_default()
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" (after {attempts} attempts)")
    } else {
        String::new()
    }
}

impl ApiError {
    /// The HTTP status, for [`ApiError::Status`].
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Schema Registry's / Kafka REST's `error_code`, for [`ApiError::Status`].
    pub fn error_code(&self) -> Option<i64> {
        match self {
            ApiError::Status { error_code, .. } => *error_code,
            _ => None,
        }
    }

    /// True for failures that may go away by themselves: throttling, server errors, timeouts,
    /// broken connections. A caller that polls may keep polling through them.
    pub fn is_transient(&self) -> bool {
        match self {
            ApiError::Status { status, .. } => *status == 429 || is_retryable_5xx(*status),
            ApiError::Transport { .. } | ApiError::Timeout { .. } => true,
            _ => false,
        }
    }
}

fn is_retryable_5xx(status: u16) -> bool {
    may_have_been_done(status)
}

/// A status after which the request may still have been carried out (the gateway failed or
/// timed out on the way back): a caller confirms with a GET instead of assuming either way.
pub(crate) fn may_have_been_done(status: u16) -> bool {
    matches!(status, 500 | 502 | 503 | 504)
}

/// One request to send through [`HttpClient::execute`].
#[derive(Debug, Clone)]
pub struct HttpRequest {
    method: Method,
    url: Url,
    /// JSON, when present.
    body: Option<Vec<u8>>,
    content_type: &'static str,
    accept: &'static str,
    retry_safe: bool,
}

impl HttpRequest {
    fn new(method: Method, url: Url) -> HttpRequest {
        HttpRequest {
            method,
            url,
            body: None,
            content_type: "application/json",
            accept: "application/json",
            retry_safe: false,
        }
    }

    pub fn get(url: Url) -> HttpRequest {
        HttpRequest::new(Method::GET, url)
    }

    pub fn delete(url: Url) -> HttpRequest {
        HttpRequest::new(Method::DELETE, url)
    }

    pub fn put_json(url: Url, body: &serde_json::Value) -> HttpRequest {
        HttpRequest::new(Method::PUT, url).with_body(body)
    }

    /// A POST; retried after 5xx or a timeout only if marked [`HttpRequest::retry_safe`].
    pub fn post_json(url: Url, body: &serde_json::Value) -> HttpRequest {
        HttpRequest::new(Method::POST, url).with_body(body)
    }

    /// A JSON Patch (RFC 6902, `application/json-patch+json`). Retried like a PUT: a patch whose
    /// `test` operations pin what it applies to is safe to send twice.
    pub fn patch_json(url: Url, ops: &serde_json::Value) -> HttpRequest {
        let mut r = HttpRequest::new(Method::PATCH, url).with_body(ops);
        r.content_type = "application/json-patch+json";
        r
    }

    fn with_body(mut self, body: &serde_json::Value) -> HttpRequest {
        self.body = Some(body.to_string().into_bytes());
        self
    }

    /// Sending this request twice is harmless (the caller handles the duplicate), so it may be
    /// retried after a 5xx or a timeout like an idempotent one.
    pub fn retry_safe(mut self) -> HttpRequest {
        self.retry_safe = true;
        self
    }

    /// The media types to ask for (default `application/json`).
    pub fn accept(mut self, media_types: &'static str) -> HttpRequest {
        self.accept = media_types;
        self
    }

    fn may_retry_failures(&self) -> bool {
        self.retry_safe
            || matches!(
                self.method,
                Method::GET
                    | Method::HEAD
                    | Method::PUT
                    | Method::PATCH
                    | Method::DELETE
                    | Method::OPTIONS
            )
    }
}

/// What one attempt of a request came to ([`HttpClient::attempt`]).
#[derive(Debug)]
pub enum Attempt {
    /// The answer to keep: what was not to be retried, or the last attempt's.
    Done(Result<HttpResponse, ApiError>),
    /// The policy would send the request again after `pause`: a 429, or a 5xx, a timeout or a
    /// broken connection of a request that may be retried, or a refused connection. `outcome`
    /// is this attempt's answer (the request may have been carried out all the same).
    Again {
        pause: Duration,
        outcome: Result<HttpResponse, ApiError>,
    },
}

/// The final answer to a request (after retries and redirects), whatever its status.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    status: StatusCode,
    request_id: Option<String>,
    content_type: Option<String>,
    body: Vec<u8>,
    method: Method,
    path: String,
    attempts: u32,
    /// When the attempt that got this answer left (past the limiter's queue).
    sent: std::time::Instant,
    scrub: Scrubber,
}

impl HttpResponse {
    /// When the request that got this answer left: what an answer says held by then (a
    /// caller timing the service must not count the time it queued here).
    pub fn sent_at(&self) -> std::time::Instant {
        self.sent
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn is_success(&self) -> bool {
        self.status.is_success()
    }

    /// The service's `X-Request-Id`, for support cases.
    pub fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Attempts it took (1 = no retry).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The body as `T`; [`ApiError::Decode`] when it is not.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| ApiError::Decode {
            method: self.method.to_string(),
            path: self.path.clone(),
            message: self.scrub.clean(&e.to_string()),
        })
    }

    /// Schema Registry's / Kafka REST's numeric `error_code` in the body, if any.
    pub fn error_code(&self) -> Option<i64> {
        error_detail(self.content_type.as_deref(), &self.body).1
    }

    /// This response as an [`ApiError::Status`] carrying the API's explanation.
    pub fn into_error(self) -> ApiError {
        let (detail, error_code) = error_detail(self.content_type.as_deref(), &self.body);
        ApiError::Status {
            method: self.method.to_string(),
            path: self.path,
            status: self.status.as_u16(),
            detail: self.scrub.clean(&detail),
            error_code,
            request_id: self.request_id,
            attempts: self.attempts,
        }
    }
}

/// Removes the credentials from any text that might echo them (defence in depth: no server is
/// expected to echo a secret, but an error message is the last place one may appear).
#[derive(Clone)]
struct Scrubber {
    needles: Vec<String>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Scrubber")
    }
}

impl Scrubber {
    fn clean(&self, text: &str) -> String {
        let mut out = text.to_string();
        for n in &self.needles {
            if !n.is_empty() && out.contains(n.as_str()) {
                out = out.replace(n.as_str(), "<redacted>");
            }
        }
        out
    }
}

/// A reqwest client with credentials and the retry policy: see the module documentation.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    authorization: HeaderValue,
    policy: RetryPolicy,
    scrub: Scrubber,
    /// Every attempt waits for room under its API's limit (shared by the client's clones).
    limiter: Limiter,
}

enum Failure {
    Timeout,
    /// The connection could not be made: nothing was sent.
    Connect(String),
    Transport(String),
    Redirect(String),
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
    path: String,
}

/// Certificate authorities to trust besides the system's: a TLS-inspecting proxy's, a private
/// CA's, the local stack's (input `ca-bundle`).
#[derive(Clone, Default)]
pub struct ExtraRoots(Vec<reqwest::Certificate>);

impl ExtraRoots {
    /// The certificates of a PEM bundle; `Err` says why it is not one (never quoting it).
    pub fn from_pem(pem: &[u8]) -> Result<ExtraRoots, String> {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|_| "is not a PEM bundle of certificates".to_string())?;
        if certs.is_empty() {
            return Err("holds no certificate".into());
        }
        Ok(ExtraRoots(certs))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ExtraRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExtraRoots({} certificates)", self.0.len())
    }
}

impl HttpClient {
    pub fn new(
        api: Api,
        credentials: &Credentials,
        policy: RetryPolicy,
    ) -> Result<HttpClient, ApiError> {
        HttpClient::with_roots(api, credentials, policy, &ExtraRoots::default())
    }

    /// A client of `api` that also trusts `roots`, its requests under an `auto` limit.
    pub fn with_roots(
        api: Api,
        credentials: &Credentials,
        policy: RetryPolicy,
        roots: &ExtraRoots,
    ) -> Result<HttpClient, ApiError> {
        install_crypto_provider();
        let token = credentials.basic_token();
        let mut authorization = HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|_| ApiError::Setup("the API key cannot be sent in a header".into()))?;
        authorization.set_sensitive(true);
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(policy.request_timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("ccaf-housekeeping/", env!("CARGO_PKG_VERSION")));
        if !roots.is_empty() {
            builder = builder.tls_certs_merge(roots.0.iter().cloned());
        }
        let client = builder
            .build()
            .map_err(|e| ApiError::Setup(format!("cannot build the HTTP client: {e}")))?;
        Ok(HttpClient {
            client,
            authorization,
            policy: RetryPolicy {
                max_attempts: policy.max_attempts.max(1),
                ..policy
            },
            scrub: Scrubber {
                needles: vec![credentials.secret.clone(), token],
            },
            limiter: Limiter::new(api, Concurrency::Auto),
        })
    }

    /// The same client under a new limit (`concurrency`), shared by the clones made after.
    pub fn with_concurrency(mut self, concurrency: Concurrency) -> HttpClient {
        self.limiter = Limiter::new(self.limiter.api(), concurrency);
        self
    }

    /// What this client's API was asked so far.
    pub fn usage(&self) -> limit::ApiUsage {
        self.limiter.usage()
    }

    /// This client's API limiter (shared by its clones).
    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// Send `req` under the retry policy and return the final response, whatever its status
    /// (callers decide what a 404 or 409 means). `Err` only when no response came back or a
    /// redirect could not be followed.
    pub async fn execute(&self, req: HttpRequest) -> Result<HttpResponse, ApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(&req, attempt).await {
                Attempt::Done(result) => return result,
                Attempt::Again { pause, .. } => tokio::time::sleep(pause).await,
            }
        }
    }

    /// Attempt number `attempt` (1 = the first) of `req`, under the retry policy: what it came
    /// to, and whether the policy would send it again. For a caller that must check something
    /// before each retry (a delete re-reads what it deletes); [`HttpClient::execute`] is the loop
    /// over it that checks nothing.
    pub async fn attempt(&self, req: &HttpRequest, attempt: u32) -> Attempt {
        let last = attempt >= self.policy.max_attempts;
        let permit = self.limiter.acquire().await;
        let dispatched = permit.sent().into_std();
        let sent = self.send_following_redirects(req, attempt).await;
        permit.finish(match &sent {
            Ok(answer) if answer.status.as_u16() == 429 => Answered::Throttled(
                retry_after(&answer.headers).map(|d| d.min(self.policy.max_retry_after)),
            ),
            Ok(answer) if is_retryable_5xx(answer.status.as_u16()) => Answered::Failed,
            Ok(_) => Answered::Fine,
            Err(Failure::Redirect(_)) => Answered::Fine,
            Err(_) => Answered::Failed,
        });
        match sent {
            Ok(answer) => {
                let status = answer.status.as_u16();
                let pause = if status == 429 {
                    Some(
                        retry_after(&answer.headers)
                            .map(|d| d.min(self.policy.max_retry_after))
                            .unwrap_or_else(|| self.policy.backoff(attempt)),
                    )
                } else if is_retryable_5xx(status) && req.may_retry_failures() {
                    Some(self.policy.backoff(attempt))
                } else {
                    None
                };
                let path = answer.path.clone();
                let response = self.response(req, answer, attempt, dispatched);
                match pause {
                    Some(pause) if !last => {
                        tracing::debug!(
                            method = %req.method,
                            path = %path,
                            status,
                            attempt,
                            pause_ms = pause.as_millis() as u64,
                            "retrying"
                        );
                        Attempt::Again {
                            pause,
                            outcome: Ok(response),
                        }
                    }
                    _ => Attempt::Done(Ok(response)),
                }
            }
            Err(failure) => {
                let retry = match &failure {
                    Failure::Connect(_) => true,
                    Failure::Timeout | Failure::Transport(_) => req.may_retry_failures(),
                    Failure::Redirect(_) => false,
                };
                let error = self.failure_error(req, failure, attempt);
                if retry && !last {
                    let pause = self.policy.backoff(attempt);
                    tracing::debug!(
                        method = %req.method,
                        path = %req.url.path(),
                        attempt,
                        pause_ms = pause.as_millis() as u64,
                        "retrying after a transport failure"
                    );
                    Attempt::Again {
                        pause,
                        outcome: Err(error),
                    }
                } else {
                    Attempt::Done(Err(error))
                }
            }
        }
    }

    fn response(
        &self,
        req: &HttpRequest,
        answer: Answer,
        attempts: u32,
        sent: std::time::Instant,
    ) -> HttpResponse {
        let header = |name: &str| {
            answer
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        HttpResponse {
            status: answer.status,
            request_id: header("x-request-id"),
            content_type: header(CONTENT_TYPE.as_str()),
            body: answer.body,
            method: req.method.clone(),
            path: answer.path,
            attempts,
            sent,
            scrub: self.scrub.clone(),
        }
    }

    fn failure_error(&self, req: &HttpRequest, failure: Failure, attempts: u32) -> ApiError {
        let method = req.method.to_string();
        let path = req.url.path().to_string();
        match failure {
            Failure::Timeout => ApiError::Timeout {
                method,
                path,
                timeout: self.policy.request_timeout,
                attempts,
            },
            Failure::Connect(m) | Failure::Transport(m) => ApiError::Transport {
                method,
                path,
                message: self.scrub.clean(&m),
                attempts,
            },
            Failure::Redirect(m) => ApiError::Redirect {
                method,
                path,
                message: self.scrub.clean(&m),
            },
        }
    }

    /// One attempt: the request and the redirects it leads to, each hop with the credentials.
    async fn send_following_redirects(
        &self,
        req: &HttpRequest,
        attempt: u32,
    ) -> Result<Answer, Failure> {
        let mut method = req.method.clone();
        let mut url = req.url.clone();
        let mut body = req.body.clone();
        let started = Instant::now();
        for hop in 0..=MAX_REDIRECTS {
            let remaining = self
                .policy
                .request_timeout
                .checked_sub(started.elapsed())
                .ok_or(Failure::Timeout)?;
            let mut rb = self
                .client
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, self.authorization.clone())
                .header(ACCEPT, req.accept)
                .timeout(remaining);
            if let Some(b) = &body {
                rb = rb.header(CONTENT_TYPE, req.content_type).body(b.clone());
            }
            let sent = Instant::now();
            let resp = match rb.send().await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(
                        method = %method,
                        host = url.host_str().unwrap_or(""),
                        path = url.path(),
                        attempt,
                        hop,
                        error = %error_chain(&e),
                        "request failed"
                    );
                    return Err(classify(&e));
                }
            };
            let status = resp.status();
            tracing::debug!(
                method = %method,
                host = url.host_str().unwrap_or(""),
                path = url.path(),
                status = status.as_u16(),
                attempt,
                hop,
                elapsed_ms = sent.elapsed().as_millis() as u64,
                "response"
            );
            if matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
                if hop == MAX_REDIRECTS {
                    return Err(Failure::Redirect(format!(
                        "gave up after {MAX_REDIRECTS} redirects"
                    )));
                }
                url = redirect_target(&url, resp.headers())?;
                // 307/308 repeat the request as it was; 303 (and 301/302 after a POST, as
                // browsers and curl do) turn it into a GET without a body.
                let to_get = (status == StatusCode::SEE_OTHER && method != Method::HEAD)
                    || (matches!(status.as_u16(), 301 | 302) && method == Method::POST);
                if to_get {
                    method = Method::GET;
                    body = None;
                }
                continue;
            }
            let headers = resp.headers().clone();
            let path = url.path().to_string();
            let bytes = resp.bytes().await.map_err(|e| classify(&e))?;
            return Ok(Answer {
                status,
                headers,
                body: bytes.to_vec(),
                path,
            });
        }
        Err(Failure::Redirect(format!(
            "gave up after {MAX_REDIRECTS} redirects"
        )))
    }
}

/// A service's base URL: https (plain http only on loopback, where nothing crosses a network),
/// with a host, without credentials, query or fragment. The error does not echo the text (it
/// might hold credentials); callers name the input.
pub(crate) fn parse_base_url(text: &str) -> Result<Url, ApiError> {
    check_endpoint(text).map_err(|why| ApiError::Setup(format!("invalid base URL: {why}")))
}

/// The rule of [`parse_base_url`], its reason as text: for inputs and GitHub's API URL too.
pub fn check_endpoint(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("it is not a URL: {e}"))?;
    if url.host_str().is_none_or(str::is_empty) {
        return Err("it has no host".into());
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(
            "it must be https:// (plain http only on loopback): credentials go with every request"
                .into(),
        ),
        _ => return Err("the scheme must be https".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("it must not contain credentials; pass the API key separately".into());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("it must not have a query or fragment".into());
    }
    Ok(url)
}

/// Whether `url` names this machine: 127.0.0.0/8, ::1 or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => {
            d.eq_ignore_ascii_case("localhost") || d.to_ascii_lowercase().ends_with(".localhost")
        }
        None => false,
    }
}

/// Whether a redirect from `from` may carry the credentials on to `to`: the same host, a
/// Confluent Cloud host over https (the gateway redirects across its own hosts), or loopback to
/// loopback. Anywhere else would hand the API key to a host nobody configured.
fn credentials_may_follow(from: &Url, to: &Url) -> bool {
    let same_host =
        from.host_str().map(str::to_ascii_lowercase) == to.host_str().map(str::to_ascii_lowercase);
    let confluent = to.scheme() == "https"
        && to.host_str().is_some_and(|h| {
            let h = h.to_ascii_lowercase();
            h == "confluent.cloud" || h.ends_with(".confluent.cloud")
        });
    same_host || confluent || (is_loopback(from) && is_loopback(to))
}

/// Where a redirect leads; refuses targets that would expose the credentials (plain HTTP after
/// HTTPS, a host that is neither the same nor Confluent Cloud's) or that are not HTTP at all.
fn redirect_target(from: &Url, headers: &HeaderMap) -> Result<Url, Failure> {
    let location = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Failure::Redirect("redirect without a usable Location header".into()))?;
    let to = from
        .join(location)
        .map_err(|e| Failure::Redirect(format!("redirect to an invalid location: {e}")))?;
    match (from.scheme(), to.scheme()) {
        (_, "https") | ("http", "http") => {}
        ("https", "http") => {
            return Err(Failure::Redirect(
                "refusing to follow a redirect from https to http with credentials".into(),
            ))
        }
        (_, other) => {
            return Err(Failure::Redirect(format!(
                "refusing to follow a redirect to a {other}: URL"
            )))
        }
    }
    if !credentials_may_follow(from, &to) {
        return Err(Failure::Redirect(format!(
            "refusing to send the credentials on to {}: a redirect may lead only to the same host \
             or to Confluent Cloud",
            to.host_str().unwrap_or("another host")
        )));
    }
    Ok(to)
}

fn classify(e: &reqwest::Error) -> Failure {
    if e.is_timeout() {
        Failure::Timeout
    } else if e.is_connect() {
        Failure::Connect(error_chain(e))
    } else {
        Failure::Transport(error_chain(e))
    }
}

/// The error and its causes, without the URL (callers name method and path themselves).
fn error_chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// `Retry-After` as delta-seconds or an HTTP date; `None` when absent or unreadable.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}

/// The explanation in an error body: Flink's `errors[].detail` joined, Schema Registry's /
/// Kafka REST's `message` with its `error_code`, or a note on what else came back.
fn error_detail(content_type: Option<&str>, body: &[u8]) -> (String, Option<i64>) {
    if body.iter().all(u8::is_ascii_whitespace) {
        return ("empty response body".into(), None);
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        let kind = content_type.unwrap_or("no content type");
        let title = html_title(body)
            .map(|t| format!(": {t}"))
            .unwrap_or_default();
        return (
            truncate(format!(
                "non-JSON body ({kind}, {} bytes){title}",
                body.len()
            )),
            None,
        );
    };
    let error_code = v.get("error_code").and_then(|c| {
        c.as_i64()
            .or_else(|| c.as_str().and_then(|s| s.parse().ok()))
    });
    if let Some(errors) = v.get("errors").and_then(|e| e.as_array()) {
        let parts: Vec<String> = errors
            .iter()
            .filter_map(|e| {
                ["detail", "title", "code"]
                    .iter()
                    .find_map(|k| e.get(*k).and_then(|d| d.as_str()).filter(|d| !d.is_empty()))
                    .map(str::to_string)
            })
            .collect();
        if !parts.is_empty() {
            return (truncate(parts.join("; ")), error_code);
        }
    }
    if let Some(message) = v.get("message").and_then(|m| m.as_str()) {
        let text = match error_code {
            Some(code) => format!("{message} (error_code {code})"),
            None => message.to_string(),
        };
        return (truncate(text), error_code);
    }
    if let Some(error) = v.get("error").and_then(|m| m.as_str()) {
        return (truncate(error.to_string()), error_code);
    }
    ("JSON body without an error message".into(), error_code)
}

fn html_title(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let lower = text.to_ascii_lowercase();
    let start = lower.find("<title>")? + "<title>".len();
    let end = start + lower[start..].find("</title>")?;
    let title = text.get(start..end)?.trim();
    (!title.is_empty()).then(|| title.chars().take(120).collect())
}

fn truncate(mut s: String) -> String {
    if let Some((i, _)) = s.char_indices().nth(MAX_DETAIL_CHARS) {
        s.truncate(i);
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_the_secret() {
        let c = Credentials::new("KEY123", "s3cr3t-value");
        let text = format!("{c:?}");
        assert!(text.contains("KEY123"), "{text}");
        assert!(!text.contains("s3cr3t-value"), "{text}");
        let client = HttpClient::new(Api::Flink, &c, RetryPolicy::default()).expect("client");
        let text = format!("{client:?}");
        assert!(!text.contains("s3cr3t-value"), "{text}");
        assert!(!text.contains(&c.basic_token()), "{text}");
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut h = HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        let later = chrono::Utc::now() + chrono::Duration::seconds(30);
        let date = later.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        h.insert(RETRY_AFTER, HeaderValue::from_str(&date).unwrap());
        let d = retry_after(&h).expect("date parses");
        assert!(
            d > Duration::from_secs(27) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn backoff_is_bounded_full_jitter() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(500),
            ..RetryPolicy::default()
        };
        for retry in 1..40 {
            let ceiling = Duration::from_millis((100u64 << (retry - 1).min(10)).min(500));
            for _ in 0..20 {
                assert!(p.backoff(retry) <= ceiling);
            }
        }
    }

    #[test]
    fn error_details_follow_each_api_shape() {
        let flink = br#"{"errors":[{"status":"404","detail":"Statement resource=x does not exist","source":{}},{"title":"Second"}]}"#;
        assert_eq!(
            error_detail(Some("application/json"), flink),
            (
                "Statement resource=x does not exist; Second".to_string(),
                None
            )
        );
        let sr = br#"{"error_code":40401,"message":"Subject 'x' not found."}"#;
        assert_eq!(
            error_detail(None, sr),
            (
                "Subject 'x' not found. (error_code 40401)".to_string(),
                Some(40401)
            )
        );
        let html = b"<html><head><title>Error 429 Too Many Requests</title></head></html>";
        let (d, code) = error_detail(Some("text/html"), html);
        assert_eq!(code, None);
        assert!(
            d.contains("non-JSON body (text/html") && d.contains("Error 429"),
            "{d}"
        );
        assert_eq!(error_detail(None, b"").0, "empty response body");
        let long = format!(r#"{{"message":"{}"}}"#, "x".repeat(5000));
        assert!(error_detail(None, long.as_bytes()).0.chars().count() <= MAX_DETAIL_CHARS + 1);
    }

    #[test]
    fn redirects_never_downgrade_to_plain_http() {
        let mut h = HeaderMap::new();
        let from = Url::parse("https://flink.us-east-1.aws.confluent.cloud/sql/v1/x").unwrap();
        h.insert(
            LOCATION,
            HeaderValue::from_static("http://elsewhere/sql/v1/x"),
        );
        assert!(matches!(
            redirect_target(&from, &h),
            Err(Failure::Redirect(_))
        ));
        h.insert(
            LOCATION,
            HeaderValue::from_static("https://flink.eu-west-1.aws.confluent.cloud/a?b=1"),
        );
        let to = redirect_target(&from, &h)
            .ok()
            .expect("another Confluent Cloud host");
        assert_eq!(
            to.as_str(),
            "https://flink.eu-west-1.aws.confluent.cloud/a?b=1"
        );
        h.insert(LOCATION, HeaderValue::from_static("/relative/path"));
        let to = redirect_target(&from, &h).ok().expect("relative target");
        assert_eq!(
            to.as_str(),
            "https://flink.us-east-1.aws.confluent.cloud/relative/path"
        );
    }

    #[test]
    fn credentials_follow_redirects_only_to_the_same_host_or_confluent_cloud() {
        let target = |from: &str, to: &str| {
            let mut h = HeaderMap::new();
            h.insert(LOCATION, HeaderValue::from_str(to).unwrap());
            redirect_target(&Url::parse(from).unwrap(), &h)
        };
        let cc = "https://flink.us-east-1.aws.confluent.cloud/sql/v1/x";
        for elsewhere in [
            "https://attacker.example/sql/v1/x",
            "https://confluent.cloud.attacker.example/x",
            "https://evilconfluent.cloud/x",
            "https://127.0.0.1/x",
        ] {
            match target(cc, elsewhere) {
                Err(Failure::Redirect(m)) => assert!(m.contains("refusing"), "{m}"),
                _ => panic!("followed a redirect to {elsewhere}"),
            }
        }
        assert!(target(cc, "https://psrc-1.us-east-1.aws.confluent.cloud/x").is_ok());
        assert!(target("https://sr.example.com/a", "https://sr.example.com:8443/b").is_ok());
        assert!(target("https://sr.example.com/a", "https://other.example.com/b").is_err());
        // The local stack redirects 127.0.0.1 to localhost, as the gateway changes hosts.
        assert!(target("http://127.0.0.1:9/a", "http://localhost:9/a").is_ok());
    }

    #[test]
    fn endpoints_are_https_except_on_loopback() {
        for ok in [
            "https://flink.us-east-1.aws.confluent.cloud",
            "http://127.0.0.1:8080",
            "http://127.9.9.9",
            "http://localhost:1",
            "http://[::1]:2",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://flink.us-east-1.aws.confluent.cloud",
            "http://10.0.0.1",
            "http://localhost.example.com",
            "ftp://127.0.0.1",
            "https://key:secret@host",
            "https://host/?q=1",
        ] {
            let err = check_endpoint(bad).expect_err(bad);
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn only_idempotent_or_marked_requests_retry_failures() {
        let u = Url::parse("http://127.0.0.1/x").unwrap();
        let body = serde_json::json!({});
        assert!(HttpRequest::get(u.clone()).may_retry_failures());
        assert!(HttpRequest::delete(u.clone()).may_retry_failures());
        assert!(HttpRequest::put_json(u.clone(), &body).may_retry_failures());
        assert!(!HttpRequest::post_json(u.clone(), &body).may_retry_failures());
        assert!(HttpRequest::post_json(u, &body)
            .retry_safe()
            .may_retry_failures());
    }
}
