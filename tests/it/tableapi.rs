//! Table API apps for real: Confluent's own Table API plugin, unmodified, runs the seeds' flight
//! consolidator (`examples/flight-consolidator-tableapi`, with `uv run` as the seeds do) against
//! the simulator over HTTPS; then the action adopts what the app deployed, tears it down with its
//! table, and builds it up again without running the app.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;
use test_support::{unique, SimOptions, StackEnv};

use crate::harness::{App, Cloud};

/// The plugin hangs on a statement left PENDING: every run of it is bounded.
const APP_TIMEOUT_SECS: &str = "300";

/// A simulator of the test's own that speaks HTTPS too, in front of the stack's broker.
fn https_cloud(stack: &StackEnv) -> Cloud {
    https_cloud_with(stack, SimOptions::default())
}

fn https_cloud_with(stack: &StackEnv, opts: SimOptions) -> Cloud {
    Cloud::private(SimOptions {
        tls: Some((stack.tls_cert.clone(), stack.tls_key.clone())),
        ..opts
    })
}

/// How the app creates its sink.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SinkDdl {
    /// `create_table` with a `ConfluentTableDescriptor`, as the seeds do: the plugin names
    /// the statement after the context and spells the table by ids.
    Descriptor,
    /// A plain `CREATE TABLE` through `execute_sql`, under a name of the app's own.
    Sql,
}

/// The airlines' feeds (the demo's `flight-sources`, under names of the test's own), built up by
/// the action as an app of their own.
fn sources(stack: &StackEnv, cloud: Cloud) -> (App, String, String) {
    let mut app = App::in_cloud("tableapi-sources", stack.clone(), cloud);
    let (skyone, sunset) = (
        unique("skyone").replace('-', "_"),
        unique("sunset").replace('-', "_"),
    );
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/flight-consolidator/sources");
    let sql = |file: &str, from: &str, to: &str| {
        std::fs::read_to_string(dir.join(file))
            .unwrap()
            .replace(from, to)
    };
    app.write_manifest(&[
        (
            "skyone-avro",
            &sql("skyone_avro.sql", "skyone_avro", &skyone),
        ),
        (
            "sunset-avro",
            &sql("sunset_avro.sql", "sunset_avro", &sunset),
        ),
    ]);
    name_database_by_display_name(&mut app);
    (app, skyone, sunset)
}

/// The statements name the database by its display name, as the seeds do; the action is told
/// which cluster that is.
fn name_database_by_display_name(app: &mut App) {
    let (name, id) = (app.cloud.cluster_name.clone(), app.cloud.cluster_id.clone());
    app.inputs.insert("database".into(), name.clone());
    app.inputs
        .insert("database-clusters".into(), format!("{name}={id}"));
}

/// Run the Table API app: it prints one JSON line naming the statements it submitted.
fn run_tableapi_app(
    app: &App,
    sink: &str,
    skyone: &str,
    sunset: &str,
    ddl: SinkDdl,
    context: &str,
) -> Value {
    let stack = &app.stack;
    let c = &app.cloud;
    let venv = stack
        .tableapi_venv
        .clone()
        .expect("CCAF_TABLEAPI_VENV is not set: run the tests through scripts/test");
    let truststore = stack
        .tls_truststore
        .clone()
        .expect("SIM_TLS_TRUSTSTORE is not set: the stack needs a JRE's keytool");
    let uv = stack
        .tools_venv
        .clone()
        .expect("CCAF_TOOLS_VENV is not set")
        .join("bin/uv");
    let out = Command::new("timeout")
        .arg(APP_TIMEOUT_SECS)
        .arg(&uv)
        .args(["run", "--frozen", "--offline", "flight_consolidator"])
        .args(["--catalog", &c.env_name, "--database", &c.cluster_name])
        .args(["--sink", sink, "--skyone", skyone, "--sunset", sunset])
        .args(["--context", context])
        .args([
            "--sink-ddl",
            match ddl {
                SinkDdl::Descriptor => "descriptor",
                SinkDdl::Sql => "sql",
            },
        ])
        .current_dir(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/flight-consolidator-tableapi"),
        )
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::var_os("HOME").unwrap_or_default())
        .env("UV_PROJECT_ENVIRONMENT", &venv)
        .env("UV_PYTHON_DOWNLOADS", "never")
        // The plugin's own settings, from the environment.
        .env("ORG_ID", &c.org_id)
        .env("ENV_ID", &c.env_id)
        .env("FLINK_API_KEY", &c.flink.0)
        .env("FLINK_API_SECRET", &c.flink.1)
        .env("COMPUTE_POOL_ID", &c.pool)
        .env("PRINCIPAL_ID", &c.principal)
        .env("CLOUD_PROVIDER", "aws")
        .env("CLOUD_REGION", "us-east-1")
        .env(
            "ENDPOINT_TEMPLATE",
            c.https_url.as_deref().expect("an HTTPS simulator"),
        )
        .env(
            "JVM_ARGS",
            format!(
                "-Djavax.net.ssl.trustStore={} -Djavax.net.ssl.trustStorePassword=changeit -Djavax.net.ssl.trustStoreType=PKCS12",
                truststore.display()
            ),
        )
        .output()
        .expect("running uv");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the Table API app failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line from the app:\n{stdout}\n{stderr}"));
    serde_json::from_str(line).expect("the app's JSON line")
}

/// The Table API app, its sources built up first.
struct Deployed {
    sources: App,
    app: App,
    sink: String,
    insert: String,
    ddl: String,
    context: String,
}

async fn deploy(cloud: Cloud, ddl: SinkDdl) -> Deployed {
    let stack = StackEnv::load();
    let (sources, skyone, sunset) = sources(&stack, cloud);
    sources.run("buildup", &[]).expect(0);
    // The app's own tracker and scope, in the same cloud.
    let mut app = App::in_cloud("tableapi", stack.clone(), sources.cloud.clone());
    if ddl == SinkDdl::Sql {
        name_database_by_display_name(&mut app);
    }
    app.inputs.insert("manifest".into(), String::new());
    let sink = unique("flight_avro").replace('-', "_");
    let context = unique("flights");
    let out = run_tableapi_app(&app, &sink, &skyone, &sunset, ddl, &context);
    assert_eq!(out["sink_created"], true, "{out}");
    let insert = out["insert_statement"].as_str().unwrap().to_string();
    let ddl = match out["sink_statement"].as_str() {
        Some(name) => name.to_string(),
        // The plugin does not say: its statement is the one under the context that creates the
        // sink.
        None => plugin_ddl(&app, &context, &sink).await,
    };
    Deployed {
        sources,
        app,
        sink,
        insert,
        ddl,
        context,
    }
}

/// The plugin's `create_table` statement: under the session's context, creating the sink.
async fn plugin_ddl(app: &App, context: &str, sink: &str) -> String {
    let flink = app.flink();
    for name in app.live(&format!("{context}-")).await.into_keys() {
        let s = flink.get(&name).await.unwrap().unwrap();
        if s.sql().starts_with("CREATE TABLE") && s.sql().contains(sink) {
            return name;
        }
    }
    panic!("no statement of the plugin creates {sink}")
}

#[tokio::test]
async fn confluents_table_api_plugin_runs_the_flight_consolidator_over_https() {
    let d = deploy(https_cloud(&StackEnv::load()), SinkDdl::Descriptor).await;
    assert!(
        d.insert.starts_with("combined-flight-data-") && d.insert.ends_with("-api"),
        "{}",
        d.insert
    );
    // The plugin's own statement creates the sink by ids; the insert names it by the names the
    // app uses.
    assert!(
        d.ddl.starts_with(&format!("{}-", d.context)) && d.ddl.ends_with("-plugin"),
        "{}",
        d.ddl
    );
    let c = &d.app.cloud;
    let flink = d.app.flink();
    let ddl_sql = flink.get(&d.ddl).await.unwrap().unwrap().sql().to_string();
    assert!(
        ddl_sql.starts_with(&format!(
            "CREATE TABLE `{}`.`{}`.`{}`",
            c.env_id, c.cluster_id, d.sink
        )),
        "{ddl_sql}"
    );
    let insert_sql = flink
        .get(&d.insert)
        .await
        .unwrap()
        .unwrap()
        .sql()
        .to_string();
    assert!(
        insert_sql.starts_with(&format!(
            "INSERT INTO `{}`.`{}`.`{}`",
            c.env_name, c.cluster_name, d.sink
        )),
        "{insert_sql}"
    );
    let live = d.app.live("").await;
    assert_eq!(
        live.get(&d.insert).map(String::as_str),
        Some("RUNNING"),
        "{live:?}"
    );
    assert_eq!(
        live.get(&d.ddl).map(String::as_str),
        Some("COMPLETED"),
        "{live:?}"
    );
    // It read the catalog through INFORMATION_SCHEMA, over HTTPS.
    let log = d.app.cloud.control().requests().await;
    let catalog_queries = log
        .iter()
        .filter(|r| {
            r["method"] == "POST"
                && r["query"]
                    .as_str()
                    .is_some_and(|q| q.contains("cell_based_self_url=true"))
        })
        .count();
    assert!(
        catalog_queries >= 4,
        "{catalog_queries} statements from the plugin"
    );
    assert!(d.app.topic_exists(&d.sink).await, "the sink table's topic");
    let subjects = d.app.subjects().await;
    for s in [format!("{}-key", d.sink), format!("{}-value", d.sink)] {
        assert!(subjects.contains(&s), "{s} in {subjects:?}");
    }
    d.app.flink().delete(&d.insert).await.unwrap();
    cleanup(&d).await;
}

/// Drop what a test left: the app's sink (through its DDL's teardown) and the sources.
async fn cleanup(d: &Deployed) {
    let drop = App::in_cloud("tableapi-cleanup", d.app.stack.clone(), d.app.cloud.clone());
    drop.write_manifest(&[("drop", &format!("DROP TABLE IF EXISTS {}", d.sink))]);
    drop.run("buildup", &[]).expect(0);
    drop.run("teardown", &[]).expect(0);
    d.sources.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn an_app_creating_its_sink_with_execute_sql_is_adopted_torn_down_and_rebuilt_without_it() {
    let d = deploy(https_cloud(&StackEnv::load()), SinkDdl::Sql).await;
    // The plugin classified its DDL with a dry run first, which changed nothing.
    let dry = d.ddl.replace("-sql", "-dry");
    assert_eq!(
        d.app.live("").await.get(&dry).map(String::as_str),
        Some("COMPLETED")
    );
    let sink_ddl_prefix = format!("{}-ddl-*", d.sink.replace('_', "-"));
    let selectors = format!("combined-flight-data-*\n{sink_ddl_prefix}");
    let adopted = d.app.run("adopt", &[("adopt", &selectors)]).expect(0);
    let mut names = adopted.steps("adopt");
    names.sort();
    let mut expected = vec![d.insert.clone(), d.ddl.clone()];
    expected.sort();
    assert_eq!(names, expected, "the INSERT and the DDL; never the dry run");
    assert!(
        adopted.steps("skip").contains(&dry),
        "the dry run is listed as left alone: {:#}",
        adopted.report()
    );

    let torn = d.app.run("teardown", &[]).expect(0);
    let mut torn_down = torn.list("torn-down");
    torn_down.sort();
    assert_eq!(torn_down, expected);
    assert!(
        torn.list("dropped-tables")
            .iter()
            .any(|t| t.ends_with(&d.sink)),
        "the app's CREATE TABLE created its sink: {:#}",
        torn.report()
    );
    assert!(!d.app.topic_exists(&d.sink).await);
    let live = d.app.live("").await;
    assert!(!live.contains_key(&d.insert) && !live.contains_key(&d.ddl));
    for t in d.sources.records().await.values() {
        assert!(
            live.contains_key(&t.statement_name),
            "the sources are another app's"
        );
    }

    // Back without the app: the tracker has their SQL, properties, pool and principal.
    let rebuilt = d.app.run("rebuild", &[]).expect(0);
    let mut back = rebuilt.list("rebuilt");
    back.sort();
    assert_eq!(back, expected, "{:#}", rebuilt.report());
    let live = d.app.live("").await;
    assert_eq!(live.get(&d.insert).map(String::as_str), Some("RUNNING"));
    assert_eq!(live.get(&d.ddl).map(String::as_str), Some("COMPLETED"));
    assert!(d.app.topic_exists(&d.sink).await);

    d.app.run("teardown", &[]).expect(0);
    let live = d.app.live("").await;
    assert!(!live.contains_key(&d.insert) && !live.contains_key(&d.ddl));
    assert!(
        !d.app.topic_exists(&d.sink).await,
        "nothing of the app is left"
    );
    d.sources.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn the_seeds_app_is_adopted_by_table_and_by_context_exported_torn_down_and_rebuilt_without_it(
) {
    // Display names with spaces and hyphens; label patches ignored (the simulator's default).
    let stack = StackEnv::load();
    let cloud = https_cloud_with(
        &stack,
        SimOptions {
            env_name: Some(format!("flight env-{}", unique("e"))),
            kafka_cluster_name: Some(format!("flight cluster-{}", unique("c"))),
            ..Default::default()
        },
    );
    let d = deploy(cloud, SinkDdl::Descriptor).await;
    let mut expected = vec![d.insert.clone(), d.ddl.clone()];
    expected.sort();

    // By table: the statements that create or write the sink, whatever they call it.
    let by_table = d.app.run("adopt", &[("adopt-tables", &d.sink)]).expect(0);
    assert_eq!(by_table.steps("adopt"), expected, "{:#}", by_table.report());
    // By the context: the plugin's create_table statement; its catalog queries are left alone.
    let context = format!("{}-*", d.context);
    let by_context = d.app.run("adopt", &[("adopt", &context)]).expect(0);
    assert_eq!(by_context.steps("adopt"), vec![d.ddl.clone()]);
    let left = by_context.report()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "skip")
        .map(|s| s["reason"].as_str().unwrap_or_default().to_string())
        .collect::<Vec<_>>();
    assert!(!left.is_empty(), "the catalog queries are listed");
    assert!(left.iter().all(|r| r.contains("catalog query")), "{left:?}");
    let records = d.app.records().await;
    assert_eq!(records.len(), 2, "{:?}", records.keys());

    // Own it as code: the exported manifest changes nothing when built up.
    let exported = d
        .app
        .run("export", &[("manifest", "exported.toml")])
        .expect(0);
    assert!(
        exported.stdout().contains("exported 2 statements"),
        "{}",
        exported.stdout()
    );
    let manifest = d.app.path("exported.toml");
    let manifest = manifest.to_str().unwrap();
    let plan = d
        .app
        .run("plan", &[("plan-for", "buildup"), ("manifest", manifest)])
        .expect(0);
    assert_eq!(
        plan.report()["outcome"],
        "nothing_to_do",
        "{:#}",
        plan.report()
    );

    // Torn down: both statements, and the sink the plugin's statement created.
    let torn = d.app.run("teardown", &[]).expect(0);
    let mut torn_down = torn.list("torn-down");
    torn_down.sort();
    assert_eq!(torn_down, expected, "{:#}", torn.report());
    assert_eq!(torn.list("dropped-tables").len(), 1, "{:#}", torn.report());
    assert!(!d.app.topic_exists(&d.sink).await);

    // Back without the app, in order: the insert is created once the sink's DDL completed
    // (had it gone first, it would have failed: the sink would not exist).
    let rebuilt = d.app.run("rebuild", &[]).expect(0);
    let mut back = rebuilt.list("rebuilt");
    back.sort();
    assert_eq!(back, expected, "{:#}", rebuilt.report());
    let report = rebuilt.report();
    let step = |name: &str| {
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name && s["action"] == "create")
            .cloned()
            .unwrap()
    };
    // One table in the picture, by its display names.
    assert_eq!(
        step(&d.insert)["tables"]["writes"],
        step(&d.ddl)["tables"]["creates"]
    );
    let shown = step(&d.ddl)["tables"]["creates"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert!(shown.contains(&d.app.cloud.cluster_name), "{shown}");
    let live = d.app.live("").await;
    assert_eq!(live.get(&d.insert).map(String::as_str), Some("RUNNING"));
    assert_eq!(live.get(&d.ddl).map(String::as_str), Some("COMPLETED"));
    assert!(d.app.topic_exists(&d.sink).await);

    d.app.run("teardown", &[]).expect(0);
    let live = d.app.live("").await;
    assert!(!live.contains_key(&d.insert) && !live.contains_key(&d.ddl));
    assert!(
        !d.app.topic_exists(&d.sink).await,
        "nothing of the app is left"
    );
    d.sources.run("teardown", &[]).expect(0);
}
