//! The engine end to end: the real binary, run as the action runs, against the stack.

use ccaf_housekeeping::tracker::State;
use test_support::unique;

use crate::harness::{write, App, Tables};

fn logical_of(report: &serde_json::Value, name: &str) -> String {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .and_then(|s| s["logical_name"].as_str())
        .unwrap_or(name)
        .to_string()
}

async fn expect_running(app: &App, names: &[String]) {
    let live = app.app_statements().await;
    for n in names {
        let phase = live.get(n).map(String::as_str);
        assert!(
            matches!(phase, Some("RUNNING") | Some("COMPLETED")),
            "{n} is {phase:?}; live: {live:?}"
        );
    }
}

#[tokio::test]
async fn buildup_then_teardown_leaves_nothing_and_the_tracker_says_so() {
    let app = App::new("e2e-cycle");
    let t = Tables::new();
    write(&app, &t.statements());

    let built = app.run("buildup", &[]).expect(0);
    let rebuilt = built.list("rebuilt");
    assert_eq!(rebuilt.len(), 4, "{rebuilt:?}");
    expect_running(&app, &rebuilt).await;
    let live = app.app_statements().await;
    assert_eq!(live.len(), 4, "only the app's four statements: {live:?}");
    let report = built.report();
    assert_eq!(report["outcome"], "succeeded");
    let phase = |logical: &str| {
        let name = rebuilt
            .iter()
            .find(|n| logical_of(&report, n) == logical)
            .unwrap();
        live[name].clone()
    };
    assert_eq!(phase("job"), "RUNNING");
    assert_eq!(phase("sink"), "COMPLETED");
    for table in t.all() {
        assert!(app.topic_exists(table).await, "topic {table}");
    }
    let subjects = app.subjects().await;
    for s in [
        format!("{}-value", t.src),
        format!("{}-key", t.sink),
        format!("{}-value", t.sink),
        format!("{}-value", t.rollup),
    ] {
        assert!(subjects.contains(&s), "{s} missing from {subjects:?}");
    }
    assert!(
        built.summary.contains(&rebuilt[0]),
        "the summary names each statement"
    );

    // Nothing changed: nothing to do.
    let again = app.run("buildup", &[]).expect(0);
    assert_eq!(again.report()["outcome"], "nothing_to_do");
    assert_eq!(again.list("unchanged").len(), 4);
    assert!(again.list("rebuilt").is_empty());

    let torn = app.run("teardown", &[]).expect(0);
    let mut torn_down = torn.list("torn-down");
    torn_down.sort();
    let mut expected = rebuilt.clone();
    expected.sort();
    assert_eq!(torn_down, expected);
    let mut dropped = torn.list("dropped-tables");
    dropped.sort();
    let mut tables: Vec<String> = t.all().iter().map(|s| s.to_string()).collect();
    tables.sort();
    assert_eq!(
        dropped
            .iter()
            .map(|d| d.rsplit('.').next().unwrap().to_string())
            .collect::<Vec<_>>(),
        tables
    );
    assert!(
        app.app_statements().await.is_empty(),
        "statements left (hidden DROPs included)"
    );
    for table in t.all() {
        assert!(!app.topic_exists(table).await, "topic {table} left");
    }
    let subjects = app.subjects().await;
    for table in t.all() {
        assert!(
            !subjects.iter().any(|s| s.starts_with(table)),
            "{table} subjects left: {subjects:?}"
        );
    }
    let records = app.records().await;
    assert_eq!(records.len(), 4);
    assert!(
        records.values().all(|r| r.state == State::TornDown),
        "{records:#?}"
    );

    // Without the manifest, buildup restores the app from the tracker's definitions.
    std::fs::remove_file(app.path("ccaf-housekeeping.toml")).unwrap();
    let restored = app.run("buildup", &[("manifest", "")]).expect(0);
    let mut back = restored.list("rebuilt");
    back.sort();
    assert_eq!(back, expected);
    expect_running(&app, &back).await;
    app.run("teardown", &[("manifest", "")]).expect(0);
}

#[tokio::test]
async fn changing_one_sql_file_replaces_exactly_that_statement() {
    let app = App::new("e2e-change");
    let t = Tables::new();
    let mut stmts = t.statements();
    write(&app, &stmts);
    let first = app.run("buildup", &[]).expect(0);
    let before = first.list("rebuilt");

    stmts[2].1 = format!("{} WHERE amount > 0", stmts[2].1);
    write(&app, &stmts);
    let plan = app.run("plan", &[("plan-for", "buildup")]).expect(0);
    let planned = plan.report();
    assert_eq!(planned["outcome"], "planned");
    assert_eq!(plan.steps("create").len(), 1, "{planned:#}");
    assert_eq!(plan.steps("unchanged").len(), 3);
    assert_eq!(app.app_statements().await.len(), 4, "plan changed nothing");

    let run = app.run("buildup", &[]).expect(0);
    let rebuilt = run.list("rebuilt");
    let torn = run.list("torn-down");
    assert_eq!(rebuilt.len(), 1, "{rebuilt:?}");
    assert_eq!(torn.len(), 1, "{torn:?}");
    assert!(before.contains(&torn[0]));
    assert!(!before.contains(&rebuilt[0]));
    assert_eq!(logical_of(&run.report(), &rebuilt[0]), "job");
    assert_eq!(run.list("unchanged").len(), 3);
    let live = app.app_statements().await;
    assert_eq!(live.get(&rebuilt[0]).map(String::as_str), Some("RUNNING"));
    assert!(!live.contains_key(&torn[0]), "the old version is gone");
    assert!(app.topic_exists(&t.sink).await, "buildup keeps the tables");
    // The old version's record is gone; the new one is deployed.
    let records = app.records().await;
    assert!(!records.contains_key(&torn[0]));
    assert_eq!(records[&rebuilt[0]].state, State::Deployed);
    app.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn rebuild_replaces_every_statement_and_recreates_every_table() {
    let app = App::new("e2e-rebuild");
    let t = Tables::new();
    write(&app, &t.statements());
    let first = app.run("buildup", &[]).expect(0);
    let names = first.list("rebuilt");

    let run = app.run("rebuild", &[]).expect(0);
    let mut torn = run.list("torn-down");
    let mut rebuilt = run.list("rebuilt");
    torn.sort();
    rebuilt.sort();
    let mut expected = names.clone();
    expected.sort();
    assert_eq!(torn, expected);
    assert_eq!(
        rebuilt, expected,
        "same definitions, same names, all recreated"
    );
    assert_eq!(run.list("dropped-tables").len(), 3);
    expect_running(&app, &rebuilt).await;
    for table in t.all() {
        assert!(app.topic_exists(table).await, "topic {table} recreated");
    }
    let records = app.records().await;
    assert!(
        records.values().all(|r| r.state == State::Deployed),
        "{records:#?}"
    );
    app.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn a_statement_removed_from_the_manifest_is_pruned_with_its_table() {
    let app = App::new("e2e-prune");
    let t = Tables::new();
    let mut stmts = t.statements();
    write(&app, &stmts);
    app.run("buildup", &[]).expect(0);
    stmts.retain(|(n, _)| *n != "rollup");
    write(&app, &stmts);
    let run = app.run("buildup", &[]).expect(0);
    let pruned = run.steps("prune");
    assert_eq!(pruned.len(), 1, "{:#}", run.report());
    assert_eq!(logical_of(&run.report(), &pruned[0]), "rollup");
    assert_eq!(run.list("dropped-tables").len(), 1);
    assert!(!app.topic_exists(&t.rollup).await);
    assert!(app.topic_exists(&t.sink).await);
    assert_eq!(run.list("unchanged").len(), 3);
    assert!(
        !app.records().await.contains_key(&pruned[0]),
        "a pruned record is forgotten"
    );
    app.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn a_protected_table_survives_teardown() {
    let app = App::new("e2e-protect");
    let t = Tables::new();
    write(&app, &t.statements());
    app.run("buildup", &[]).expect(0);
    // As the runner runs it: annotations are workflow commands only inside Actions.
    let run = app
        .run_with("teardown", &[("protect", &t.sink)], &in_actions())
        .expect(0);
    assert!(
        app.topic_exists(&t.sink).await,
        "the protected table is kept"
    );
    assert!(!app.topic_exists(&t.src).await);
    assert_eq!(run.list("dropped-tables").len(), 2);
    assert!(
        run.steps("skip").iter().any(|s| s.contains(&t.sink)),
        "{:#}",
        run.report()
    );
    assert!(
        run.stdout().contains("::warning"),
        "a warning annotation for the protected table"
    );
    // Clean up the kept table through a rebuild-free path: drop it with a second app's DDL.
    let cleanup = App::new("e2e-protect-cleanup");
    cleanup.write_manifest(&[("drop", &format!("DROP TABLE IF EXISTS {}", t.sink))]);
    cleanup.run("buildup", &[]).expect(0);
    cleanup.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn other_apps_and_unadopted_statements_are_never_touched() {
    let mine = App::new("e2e-mine");
    let theirs = App::new("e2e-theirs");
    let (t1, t2) = (Tables::new(), Tables::new());
    write(&mine, &t1.statements());
    write(&theirs, &t2.statements());
    mine.run("buildup", &[]).expect(0);
    let their_names = theirs.run("buildup", &[]).expect(0).list("rebuilt");

    // A statement named like ours, created outside the tool and never adopted.
    let stray = format!("{}-stray", mine.name);
    let flink = mine.flink();
    let props = mine.cloud.catalog();
    flink
        .create(&ccaf_housekeeping::confluent::flink::NewStatement {
            name: stray.clone(),
            sql: format!("SELECT * FROM {}", t1.src),
            properties: props,
            ..Default::default()
        })
        .await
        .unwrap();

    mine.run("rebuild", &[]).expect(0);
    mine.run("teardown", &[]).expect(0);
    let left = mine.app_statements().await;
    assert_eq!(
        left.keys().collect::<Vec<_>>(),
        vec![&stray],
        "only the stray statement is left"
    );
    expect_running(&theirs, &their_names).await;
    for table in t2.all() {
        assert!(theirs.topic_exists(table).await);
    }
    flink.delete(&stray).await.unwrap();
    theirs.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn adopt_teardown_buildup_restores_an_adopted_statement_exactly() {
    let app = App::new("e2e-adopt");
    let t = Tables::new();
    let flink = app.flink();
    let mut props = app.cloud.catalog();
    props.insert("sql.local-time-zone".to_string(), "UTC".to_string());
    // What a Table API app does: its own DDL and job, named with its own uuid.
    let prefix = unique("combined-flight-data");
    let ddl_name = format!("{prefix}-ddl");
    let job_name = format!("{prefix}-job");
    let job_sql = format!(
        "INSERT INTO {}\n  SELECT id, amount FROM {} WHERE id IS NOT NULL",
        t.sink, t.src
    );
    for (name, sql) in [
        (
            format!("{prefix}-src"),
            format!("CREATE TABLE {} (id STRING, amount INT)", t.src),
        ),
        (
            ddl_name.clone(),
            format!("CREATE TABLE {} (id STRING, amount INT)", t.sink),
        ),
        (job_name.clone(), job_sql.clone()),
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
    let no_manifest = [("manifest", "")];
    let adopted = app
        .run(
            "adopt",
            &[("adopt", &format!("{prefix}-*")), no_manifest[0]],
        )
        .expect(0);
    assert_eq!(adopted.steps("adopt").len(), 3, "{:#}", adopted.report());
    // Adopted: recorded with their uids, and the plain CREATE TABLEs that completed own their
    // tables. The stack's simulator, like the awkward cloud, answers a label patch and keeps
    // nothing: the statements carry no label, the steps say so, and the uid is the evidence.
    let records = app.records().await;
    for name in [&ddl_name, &job_name] {
        let live = flink.get(name).await.unwrap().unwrap();
        assert_eq!(
            live.metadata
                .labels
                .get(ccaf_housekeeping::ownership::OWNER_LABEL),
            None
        );
        assert_eq!(records[name].statement_uid, live.metadata.uid);
    }
    for step in adopted.report()["steps"].as_array().unwrap() {
        let reason = step["reason"].as_str().unwrap_or_default();
        assert!(
            reason.contains("did not keep the app's label") && reason.contains("uid"),
            "{reason}"
        );
    }
    assert_eq!(
        records[&ddl_name].tables.ownership[0].status,
        ccaf_housekeeping::tracker::Ownership::Owned
    );

    let torn = app.run("teardown", &no_manifest).expect(0);
    assert_eq!(torn.list("torn-down").len(), 3);
    assert_eq!(torn.list("dropped-tables").len(), 2);
    assert!(app.live(&prefix).await.is_empty());
    assert!(!app.topic_exists(&t.sink).await);

    let built = app.run("buildup", &no_manifest).expect(0);
    assert_eq!(built.list("rebuilt").len(), 3, "{:#}", built.report());
    assert_eq!(
        app.sql_of(&job_name).await.as_deref(),
        Some(job_sql.as_str())
    );
    let live = app.live(&prefix).await;
    assert_eq!(live.get(&job_name).map(String::as_str), Some("RUNNING"));
    assert!(app.topic_exists(&t.sink).await);
    let spec = flink.get(&job_name).await.unwrap().unwrap();
    assert_eq!(
        spec.spec
            .properties
            .get("sql.local-time-zone")
            .map(String::as_str),
        Some("UTC")
    );
    app.run("teardown", &no_manifest).expect(0);
}

#[tokio::test]
async fn a_failed_statement_reaches_the_report_and_stops_only_what_depends_on_it() {
    let app = App::new("e2e-fail");
    let t = Tables::new();
    let missing = unique("missing").replace('-', "_");
    let stmts = vec![
        (
            "src",
            format!("CREATE TABLE {} (id STRING, amount INT)", t.src),
        ),
        (
            "sink",
            format!("CREATE TABLE {} (id STRING, amount INT)", t.sink),
        ),
        // Reads a table nobody creates: FAILED.
        (
            "broken",
            format!("INSERT INTO {} SELECT id, amount FROM {missing}", t.sink),
        ),
        // Reads what `broken` writes: blocked by its failure.
        (
            "after-broken",
            format!("CREATE TABLE {} AS SELECT * FROM {}", t.rollup, t.sink),
        ),
    ];
    write(&app, &stmts);
    let run = app.run_with("buildup", &[], &in_actions()).expect(1);
    let report = run.report();
    assert_eq!(report["outcome"], "failed");
    let failed: Vec<&serde_json::Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "{report:#}");
    let detail = failed[0]["error"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(&missing), "{detail}");
    assert!(!failed[0]["error"]["exceptions"]
        .as_array()
        .unwrap()
        .is_empty());
    let blocked: Vec<&serde_json::Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "blocked")
        .collect();
    assert_eq!(blocked.len(), 1, "{report:#}");
    assert_eq!(run.list("failed").len(), 2);
    assert_eq!(
        run.list("rebuilt").len(),
        2,
        "the independent DDL still ran"
    );
    assert!(
        run.summary.contains(&missing),
        "the summary shows the failure's detail"
    );
    assert!(run.stdout().contains("::error"), "an error annotation");
    app.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn a_drop_left_half_done_is_finished_directly_and_said_so() {
    let stack = test_support::StackEnv::load();
    let cloud = crate::harness::Cloud::private(test_support::SimOptions::default());
    let app = App::in_cloud("e2e-halfdrop", stack, cloud);
    let t = Tables::new();
    write(&app, &t.statements());
    app.run("buildup", &[]).expect(0);
    // The service completes the DROP TABLE but leaves the topic and its subjects behind.
    app.cloud
        .control()
        .set_faults(serde_json::json!({ "partial_drops": true }))
        .await;

    let run = app.run("teardown", &[("timeout", "3s")]).expect(0);
    let report = run.report();
    let drops: Vec<&serde_json::Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "drop_table")
        .collect();
    assert_eq!(drops.len(), 3);
    for d in &drops {
        assert_eq!(d["status"], "done", "{d:#}");
        assert_eq!(d["removed"]["deleted_directly"], true, "{d:#}");
    }
    for table in t.all() {
        assert!(!app.topic_exists(table).await, "topic {table} left");
    }
    let subjects = app.subjects().await;
    assert!(
        !subjects
            .iter()
            .any(|s| t.all().iter().any(|t| s.starts_with(t))),
        "{subjects:?}"
    );
    assert!(
        run.summary.contains("directly"),
        "the summary says so:\n{}",
        run.summary
    );
}

#[tokio::test]
async fn carry_over_offsets_start_the_replacement_where_the_old_job_stopped() {
    let app = App::new("e2e-carry");
    let t = Tables::new();
    let mut stmts = t.statements();
    // A sink without a key: a job writing a keyed table is an upsert sink, which keeps state
    // and cannot carry its offsets over.
    stmts[1].1 = format!("CREATE TABLE {} (id STRING, amount INT)", t.sink);
    write(&app, &stmts);
    app.run("buildup", &[]).expect(0);
    stmts[2].1 = format!("{} WHERE amount > 10", stmts[2].1);
    write(&app, &stmts);

    let run = app
        .run("buildup", &[("carry-over-offsets", "true")])
        .expect(0);
    let rebuilt = run.list("rebuilt");
    assert_eq!(rebuilt.len(), 1);
    assert!(
        run.list("torn-down").is_empty(),
        "the old job is stopped, not deleted"
    );
    let new = &rebuilt[0];
    let step = run.report()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == new.as_str())
        .cloned()
        .unwrap();
    assert!(
        step["reason"]
            .as_str()
            .unwrap()
            .contains("offsets carried over"),
        "{step:#}"
    );
    let flink = app.flink();
    let created = flink.get(new).await.unwrap().unwrap();
    let old = created.spec.properties["sql.tables.initial-offset-from"].clone();
    let live = app.app_statements().await;
    assert_eq!(live.get(new).map(String::as_str), Some("RUNNING"));
    assert_eq!(
        live.get(&old).map(String::as_str),
        Some("STOPPED"),
        "{live:?}"
    );
    assert_eq!(app.records().await[&old].state, State::Stopped);

    let torn = app.run("teardown", &[]).expect(0);
    assert!(
        torn.list("torn-down").contains(&old),
        "teardown removes the stopped one too"
    );
    assert!(app.app_statements().await.is_empty());
}

/// The runner's `GITHUB_ACTIONS`, for runs whose annotations a test reads.
fn in_actions() -> Vec<(String, String)> {
    vec![("GITHUB_ACTIONS".into(), "true".into())]
}

/// A panic inside a run (here: in the listener a step calls as it starts, standing for a bug in
/// a step) is caught by the engine: the lease is released — the next run gets it at once — and
/// the run ends with a failed report saying why, which the reporters write as any other.
#[tokio::test]
async fn a_panic_in_a_step_releases_the_lease_and_still_reports() {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use ccaf_housekeeping::cancel::{Cancel, DEFAULT_GRACE};
    use ccaf_housekeeping::confluent::flink::ListFilter;
    use ccaf_housekeeping::confluent::http::{Credentials, RetryPolicy};
    use ccaf_housekeeping::confluent::kafka::{KafkaAdmin, KafkaConfig};
    use ccaf_housekeeping::confluent::limit::Concurrency;
    use ccaf_housekeeping::confluent::schema_registry::SchemaRegistryClient;
    use ccaf_housekeeping::confluent::watch::StatementWatch;
    use ccaf_housekeeping::engine::{Clients, Engine, LeaseSpec, Request, RunSpec, Site};
    use ccaf_housekeeping::github::Masker;
    use ccaf_housekeeping::ownership::{ClusterScope, OWNER_LABEL};
    use ccaf_housekeeping::plan::{Goal, Options};
    use ccaf_housekeeping::report::{Outcome, StepEvent};
    use ccaf_housekeeping::tracker::{LeaseRequest, Provenance, Tracker};

    let app = App::new("e2e-panic");
    app.write_manifest(&[("show", "SHOW TABLES")]);
    let c = &app.cloud;
    let kafka = KafkaConfig::plaintext(&app.stack.kafka_bootstrap_servers);
    let flink = app.flink();
    let manifest =
        ccaf_housekeeping::manifest::load(&app.path("ccaf-housekeeping.toml"), &app.dir.0, None)
            .expect("manifest");
    let clients = Clients {
        flink: flink.clone(),
        watch: StatementWatch::new(
            flink,
            ListFilter {
                label_selector: Some(format!("{OWNER_LABEL}={}", app.name)),
                compute_pool_id: None,
            },
        ),
        kafka: KafkaAdmin::connect(&kafka).expect("admin"),
        registry: Some(
            SchemaRegistryClient::new(
                &c.url,
                &Credentials::new(&c.sr.0, &c.sr.1),
                RetryPolicy::default(),
            )
            .expect("registry"),
        ),
        tracker: Tracker::open(
            &kafka,
            &app.tracker_topic,
            ccaf_housekeeping::tracker::TrackerKey::unprotected(),
        )
        .await
        .expect("tracker"),
    };
    let site = Site {
        environment_id: c.env_id.clone(),
        cluster: ClusterScope {
            connected: Some(c.cluster_id.clone()),
            names: BTreeMap::new(),
        },
        names: ccaf_housekeeping::identity::Names::new(
            &c.env_id,
            Some(&c.cluster_id),
            &BTreeMap::new(),
        ),
        compute_pool: Some(c.pool.clone()),
        principal: Some(c.principal.clone()),
    };
    let spec = RunSpec {
        app: app.name.clone(),
        request: Request::Run(Goal::Buildup),
        manifest: Some(manifest),
        options: Options::default(),
        timeout: Duration::from_secs(60),
        concurrency: Concurrency::Auto,
        catalog: Some(c.env_name.clone()),
        database: Some(c.cluster_id.clone()),
        database_clusters: BTreeMap::new(),
        lease: LeaseSpec {
            run_id: "local-e2e-panic".into(),
            holder: "the engine test".into(),
            wait: LeaseRequest::DEFAULT_WAIT,
            ttl: None,
        },
        provenance: Provenance::now(),
    };
    let engine = Engine::new(clients, site, spec, Cancel::new(DEFAULT_GRACE));
    let on_event = |e: StepEvent<'_>| {
        if matches!(e, StepEvent::Started { .. }) {
            panic!("injected: a bug in a step");
        }
    };
    let report = engine.run(&on_event).await.expect("a report, not an error");
    assert_eq!(report.outcome, Outcome::Failed);
    assert_eq!(report.exit_code(), 1);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("internal error") && n.contains("injected: a bug in a step")),
        "{:#?}",
        report.notes
    );
    // The reporters write it as any other report.
    let summary = app.path("summary.md");
    ccaf_housekeeping::github::summary::write_summary(&summary, &report, None, &Masker::new())
        .expect("summary");
    let text = std::fs::read_to_string(&summary).unwrap();
    assert!(text.contains("injected: a bug in a step"), "{text}");

    // The lease was released: a run that waits for no lease gets it, and converges.
    let env = [("CCAF_LEASE_WAIT".to_string(), "0s".to_string())];
    app.run_with("buildup", &[], &env).expect(0);
    app.run_with("teardown", &[], &env).expect(0);
    assert!(app.app_statements().await.is_empty());
}
