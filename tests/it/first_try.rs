//! Ready for a real account on the first try: credentials from AWS Secrets Manager in every
//! layout the seeds' Terraform writes drive a real buildup and teardown; only credentials are
//! masked in the log; a refused credential, an unreachable broker or a tracker topic that would
//! expire records stop the run before anything changes (exit 2, naming the input); a 403 on a
//! delete is reported as a permission problem; statements carry their own pool, principal and
//! labels.

use std::collections::BTreeMap;

use ccaf_housekeeping::confluent::kafka::{KafkaAdmin, KafkaConfig};
use serde_json::{json, Value};
use test_support::{random_secret, unique, SimOptions, StackEnv};

use crate::harness::{write, App, Cloud, Run, Tables};

/// Which of the seeds' two layouts a secret is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    JavaClient,
    PythonClient,
}

async fn sm() -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(&ccaf_housekeeping::secrets::aws_sdk_config(None).await)
}

pub(crate) async fn create_secret(prefix: &str, value: Value) -> String {
    let name = unique(prefix);
    sm().await
        .create_secret()
        .name(&name)
        .secret_string(value.to_string())
        .send()
        .await
        .expect("create secret in moto");
    name
}

/// The credentials that secrets hold, to look for in logs.
pub(crate) struct Written {
    pub(crate) kafka_password: String,
}

/// Point `app` at secrets (in `layout`) instead of direct inputs: the three secrets hold the
/// stack's values; only the endpoint (the simulator's) and the broker's PLAINTEXT protocol are
/// inputs.
pub(crate) async fn use_secrets(app: &mut App, layout: Layout) -> Written {
    let c = &app.cloud;
    let flink_id = create_secret(
        "flink",
        json!({
            "flink.api.key": c.flink.0,
            "flink.api.secret": c.flink.1,
            "flink.cloud": "aws",
            "flink.region": "us-east-1",
            "organization.id": c.org_id,
            "environment.id": c.env_id,
            "flink.compute.pool.id": c.pool,
            "flink.principal.id": c.principal,
        }),
    )
    .await;
    // Never used (the local broker is PLAINTEXT), but parsed and masked all the same.
    let kafka_key = format!("KAFKA{}", &unique("k")[2..]).to_uppercase();
    let kafka_password = random_secret(64);
    let kafka = match layout {
        Layout::JavaClient => json!({
            "bootstrap.servers": app.stack.kafka_bootstrap_servers,
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "PLAIN",
            "sasl.jaas.config": format!(
                "org.apache.kafka.common.security.plain.PlainLoginModule required username='{kafka_key}' password='{kafka_password}';"
            ),
        }),
        Layout::PythonClient => json!({
            "bootstrap.servers": app.stack.kafka_bootstrap_servers,
            "security.protocol": "SASL_SSL",
            "sasl.mechanisms": "PLAIN",
            "sasl.username": kafka_key,
            "sasl.password": kafka_password,
        }),
    };
    let kafka_id = create_secret("kafka", kafka).await;
    let user_info = format!("{}:{}", c.sr.0, c.sr.1);
    let sr = match layout {
        Layout::JavaClient => json!({
            "schema.registry.url": c.url,
            "basic.auth.credentials.source": "USER_INFO",
            "basic.auth.user.info": user_info,
        }),
        Layout::PythonClient => json!({
            "schema.registry.url": c.url,
            "schema.registry.basic.auth.user.info": user_info,
        }),
    };
    let sr_id = create_secret("sr", sr).await;
    for input in [
        "flink-api-key",
        "flink-api-secret",
        "organization-id",
        "environment-id",
        "compute-pool-id",
        "principal-id",
        "kafka-bootstrap-servers",
        "schema-registry-url",
        "schema-registry-api-key",
        "schema-registry-api-secret",
    ] {
        app.inputs.insert(input.into(), String::new());
    }
    for (input, value) in [
        ("flink-secret-id", flink_id),
        ("kafka-secret-id", kafka_id),
        ("schema-registry-secret-id", sr_id),
        ("aws-region", app.stack.aws_region.clone()),
    ] {
        app.inputs.insert(input.into(), value);
    }
    Written { kafka_password }
}

/// What the runner passes a Docker action besides the inputs: AWS's settings (moto), and
/// `GITHUB_ACTIONS` so the action masks its credentials.
fn runner_env(stack: &StackEnv) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", stack.aws_endpoint_url.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("GITHUB_ACTIONS", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// The log as the runner shows it: every `::add-mask::` value replaced by `***` in what the
/// process wrote (both streams), the mask commands themselves removed.
fn as_runner_shows(run: &Run) -> (String, Vec<String>) {
    let all = format!("{}\n{}", run.stdout(), run.stderr());
    let masks: Vec<String> = all
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .map(|v| {
            v.replace("%0A", "\n")
                .replace("%0D", "\r")
                .replace("%25", "%")
        })
        .collect();
    let mut shown: String = all
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n");
    for m in &masks {
        shown = shown.replace(m.as_str(), "***");
    }
    (shown, masks)
}

#[tokio::test]
async fn secrets_in_every_seed_layout_drive_buildup_and_teardown() {
    for layout in [Layout::JavaClient, Layout::PythonClient] {
        let mut app = App::new("first-try");
        let written = use_secrets(&mut app, layout).await;
        let t = Tables::new();
        write(&app, &t.statements());
        let env = runner_env(&app.stack);

        let built = app.run_with("buildup", &[], &env).expect(0);
        assert_eq!(built.list("rebuilt").len(), 4, "{layout:?}");
        let torn = app.run_with("teardown", &[], &env).expect(0);
        assert_eq!(torn.list("torn-down").len(), 4, "{layout:?}");
        assert_eq!(torn.list("dropped-tables").len(), 3, "{layout:?}");
        assert!(app.app_statements().await.is_empty());

        // Only credentials are masked; the ids, region and URLs read in clear.
        let (shown, masks) = as_runner_shows(&built);
        for secret in [&app.cloud.flink.1, &app.cloud.sr.1, &written.kafka_password] {
            assert!(
                masks.contains(secret),
                "{layout:?}: a credential is not masked"
            );
            assert!(
                !shown.contains(secret.as_str()),
                "{layout:?}: a credential shows"
            );
        }
        for clear in [
            "us-east-1",
            app.cloud.env_id.as_str(),
            app.cloud.org_id.as_str(),
            app.cloud.pool.as_str(),
            app.cloud.principal.as_str(),
            app.cloud.flink.0.as_str(),
            app.stack.kafka_bootstrap_servers.as_str(),
        ] {
            assert!(
                !masks.iter().any(|m| m == clear),
                "{layout:?}: {clear} is masked"
            );
            assert!(
                shown.contains(clear),
                "{layout:?}: {clear} is not in the log:\n{shown}"
            );
        }
    }
}

/// The simulator's requests that change something (anything but a GET).
async fn changes(app: &App) -> Vec<Value> {
    app.cloud
        .control()
        .requests()
        .await
        .into_iter()
        .filter(|r| r["method"] != "GET")
        .collect()
}

/// An app in a simulator of its own, so its request log is the run's alone.
fn private_app(prefix: &str) -> App {
    let app = App::in_cloud(
        prefix,
        StackEnv::load(),
        Cloud::private(SimOptions::default()),
    );
    write(&app, &Tables::new().statements());
    app
}

async fn assert_refused_before_anything(app: &App, run: &Run, input: &str, needles: &[&str]) {
    let err = run.stderr();
    assert!(err.contains(&format!("input `{input}`")), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n} in {err}");
    }
    assert_eq!(
        changes(app).await,
        Vec::<Value>::new(),
        "nothing is changed"
    );
    assert!(app.app_statements().await.is_empty());
    assert!(
        !app.topic_exists(&app.tracker_topic).await,
        "not even the tracker topic"
    );
}

#[tokio::test]
async fn a_flink_key_the_service_refuses_stops_the_run_before_anything_changes() {
    let app = private_app("pre-flink");
    let run = app
        .run("buildup", &[("flink-api-secret", "not-the-secret")])
        .expect(2);
    assert_refused_before_anything(&app, &run, "flink-api-secret", &["Flink API", "401"]).await;

    // A key whose principal may not list statements: the permission is named.
    let control = app.cloud.control();
    control
        .set_faults(json!({ "forbidden_methods": ["GET"], "apis": ["flink"] }))
        .await;
    let run = app.run("teardown", &[]).expect(2);
    control.set_faults(json!({})).await;
    assert_refused_before_anything(&app, &run, "flink-api-secret", &["403", "FlinkDeveloper"])
        .await;
}

#[tokio::test]
async fn a_schema_registry_key_the_service_refuses_stops_the_run_before_anything_changes() {
    let app = private_app("pre-sr");
    let run = app
        .run(
            "buildup",
            &[("schema-registry-api-secret", "not-the-secret")],
        )
        .expect(2);
    assert_refused_before_anything(
        &app,
        &run,
        "schema-registry-api-secret",
        &["Schema Registry", "401"],
    )
    .await;
}

#[tokio::test]
async fn an_unreachable_broker_stops_the_run_before_anything_changes() {
    let app = private_app("pre-kafka");
    // A loopback port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let run = app
        .run(
            "buildup",
            &[("kafka-bootstrap-servers", &closed.to_string())],
        )
        .expect(2);
    assert_refused_before_anything(
        &app,
        &run,
        "kafka-bootstrap-servers",
        &["cannot be reached"],
    )
    .await;
}

#[tokio::test]
async fn a_tracker_topic_that_would_expire_records_is_refused() {
    let app = private_app("pre-tracker");
    let admin =
        KafkaAdmin::connect(&KafkaConfig::plaintext(&app.stack.kafka_bootstrap_servers)).unwrap();
    admin
        .create_topic(&app.tracker_topic, 1, &[("cleanup.policy", "delete")])
        .await
        .unwrap();
    let run = app.run("buildup", &[]).expect(2);
    let err = run.stderr();
    assert!(
        err.contains("input `tracker-topic`") && err.contains("cleanup.policy=delete"),
        "{err}"
    );
    assert_eq!(changes(&app).await, Vec::<Value>::new());
    assert!(app.app_statements().await.is_empty());
    admin.delete_topic(&app.tracker_topic).await.unwrap();
}

#[tokio::test]
async fn a_403_on_delete_is_reported_as_a_permission_problem() {
    let app = private_app("perm-delete");
    let built = app.run("buildup", &[]).expect(0);
    let names = built.list("rebuilt");
    app.cloud
        .control()
        .set_faults(json!({ "forbidden_methods": ["DELETE"], "apis": ["flink"] }))
        .await;
    let torn = app.run("teardown", &[]).expect(1);
    let report = torn.report();
    let failed: Vec<&Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "failed")
        .collect();
    assert!(!failed.is_empty(), "{report:#}");
    for s in failed {
        let msg = s["error"]["message"].as_str().unwrap();
        assert!(msg.contains("not permitted (HTTP 403)"), "{msg}");
        assert!(
            msg.contains(s["name"].as_str().unwrap()),
            "names the statement: {msg}"
        );
        assert!(
            msg.contains(&app.cloud.principal),
            "names the principal: {msg}"
        );
    }
    let live = app.app_statements().await;
    for n in &names {
        assert!(live.contains_key(n), "{n} was deleted");
    }
    app.cloud.control().set_faults(json!({})).await;
    app.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn statements_carry_their_own_principal_and_labels() {
    let app = App::new("own-settings");
    let src = unique("src").replace('-', "_");
    std::fs::create_dir_all(app.path("sql")).unwrap();
    std::fs::write(
        app.path("sql/src.sql"),
        format!("CREATE TABLE {src} (id STRING)"),
    )
    .unwrap();
    std::fs::write(app.path("sql/job.sql"), format!("SELECT id FROM {src}")).unwrap();
    let manifest = |team: &str| {
        format!(
            r#"app = "{}"

[[statements]]
name = "src"
sql = "sql/src.sql"

[[statements]]
name = "job"
sql = "sql/job.sql"
principal = "sa-jobrunner"
labels = {{ "user.confluent.io/team" = "{team}" }}
"#,
            app.name
        )
    };
    std::fs::write(app.path("ccaf-housekeeping.toml"), manifest("flights")).unwrap();
    let built = app.run("buildup", &[]).expect(0);
    let report = built.report();
    let job = built
        .list("rebuilt")
        .into_iter()
        .find(|n| n.contains("-job-"))
        .unwrap_or_else(|| panic!("{report:#}"));
    let flink = app.flink();
    let live = flink.get(&job).await.unwrap().unwrap();
    assert_eq!(live.spec.principal.as_deref(), Some("sa-jobrunner"));
    let labels: BTreeMap<String, String> = live.metadata.labels.clone();
    assert_eq!(labels["user.confluent.io/team"], "flights");
    assert_eq!(
        labels[ccaf_housekeeping::ownership::OWNER_LABEL],
        app.name,
        "the app's label too"
    );
    let src_stmt = built
        .list("rebuilt")
        .into_iter()
        .find(|n| n.contains("-src-"))
        .unwrap();
    assert_eq!(
        flink
            .get(&src_stmt)
            .await
            .unwrap()
            .unwrap()
            .spec
            .principal
            .as_deref(),
        Some(app.cloud.principal.as_str()),
        "the others keep the default principal"
    );

    // A changed label does not replace the statement: it is patched in place where the
    // service takes it. The stack's simulator, like the awkward cloud, keeps no label patched
    // after create (§F.13): the statement keeps its label, and the run goes on.
    std::fs::write(app.path("ccaf-housekeeping.toml"), manifest("airlines")).unwrap();
    let again = app.run("buildup", &[]).expect(0);
    assert!(again.list("rebuilt").is_empty(), "{:#}", again.report());
    let live = flink.get(&job).await.unwrap().unwrap();
    assert_eq!(live.metadata.labels["user.confluent.io/team"], "flights");
    assert_eq!(
        app.records().await[&job].labels["user.confluent.io/team"],
        "airlines"
    );
    app.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn a_resumed_statement_moves_to_the_principal_its_record_names() {
    let app = App::new("resume-move");
    let t = Tables::new();
    let flink = app.flink();
    let props = app.cloud.catalog();
    // A Table API app's statements, adopted.
    let prefix = unique("tableapi");
    let ddl = format!("{prefix}-ddl");
    let job = format!("{prefix}-job");
    for (name, sql) in [
        (ddl.clone(), format!("CREATE TABLE {} (id STRING)", t.src)),
        (
            ddl.replace("-ddl", "-sink"),
            format!("CREATE TABLE {} (id STRING)", t.sink),
        ),
        (
            job.clone(),
            format!("INSERT INTO {} SELECT id FROM {}", t.sink, t.src),
        ),
    ] {
        flink
            .create(&ccaf_housekeeping::confluent::flink::NewStatement {
                name: name.clone(),
                sql,
                properties: props.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        flink
            .watch()
            .wait_until(
                &name,
                ccaf_housekeeping::confluent::flink::is_settled,
                std::time::Duration::from_secs(30),
            )
            .await
            .unwrap();
    }
    let no_manifest = ("manifest", "");
    app.run("adopt", &[("adopt", &format!("{prefix}-*")), no_manifest])
        .expect(0);
    app.run("teardown", &[("stop-only", "true"), no_manifest])
        .expect(0);
    assert_eq!(
        app.live(&prefix).await.get(&job).map(String::as_str),
        Some("STOPPED")
    );
    // The job is to run as another service account from now on.
    let tracker = ccaf_housekeeping::tracker::Tracker::open(
        &KafkaConfig::plaintext(&app.stack.kafka_bootstrap_servers),
        &app.tracker_topic,
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap();
    let mut rec = app.records().await[&job].clone();
    rec.principal = Some("sa-newrunner".into());
    tracker.put(&rec).await.unwrap();

    let built = app.run("buildup", &[no_manifest]).expect(0);
    assert!(built.steps("resume").contains(&job), "{:#}", built.report());
    let live = flink.get(&job).await.unwrap().unwrap();
    assert_eq!(live.phase().as_str(), "RUNNING");
    assert_eq!(live.spec.principal.as_deref(), Some("sa-newrunner"));
    app.run("teardown", &[no_manifest]).expect(0);
    assert!(app.live(&prefix).await.is_empty());
}

#[tokio::test]
async fn the_https_apis_are_trusted_through_a_ca_bundle() {
    let stack = StackEnv::load();
    let mut app = App::in_cloud(
        "ca-bundle",
        stack.clone(),
        Cloud::private(SimOptions {
            tls: Some((stack.tls_cert.clone(), stack.tls_key.clone())),
            ..Default::default()
        }),
    );
    let https = app.cloud.https_url.clone().unwrap();
    app.inputs.insert("flink-endpoint".into(), https.clone());
    app.inputs.insert("schema-registry-url".into(), https);
    write(&app, &Tables::new().statements());

    // The simulator's certificate is signed by a CA the system does not know.
    let run = app.run("buildup", &[]).expect(2);
    assert!(
        run.stderr().contains("input `flink-endpoint`"),
        "{}",
        run.stderr()
    );
    assert!(app.app_statements().await.is_empty());

    let not_pem = app.path("not-a-bundle.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let run = app
        .run("buildup", &[("ca-bundle", not_pem.to_str().unwrap())])
        .expect(2);
    assert!(
        run.stderr().contains("input `ca-bundle`"),
        "{}",
        run.stderr()
    );

    // The stack's CA is outside the workspace: refused, like a large file inside it.
    let ca = stack.tls_ca.to_str().unwrap().to_string();
    let big = app.path("big.pem");
    std::fs::write(&big, "-".repeat(1024 * 1024 + 1)).unwrap();
    for (bundle, says) in [
        (ca.as_str(), "is outside the workspace"),
        ("big.pem", "is larger than the limit"),
    ] {
        let run = app.run("buildup", &[("ca-bundle", bundle)]).expect(2);
        assert!(
            run.stderr().contains("input `ca-bundle`") && run.stderr().contains(says),
            "{bundle}: {}",
            run.stderr()
        );
    }
    assert!(app.app_statements().await.is_empty());

    std::fs::create_dir_all(app.path("certs")).unwrap();
    std::fs::copy(&stack.tls_ca, app.path("certs/ca.pem")).unwrap();
    app.inputs.insert("ca-bundle".into(), "certs/ca.pem".into());
    let built = app.run("buildup", &[]).expect(0);
    assert_eq!(built.list("rebuilt").len(), 4);
    app.run("teardown", &[]).expect(0);
    assert!(app.app_statements().await.is_empty());
}
