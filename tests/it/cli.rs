//! The binary's tracker commands (`track …`, `status`) run as the runner would: inputs in
//! `INPUT_*` variables, against the stack's broker, simulator and moto. Exit codes: 0 done,
//! 1 failed, 2 bad input, 3 lease held.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use ccaf_housekeeping::confluent::flink::{FlinkClient, FlinkConfig, NewStatement, Phase};
use ccaf_housekeeping::confluent::http::{Credentials, RetryPolicy};
use ccaf_housekeeping::confluent::kafka::{KafkaAdmin, KafkaConfig};
use ccaf_housekeeping::tracker::{LeaseRequest, Record, Scope, State, Tracker};
use serde_json::{json, Value};
use test_support::{unique, StackEnv, TempDir};

const BIN: &str = env!("CARGO_BIN_EXE_ccaf-housekeeping");

/// The binary with a clean environment and the stack's Kafka (PLAINTEXT) and tracker topic.
fn ccaf(stack: &StackEnv, topic: &str, env_id: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CCAF_LOG", "warn")
        .env(
            "INPUT_KAFKA-BOOTSTRAP-SERVERS",
            &stack.kafka_bootstrap_servers,
        )
        .env("INPUT_KAFKA-SECURITY-PROTOCOL", "PLAINTEXT")
        .env("INPUT_TRACKER-TOPIC", topic)
        .env("INPUT_ENVIRONMENT-ID", env_id)
        .stdin(Stdio::null());
    cmd
}

fn run(mut cmd: Command, args: &[&str]) -> Output {
    cmd.args(args).output().expect("running ccaf-housekeeping")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn expect(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "exit code\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn kafka(stack: &StackEnv) -> KafkaConfig {
    KafkaConfig::plaintext(&stack.kafka_bootstrap_servers)
}

async fn topic_exists(stack: &StackEnv, topic: &str) -> bool {
    KafkaAdmin::connect(&kafka(stack))
        .unwrap()
        .topic_exists(topic)
        .await
        .unwrap()
}

#[tokio::test]
async fn track_put_get_list_delete_round_trip() {
    let stack = StackEnv::load();
    let topic = unique("it-cli-track");
    let env_id = "env-cli001";
    let dir = TempDir::new("cli-track");
    let app = unique("app");

    let mut written = Vec::new();
    for i in 0..3 {
        let mut r = Record::new(
            &app,
            env_id,
            format!("{app}-s{i}"),
            format!("SELECT {i}"),
            State::Deployed,
        );
        r.last_phase = Some("RUNNING".into());
        let file = dir.0.join(format!("r{i}.json"));
        std::fs::write(&file, serde_json::to_string(&r).unwrap()).unwrap();
        let out = run(
            ccaf(&stack, &topic, env_id),
            &["track", "put", "--file", file.to_str().unwrap()],
        );
        expect(&out, 0);
        assert!(
            text(&out.stdout).contains(&r.key()),
            "{}",
            text(&out.stdout)
        );
        written.push(r);
    }
    // A record of another app in the same environment.
    let other = Record::new(
        "other-app",
        env_id,
        "other-app-s0",
        "SELECT 9",
        State::TornDown,
    );
    let file = dir.0.join("other.json");
    std::fs::write(&file, serde_json::to_string(&other).unwrap()).unwrap();
    expect(
        &run(
            ccaf(&stack, &topic, env_id),
            &["track", "put", "--file", file.to_str().unwrap()],
        ),
        0,
    );

    // get prints the record as JSON.
    let out = run(
        ccaf(&stack, &topic, env_id),
        &["track", "get", &written[1].statement_name],
    );
    expect(&out, 0);
    let got: Record = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got, written[1]);

    // list --app --json: exactly the app's records.
    let mut cmd = ccaf(&stack, &topic, env_id);
    cmd.env("INPUT_APP", &app);
    let out = run(cmd, &["track", "list", "--json"]);
    expect(&out, 0);
    let listed: Vec<Record> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed, written);
    // Without --app: everything in the environment, as a table.
    let out = run(ccaf(&stack, &topic, env_id), &["track", "list"]);
    expect(&out, 0);
    let table = text(&out.stdout);
    assert!(table.starts_with("STATEMENT"), "{table}");
    for r in written.iter().chain([&other]) {
        assert!(table.contains(&r.statement_name), "{table}");
    }
    assert_eq!(table.lines().count(), 5, "{table}");

    // delete, then get fails (exit 1) and list no longer shows it.
    let out = run(
        ccaf(&stack, &topic, env_id),
        &["track", "delete", &written[0].statement_name],
    );
    expect(&out, 0);
    assert!(text(&out.stdout).contains("deleted"));
    let out = run(
        ccaf(&stack, &topic, env_id),
        &["track", "get", &written[0].statement_name],
    );
    expect(&out, 1);
    assert!(text(&out.stderr).contains(&written[0].statement_name));
    let mut cmd = ccaf(&stack, &topic, env_id);
    cmd.env("INPUT_APP", &app);
    let listed: Vec<Record> =
        serde_json::from_slice(&run(cmd, &["track", "list", "--json"]).stdout).unwrap();
    assert_eq!(listed, written[1..].to_vec());
}

#[tokio::test]
async fn a_record_of_a_newer_version_survives_put_and_get() {
    let stack = StackEnv::load();
    let topic = unique("it-cli-future");
    let env_id = "env-cli002";
    let dir = TempDir::new("cli-future");
    let record = json!({
        "version": 3,
        "app": "future-app",
        "statement_name": "future-app-stmt-1234abcd",
        "environment_id": env_id,
        "sql": "INSERT INTO t SELECT * FROM s",
        "properties": {"sql.current-catalog": "c"},
        "state": "paused_by_policy",
        "tables": {"reads": ["c.d.s"], "writes": ["c.d.t"], "creates": [], "materialized_views": ["c.d.mv"]},
        "provenance": {"git_sha": "abc", "run_id": "1", "pr_number": 7, "at": "2031-05-06T07:08:09Z", "attestation": {"sig": "x"}},
        "cost_center": "data-platform",
        "slo": {"freshness_s": 60}
    });
    let file = dir.0.join("future.json");
    std::fs::write(&file, serde_json::to_string_pretty(&record).unwrap()).unwrap();
    expect(
        &run(
            ccaf(&stack, &topic, env_id),
            &["track", "put", "--file", file.to_str().unwrap()],
        ),
        0,
    );

    let out = run(
        ccaf(&stack, &topic, env_id),
        &["track", "get", "future-app-stmt-1234abcd"],
    );
    expect(&out, 0);
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    // Every field given comes back as given (the record gains only defaulted known fields).
    fn contains(got: &Value, want: &Value, path: &str) {
        match want {
            Value::Object(m) => {
                for (k, v) in m {
                    contains(&got[k], v, &format!("{path}.{k}"));
                }
            }
            _ => assert_eq!(got, want, "{path}"),
        }
    }
    contains(&got, &record, "");
}

#[tokio::test]
async fn bad_inputs_exit_2_naming_the_input_and_write_nothing() {
    let stack = StackEnv::load();
    let env_id = "env-cli003";
    let dir = TempDir::new("cli-bad");
    let r = Record::new("bad-app", env_id, "bad-app-s1", "SELECT 1", State::Deployed);
    let file = dir.0.join("r.json");
    std::fs::write(&file, serde_json::to_string(&r).unwrap()).unwrap();
    let file = file.to_str().unwrap().to_string();
    let put = ["track", "put", "--file", file.as_str()];

    // Empty tracker topic.
    let mut cmd = ccaf(&stack, "unused", env_id);
    cmd.env("INPUT_TRACKER-TOPIC", "");
    let out = run(cmd, &put);
    expect(&out, 2);
    assert!(
        text(&out.stderr).contains("tracker-topic"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());

    let topic = unique("it-cli-bad");
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        (
            "kafka-security-protocol",
            vec![("INPUT_KAFKA-SECURITY-PROTOCOL", "SASL_PLAINTEXT")],
        ),
        // SASL_SSL (the default) without an API key.
        (
            "kafka-api-key",
            vec![("INPUT_KAFKA-SECURITY-PROTOCOL", "SASL_SSL")],
        ),
        (
            "kafka-security-protocol",
            vec![("INPUT_KAFKA-SECURITY-PROTOCOL", "")],
        ),
        ("tracker-topic", vec![("INPUT_TRACKER-TOPIC", "bad/topic")]),
        ("environment-id", vec![("INPUT_ENVIRONMENT-ID", "env/../x")]),
        ("app", vec![("INPUT_APP", "Not_An_App")]),
        // A secret id that does not exist.
        (
            "kafka-secret-id",
            vec![("INPUT_KAFKA-SECRET-ID", "no-such-secret-ccaf")],
        ),
    ];
    for (input, vars) in cases {
        let mut cmd = ccaf(&stack, &topic, env_id);
        cmd.env("AWS_ENDPOINT_URL", &stack.aws_endpoint_url)
            .env("AWS_REGION", &stack.aws_region)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing");
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = run(cmd, &put);
        expect(&out, 2);
        let err = text(&out.stderr);
        assert!(err.contains(input), "{input}: {err}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{err}"
        );
    }
    // A record file that is not a record, and a record of another environment.
    std::fs::write(dir.0.join("bad.json"), r#"{"app": "x"}"#).unwrap();
    let out = run(
        ccaf(&stack, &topic, env_id),
        &[
            "track",
            "put",
            "--file",
            dir.0.join("bad.json").to_str().unwrap(),
        ],
    );
    expect(&out, 2);
    assert!(text(&out.stderr).contains("file"), "{}", text(&out.stderr));
    let out = run(ccaf(&stack, &topic, "env-elsewhere"), &put);
    expect(&out, 2);
    assert!(
        text(&out.stderr).contains("environment"),
        "{}",
        text(&out.stderr)
    );

    // Nothing was written: the tracker topic was never even created.
    assert!(!topic_exists(&stack, &topic).await);

    // Missing AWS region for a secret id: named too.
    let mut cmd = ccaf(&stack, &topic, env_id);
    // (No instance metadata lookups for a region: loopback only.)
    cmd.env("INPUT_KAFKA-SECRET-ID", "x")
        .env("AWS_ENDPOINT_URL", &stack.aws_endpoint_url)
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let out = run(cmd, &put);
    expect(&out, 2);
    assert!(
        text(&out.stderr).contains("aws-region"),
        "{}",
        text(&out.stderr)
    );
    // Usage errors are bad input too, and so is an unknown or missing `command` input.
    expect(
        &run(ccaf(&stack, &topic, env_id), &["track", "frobnicate"]),
        2,
    );
    let mut cmd = ccaf(&stack, &topic, env_id);
    cmd.env("INPUT_COMMAND", "frobnicate");
    let out = run(cmd, &[]);
    expect(&out, 2);
    assert!(
        text(&out.stderr).contains("`command`"),
        "{}",
        text(&out.stderr)
    );
    let out = run(ccaf(&stack, &topic, env_id), &[]);
    expect(&out, 2);
    assert!(
        text(&out.stderr).contains("`command`"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn credentials_come_from_secrets_manager_for_the_binary_too() {
    let stack = StackEnv::load();
    let topic = unique("it-cli-secret");
    let env_id = "env-cli004";
    // The Kafka secret names the broker; the environment comes from the Flink secret.
    let sm = aws_sdk_secretsmanager::Client::new(
        &ccaf_housekeeping::secrets::aws_sdk_config(None).await,
    );
    let kafka_id = unique("cli-kafka");
    sm.create_secret()
        .name(&kafka_id)
        .secret_string(
            json!({"bootstrap.servers": stack.kafka_bootstrap_servers, "sasl.username": "u", "sasl.password": "p"})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    let flink_id = unique("cli-flink");
    sm.create_secret()
        .name(&flink_id)
        .secret_string(json!({"environment.id": env_id}).to_string())
        .send()
        .await
        .unwrap();
    let t = Tracker::open(
        &kafka(&stack),
        &topic,
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap();
    let r = Record::new("sec-app", env_id, "sec-app-s1", "SELECT 1", State::Adopted);
    t.put(&r).await.unwrap();

    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ENDPOINT_URL", &stack.aws_endpoint_url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("INPUT_AWS-REGION", &stack.aws_region)
        .env("INPUT_KAFKA-SECRET-ID", &kafka_id)
        .env("INPUT_FLINK-SECRET-ID", &flink_id)
        .env("INPUT_KAFKA-SECURITY-PROTOCOL", "PLAINTEXT")
        .env("INPUT_TRACKER-TOPIC", &topic);
    let out = run(cmd, &["track", "get", "sec-app-s1"]);
    expect(&out, 0);
    let got: Record = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got, r);
}

fn flink(stack: &StackEnv) -> FlinkClient {
    ccaf_housekeeping::confluent::http::install_crypto_provider();
    FlinkClient::new(FlinkConfig {
        endpoint: stack.flink_url.clone(),
        organization_id: stack.org_id.clone(),
        environment_id: stack.env_id.clone(),
        credentials: Credentials::new(&stack.flink_api_key, &stack.flink_api_secret),
        retry: RetryPolicy::default(),
    })
    .unwrap()
}

#[tokio::test]
async fn status_shows_the_live_phase_of_each_tracked_statement() {
    let stack = StackEnv::load();
    let client = flink(&stack);
    let app = unique("status");
    let (src, sink) = (
        format!("{}_src", app.replace('-', "_")),
        format!("{}_sink", app.replace('-', "_")),
    );
    let props = BTreeMap::from([
        ("sql.current-catalog".to_string(), stack.env_name.clone()),
        (
            "sql.current-database".to_string(),
            stack.kafka_cluster_id.clone(),
        ),
    ]);
    let new = |name: &str, sql: String| NewStatement {
        name: name.to_string(),
        sql,
        properties: props.clone(),
        compute_pool_id: Some(stack.compute_pool_id.clone()),
        principal: Some(stack.principal_id.clone()),
        labels: BTreeMap::new(),
    };
    let ddl = [
        (
            format!("{app}-src"),
            format!("CREATE TABLE {src} (id STRING)"),
        ),
        (
            format!("{app}-sink"),
            format!("CREATE TABLE {sink} (id STRING)"),
        ),
    ];
    for (name, sql) in &ddl {
        client.create(&new(name, sql.clone())).await.unwrap();
        let w = client
            .watch()
            .wait_until(
                name,
                |s| *s.phase() == Phase::Completed,
                Duration::from_secs(60),
            )
            .await
            .unwrap();
        assert!(w.satisfied, "{name}: {:?}", w.last.map(|s| s.status));
    }
    let insert = format!("{app}-copy");
    client
        .create(&new(
            &insert,
            format!("INSERT INTO {sink} SELECT id FROM {src}"),
        ))
        .await
        .unwrap();
    let w = client
        .watch()
        .wait_until(
            &insert,
            |s| *s.phase() == Phase::Running,
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(w.satisfied, "{insert}: {:?}", w.last.map(|s| s.status));

    // Tracked: the insert, one DDL, and one whose statement is gone.
    let topic = unique("it-cli-status");
    let t = Tracker::open(
        &kafka(&stack),
        &topic,
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap();
    let mut records = vec![
        Record::new(&app, &stack.env_id, &insert, "INSERT …", State::Deployed),
        Record::new(&app, &stack.env_id, &ddl[0].0, &ddl[0].1, State::Deployed),
        Record::new(
            &app,
            &stack.env_id,
            format!("{app}-gone"),
            "SELECT 1",
            State::TornDown,
        ),
    ];
    records[0].last_phase = Some("PENDING".into());
    // Another app's record in the same environment is not shown.
    records.push(Record::new(
        "someone-else",
        &stack.env_id,
        format!("{app}-not-mine"),
        "SELECT 1",
        State::Deployed,
    ));
    t.put_all(&records).await.unwrap();

    let status = |json: bool| {
        let mut cmd = ccaf(&stack, &topic, &stack.env_id);
        cmd.env("INPUT_APP", &app)
            .env("INPUT_FLINK-ENDPOINT", &stack.flink_url)
            .env("INPUT_FLINK-API-KEY", &stack.flink_api_key)
            .env("INPUT_FLINK-API-SECRET", &stack.flink_api_secret)
            .env("INPUT_ORGANIZATION-ID", &stack.org_id);
        let out = run(
            cmd,
            if json {
                &["status", "--json"][..]
            } else {
                &["status"][..]
            },
        );
        expect(&out, 0);
        out
    };
    let out = status(true);
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let phases: BTreeMap<String, String> = rows
        .iter()
        .map(|r| {
            (
                r["statement_name"].as_str().unwrap().to_string(),
                r["phase"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        phases,
        BTreeMap::from([
            (insert.clone(), "RUNNING".to_string()),
            (ddl[0].0.clone(), "COMPLETED".to_string()),
            (format!("{app}-gone"), "NOT_FOUND".to_string()),
        ])
    );
    let table = text(&status(false).stdout);
    let line = table
        .lines()
        .find(|l| l.starts_with(&insert))
        .expect("the insert's line");
    assert!(
        line.contains("RUNNING") && line.contains("PENDING") && line.contains("deployed"),
        "{table}"
    );
    assert!(!table.contains(&stack.flink_api_secret));

    // As the action runs it: no arguments, the command in `INPUT_COMMAND`.
    let mut cmd = ccaf(&stack, &topic, &stack.env_id);
    cmd.env("INPUT_COMMAND", "status")
        .env("INPUT_APP", &app)
        .env("INPUT_FLINK-ENDPOINT", &stack.flink_url)
        .env("INPUT_FLINK-API-KEY", &stack.flink_api_key)
        .env("INPUT_FLINK-API-SECRET", &stack.flink_api_secret)
        .env("INPUT_ORGANIZATION-ID", &stack.org_id);
    let out = run(cmd, &[]);
    expect(&out, 0);
    assert_eq!(text(&out.stdout), table);

    // Without app: bad input.
    let mut cmd = ccaf(&stack, &topic, &stack.env_id);
    cmd.env("INPUT_FLINK-ENDPOINT", &stack.flink_url);
    let out = run(cmd, &["status"]);
    expect(&out, 2);
    assert!(text(&out.stderr).contains("`app`"), "{}", text(&out.stderr));

    for name in [&insert, &ddl[0].0, &ddl[1].0] {
        client.delete(name).await.unwrap();
    }
}

/// A `track lease` process: holds the lease until its stdin closes.
fn lease_process(
    stack: &StackEnv,
    topic: &str,
    app: &str,
    run_id: &str,
    wait: &str,
    start_at_ms: i64,
) -> Child {
    let mut cmd = ccaf(stack, topic, "env-lease01");
    cmd.env("INPUT_APP", app)
        .args([
            "track", "lease", "--run-id", run_id, "--wait", wait, "--ttl", "60s",
        ])
        .args(["--not-before-ms", &start_at_ms.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.spawn().expect("spawn track lease")
}

fn read_all(r: Option<impl std::io::Read>) -> String {
    let mut s = String::new();
    if let Some(mut r) = r {
        let _ = r.read_to_string(&mut s);
    }
    s
}

#[tokio::test]
async fn two_processes_racing_for_one_lease_exactly_one_wins_every_time() {
    let stack = StackEnv::load();
    let topic = unique("it-cli-lease");
    let app = unique("race");
    Tracker::open(
        &kafka(&stack),
        &topic,
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap()
    .ensure_topic()
    .await
    .unwrap();
    for trial in 0..20 {
        let start_at = chrono::Utc::now().timestamp_millis() + 1500;
        let ids = [format!("t{trial}-a"), format!("t{trial}-b")];
        let mut procs: Vec<Child> = ids
            .iter()
            .map(|id| lease_process(&stack, &topic, &app, id, "0s", start_at))
            .collect();
        // The loser exits (3) while the winner holds; a double winner would never exit.
        let loser = test_support::wait_until(
            &format!("trial {trial}: one process to give up"),
            Duration::from_secs(60),
            || {
                let done: Vec<usize> = (0..2)
                    .filter(|&i| procs[i].try_wait().ok().flatten().is_some())
                    .collect();
                async move { done.first().copied() }
            },
        )
        .await;
        let winner = 1 - loser;
        let loser_out = procs[loser].wait_with_output_ref();
        assert_eq!(
            loser_out.0,
            Some(3),
            "trial {trial}: the loser's exit code\nstdout:\n{}\nstderr:\n{}",
            loser_out.1,
            loser_out.2
        );
        assert!(
            loser_out.2.contains(&ids[winner]),
            "trial {trial}: the loser does not name the winner's run id {}: {}",
            ids[winner],
            loser_out.2
        );
        // The winner still holds: it said so, and it has not exited.
        let mut stdout = BufReader::new(procs[winner].stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        assert_eq!(
            first.trim(),
            format!("acquired {}", ids[winner]),
            "trial {trial}"
        );
        assert!(procs[winner].try_wait().unwrap().is_none(), "trial {trial}");
        drop(procs[winner].stdin.take());
        let status = procs[winner].wait().unwrap();
        let rest = read_all(Some(stdout));
        assert_eq!(
            status.code(),
            Some(0),
            "trial {trial}: winner: {rest} {}",
            read_all(procs[winner].stderr.take())
        );
        assert!(
            rest.contains(&format!("released {}", ids[winner])),
            "{rest}"
        );
    }
    // Every lease was released.
    let t = Tracker::open(
        &kafka(&stack),
        &topic,
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap();
    assert!(t.load(&Scope::all()).await.unwrap().leases.is_empty());
}

trait WaitRef {
    fn wait_with_output_ref(&mut self) -> (Option<i32>, String, String);
}

impl WaitRef for Child {
    fn wait_with_output_ref(&mut self) -> (Option<i32>, String, String) {
        let code = self.wait().unwrap().code();
        (
            code,
            read_all(self.stdout.take()),
            read_all(self.stderr.take()),
        )
    }
}

#[tokio::test]
async fn a_waiting_process_gets_the_lease_after_release_and_a_held_one_exits_3() {
    let stack = StackEnv::load();
    let topic = unique("it-cli-lease-wait");
    let app = unique("wait");
    let t = Tracker::open(
        &kafka(&stack),
        &topic,
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap();
    let mut req = LeaseRequest::new("env-lease01", &app, "holder-run-1", "the test");
    req.wait = Duration::ZERO;
    let held = t.acquire_lease(&req).await.unwrap();

    // Held: a process that does not wait exits 3 naming the holder and its run id.
    let mut p = lease_process(&stack, &topic, &app, "impatient", "0s", 0);
    let (code, _, err) = p.wait_with_output_ref();
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("holder-run-1") && err.contains("the test"),
        "{err}"
    );

    // A patient one waits, and gets it once the holder releases.
    let mut p = lease_process(&stack, &topic, &app, "patient", "60s", 0);
    test_support::wait_until(
        "the patient process to queue",
        Duration::from_secs(30),
        || {
            let t = t.clone();
            let app = app.clone();
            async move {
                let snap = t.load(&Scope::app("env-lease01", &app)).await.ok()?;
                snap.leases_of("env-lease01", &app)
                    .iter()
                    .any(|e| e.record.run_id == "patient")
                    .then_some(())
            }
        },
    )
    .await;
    assert!(
        p.try_wait().unwrap().is_none(),
        "the patient process ended while the lease was held"
    );
    held.release().await.unwrap();
    let mut stdout = BufReader::new(p.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert_eq!(first.trim(), "acquired patient");
    drop(p.stdin.take());
    assert_eq!(p.wait().unwrap().code(), Some(0));
}
