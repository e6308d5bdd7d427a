//! The Flink statements client against ccloud-sim: pagination, retries (429 with Retry-After,
//! 5xx), redirects that keep auth, stale PUTs, idempotent creates, and errors that never carry
//! the credentials. Tests that change faults or timings use a private simulator.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ccaf_housekeeping::confluent::flink::{
    is_settled, FlinkClient, FlinkConfig, FlinkError, ListFilter, NewStatement, Phase, Statement,
    UpdateOutcome,
};
use ccaf_housekeeping::confluent::http::{ApiError, Credentials, RetryPolicy};
use ccaf_housekeeping::confluent::limit::AUTO_START;
use ccaf_housekeeping::confluent::watch::{Change, StatementWatch};
use ccaf_housekeeping::ownership::OWNER_LABEL;
use serde_json::{json, Value};
use test_support::{random_secret, unique, wait_until, PrivateSim, SimOptions, StackEnv};

use crate::harness::{private_sim, SimControl};

const WAIT: Duration = Duration::from_secs(30);

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(500),
        request_timeout: Duration::from_secs(10),
        ..RetryPolicy::default()
    }
}

fn client(sim: &PrivateSim, policy: RetryPolicy) -> FlinkClient {
    FlinkClient::new(FlinkConfig {
        endpoint: sim.url.clone(),
        organization_id: sim.org_id.clone(),
        environment_id: sim.env_id.clone(),
        credentials: Credentials::new(&sim.flink_api_key, &sim.flink_api_secret),
        retry: policy,
    })
    .expect("client")
}

fn stack_client() -> (StackEnv, FlinkClient) {
    let env = StackEnv::load();
    let c = FlinkClient::new(FlinkConfig {
        endpoint: env.flink_url.clone(),
        organization_id: env.org_id.clone(),
        environment_id: env.env_id.clone(),
        credentials: Credentials::new(&env.flink_api_key, &env.flink_api_secret),
        retry: fast_policy(),
    })
    .expect("client");
    (env, c)
}

/// Properties that resolve unqualified table names to the simulator's environment and cluster.
fn catalog(sim: &PrivateSim) -> BTreeMap<String, String> {
    [
        ("sql.current-catalog".to_string(), sim.env_id.clone()),
        (
            "sql.current-database".to_string(),
            sim.kafka_cluster_id.clone(),
        ),
    ]
    .into()
}

fn new_statement(name: &str, sql: &str, properties: BTreeMap<String, String>) -> NewStatement {
    NewStatement {
        name: name.to_string(),
        sql: sql.to_string(),
        properties,
        ..NewStatement::default()
    }
}

/// A table name no other test uses (underscores: no quoting needed).
fn table(prefix: &str) -> String {
    unique(prefix).replace('-', "_")
}

/// Run a statement to its settled phase and return it.
async fn settle(
    c: &FlinkClient,
    new: &NewStatement,
) -> ccaf_housekeeping::confluent::flink::Statement {
    c.create(new).await.expect("create");
    let out = c
        .watch()
        .wait_until(&new.name, is_settled, WAIT)
        .await
        .expect("wait");
    assert!(out.satisfied, "{} did not settle: {:?}", new.name, out.last);
    out.last.expect("settled statement")
}

/// Create tables `src` and `dst` (DDL statements) and return an INSERT between them.
async fn two_tables(c: &FlinkClient, sim: &PrivateSim) -> (String, String) {
    let (src, dst) = (table("src"), table("dst"));
    for t in [&src, &dst] {
        let ddl = new_statement(
            &unique("ddl"),
            &format!("CREATE TABLE {t} (id INT, name STRING)"),
            catalog(sim),
        );
        let s = settle(c, &ddl).await;
        assert_eq!(s.phase(), &Phase::Completed, "{:?}", s.status);
    }
    (src, dst)
}

/// Drop the tables (topics and subjects in the shared broker), faults off.
async fn drop_tables(c: &FlinkClient, sim: &PrivateSim, tables: &[&str]) {
    for t in tables {
        let s = settle(
            c,
            &new_statement(&unique("drop"), &format!("DROP TABLE {t}"), catalog(sim)),
        )
        .await;
        assert_eq!(
            s.phase(),
            &Phase::Completed,
            "DROP TABLE {t}: {:?}",
            s.status
        );
    }
}

fn is_statements_path(entry: &Value, org: &str, env: &str) -> bool {
    entry["path"].as_str()
        == Some(&format!(
            "/sql/v1/organizations/{org}/environments/{env}/statements"
        ))
}

/// The list once `done` holds for it: the list shows new statements late (§F.9), so a test
/// that wants them listed waits for it.
async fn listed_eventually(
    c: &FlinkClient,
    filter: &ListFilter,
    done: impl Fn(&[Statement]) -> bool,
) -> Vec<Statement> {
    wait_until("the list to show the statements", WAIT, || async {
        let listed = c.list(filter).await.expect("list");
        done(&listed).then_some(listed)
    })
    .await
}

#[tokio::test]
async fn real_responses_parse_in_every_phase_they_reach() {
    let sim = private_sim(SimOptions {
        pending_ms: 400,
        stopping_ms: 300,
        deleting_ms: 600,
        ..SimOptions::default()
    });
    let c = client(&sim, fast_policy());
    let (src, dst) = two_tables(&c, &sim).await;

    let name = unique("insert");
    let insert = new_statement(
        &name,
        &format!("INSERT INTO {dst} SELECT * FROM {src}"),
        catalog(&sim),
    );
    let created = c.create(&insert).await.expect("create");
    assert_eq!(created.phase(), &Phase::Pending);
    assert!(
        created.status.traits.is_none(),
        "traits are null while PENDING"
    );
    assert_eq!(created.sql(), insert.sql);
    assert!(created.metadata.resource_version.is_some());

    let running = c
        .watch()
        .wait_until(&name, |s| *s.phase() == Phase::Running, WAIT)
        .await
        .expect("wait");
    assert!(running.satisfied, "{:?}", running.last);
    let running = running.last.expect("running");
    let traits = running.status.traits.as_ref().expect("traits once running");
    assert_eq!(traits.is_bounded, Some(false));
    assert!(traits.sql_kind.is_some());

    assert_eq!(c.stop(&name).await.expect("stop"), UpdateOutcome::Updated);
    // Accepted at once, carried out later: the phase may still read RUNNING (§F.1).
    let stopping = c.get(&name).await.expect("get").expect("exists");
    assert_eq!(stopping.spec.stopped, Some(true));
    assert!(
        matches!(
            stopping.phase(),
            Phase::Running | Phase::Stopping | Phase::Stopped
        ),
        "{:?}",
        stopping.phase()
    );
    let stopped = c
        .watch()
        .wait_until(&name, |s| *s.phase() == Phase::Stopped, WAIT)
        .await
        .expect("wait");
    assert!(stopped.satisfied, "{:?}", stopped.last);
    let stopped = stopped.last.expect("stopped");
    assert_eq!(stopped.spec.stopped, Some(true));
    assert!(
        stopped.status.latest_offsets.contains_key(&src),
        "{:?}",
        stopped.status
    );
    assert_eq!(
        c.stop(&name).await.expect("stop again"),
        UpdateOutcome::Unchanged
    );

    assert_eq!(
        c.resume(&name, None, None).await.expect("resume"),
        UpdateOutcome::Updated
    );
    let resumed = c
        .watch()
        .wait_until(&name, |s| *s.phase() == Phase::Running, WAIT)
        .await
        .expect("wait");
    assert!(resumed.satisfied, "{:?}", resumed.last);

    let bad = new_statement(
        &unique("failed"),
        &format!("INSERT INTO {dst} SELECT * FROM {}", table("no_such")),
        catalog(&sim),
    );
    let failed = settle(&c, &bad).await;
    assert_eq!(failed.phase(), &Phase::Failed);
    assert!(
        failed.status.traits.is_none(),
        "traits are null when FAILED"
    );
    assert!(failed
        .status
        .detail
        .as_deref()
        .unwrap_or("")
        .contains("does not exist"));
    let exceptions = c
        .exceptions(&bad.name)
        .await
        .expect("exceptions")
        .expect("exists");
    assert!(!exceptions.is_empty());
    assert!(exceptions[0]
        .message
        .as_deref()
        .unwrap_or("")
        .contains("does not exist"));
    assert!(c
        .exceptions("no-such-statement")
        .await
        .expect("exceptions")
        .is_none());

    assert!(c.delete(&name).await.expect("delete"));
    let deleting = c.get(&name).await.expect("get").expect("still there");
    assert_eq!(deleting.phase(), &Phase::Deleting);
    let gone = c.watch().wait_gone(&name, WAIT).await.expect("wait gone");
    assert!(gone.satisfied && gone.last.is_none());
    assert!(
        !c.delete(&name).await.expect("delete again"),
        "404 on delete is success"
    );
    assert!(c.get(&name).await.expect("get").is_none());
    // The list shows a deleted statement a while after it is gone (§F.9): a wait sees that
    // DELETING ghost until the list forgets it, then ends unsatisfied.
    let unsatisfied = wait_until("the list to forget it", WAIT, || async {
        let w = c
            .watch()
            .wait_until(&name, |_| true, WAIT)
            .await
            .expect("wait on a gone statement");
        if w.satisfied {
            assert_eq!(w.last.as_ref().map(|s| s.phase()), Some(&Phase::Deleting));
        }
        (!w.satisfied).then_some(w)
    })
    .await;
    assert!(unsatisfied.last.is_none());

    drop_tables(&c, &sim, &[&src, &dst]).await;
}

#[tokio::test]
async fn every_page_of_a_250_statement_list_is_read_exactly_once() {
    let sim = private_sim(SimOptions {
        pending_ms: 20,
        ..SimOptions::default()
    });
    let c = client(&sim, fast_policy());
    let control = SimControl::new(&sim.control_url());
    let mut tasks = tokio::task::JoinSet::new();
    let mut expected = BTreeSet::new();
    for i in 0..250 {
        let name = format!("list-{i:03}");
        expected.insert(name.clone());
        let mut new = new_statement(&name, "SHOW TABLES", BTreeMap::new());
        if i % 2 == 0 {
            new.labels
                .insert("user.confluent.io/even".into(), "true".into());
        }
        let c = c.clone();
        tasks.spawn(async move { c.create(&new).await.map(|_| ()) });
        if tasks.len() >= 16 {
            tasks
                .join_next()
                .await
                .expect("task")
                .expect("join")
                .expect("create");
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("join").expect("create");
    }
    // The list shows new statements late (list_new_lag_ms): wait until it shows them all.
    listed_eventually(&c, &ListFilter::default(), |l| l.len() == 250).await;

    control.clear_requests().await;
    let all = c.list(&ListFilter::default()).await.expect("list");
    let names: Vec<String> = all.iter().map(|s| s.name.clone()).collect();
    let unique_names: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(names.len(), 250, "no duplicates, none missing");
    assert_eq!(unique_names, expected);

    let log = control.requests().await;
    let pages: Vec<&Value> = log
        .iter()
        .filter(|e| e["method"] == "GET" && is_statements_path(e, &sim.org_id, &sim.env_id))
        .collect();
    assert_eq!(pages.len(), 3, "250 statements at 100 per page: {pages:#?}");
    let tokens: Vec<Option<String>> = pages
        .iter()
        .map(|e| {
            let q = e["query"].as_str().unwrap_or("");
            assert!(q.contains("page_size=100"), "{q}");
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "page_token")
                .map(|(_, v)| v.into_owned())
        })
        .collect();
    assert!(tokens[0].is_none());
    assert!(tokens[1].is_some() && tokens[2].is_some() && tokens[1] != tokens[2]);

    let even = c
        .list(&ListFilter {
            label_selector: Some("user.confluent.io/even=true".into()),
            ..ListFilter::default()
        })
        .await
        .expect("list by label");
    assert_eq!(even.len(), 125);
    assert!(even
        .iter()
        .all(|s| s.metadata.labels.contains_key("user.confluent.io/even")));
    let odd = c
        .list(&ListFilter {
            label_selector: Some("!user.confluent.io/even".into()),
            ..ListFilter::default()
        })
        .await
        .expect("list by absent label");
    assert_eq!(odd.len(), 125);
    let in_pool = c
        .list(&ListFilter {
            compute_pool_id: Some(sim.compute_pool_id.clone()),
            ..ListFilter::default()
        })
        .await
        .expect("list by pool");
    assert_eq!(in_pool.len(), 250);
    let elsewhere = c
        .list(&ListFilter {
            compute_pool_id: Some("lfcp-other".into()),
            ..ListFilter::default()
        })
        .await
        .expect("list by another pool");
    assert!(elsewhere.is_empty());
}

#[tokio::test]
async fn a_429_with_retry_after_waits_that_long() {
    let sim = private_sim(SimOptions::default());
    let c = client(&sim, fast_policy());
    let control = SimControl::new(&sim.control_url());
    control
        .set_faults(json!({"throttle_fraction": 1.0, "retry_after_secs": 1, "apis": ["flink"]}))
        .await;
    let name = unique("throttled");
    let call = {
        let c = c.clone();
        let name = name.clone();
        tokio::spawn(async move { c.get(&name).await })
    };
    wait_until("a 429 in the request log", WAIT, || async {
        control
            .requests()
            .await
            .iter()
            .any(|e| e["status"] == 429)
            .then_some(())
    })
    .await;
    control.set_faults(json!({})).await;
    let got = call
        .await
        .expect("join")
        .expect("get succeeds after the throttle ends");
    assert!(got.is_none());

    let log = control.requests().await;
    assert!(log.len() >= 2, "{log:#?}");
    assert_eq!(log[0]["status"], 429);
    assert_eq!(log[0]["fault"], "throttle");
    assert_eq!(log.last().expect("entry")["status"], 404, "{log:#?}");
    for pair in log.windows(2) {
        let gap =
            pair[1]["at_ms"].as_f64().expect("at_ms") - pair[0]["at_ms"].as_f64().expect("at_ms");
        eprintln!("Retry-After 1 s: next attempt {gap:.0} ms after the 429");
        assert!(
            gap >= 1000.0,
            "retried {gap:.0} ms after a 429 with Retry-After: 1"
        );
        assert!(
            gap < 1600.0,
            "waited {gap:.0} ms after a 429 with Retry-After: 1"
        );
    }
}

#[tokio::test]
async fn a_30_percent_5xx_rate_still_completes_create_stop_delete() {
    let sim = private_sim(SimOptions::default());
    let c = client(&sim, RetryPolicy::default());
    let control = SimControl::new(&sim.control_url());
    control
        .set_faults(json!({
            "error_fraction": 0.3,
            "error_statuses": [500, 502, 503, 504],
            "apis": ["flink"],
            "seed": 7
        }))
        .await;
    let (src, dst) = two_tables(&c, &sim).await;
    let name = unique("cycle");
    let insert = new_statement(
        &name,
        &format!("INSERT INTO {dst} SELECT * FROM {src}"),
        catalog(&sim),
    );
    c.create(&insert).await.expect("create");
    let running = c
        .watch()
        .wait_until(&name, |s| *s.phase() == Phase::Running, WAIT)
        .await
        .expect("wait running");
    assert!(running.satisfied, "{:?}", running.last);
    c.stop(&name).await.expect("stop");
    let stopped = c
        .watch()
        .wait_until(&name, |s| *s.phase() == Phase::Stopped, WAIT)
        .await
        .expect("wait stopped");
    assert!(stopped.satisfied, "{:?}", stopped.last);
    c.delete(&name).await.expect("delete");
    assert!(gone(&c, &name).await, "{name} is still there");

    control.assert_injected("error", 3).await;
    control.set_faults(json!({})).await;
    drop_tables(&c, &sim, &[&src, &dst]).await;
}

#[tokio::test]
async fn redirects_to_another_host_keep_the_authorization_header() {
    let sim = private_sim(SimOptions::default());
    let c = client(&sim, fast_policy());
    let control = SimControl::new(&sim.control_url());
    control
        .set_faults(json!({"redirect_fraction": 1.0, "apis": ["flink"]}))
        .await;
    let name = unique("redirected");
    assert!(c.get(&name).await.expect("get").is_none());
    let created = c
        .create(&new_statement(&name, "SHOW TABLES", BTreeMap::new()))
        .await
        .expect("create through a redirect");
    assert_eq!(created.name, name);
    listed_eventually(&c, &ListFilter::default(), |l| {
        l.iter().any(|s| s.name == name)
    })
    .await;
    assert!(c.get(&name).await.expect("get").is_some());

    let log = control.requests().await;
    let port = sim.url.rsplit(':').next().expect("port");
    let redirects = log.iter().filter(|e| e["status"] == 307).count();
    assert!(redirects >= 4, "{log:#?}");
    for pair in log.windows(2) {
        if pair[0]["status"] == 307 {
            assert_eq!(pair[0]["fault"], "redirect");
            assert_eq!(pair[0]["host"], format!("127.0.0.1:{port}"));
            let follow = &pair[1];
            assert_eq!(follow["host"], format!("localhost:{port}"), "{follow}");
            assert_eq!(
                follow["method"], pair[0]["method"],
                "same method after a 307"
            );
            assert_eq!(follow["path"], pair[0]["path"]);
            assert_eq!(follow["auth"], "ok", "auth kept across hosts: {follow}");
        }
    }
    assert!(log
        .iter()
        .all(|e| e["auth"] != "missing" && e["auth"] != "invalid"));
    let posts: Vec<&Value> = log.iter().filter(|e| e["method"] == "POST").collect();
    assert_eq!(
        posts.len(),
        2,
        "one 307 and the re-sent POST with its body: {posts:#?}"
    );
    assert_eq!(posts[1]["status"], 201);
}

#[tokio::test]
async fn stop_succeeds_while_the_resource_version_moves() {
    // Every request is held 600 ms before it is answered, and a statement leaves PENDING
    // 900 ms after it is created: the GET of `stop` sees PENDING and its PUT arrives after the
    // phase change moved `resource_version` on, so the PUT is stale (409) once.
    let sim = private_sim(SimOptions {
        pending_ms: 20,
        ..SimOptions::default()
    });
    let c = client(&sim, fast_policy());
    let control = SimControl::new(&sim.control_url());
    let (src, dst) = two_tables(&c, &sim).await;
    control.set_timings(json!({"pending_ms": 900, "stopping_ms": 100, "deleting_ms": 150, "health_check_ms": 100})).await;
    control
        .set_faults(json!({"latency_ms": 600, "apis": ["flink"]}))
        .await;
    control.clear_requests().await;
    let name = unique("moving");
    let insert = new_statement(
        &name,
        &format!("INSERT INTO {dst} SELECT * FROM {src}"),
        catalog(&sim),
    );
    c.create(&insert).await.expect("create");
    assert_eq!(c.stop(&name).await.expect("stop"), UpdateOutcome::Updated);
    control.set_faults(json!({})).await;
    let stopped = c
        .watch()
        .wait_until(&name, |s| *s.phase() == Phase::Stopped, WAIT)
        .await
        .expect("wait");
    assert!(stopped.satisfied, "{:?}", stopped.last);

    let puts: Vec<u64> = control
        .requests()
        .await
        .iter()
        .filter(|e| e["method"] == "PUT")
        .map(|e| e["status"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(
        puts.first(),
        Some(&409),
        "the first PUT was stale: {puts:?}"
    );
    assert_eq!(puts.last(), Some(&202), "{puts:?}");

    control.set_timings(json!({"pending_ms": 20, "stopping_ms": 100, "deleting_ms": 150, "health_check_ms": 100})).await;
    drop_tables(&c, &sim, &[&src, &dst]).await;
}

#[tokio::test]
async fn a_409_on_create_is_success_for_our_statement_and_name_taken_for_another() {
    let sim = private_sim(SimOptions {
        deleting_ms: 1500,
        ..SimOptions::default()
    });
    let c = client(&sim, fast_policy());
    let name = unique("ours");
    let mut new = new_statement(&name, "SHOW TABLES", catalog(&sim));
    new.compute_pool_id = Some(sim.compute_pool_id.clone());
    new.principal = Some(sim.principal_id.clone());
    let first = c.create(&new).await.expect("create");
    let again = c
        .create(&new)
        .await
        .expect("a 409 for our own statement is success");
    assert_eq!(again.name, name);
    assert_eq!(
        again.metadata.uid, first.metadata.uid,
        "the same statement, not a new one"
    );

    let mut other_sql = new.clone();
    other_sql.sql = "SHOW DATABASES".into();
    match c.create(&other_sql).await {
        Err(FlinkError::NameTaken {
            name: n,
            differences,
        }) => {
            assert_eq!(n, name);
            assert!(differences.contains("SQL"), "{differences}");
        }
        other => panic!("expected NameTaken, got {other:?}"),
    }
    let mut other_principal = new.clone();
    other_principal.principal = Some("sa-someone-else".into());
    let err = c
        .create(&other_principal)
        .await
        .expect_err("another principal");
    assert!(
        matches!(&err, FlinkError::NameTaken { differences, .. } if differences == "principal"),
        "{err:?}"
    );
    assert!(err.to_string().contains(&name), "{err}");

    assert!(c.delete(&name).await.expect("delete"));
    let err = c
        .create(&new)
        .await
        .expect_err("name not free while DELETING");
    assert!(matches!(err, FlinkError::BeingDeleted { .. }), "{err:?}");
    let err = c.stop(&name).await.expect_err("cannot stop while DELETING");
    assert!(matches!(err, FlinkError::BeingDeleted { .. }), "{err:?}");
    assert!(gone(&c, &name).await, "{} is still there", name);
    let err = c.stop(&name).await.expect_err("stop a missing statement");
    assert!(matches!(err, FlinkError::NotFound { .. }), "{err:?}");
    // Gone, the name is held a moment longer (§F.3): free again once that passes.
    wait_until("the name to be free again", WAIT, || async {
        match c.create(&new).await {
            Ok(s) => Some(s),
            Err(FlinkError::NameHeld { .. }) => None,
            Err(e) => panic!("the name is free again: {e:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn the_stack_simulator_serves_create_get_list_delete() {
    let (env, c) = stack_client();
    let name = unique("stack");
    let label = unique("user.confluent.io/run");
    let mut new = new_statement(&name, "SHOW TABLES", BTreeMap::new());
    new.labels.insert(label.clone(), "true".into());
    c.create(&new).await.expect("create");
    let done = c
        .watch()
        .wait_until(&name, is_settled, WAIT)
        .await
        .expect("wait");
    assert_eq!(done.last.expect("exists").phase(), &Phase::Completed);
    let filter = ListFilter {
        label_selector: Some(format!("{label}=true")),
        compute_pool_id: Some(env.compute_pool_id.clone()),
    };
    let listed = listed_eventually(&c, &filter, |l| !l.is_empty()).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, name);
    assert!(c.delete(&name).await.expect("delete"));
    assert!(gone(&c, &name).await, "{} is still there", name);
}

/// Every `Display` and `Debug` of `err` is free of the secret and of the Basic token.
fn assert_clean(what: &str, err: &dyn std::fmt::Debug, display: String, needles: &[&str]) {
    let debug = format!("{err:?}");
    eprintln!("{what}: {display}");
    for n in needles {
        assert!(!display.contains(n), "{what}: secret in Display: {display}");
        assert!(!debug.contains(n), "{what}: secret in Debug: {debug}");
    }
}

fn basic_token(key: &str, secret: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"))
}

/// A socket that answers every connection with one fixed HTTP response: the only way to get a
/// success status with a malformed body, which no real server here sends.
async fn fixed_responder(response: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 8192];
            let _ = sock.read(&mut buf).await;
            let _ = sock.write_all(response.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn no_error_message_carries_the_credentials() {
    let sim = private_sim(SimOptions::default());
    let control = SimControl::new(&sim.control_url());
    let secret = &sim.flink_api_secret;
    let token = basic_token(&sim.flink_api_key, secret);
    let wrong = format!("WRONG{}", random_secret(40));
    let wrong_token = basic_token(&sim.flink_api_key, &wrong);
    let needles = [
        secret.as_str(),
        token.as_str(),
        wrong.as_str(),
        wrong_token.as_str(),
    ];
    let quick = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        request_timeout: Duration::from_millis(300),
        max_retry_after: Duration::from_millis(50),
    };
    let c = client(&sim, quick);
    let mut seen = Vec::new();
    let mut check = |what: &str, err: FlinkError| {
        assert_clean(what, &err, err.to_string(), &needles);
        seen.push(what.to_string());
        err
    };

    // 401: a wrong secret.
    let bad = FlinkClient::new(FlinkConfig {
        credentials: Credentials::new(&sim.flink_api_key, &wrong),
        endpoint: sim.url.clone(),
        organization_id: sim.org_id.clone(),
        environment_id: sim.env_id.clone(),
        retry: quick,
    })
    .expect("client");
    assert_clean("client Debug", &bad, String::new(), &needles);
    let e = check("401", bad.get("x").await.expect_err("401"));
    assert!(
        matches!(&e, FlinkError::Api(a) if a.status() == Some(401)),
        "{e}"
    );
    assert!(e.to_string().contains("The API Key is invalid"), "{e}");

    // 403: another environment.
    let other_env = FlinkClient::new(FlinkConfig {
        credentials: Credentials::new(&sim.flink_api_key, secret),
        endpoint: sim.url.clone(),
        organization_id: sim.org_id.clone(),
        environment_id: "env-other".into(),
        retry: quick,
    })
    .expect("client");
    let e = check(
        "403",
        other_env
            .list(&ListFilter::default())
            .await
            .expect_err("403"),
    );
    assert!(
        matches!(&e, FlinkError::Api(a) if a.status() == Some(403)),
        "{e}"
    );

    // 404 (typed) and 400 (bad name).
    check("404", c.stop("no-such-statement").await.expect_err("404"));
    let e = check(
        "400",
        c.create(&new_statement(
            "Not_A_Valid_Name",
            "SHOW TABLES",
            BTreeMap::new(),
        ))
        .await
        .expect_err("400"),
    );
    assert!(
        matches!(&e, FlinkError::Api(a) if a.status() == Some(400)),
        "{e}"
    );

    // 409 with another statement under the name.
    let name = unique("taken");
    c.create(&new_statement(&name, "SHOW TABLES", BTreeMap::new()))
        .await
        .expect("create");
    check(
        "409",
        c.create(&new_statement(&name, "SHOW DATABASES", BTreeMap::new()))
            .await
            .expect_err("409"),
    );

    // 422: an unknown compute pool.
    let mut new = new_statement(&unique("pool"), "SHOW TABLES", BTreeMap::new());
    new.compute_pool_id = Some("lfcp-nope".into());
    let e = check("422", c.create(&new).await.expect_err("422"));
    assert!(
        matches!(&e, FlinkError::Api(a) if a.status() == Some(422)),
        "{e}"
    );

    // 429 until the attempts run out.
    control
        .set_faults(json!({"throttle_fraction": 1.0, "apis": ["flink"]}))
        .await;
    let e = check("429", c.get("x").await.expect_err("429"));
    assert!(
        matches!(
            &e,
            FlinkError::Api(ApiError::Status {
                status: 429,
                attempts: 2,
                ..
            })
        ),
        "{e}"
    );

    // 5xx until the attempts run out.
    control
        .set_faults(json!({"error_fraction": 1.0, "error_statuses": [503], "apis": ["flink"]}))
        .await;
    let e = check("503", c.get("x").await.expect_err("503"));
    assert!(
        matches!(
            &e,
            FlinkError::Api(ApiError::Status {
                status: 503,
                attempts: 2,
                ..
            })
        ),
        "{e}"
    );
    assert!(
        e.to_string().contains("Internal error, please retry"),
        "{e}"
    );

    // Timeout.
    control
        .set_faults(json!({"latency_ms": 1000, "apis": ["flink"]}))
        .await;
    let e = check("timeout", c.get("x").await.expect_err("timeout"));
    assert!(
        matches!(&e, FlinkError::Api(ApiError::Timeout { .. })),
        "{e}"
    );
    control.set_faults(json!({})).await;

    // Connection refused on a dead port.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = dead.local_addr().expect("addr").port();
    drop(dead);
    let refused = FlinkClient::new(FlinkConfig {
        credentials: Credentials::new(&sim.flink_api_key, secret),
        endpoint: format!("http://127.0.0.1:{port}"),
        organization_id: sim.org_id.clone(),
        environment_id: sim.env_id.clone(),
        retry: quick,
    })
    .expect("client");
    let e = check(
        "connection refused",
        refused.get("x").await.expect_err("refused"),
    );
    assert!(
        matches!(&e, FlinkError::Api(ApiError::Transport { attempts: 2, .. })),
        "{e}"
    );

    // A success status with a body that is not JSON, and an HTML error page.
    for (what, status, content_type, body) in [
        ("bad JSON", "200 OK", "application/json", r#"{"name": tru"#),
        (
            "HTML error page",
            "400 Bad Request",
            "text/html",
            "<html><head><title>Bad Gateway</title></head><body></body></html>",
        ),
    ] {
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        let odd = FlinkClient::new(FlinkConfig {
            credentials: Credentials::new(&sim.flink_api_key, secret),
            endpoint: fixed_responder(response).await,
            organization_id: sim.org_id.clone(),
            environment_id: sim.env_id.clone(),
            retry: quick,
        })
        .expect("client");
        let e = check(what, odd.get("x").await.expect_err(what));
        if what == "bad JSON" {
            assert!(
                matches!(&e, FlinkError::Api(ApiError::Decode { .. })),
                "{e}"
            );
        } else {
            assert!(e.to_string().contains("non-JSON body (text/html"), "{e}");
            assert!(e.to_string().contains("Bad Gateway"), "{e}");
        }
    }
    assert_eq!(seen.len(), 12, "{seen:?}");
}

#[tokio::test]
async fn creates_and_deletes_whose_answers_are_lost_are_confirmed_by_get() {
    let sim = private_sim(SimOptions::default());
    let control = SimControl::new(&sim.control_url());
    // Every create and delete is carried out, and every answer to them is lost.
    control
        .set_faults(json!({
            "lost_answer_fraction": { "flink": 1.0 },
            "lost_answer_methods": ["POST", "DELETE"],
        }))
        .await;
    let c = client(
        &sim,
        RetryPolicy {
            max_attempts: 3,
            ..fast_policy()
        },
    );
    let name = unique("lost");
    let mut new = new_statement(&name, "SHOW TABLES", catalog(&sim));
    new.labels
        .insert("user.confluent.io/ccaf-housekeeping".into(), "lost".into());
    let created = c
        .create(&new)
        .await
        .expect("the statement the lost answer made is ours");
    assert_eq!(created.name, name);
    // The retries met 409 (lost too); the GET found the statement as asked.
    let lost = control.assert_injected("lost_answer", 3).await;
    assert_eq!(lost, 3, "one create, three attempts");

    // The same name with another owner is not taken for ours.
    let mut other = new.clone();
    other.labels.insert(
        "user.confluent.io/ccaf-housekeeping".into(),
        "other-app".into(),
    );
    let err = c.create(&other).await.expect_err("another app's statement");
    assert!(
        matches!(
            &err,
            FlinkError::Api(ApiError::Status {
                status: 500..=504,
                ..
            })
        ),
        "the lost answer's error, not success: {err:?}"
    );

    assert!(c.delete(&name).await.expect("the GET confirms the delete"));
    assert!(gone(&c, &name).await, "{} is still there", name);
    // Nothing to confirm a delete of a statement that never was.
    control.set_faults(json!({})).await;
    assert!(!c.delete(&unique("never")).await.expect("404"));
}

/// Whether the statement is gone within [`WAIT`].
async fn gone(c: &FlinkClient, name: &str) -> bool {
    c.watch()
        .wait_gone(name, WAIT)
        .await
        .expect("gone")
        .satisfied
}

/// `n` GETs of statements that do not exist, all at once: each must end in a 404.
async fn burst_of_gets(c: &FlinkClient, n: usize) {
    let names: Vec<String> = (0..n).map(|i| format!("absent-{i}")).collect();
    let answers = futures::future::join_all(names.iter().map(|name| c.get(name))).await;
    for a in answers {
        assert!(matches!(a, Ok(None)), "{a:?}");
    }
}

#[tokio::test]
async fn the_flink_limit_grows_backs_off_on_429_and_grows_again() {
    let sim = private_sim(SimOptions::default());
    let control = SimControl::new(&sim.control_url());
    control.set_faults(json!({ "latency_ms": 20 })).await;
    let c = client(
        &sim,
        RetryPolicy {
            max_attempts: 30,
            ..fast_policy()
        },
    );
    burst_of_gets(&c, 400).await;
    let grown = c.usage();
    assert!(grown.limit_reached > AUTO_START, "{grown:?}");
    assert_eq!((grown.requests, grown.throttled), (400, 0));

    control
        .set_faults(json!({ "latency_ms": 20, "rate_limit_rps": 40, "rate_limit_burst": 10 }))
        .await;
    burst_of_gets(&c, 120).await;
    let throttled = c.usage();
    assert!(throttled.throttled > 0, "{throttled:?}");
    assert!(
        throttled.limit_now < grown.limit_now,
        "no backing off: {grown:?} then {throttled:?}"
    );
    let log = control.requests().await;
    assert_eq!(
        log.iter().filter(|e| e["fault"] == "rate_limit").count() as u64,
        throttled.throttled,
        "the client counts every 429 it got"
    );

    control.set_faults(json!({ "latency_ms": 20 })).await;
    burst_of_gets(&c, 400).await;
    let again = c.usage();
    assert!(
        again.limit_now > throttled.limit_now,
        "did not grow again: {throttled:?} then {again:?}"
    );
}

#[tokio::test]
async fn one_watch_wakes_every_waiter_and_confirms_vanished_statements_with_one_get() {
    let sim = private_sim(SimOptions {
        pending_ms: 600,
        deleting_ms: 1500,
        ..Default::default()
    });
    let control = SimControl::new(&sim.control_url());
    let c = client(&sim, fast_policy());
    let (src, dst) = two_tables(&c, &sim).await;
    let app = unique("watched");
    let labels: BTreeMap<String, String> = [(OWNER_LABEL.to_string(), app.clone())].into();
    let mut names = Vec::new();
    for i in 0..6 {
        let mut new = new_statement(
            &unique(&format!("job{i}")),
            &format!("INSERT INTO {dst} SELECT * FROM {src}"),
            catalog(&sim),
        );
        // One statement without the app's label: the list never shows it, GETs follow it.
        if i > 0 {
            new.labels = labels.clone();
        }
        c.create(&new).await.expect("create");
        names.push(new.name);
    }
    let filter = ListFilter {
        label_selector: Some(format!("{OWNER_LABEL}={app}")),
        compute_pool_id: None,
    };
    // Once the list shows them (it shows new statements late), the watch needs no GET for them.
    listed_eventually(&c, &filter, |l| l.len() == 5).await;
    let watch = StatementWatch::new(c.clone(), filter);
    control.clear_requests().await;
    let settled =
        futures::future::join_all(names.iter().map(|n| watch.wait_until(n, is_settled, WAIT)))
            .await;
    for (n, s) in names.iter().zip(settled) {
        let s = s.expect("wait");
        assert!(s.satisfied, "{n}: {:?}", s.last);
        assert_eq!(s.last.expect("seen").phase(), &Phase::Running);
    }
    let gets_of = |log: &[Value], name: &str| {
        log.iter()
            .filter(|e| {
                e["method"] == "GET"
                    && e["path"]
                        .as_str()
                        .is_some_and(|p| p.ends_with(&format!("/statements/{name}")))
            })
            .count()
    };
    let lists = |log: &[Value]| {
        log.iter()
            .filter(|e| {
                is_statements_path(e, &sim.org_id, &sim.env_id)
                    && e["query"]
                        .as_str()
                        .is_some_and(|q| q.contains("label_selector"))
            })
            .count()
    };
    let log = control.requests().await;
    assert!(lists(&log) >= 2, "the watch lists once per tick");
    for n in &names[1..] {
        assert_eq!(gets_of(&log, n), 0, "{n} was polled, not watched");
    }
    assert!(
        gets_of(&log, &names[0]) >= 1,
        "the unlabelled one is followed by GETs"
    );

    for n in &names {
        assert!(c.delete(n).await.expect("delete"));
    }
    control.clear_requests().await;
    let gone = futures::future::join_all(names.iter().map(|n| watch.wait_gone(n, WAIT))).await;
    for (n, g) in names.iter().zip(gone) {
        let g = g.expect("wait");
        assert!(g.satisfied && g.last.is_none(), "{n}: {:?}", g.last);
    }
    let log = control.requests().await;
    assert!(
        lists(&log) >= 2,
        "deletes take 1.5 s: the watch listed meanwhile"
    );
    for n in &names[1..] {
        // Listed DELETING until gone; missing from the list, then one GET confirms it.
        assert_eq!(gets_of(&log, n), 1, "{n}: confirmed once, never polled");
    }
    drop_tables(&c, &sim, &[&src, &dst]).await;
}

/// `n` labelled jobs of a new app, listed (the list shows new statements late), and the
/// watch over them.
async fn watched_jobs(
    c: &FlinkClient,
    sim: &PrivateSim,
    n: usize,
) -> (Vec<String>, StatementWatch, (String, String)) {
    let tables = two_tables(c, sim).await;
    let app = unique("learnt");
    let mut names = Vec::new();
    for i in 0..n {
        let mut new = new_statement(
            &unique(&format!("job{i}")),
            &format!("INSERT INTO {} SELECT * FROM {}", tables.1, tables.0),
            catalog(sim),
        );
        new.labels = [(OWNER_LABEL.to_string(), app.clone())].into();
        c.create(&new).await.expect("create");
        names.push(new.name);
    }
    let filter = ListFilter {
        label_selector: Some(format!("{OWNER_LABEL}={app}")),
        compute_pool_id: None,
    };
    listed_eventually(c, &filter, |l| l.len() == n).await;
    (names, StatementWatch::new(c.clone(), filter), tables)
}

fn gets_of(log: &[Value], name: &str) -> usize {
    log.iter()
        .filter(|e| {
            e["method"] == "GET"
                && e["path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(&format!("/statements/{name}")))
        })
        .count()
}

#[tokio::test]
async fn the_watch_learns_how_long_a_change_takes_and_confirms_the_others_when_due() {
    // Deleted statements linger in the list for 6 s: a wait that ends well before that did
    // not wait for the list.
    let sim = private_sim(SimOptions {
        deleting_ms: 1000,
        list_lag_ms: 6000,
        ..Default::default()
    });
    let control = SimControl::new(&sim.control_url());
    let c = client(&sim, fast_policy());
    let (names, watch, (src, dst)) = watched_jobs(&c, &sim, 8).await;
    let started = wait_until("every job running", WAIT, || async {
        let mut all = true;
        for n in &names {
            all &= c
                .get(n)
                .await
                .expect("get")
                .is_some_and(|s| *s.phase() == Phase::Running);
        }
        all.then_some(())
    });
    started.await;
    futures::future::join_all(names.iter().map(|n| c.delete(n))).await;
    control.clear_requests().await;
    let gone = futures::future::join_all(names.iter().map(|n| watch.wait_gone(n, WAIT))).await;
    for (n, g) in names.iter().zip(&gone) {
        let g = g.as_ref().expect("wait");
        assert!(g.satisfied && g.last.is_none(), "{n}: {:?}", g.last);
        assert!(
            g.waited < Duration::from_secs(5),
            "{n} waited for the list: {:?}",
            g.waited
        );
    }
    let log = control.requests().await;
    let gets: Vec<usize> = names.iter().map(|n| gets_of(&log, n)).collect();
    // One statement is followed until its delete is seen done; every other gets one GET.
    assert_eq!(gets.iter().filter(|&&g| g > 1).count(), 1, "{gets:?}");
    assert!(gets.iter().all(|&g| g >= 1), "{gets:?}");
    let stats = watch.stats();
    assert_eq!(
        (stats.guess_gets, stats.missed_guesses),
        (7, 0),
        "{stats:?}"
    );
    assert!(stats.lead_gets >= 5, "{stats:?}");
    let deleted = stats
        .waits
        .iter()
        .find(|w| w.change == Change::Deleted)
        .expect("the deletes' waits");
    assert_eq!(deleted.waits, 8);
    let learned = deleted.learned_ms.expect("learnt");
    assert!((900..2000).contains(&learned), "{deleted:?}");
    drop_tables(&c, &sim, &[&src, &dst]).await;
}

#[tokio::test]
async fn guesses_that_miss_leave_the_kind_to_the_list() {
    let sim = private_sim(SimOptions {
        deleting_ms: 800,
        ..Default::default()
    });
    let control = SimControl::new(&sim.control_url());
    let c = client(&sim, fast_policy());
    let (names, watch, (src, dst)) = watched_jobs(&c, &sim, 6).await;
    wait_until("every job running", WAIT, || async {
        let mut all = true;
        for n in &names {
            all &= c
                .get(n)
                .await
                .expect("get")
                .is_some_and(|s| *s.phase() == Phase::Running);
        }
        all.then_some(())
    })
    .await;
    control.clear_requests().await;
    // Every wait starts now, but only the first statement (the one the watch learns from) is
    // deleted now: the others only once their guesses were sent, so every guess is too early.
    let waits = futures::future::join_all(names.iter().map(|n| watch.wait_gone(n, WAIT)));
    let deletes = async {
        assert!(c.delete(&names[0]).await.expect("delete"));
        wait_until("the guesses to be sent", WAIT, || async {
            (watch.stats().guess_gets >= 5).then_some(())
        })
        .await;
        for n in &names[1..] {
            assert!(c.delete(n).await.expect("delete"));
        }
    };
    let (gone, ()) = tokio::join!(waits, deletes);
    for (n, g) in names.iter().zip(&gone) {
        let g = g.as_ref().expect("wait");
        assert!(g.satisfied && g.last.is_none(), "{n}: {:?}", g.last);
    }
    let stats = watch.stats();
    let deleted = stats
        .waits
        .iter()
        .find(|w| w.change == Change::Deleted)
        .expect("the deletes' waits");
    assert!(deleted.unpredictable, "{stats:?}");
    assert!(stats.missed_guesses >= 2, "{stats:?}");
    // Each missed guess cost one GET; after it the list settled it (one GET confirms a
    // statement the list stopped showing).
    let log = control.requests().await;
    for n in &names[1..] {
        let gets = gets_of(&log, n);
        assert!(gets <= 3, "{n}: {gets} GETs");
    }
    drop_tables(&c, &sim, &[&src, &dst]).await;
}
