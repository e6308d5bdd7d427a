//! Hostile input through the real binary: bad inputs, manifests, SQL files and secrets each exit 2
//! with one message naming what is wrong and change nothing; text from the API or the SQL can never
//! start a workflow command; `CCAF_LOG=trace` prints no credential.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use base64::Engine as _;
use ccaf_housekeeping::confluent::flink::ListFilter;
use ccaf_housekeeping::confluent::kafka::{KafkaAdmin, KafkaConfig};
use ccaf_housekeeping::manifest::{MAX_MANIFEST_BYTES, MAX_SQL_BYTES};
use rdkafka::consumer::{BaseConsumer, Consumer};
use serde_json::json;
use test_support::{random_secret, unique, PrivateBroker, PrivateSim, SimOptions, StackEnv};

use crate::first_try::{create_secret, use_secrets, Layout};
use crate::harness::{write, App, Cloud, Run, Tables};

/// What a run could have changed: the statements, the subjects, the topics, the tracker topic's
/// end offsets.
#[derive(Debug, PartialEq, Eq)]
struct World {
    statements: BTreeMap<String, String>,
    subjects: Vec<String>,
    topics: BTreeSet<String>,
    tracker_ends: Vec<i64>,
}

async fn world(app: &App) -> World {
    let statements = app
        .flink()
        .list(&ListFilter::default())
        .await
        .expect("list statements")
        .into_iter()
        .map(|s| (s.name.clone(), s.phase().to_string()))
        .collect();
    let kafka = KafkaConfig::plaintext(&app.stack.kafka_bootstrap_servers);
    let topics = KafkaAdmin::connect(&kafka)
        .expect("admin")
        .list_topics()
        .await
        .expect("topics")
        .into_keys()
        .collect();
    let bootstrap = app.stack.kafka_bootstrap_servers.clone();
    let topic = app.tracker_topic.clone();
    let tracker_ends = tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &bootstrap)
            .create()
            .expect("consumer");
        let md = consumer
            .fetch_metadata(Some(&topic), Duration::from_secs(10))
            .expect("metadata");
        let partitions = md.topics()[0].partitions().len() as i32;
        (0..partitions)
            .map(|p| {
                consumer
                    .fetch_watermarks(&topic, p, Duration::from_secs(10))
                    .expect("watermarks")
                    .1
            })
            .collect()
    })
    .await
    .expect("watermarks task");
    World {
        statements,
        subjects: app.subjects().await,
        topics,
        tracker_ends,
    }
}

/// Extra environment variables of the run (the runner's AWS settings).
type Env = Vec<(String, String)>;

/// Prepares the app for a case.
type Setup = Box<dyn Fn(&mut App) -> Env>;

/// One bad input: what it changes in the app's setup, the command, and what the message names.
struct Case {
    what: &'static str,
    command: &'static str,
    setup: Setup,
    names: &'static str,
}

fn case(
    what: &'static str,
    command: &'static str,
    names: &'static str,
    setup: impl Fn(&mut App) -> Vec<(String, String)> + 'static,
) -> Case {
    Case {
        what,
        command,
        setup: Box::new(setup),
        names,
    }
}

/// An input's value replaced.
fn input(name: &'static str, value: &'static str) -> impl Fn(&mut App) -> Vec<(String, String)> {
    move |app: &mut App| {
        app.inputs.insert(name.into(), value.into());
        Vec::new()
    }
}

/// The app's manifest replaced by `text` (with `{app}` for the app's name).
fn manifest(text: &'static str) -> impl Fn(&mut App) -> Vec<(String, String)> {
    move |app: &mut App| {
        std::fs::write(
            app.path("ccaf-housekeeping.toml"),
            text.replace("{app}", &app.name),
        )
        .expect("manifest");
        Vec::new()
    }
}

/// A manifest with one statement whose SQL file is `sql` (a path as the manifest writes it).
fn sql_path(sql: String) -> String {
    format!("app = \"{{app}}\"\n[[statements]]\nname = \"job\"\nsql = '{sql}'\n")
}

fn sql_file(app: &App, name: &str, text: &str) {
    std::fs::create_dir_all(app.path("sql")).expect("sql dir");
    std::fs::write(app.path(&format!("sql/{name}")), text).expect("sql file");
}

fn write_manifest(app: &App, text: &str) {
    std::fs::write(
        app.path("ccaf-housekeeping.toml"),
        text.replace("{app}", &app.name),
    )
    .expect("manifest");
}

/// AWS Secrets Manager (moto) as the runner's environment gives it.
fn aws_env(stack: &StackEnv) -> Vec<(String, String)> {
    vec![
        ("AWS_ENDPOINT_URL".into(), stack.aws_endpoint_url.clone()),
        ("AWS_ACCESS_KEY_ID".into(), "testing".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "testing".into()),
        ("AWS_REGION".into(), stack.aws_region.clone()),
    ]
}

/// The Flink credentials from a secret holding `value` instead of from inputs.
fn flink_secret(value: serde_json::Value) -> impl Fn(&mut App) -> Vec<(String, String)> {
    move |app: &mut App| {
        let value = value.clone();
        let id = std::thread::scope(|s| {
            s.spawn(|| {
                tokio::runtime::Runtime::new()
                    .expect("runtime")
                    .block_on(create_secret("hostile", value))
            })
            .join()
            .expect("create secret")
        });
        app.inputs.insert("flink-secret-id".into(), id);
        app.inputs.insert("flink-api-secret".into(), String::new());
        app.inputs.insert("flink-api-key".into(), String::new());
        aws_env(&app.stack)
    }
}

fn cases() -> Vec<Case> {
    let deep = format!("SELECT {}1{}", "(".repeat(100_000), ")".repeat(100_000));
    vec![
        // ---- inputs ----
        case("an app name in capitals", "buildup", "input `app`", input("app", "Bad_App")),
        case("an app name with a workflow command", "buildup", "input `app`", input("app", "a\n::add-mask::x")),
        case("an environment id with CR LF", "buildup", "input `environment-id`", input("environment-id", "env-1\r\n::stop-commands::tok")),
        case("a pool id with a slash", "buildup", "input `compute-pool-id`", input("compute-pool-id", "lfcp/../x")),
        case("a principal with ESC", "buildup", "input `principal-id`", input("principal-id", "sa-\u{1b}[2J")),
        case("a tracker topic with a space", "buildup", "input `tracker-topic`", input("tracker-topic", "bad topic")),
        case("concurrency zero", "buildup", "input `concurrency`", input("concurrency", "0")),
        case("a timeout in words", "buildup", "input `timeout`", input("timeout", "forever")),
        case("a boolean as yes", "buildup", "input `dry-run`", input("dry-run", "yes")),
        case("a broken protect pattern", "teardown", "input `protect`", input("protect", "[abc")),
        case("a protect pattern with BEL", "teardown", "input `protect`", input("protect", "keep_*\nx\u{7}y")),
        case("an adopt selector with two stars", "adopt", "input `adopt`", input("adopt", "a*b*")),
        case("an unknown plan goal", "plan", "input `plan-for`", input("plan-for", "deploy")),
        case("an unknown command", "deploy", "input `command`", |_: &mut App| Vec::new()),
        case("an unknown security protocol", "buildup", "input `kafka-security-protocol`", input("kafka-security-protocol", "SSL")),
        case("a Flink endpoint over plain http", "buildup", "input `flink-endpoint`", input("flink-endpoint", "http://flink.us-east-1.aws.confluent.cloud")),
        case("a registry URL over plain http", "buildup", "input `schema-registry-url`", input("schema-registry-url", "http://psrc-1.us-east-1.aws.confluent.cloud")),
        case("a database mapping without =", "buildup", "input `database-clusters`", input("database-clusters", "nonsense")),
        case("a catalog with a line separator", "buildup", "input `catalog`", input("catalog", "env\u{2028}::error::x")),
        case("a negative PR number", "buildup", "input `pr-number`", input("pr-number", "-3")),
        case("a CA bundle that is not there", "buildup", "input `ca-bundle`", input("ca-bundle", "missing.pem")),
        case("a manifest that is not there", "buildup", "input `manifest`", input("manifest", "missing.toml")),
        case("a manifest outside the workspace", "buildup", "is outside the workspace", |app: &mut App| {
            let elsewhere = test_support::TempDir::new("elsewhere");
            let path = elsewhere.0.join("ccaf-housekeeping.toml");
            std::fs::write(&path, format!("app = \"{}\"\n", app.name)).expect("manifest");
            app.inputs.insert("manifest".into(), path.display().to_string());
            std::mem::forget(elsewhere);
            Vec::new()
        }),
        // ---- manifests ----
        case("a manifest that is not TOML", "buildup", "is not valid TOML", manifest("app = \"{app}\"\n[[statements]\n")),
        case("an unknown manifest key", "buildup", "unknown field `sql-file`", manifest("app = \"{app}\"\n[[statements]]\nname = \"x\"\nsql-file = \"x.sql\"\n")),
        case("a duplicate statement", "buildup", "duplicate statement name 'x'", manifest("app = \"{app}\"\n[[statements]]\nname = \"x\"\nquery = \"SELECT 1\"\n[[statements]]\nname = \"x\"\nquery = \"SELECT 1\"\n")),
        case("a statement name in capitals", "buildup", "statements[0].name", manifest("app = \"{app}\"\n[[statements]]\nname = \"Job\"\nquery = \"SELECT 1\"\n")),
        case("a dependency cycle", "buildup", "dependency cycle", manifest("app = \"{app}\"\n[[statements]]\nname = \"a\"\nquery = \"INSERT INTO t1 SELECT * FROM t2\"\n[[statements]]\nname = \"b\"\nquery = \"INSERT INTO t2 SELECT * FROM t1\"\n")),
        case("a manifest catalog with LF", "buildup", "catalog: contains the control character U+000A", manifest("app = \"{app}\"\ncatalog = \"env\\n::add-mask::x\"\n")),
        case("a property with CR", "buildup", "statements[0] \"x\".properties.k: contains the control character U+000D", manifest("app = \"{app}\"\n[[statements]]\nname = \"x\"\nquery = \"SELECT 1\"\nproperties = { k = \"v\\r\" }\n")),
        case("a manifest over the size limit", "buildup", "is larger than the limit of 1048576 bytes", |app: &mut App| {
            let padding = "#".repeat(MAX_MANIFEST_BYTES as usize);
            write_manifest(app, &format!("app = \"{{app}}\"\n{padding}\n"));
            Vec::new()
        }),
        // ---- SQL files ----
        case("an absolute SQL path", "buildup", "statements[0] \"job\": SQL file '/etc/passwd' is an absolute path", |app: &mut App| {
            write_manifest(app, &sql_path("/etc/passwd".into()));
            Vec::new()
        }),
        case("a SQL path escaping with ..", "buildup", "statements[0] \"job\": SQL file '../../../../etc/passwd' is outside the workspace", |app: &mut App| {
            write_manifest(app, &sql_path("../../../../etc/passwd".into()));
            Vec::new()
        }),
        case("a SQL file linked outside", "buildup", "statements[0] \"job\": SQL file 'sql/link.sql' is outside the workspace", |app: &mut App| {
            std::fs::create_dir_all(app.path("sql")).expect("sql dir");
            std::os::unix::fs::symlink("/etc/hostname", app.path("sql/link.sql")).expect("symlink");
            write_manifest(app, &sql_path("sql/link.sql".into()));
            Vec::new()
        }),
        case("a SQL file that is a directory", "buildup", "SQL file 'sql/dir.sql' is a directory, not a regular file", |app: &mut App| {
            std::fs::create_dir_all(app.path("sql/dir.sql")).expect("dir");
            write_manifest(app, &sql_path("sql/dir.sql".into()));
            Vec::new()
        }),
        case("a SQL file that is a FIFO", "buildup", "SQL file 'sql/fifo.sql' is a FIFO, not a regular file", |app: &mut App| {
            std::fs::create_dir_all(app.path("sql")).expect("sql dir");
            let made = std::process::Command::new("mkfifo").arg(app.path("sql/fifo.sql")).status().expect("mkfifo");
            assert!(made.success());
            write_manifest(app, &sql_path("sql/fifo.sql".into()));
            Vec::new()
        }),
        case("a SQL file linked to a device", "buildup", "SQL file 'sql/zero.sql' is outside the workspace", |app: &mut App| {
            std::fs::create_dir_all(app.path("sql")).expect("sql dir");
            std::os::unix::fs::symlink("/dev/zero", app.path("sql/zero.sql")).expect("symlink");
            write_manifest(app, &sql_path("sql/zero.sql".into()));
            Vec::new()
        }),
        case("a SQL file over the size limit", "buildup", "SQL file 'sql/big.sql' is larger than the limit of 1048576 bytes", |app: &mut App| {
            sql_file(app, "big.sql", &format!("SELECT 1 {}", "-".repeat(MAX_SQL_BYTES as usize)));
            write_manifest(app, &sql_path("sql/big.sql".into()));
            Vec::new()
        }),
        case("SQL nested 100 000 deep", "buildup", "statements[0] \"job\" (sql/deep.sql): SQL parse failed.", move |app: &mut App| {
            sql_file(app, "deep.sql", &deep);
            write_manifest(app, &sql_path("sql/deep.sql".into()));
            Vec::new()
        }),
        case("an unterminated string", "buildup", "(sql/open.sql): SQL parse failed. Lexical error at line 1, column 31. Unterminated string literal.", |app: &mut App| {
            sql_file(app, "open.sql", "INSERT INTO t SELECT * FROM s '::add-mask::x");
            write_manifest(app, &sql_path("sql/open.sql".into()));
            Vec::new()
        }),
        case("a table name with a workflow command", "buildup", "(sql/table.sql): table `t\\n::stop-commands::tok` contains the control character U+000A", |app: &mut App| {
            sql_file(app, "table.sql", "CREATE TABLE `t\n::stop-commands::tok` (a INT)");
            write_manifest(app, &sql_path("sql/table.sql".into()));
            Vec::new()
        }),
        case("a SQL file that is not UTF-8", "buildup", "SQL file 'sql/latin1.sql' is not UTF-8 text", |app: &mut App| {
            std::fs::create_dir_all(app.path("sql")).expect("sql dir");
            std::fs::write(app.path("sql/latin1.sql"), b"SELECT '\xe9'").expect("sql");
            write_manifest(app, &sql_path("sql/latin1.sql".into()));
            Vec::new()
        }),
        // ---- secrets ----
        case("a secret that does not exist", "buildup", "does not exist in AWS Secrets Manager (input `flink-secret-id`)", |app: &mut App| {
            app.inputs.insert("flink-secret-id".into(), unique("missing"));
            app.inputs.insert("flink-api-secret".into(), String::new());
            aws_env(&app.stack)
        }),
        case("a secret that is not JSON", "buildup", "(input `flink-secret-id`) is not a JSON object", flink_secret(json!("not json {"))),
        case("a secret without the API secret", "buildup", "has no key `flink.api.secret`", flink_secret(json!({"flink.api.key": "K"}))),
        case("a secret key of the wrong type", "buildup", "key `flink.api.secret` must be a string, not a number", flink_secret(json!({"flink.api.key": "K", "flink.api.secret": 42}))),
    ]
}

#[tokio::test]
async fn every_hostile_input_exits_2_naming_it_and_changes_nothing() {
    let stack = StackEnv::load();
    let tansu = stack
        .tansu_bin
        .clone()
        .expect("CCAF_TANSU_BIN is not set: run the tests through scripts/test");
    let sim_bin = stack.sim_bin.clone().expect("CCLOUD_SIM_BIN is not set");
    // A world of the test's own, so that "nothing changed" can be checked exactly.
    let broker = PrivateBroker::spawn(&tansu, "lkc-hostile");
    let sim = PrivateSim::spawn(
        &sim_bin,
        &broker.bootstrap_servers,
        SimOptions {
            kafka_cluster_id: Some("lkc-hostile".into()),
            ..SimOptions::default()
        },
    );
    let cloud = Cloud::of(sim);
    let mut base = App::in_cloud("hostile", stack.clone(), cloud.clone());
    base.stack.kafka_bootstrap_servers = broker.bootstrap_servers.clone();
    // Something to leave alone: an app built up, its records in the tracker.
    let t = Tables::new();
    write(&base, &t.statements());
    base.run("buildup", &[]).expect(0);

    let cases = cases();
    assert!(cases.len() >= 30, "{}", cases.len());
    for c in cases {
        let before = world(&base).await;
        let mut app = App::in_cloud("hostile", stack.clone(), cloud.clone());
        app.stack.kafka_bootstrap_servers = broker.bootstrap_servers.clone();
        app.tracker_topic = base.tracker_topic.clone();
        write(&app, &t.statements());
        let env = (c.setup)(&mut app);
        let run = app.run_with(c.command, &[], &env);
        let stderr = run.stderr();
        assert_eq!(run.code(), 2, "{}: {}\n{}", c.what, run.stdout(), stderr);
        let errors: Vec<&str> = stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .collect();
        assert_eq!(errors.len(), 1, "{}: one message\n{stderr}", c.what);
        assert!(
            errors[0].contains(c.names),
            "{}: `{}` not in\n{stderr}",
            c.what,
            c.names
        );
        assert_eq!(
            stderr.lines().count(),
            1,
            "{}: only the message\n{stderr}",
            c.what
        );
        assert!(run.stdout().is_empty(), "{}: {}", c.what, run.stdout());
        assert_eq!(world(&base).await, before, "{}: something changed", c.what);
    }
    base.run("teardown", &[]).expect(0);
}

/// Every line of both streams: the binary's own commands, or text that cannot be one.
fn assert_no_foreign_commands(run: &Run, planted: &[&str]) {
    let own = [
        "error", "warning", "notice", "debug", "group", "endgroup", "add-mask",
    ];
    let all = format!("{}\n{}", run.stdout(), run.stderr());
    for line in all.lines() {
        assert!(!line.contains("##["), "a legacy command: {line}");
        assert!(!line.contains('\r'), "a carriage return: {line:?}");
        let Some(command) = line.trim_start().strip_prefix("::") else {
            continue;
        };
        let name: String = command
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        assert!(own.contains(&name.as_str()), "a foreign command: {line}");
        for p in planted {
            assert!(
                !line.starts_with(&format!("::{p}")),
                "a planted command: {line}"
            );
        }
    }
}

#[tokio::test]
async fn api_error_messages_cannot_start_workflow_commands() {
    let cloud = Cloud::private(SimOptions::default());
    let app = App::in_cloud("hostile-api", StackEnv::load(), cloud);
    let t = Tables::new();
    write(&app, &t.statements());
    // The Flink API refuses every create with a message that tries to be three commands.
    app.cloud
        .control()
        .set_faults(json!({
            "forbidden_methods": ["POST"],
            "apis": ["flink"],
            "error_message": "denied\n::add-mask::planted\r\n::stop-commands::tok ##[set-output name=x]y\r::set-output name=z::w"
        }))
        .await;
    let env: Vec<(String, String)> = [("GITHUB_ACTIONS", "true"), ("CCAF_LOG", "debug")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let run = app.run_with("buildup", &[], &env);
    assert_ne!(run.code(), 0, "{}\n{}", run.stdout(), run.stderr());
    app.cloud.control().assert_injected("forbidden", 1).await;
    let all = format!("{}\n{}", run.stdout(), run.stderr());
    // The message arrived, escaped: in the log as `\n`, in an annotation as the runner's `%0A`.
    assert!(
        all.contains("denied\\n::add-mask::planted")
            || all.contains("denied%0A::add-mask::planted"),
        "the API's message is not in the output:\n{all}"
    );
    assert_no_foreign_commands(&run, &["add-mask::planted", "stop-commands", "set-output"]);

    // A manifest's error quotes the manifest: its line breaks stay inside the one error line.
    std::fs::write(
        app.path("ccaf-housekeeping.toml"),
        // The runner ends a line at a bare CR too: the error quotes this one whole.
        "app = \"x\"\nnote = \"\r::add-mask::planted\"\n",
    )
    .expect("manifest");
    let run = app.run_with("buildup", &[], &env).expect(2);
    assert!(
        run.stderr().contains("::add-mask::planted"),
        "the manifest's text is not in the error:\n{}",
        run.stderr()
    );
    assert_no_foreign_commands(&run, &["add-mask::planted", "stop-commands", "set-output"]);
}

#[tokio::test]
async fn json_output_cannot_start_workflow_commands_and_stays_json() {
    let cloud = Cloud::private(SimOptions::default());
    let app = App::in_cloud("hostile-json", StackEnv::load(), cloud);
    // A table name the SQL may hold (backquoted), and an API message with line breaks: each
    // tries to be a command, the legacy `##[` form included.
    let table = "t##[group]planted";
    app.write_manifest(&[("src", &format!("CREATE TABLE `{table}` (id STRING)"))]);
    let message =
        "denied\n::error::planted\r\n##[group]planted ##[set-output name=x]y\u{2028}::add-mask::z";
    app.cloud
        .control()
        .set_faults(json!({
            "forbidden_methods": ["POST"],
            "apis": ["flink"],
            "error_message": message,
        }))
        .await;
    let planned = app.run("plan", &[("output", "json")]).expect(0);
    let built = app.run("buildup", &[("output", "json")]);
    assert_ne!(built.code(), 0, "{}\n{}", built.stdout(), built.stderr());
    app.cloud.control().assert_injected("forbidden", 1).await;
    for (run, planted) in [(&planned, table), (&built, message)] {
        assert_no_foreign_commands(run, &["error::planted", "add-mask", "set-output"]);
        // Still the report, and the hostile text in it as it was.
        let report: serde_json::Value = serde_json::from_str(&run.stdout())
            .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", run.stdout()));
        assert_eq!(report, run.report(), "stdout is the report output");
        let quoted = serde_json::to_string(planted).unwrap();
        assert!(
            report.to_string().contains(&quoted[1..quoted.len() - 1]),
            "{planted:?} is not in the report:\n{report:#}"
        );
    }
}

#[tokio::test]
async fn trace_logging_prints_no_credential() {
    let mut app = App::new("hostile-trace");
    let written = use_secrets(&mut app, Layout::PythonClient).await;
    let t = Tables::new();
    write(&app, &t.statements());
    let github_token = format!("ghp_{}", random_secret(36));
    app.inputs
        .insert("github-token".into(), github_token.clone());
    let aws_secret = random_secret(40);
    let env: Vec<(String, String)> = [
        ("AWS_ENDPOINT_URL", app.stack.aws_endpoint_url.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", aws_secret.as_str()),
        ("CCAF_LOG", "trace"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let built = app.run_with("buildup", &[], &env).expect(0);
    let torn = app.run_with("teardown", &[], &env).expect(0);
    let (flink_key, flink_secret) = app.cloud.flink.clone();
    let (sr_key, sr_secret) = app.cloud.sr.clone();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let mut secrets = vec![
        flink_secret.clone(),
        sr_secret.clone(),
        written.kafka_password.clone(),
        aws_secret,
        github_token,
        b64(&format!("{flink_key}:{flink_secret}")),
        b64(&format!("{sr_key}:{sr_secret}")),
    ];
    for s in [&flink_secret, &sr_secret, &written.kafka_password] {
        secrets.push(b64(s));
    }
    for run in [&built, &torn] {
        let all = format!("{}\n{}", run.stdout(), run.stderr());
        // Trace is on: the dependencies that may log did.
        assert!(all.lines().count() > 50, "{all}");
        assert!(all.contains("TRACE"), "no trace lines:\n{all}");
        for s in &secrets {
            assert!(!all.contains(s.as_str()), "a credential in the log");
        }
    }
}

#[tokio::test]
async fn a_malformed_github_environment_exits_2_before_any_request() {
    // The run's environment is read and checked before anything else: a GITHUB_REPOSITORY that
    // is no `owner/name` (or a CCAF_* duration that does not parse) is bad input, named, and
    // not one request reaches the cloud.
    let app = App::in_cloud(
        "bad-env",
        StackEnv::load(),
        Cloud::private(SimOptions::default()),
    );
    write(&app, &Tables::new().statements());
    for (name, value) in [
        ("GITHUB_REPOSITORY", "acme flights"),
        ("GITHUB_REPOSITORY", "acme/flights/extra"),
        ("CCAF_LEASE_TTL", "a while"),
    ] {
        app.cloud.control().clear_requests().await;
        let env = [(name.to_string(), value.to_string())];
        let run = app.run_with("teardown", &[], &env).expect(2);
        let err = run.stderr();
        assert!(
            err.contains(&format!("environment variable `{name}`")) && err.contains(value),
            "{err}"
        );
        let requests = app.cloud.control().requests().await;
        assert!(requests.is_empty(), "{name}={value}: {requests:#?}");
    }
    // The same run with a well-formed repository goes ahead.
    let env = [("GITHUB_REPOSITORY".to_string(), "acme/flights".to_string())];
    app.run_with("teardown", &[], &env).expect(0);
    assert!(!app.cloud.control().requests().await.is_empty());
}
