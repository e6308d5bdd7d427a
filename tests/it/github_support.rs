//! What the GitHub reporter tests share: a fake of GitHub's API (the few REST endpoints the PR
//! comment uses, with GitHub's documented JSON shapes and `Link` pagination, and GraphQL's
//! `viewer`) on a loopback wiremock server, a parser of the runner's `GITHUB_OUTPUT` format, and
//! sample run reports.
//!
//! The token is one of GitHub's two kinds ([`TokenKind`]): an installation's (the workflow's
//! `GITHUB_TOKEN`, the default) or a person's. They answer `GET /user` and GraphQL's viewer as
//! GitHub does, and the comments each writes carry its author.
//!
//! GitHub itself cannot run here, so this is the one in-process stand-in: it keeps state (the
//! comments of each issue) so a second run sees what the first one posted, and wiremock records
//! every request for the assertions.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ccaf_housekeeping::confluent::limit::{Api, ApiUsage, Concurrency};
use ccaf_housekeeping::github::GithubContext;
use ccaf_housekeeping::report::{
    Kind, Outcome, Removed, RunReport, Status, StepError, StepReport, TableUse, REPORT_VERSION,
};
use ccaf_housekeeping::secrets::Secret;
use chrono::TimeZone;
use serde_json::{json, Value};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const OWNER: &str = "acme";
pub const REPO: &str = "flight-apps";
/// GitHub Enterprise Server's API lives under a path; the fake does too, so `GITHUB_API_URL`
/// with a path is exercised by every test.
pub const API_PREFIX: &str = "/api/v3";
/// GitHub Enterprise Server's GraphQL endpoint, beside (not under) the REST API.
pub const GRAPHQL_PATH: &str = "/api/graphql";
/// The REST login of the workflow token's comments.
pub const ACTIONS_BOT: &str = "github-actions[bot]";

/// Who the fake's token is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenKind {
    /// The workflow's `GITHUB_TOKEN`: `GET /user` answers 403, GraphQL's viewer is
    /// `github-actions`, comments are written by `github-actions[bot]`.
    Installation,
    /// A person's token (a personal access token): `GET /user` answers this user.
    Personal(String),
}

impl TokenKind {
    /// The login of the comments this token writes.
    pub fn author(&self) -> String {
        match self {
            TokenKind::Installation => ACTIONS_BOT.to_string(),
            TokenKind::Personal(login) => login.clone(),
        }
    }
}
/// The merge commit of PR #42 (`push.merge.json`'s `after`).
pub const MERGE_SHA: &str = "3a0f86fb8db8eea7ccbb9a95f325ddbedfb25e15";

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

#[derive(Debug, Clone)]
pub struct StoredComment {
    pub id: u64,
    pub issue: u64,
    pub body: String,
    pub login: String,
}

struct State {
    comments: Vec<StoredComment>,
    next_id: u64,
    /// commit sha → the JSON array GET /commits/{sha}/pulls answers.
    commit_pulls: HashMap<String, Value>,
    /// Forced answer to POST …/comments (status, GitHub error body).
    create_error: Option<(u16, Value)>,
    /// Issues (PRs) that exist; others answer 404.
    issues: Vec<u64>,
    kind: TokenKind,
    /// Forced answer to POST /api/graphql (status, body).
    graphql_answer: Option<(u16, Value)>,
}

/// The fake GitHub REST API.
pub struct FakeGithub {
    pub server: MockServer,
    state: Arc<Mutex<State>>,
    pub token: String,
}

impl FakeGithub {
    /// A fake whose token is the workflow's `GITHUB_TOKEN`.
    pub async fn start(token: &str, issues: &[u64]) -> FakeGithub {
        FakeGithub::start_as(token, issues, TokenKind::Installation).await
    }

    pub async fn start_as(token: &str, issues: &[u64], kind: TokenKind) -> FakeGithub {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            comments: Vec::new(),
            next_id: 1_800_000_001,
            commit_pulls: HashMap::new(),
            create_error: None,
            issues: issues.to_vec(),
            kind,
            graphql_answer: None,
        }));
        Mock::given(wiremock::matchers::any())
            .respond_with(Responder {
                state: state.clone(),
                token: token.to_string(),
                base: format!("{}{API_PREFIX}", server.uri()),
            })
            .mount(&server)
            .await;
        FakeGithub {
            server,
            state,
            token: token.to_string(),
        }
    }

    pub fn api_url(&self) -> String {
        format!("{}{API_PREFIX}", self.server.uri())
    }

    pub fn graphql_url(&self) -> String {
        format!("{}{GRAPHQL_PATH}", self.server.uri())
    }

    /// Makes GraphQL answer `status` with `body` (an outage, a GraphQL error).
    pub fn fail_graphql(&self, status: u16, body: Value) {
        self.state.lock().unwrap().graphql_answer = Some((status, body));
    }

    /// Another user's (or app's) comment on `issue`.
    pub fn seed_comment(&self, issue: u64, login: &str, body: &str) -> u64 {
        let mut st = self.state.lock().unwrap();
        let id = st.next_id;
        st.next_id += 1;
        st.comments.push(StoredComment {
            id,
            issue,
            body: body.to_string(),
            login: login.to_string(),
        });
        id
    }

    pub fn comments(&self, issue: u64) -> Vec<StoredComment> {
        let st = self.state.lock().unwrap();
        st.comments
            .iter()
            .filter(|c| c.issue == issue)
            .cloned()
            .collect()
    }

    pub fn set_commit_pulls(&self, sha: &str, pulls: Value) {
        self.state
            .lock()
            .unwrap()
            .commit_pulls
            .insert(sha.to_string(), pulls);
    }

    pub fn fail_create(&self, status: u16, message: &str) {
        self.state.lock().unwrap().create_error = Some((
            status,
            json!({
                "message": message,
                "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
                "status": status.to_string(),
            }),
        ));
    }

    pub async fn requests(&self) -> Vec<Request> {
        self.server.received_requests().await.unwrap_or_default()
    }

    /// `METHOD path?query` of every request, in order, without the API prefix.
    pub async fn request_lines(&self) -> Vec<String> {
        self.requests()
            .await
            .iter()
            .map(|r| {
                let path = r.url.path().trim_start_matches(API_PREFIX);
                match r.url.query() {
                    Some(q) => format!("{} {path}?{q}", r.method),
                    None => format!("{} {path}", r.method),
                }
            })
            .collect()
    }
}

struct Responder {
    state: Arc<Mutex<State>>,
    token: String,
    base: String,
}

/// A user's id: the real one of `github-actions[bot]`, else a stable one per login (FNV-1a), so
/// that two users never share an id.
fn user_id(login: &str) -> u64 {
    if login == ACTIONS_BOT {
        return 41898282;
    }
    let hash = login.bytes().fold(0xcbf29ce484222325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    });
    1_000_000 + hash % 90_000_000
}

/// A user as GitHub's REST API embeds it (a comment's `user`).
fn user(login: &str) -> Value {
    let id = user_id(login);
    let u = format!(
        "https://api.github.com/users/{}",
        login.replace('[', "%5B").replace(']', "%5D")
    );
    json!({
        "login": login,
        "id": id,
        "node_id": if id == 41898282 { "MDM6Qm90NDE4OTgyODI=".to_string() } else { format!("U_kgDO{id:08X}") },
        "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
        "gravatar_id": "",
        "url": u,
        "html_url": if id == 41898282 { "https://github.com/apps/github-actions".to_string() } else { format!("https://github.com/{login}") },
        "followers_url": format!("{u}/followers"),
        "following_url": format!("{u}/following{{/other_user}}"),
        "gists_url": format!("{u}/gists{{/gist_id}}"),
        "starred_url": format!("{u}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{u}/subscriptions"),
        "organizations_url": format!("{u}/orgs"),
        "repos_url": format!("{u}/repos"),
        "events_url": format!("{u}/events{{/privacy}}"),
        "received_events_url": format!("{u}/received_events"),
        "type": if id == 41898282 { "Bot" } else { "User" },
        "user_view_type": "public",
        "site_admin": false
    })
}

/// `GET /user` for a person's token: the user with the private fields a token sees of itself.
fn authenticated_user(login: &str) -> Value {
    let mut u = user(login);
    let extra = json!({
        "name": "Octo Dev",
        "company": "@acme",
        "blog": "",
        "location": null,
        "email": null,
        "hireable": null,
        "bio": null,
        "twitter_username": null,
        "notification_email": null,
        "public_repos": 12,
        "public_gists": 0,
        "followers": 3,
        "following": 1,
        "created_at": "2019-03-04T10:11:12Z",
        "updated_at": "2025-11-01T08:09:10Z"
    });
    if let (Some(u), Some(extra)) = (u.as_object_mut(), extra.as_object()) {
        u.extend(extra.clone());
    }
    u
}

impl Responder {
    /// `GET /user` and `POST /api/graphql`: who the token is.
    fn identity(&self, method: &str, path: &str, req: &Request) -> Option<ResponseTemplate> {
        let st = self.state.lock().unwrap();
        match (method, path) {
            ("GET", p) if p == format!("{API_PREFIX}/user") => Some(match &st.kind {
                TokenKind::Personal(login) => {
                    ResponseTemplate::new(200).set_body_json(authenticated_user(login))
                }
                // What GitHub answers an installation token (GITHUB_TOKEN) here.
                TokenKind::Installation => ResponseTemplate::new(403).set_body_json(json!({
                    "message": "Resource not accessible by integration",
                    "documentation_url": "https://docs.github.com/rest/users/users#get-the-authenticated-user",
                    "status": "403"
                })),
            }),
            ("POST", GRAPHQL_PATH) => {
                if let Some((status, body)) = &st.graphql_answer {
                    return Some(ResponseTemplate::new(*status).set_body_json(body.clone()));
                }
                let query = req
                    .body_json::<Value>()
                    .ok()
                    .and_then(|v| v.get("query").and_then(Value::as_str).map(str::to_string))
                    .unwrap_or_default();
                let compact: String = query.split_whitespace().collect::<Vec<_>>().join(" ");
                if compact != "query { viewer { login } }" {
                    return Some(ResponseTemplate::new(200).set_body_json(json!({
                        "errors": [{
                            "message": format!("the fake answers only the viewer query, not `{compact}`"),
                            "locations": [{"line": 1, "column": 1}]
                        }]
                    })));
                }
                let login = match &st.kind {
                    TokenKind::Personal(login) => login.clone(),
                    // GraphQL names the app, without REST's `[bot]`.
                    TokenKind::Installation => "github-actions".to_string(),
                };
                Some(
                    ResponseTemplate::new(200)
                        .set_body_json(json!({ "data": { "viewer": { "login": login } } })),
                )
            }
            _ => None,
        }
    }

    /// An issue comment as GitHub's REST API returns it.
    fn comment_json(&self, c: &StoredComment) -> Value {
        json!({
            "id": c.id,
            "node_id": format!("IC_kwDOKnA{}", c.id),
            "url": format!("{}/repos/{OWNER}/{REPO}/issues/comments/{}", self.base, c.id),
            "html_url": format!("https://github.com/{OWNER}/{REPO}/pull/{}#issuecomment-{}", c.issue, c.id),
            "issue_url": format!("{}/repos/{OWNER}/{REPO}/issues/{}", self.base, c.issue),
            "body": c.body,
            "user": user(&c.login),
            "created_at": "2025-11-21T06:20:11Z",
            "updated_at": "2025-11-21T06:20:11Z",
            "author_association": if c.login == ACTIONS_BOT { "NONE" } else { "MEMBER" },
            "performed_via_github_app": null,
            "reactions": {
                "url": format!("{}/repos/{OWNER}/{REPO}/issues/comments/{}/reactions", self.base, c.id),
                "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
                "confused": 0, "heart": 0, "rocket": 0, "eyes": 0
            }
        })
    }

    fn error(status: u16, message: &str) -> ResponseTemplate {
        ResponseTemplate::new(status).set_body_json(json!({
            "message": message,
            "documentation_url": "https://docs.github.com/rest",
            "status": status.to_string(),
        }))
    }
}

fn query(req: &Request) -> BTreeMap<String, String> {
    req.url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Respond for Responder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let auth = req
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if auth != format!("Bearer {}", self.token) {
            return Responder::error(401, "Bad credentials");
        }
        if let Some(answer) = self.identity(req.method.as_str(), req.url.path(), req) {
            return answer;
        }
        let Some(path) = req.url.path().strip_prefix(API_PREFIX) else {
            return Responder::error(404, "Not Found");
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let repo_ok =
            parts.len() > 2 && parts[0] == "repos" && parts[1] == OWNER && parts[2] == REPO;
        if !repo_ok {
            return Responder::error(404, "Not Found");
        }
        let method = req.method.as_str();
        let mut st = self.state.lock().unwrap();
        match (method, &parts[3..]) {
            ("GET", ["issues", n, "comments"]) => {
                let Ok(n) = n.parse::<u64>() else {
                    return Responder::error(404, "Not Found");
                };
                if !st.issues.contains(&n) {
                    return Responder::error(404, "Not Found");
                }
                let q = query(req);
                let per_page: usize = q
                    .get("per_page")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(30)
                    .clamp(1, 100);
                let page: usize = q
                    .get("page")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1)
                    .max(1);
                let all: Vec<&StoredComment> =
                    st.comments.iter().filter(|c| c.issue == n).collect();
                let last = all.len().div_ceil(per_page).max(1);
                let items: Vec<Value> = all
                    .iter()
                    .skip((page - 1) * per_page)
                    .take(per_page)
                    .map(|c| self.comment_json(c))
                    .collect();
                let link = |p: usize, rel: &str| {
                    format!(
                        "<{}/repos/{OWNER}/{REPO}/issues/{n}/comments?per_page={per_page}&page={p}>; rel=\"{rel}\"",
                        self.base
                    )
                };
                let mut links = Vec::new();
                if page > 1 {
                    links.push(link(page - 1, "prev"));
                    links.push(link(1, "first"));
                }
                if page < last {
                    links.push(link(page + 1, "next"));
                    links.push(link(last, "last"));
                }
                let mut resp = ResponseTemplate::new(200).set_body_json(items);
                if !links.is_empty() {
                    resp = resp.insert_header("link", links.join(", "));
                }
                resp
            }
            ("POST", ["issues", n, "comments"]) => {
                let Ok(n) = n.parse::<u64>() else {
                    return Responder::error(404, "Not Found");
                };
                if let Some((status, body)) = &st.create_error {
                    return ResponseTemplate::new(*status).set_body_json(body.clone());
                }
                if !st.issues.contains(&n) {
                    return Responder::error(404, "Not Found");
                }
                let Some(body) = req
                    .body_json::<Value>()
                    .ok()
                    .and_then(|v| v.get("body").and_then(Value::as_str).map(str::to_string))
                else {
                    return Responder::error(422, "Invalid request.\n\n\"body\" wasn't supplied.");
                };
                let id = st.next_id;
                st.next_id += 1;
                let c = StoredComment {
                    id,
                    issue: n,
                    body,
                    login: st.kind.author(),
                };
                st.comments.push(c.clone());
                ResponseTemplate::new(201)
                    .insert_header(
                        "location",
                        format!("{}/repos/{OWNER}/{REPO}/issues/comments/{id}", self.base),
                    )
                    .set_body_json(self.comment_json(&c))
            }
            // GitHub documents PATCH for updating a comment.
            ("PATCH", ["issues", "comments", id]) => {
                let Ok(id) = id.parse::<u64>() else {
                    return Responder::error(404, "Not Found");
                };
                let Some(body) = req
                    .body_json::<Value>()
                    .ok()
                    .and_then(|v| v.get("body").and_then(Value::as_str).map(str::to_string))
                else {
                    return Responder::error(422, "Invalid request.\n\n\"body\" wasn't supplied.");
                };
                let Some(c) = st.comments.iter_mut().find(|c| c.id == id) else {
                    return Responder::error(404, "Not Found");
                };
                c.body = body;
                let c = c.clone();
                ResponseTemplate::new(200).set_body_json(self.comment_json(&c))
            }
            ("GET", ["commits", sha, "pulls"]) => {
                let pulls = st.commit_pulls.get(*sha).cloned().unwrap_or(json!([]));
                ResponseTemplate::new(200).set_body_json(pulls)
            }
            _ => Responder::error(404, "Not Found"),
        }
    }
}

/// A context as the runner would give it to a step of `event` (a fixture under `events/`).
pub fn context(fake: &FakeGithub, event_name: &str, event_file: Option<&str>) -> GithubContext {
    let api = fake.api_url();
    let event_path = event_file.map(|f| fixture(&format!("events/{f}")));
    let vars: HashMap<&str, String> = [
        ("GITHUB_EVENT_NAME", event_name.to_string()),
        ("GITHUB_REPOSITORY", format!("{OWNER}/{REPO}")),
        ("GITHUB_SERVER_URL", "https://github.com".to_string()),
        ("GITHUB_API_URL", api),
        ("GITHUB_GRAPHQL_URL", fake.graphql_url()),
        ("GITHUB_RUN_ID", "9876543210".to_string()),
        ("GITHUB_SHA", MERGE_SHA.to_string()),
    ]
    .into_iter()
    .chain(event_path.map(|p| ("GITHUB_EVENT_PATH", p.display().to_string())))
    .collect();
    GithubContext::from_lookup(
        |name| vars.get(name).cloned(),
        Some(Secret::new(fake.token.clone())),
    )
}

// ---------------------------------------------------------------------------------------------
// The runner's GITHUB_OUTPUT format

/// Parses a `GITHUB_OUTPUT` / `GITHUB_ENV` file as the runner does (actions/runner
/// `FileCommandManager`, Linux): lines split on LF; `NAME=VALUE`, or `NAME<<DELIM` followed by
/// value lines up to a line that is exactly `DELIM`; the value excludes the LF before the
/// delimiter line; blank lines between entries are skipped; a missing delimiter is an error.
pub fn parse_runner_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut index = 0;
    let read_line = |index: &mut usize| -> Option<(usize, usize)> {
        if *index >= text.len() {
            return None;
        }
        let start = *index;
        match text[start..].find('\n') {
            Some(lf) => {
                *index = start + lf + 1;
                Some((start, start + lf))
            }
            None => {
                *index = text.len();
                Some((start, text.len()))
            }
        }
    };
    while let Some((s, e)) = read_line(&mut index) {
        let line = &text[s..e];
        if line.is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(i), h) if h.is_none_or(|h| i < h) => {
                let (name, value) = (&line[..i], &line[i + 1..]);
                if name.is_empty() {
                    return Err(format!("empty name in `{line}`"));
                }
                out.push((name.to_string(), value.to_string()));
            }
            (_, Some(h)) => {
                let (name, delim) = (&line[..h], &line[h + 2..]);
                if name.is_empty() || delim.is_empty() {
                    return Err(format!("empty name or delimiter in `{line}`"));
                }
                let start = index;
                let mut end = index;
                loop {
                    match read_line(&mut index) {
                        None => return Err(format!("matching delimiter not found `{delim}`")),
                        Some((ls, le)) if &text[ls..le] == delim => break,
                        Some((_, le)) => end = le,
                    }
                }
                let value = if end > start { &text[start..end] } else { "" };
                out.push((name.to_string(), value.to_string()));
            }
            _ => return Err(format!("invalid format `{line}`")),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Reports

pub fn step(stage: &str, action: &str, kind: Kind, name: &str, status: Status) -> StepReport {
    StepReport {
        stage: stage.parse().unwrap(),
        action: action.parse().unwrap(),
        kind,
        name: name.into(),
        logical_name: None,
        status,
        reason: format!("{action} as planned"),
        phase_before: None,
        phase_after: None,
        duration_ms: 2_345,
        removed: Removed::default(),
        tables: Default::default(),
        error: None,
        retries: Vec::new(),
    }
}

pub fn empty_report(command: &str, outcome: Outcome, steps: Vec<StepReport>) -> RunReport {
    RunReport {
        version: REPORT_VERSION,
        command: command.parse().unwrap(),
        plan_for: None,
        app: "flight-consolidator".into(),
        environment_id: "env-7qx2p0".into(),
        dry_run: false,
        started_at: chrono::Utc.with_ymd_and_hms(2025, 11, 21, 7, 1, 2).unwrap(),
        duration_ms: 84_512,
        outcome,
        cancelled_by: None,
        steps,
        notes: vec![],
        apis: vec![
            api_usage(Api::Flink, 42, 2, 16),
            api_usage(Api::SchemaRegistry, 9, 0, 8),
            api_usage(Api::KafkaAdmin, 14, 0, 8),
        ],
        spent: None,
        untrusted: vec![],
        untracked: vec![],
    }
}

fn api_usage(api: Api, requests: u64, throttled: u64, reached: usize) -> ApiUsage {
    ApiUsage {
        api,
        concurrency: Concurrency::Auto,
        requests,
        throttled,
        failed: 0,
        limit_reached: reached,
        limit_now: reached,
        peak_in_flight: reached.min(6),
        queued_ms: 0,
        in_request_ms: 0,
    }
}

/// A rebuild of the demo app: teardown of three statements and two tables, buildup of three
/// statements, one unchanged, one failure with detail and exceptions, one blocked.
pub fn rebuild_report() -> RunReport {
    let app = "flight-consolidator";
    let mut steps = Vec::new();
    for (logical, hash) in [
        ("combined-flight-data", "5c1e09aa"),
        ("skyone-avro", "0b7d33f1"),
        ("sunset-avro", "a9e4410c"),
    ] {
        let mut s = step(
            "teardown",
            "delete",
            Kind::Statement,
            &format!("{app}-{logical}-{hash}"),
            Status::Done,
        );
        s.logical_name = Some(logical.into());
        s.phase_before = Some("RUNNING".into());
        s.reason = "recorded as deployed by this app".into();
        steps.push(s);
    }
    for t in ["combined_flights", "skyone_avro"] {
        let mut s = step("teardown", "drop_table", Kind::Table, t, Status::Done);
        s.reason = format!("created by {app}-{t}");
        s.removed = Removed {
            topic: Some(t.into()),
            subjects: vec![format!("{t}-key"), format!("{t}-value")],
            deleted_directly: false,
        };
        steps.push(s);
    }
    let mut ddl = step(
        "buildup",
        "create",
        Kind::Statement,
        &format!("{app}-skyone-table-11aa22bb"),
        Status::Done,
    );
    ddl.phase_after = Some("COMPLETED".into());
    steps.push(ddl);
    let mut run = step(
        "buildup",
        "create",
        Kind::Statement,
        &format!("{app}-skyone-avro-0b7d33f1"),
        Status::Done,
    );
    run.phase_after = Some("RUNNING".into());
    steps.push(run);
    let mut same = step(
        "buildup",
        "unchanged",
        Kind::Statement,
        &format!("{app}-sunset-table-77cc88dd"),
        Status::Unchanged,
    );
    same.phase_before = Some("COMPLETED".into());
    same.phase_after = Some("COMPLETED".into());
    same.reason = "SQL, properties, pool and principal unchanged".into();
    steps.push(same);
    let mut failed = step(
        "buildup",
        "create",
        Kind::Statement,
        &format!("{app}-combined-flight-data-5c1e09aa"),
        Status::Failed,
    );
    failed.phase_after = Some("FAILED".into());
    failed.error = Some(StepError {
        message: "the statement FAILED after 3.1 s".into(),
        detail: Some(
            "Object 'flights_airline' not found within 'flink_kickstarter.flink_kickstarter'"
                .into(),
        ),
        exceptions: vec![
            "ValidationException: SQL validation failed. From line 3, column 6 to line 3, column 20: Object 'flights_airline' not found".into(),
        ],
    });
    steps.push(failed);
    let mut blocked = step(
        "buildup",
        "create",
        Kind::Statement,
        &format!("{app}-flight-stats-3d3d3d3d"),
        Status::Blocked,
    );
    blocked.reason = format!("depends on {app}-combined-flight-data-5c1e09aa, which failed");
    steps.push(blocked);
    // What each statement's SQL touches: the edges of the app's diagram.
    for s in steps.iter_mut().filter(|s| s.kind == Kind::Statement) {
        let names = |ts: &[&str]| ts.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        let (creates, reads, writes) = match s.name.split('-').nth(2).unwrap_or_default() {
            "combined" => (
                names(&["combined_flights"]),
                names(&["skyone_avro", "sunset_avro"]),
                names(&["combined_flights"]),
            ),
            "skyone" if s.name.contains("table") => (names(&["skyone_avro"]), vec![], vec![]),
            "sunset" if s.name.contains("table") => (names(&["sunset_avro"]), vec![], vec![]),
            "skyone" => (vec![], vec![], names(&["skyone_avro"])),
            "sunset" => (vec![], vec![], names(&["sunset_avro"])),
            "flight" => (vec![], names(&["combined_flights"]), vec![]),
            _ => (vec![], vec![], vec![]),
        };
        s.tables = TableUse {
            creates,
            reads,
            writes,
        };
    }
    let mut r = empty_report("rebuild", Outcome::Failed, steps);
    r.notes = vec!["table `sunset_avro` left in place: protected by `sunset_*`".into()];
    r
}
