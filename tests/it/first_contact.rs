//! First contact with the real cloud: each command through the real binary against what
//! Confluent Cloud does that trips deployment tools (the reference, §F), on a simulator of the
//! test's own where a behaviour is stretched or chosen. Every run converges: exit 0, nothing
//! left, nothing foreign touched — or, where the cloud cannot be satisfied, a clear failure
//! that leaves the rest be.

use std::time::Duration;

use serde_json::{json, Value};
use test_support::{unique, wait_until, SimOptions, StackEnv};

use crate::harness::{write, App, Cloud, Tables};

fn private_app(prefix: &str, opts: SimOptions) -> App {
    App::in_cloud(prefix, StackEnv::load(), Cloud::private(opts))
}

/// The report's steps, by name.
fn steps_by_name(report: &Value) -> Vec<(String, Value)> {
    report["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s["name"].as_str().unwrap_or_default().to_string(), s))
        .collect()
}

/// The deployed name of the app's statement `logical`, as live now.
async fn deployed(app: &App, logical: &str) -> String {
    let infix = format!("-{logical}-");
    app.app_statements()
        .await
        .into_keys()
        .find(|n| n.contains(&infix))
        .unwrap_or_else(|| panic!("no live {logical} statement"))
}

fn step_of<'a>(report: &'a Value, action: &str, logical: &str) -> &'a Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| {
            s["action"] == action
                && (s["logical_name"] == logical || s["name"].as_str() == Some(logical))
        })
        .unwrap_or_else(|| panic!("no {action} step for {logical}: {report:#}"))
}

/// A source, a sink without a key, and a stateless job between them.
fn stateless(t: &Tables) -> Vec<(&'static str, String)> {
    vec![
        (
            "src",
            format!("CREATE TABLE {} (id STRING, amount INT)", t.src),
        ),
        (
            "sink",
            format!("CREATE TABLE {} (id STRING, amount INT)", t.sink),
        ),
        (
            "job",
            format!("INSERT INTO {} SELECT id, amount FROM {}", t.sink, t.src),
        ),
    ]
}

#[tokio::test]
async fn a_rebuild_meets_the_recreate_window_and_the_held_names_and_converges() {
    // The drop of each table and the create of the same table follow each other at once: the
    // service says "try again later" for a while, and the job's name is held after its delete.
    let app = private_app(
        "recreate",
        SimOptions {
            // Both longer than the drops take, the window longer than the hold: the creates
            // meet the names still held, then the tables still in the catalog.
            recreate_window_ms: 6000,
            name_hold_ms: 3000,
            ..Default::default()
        },
    );
    let t = Tables::new();
    write(&app, &t.statements());
    app.run("buildup", &[]).expect(0);
    let run = app.run("rebuild", &[]).expect(0);
    let report = run.report();
    assert_eq!(report["outcome"], "succeeded", "{report:#}");
    let retried: Vec<(String, Value)> = steps_by_name(&report)
        .into_iter()
        .filter(|(_, s)| s["retries"].as_array().is_some_and(|r| !r.is_empty()))
        .collect();
    let causes: Vec<&str> = retried
        .iter()
        .flat_map(|(_, s)| s["retries"].as_array().unwrap().iter())
        .filter_map(|r| r["cause"].as_str())
        .collect();
    assert!(causes.contains(&"recreate_window"), "{report:#}");
    assert!(causes.contains(&"name_held"), "{report:#}");
    for (name, step) in &retried {
        assert_eq!(step["status"], "done", "{name}: {step:#}");
    }
    // Each retry is in the step's line and in the summary.
    assert!(run.stdout().contains("retried"), "{}", run.stdout());
    assert!(run.summary.contains("retried"), "{}", run.summary);
    let live = app.app_statements().await;
    assert_eq!(live.len(), 4, "{live:?}");
    assert!(
        live.values().all(|p| p == "RUNNING" || p == "COMPLETED"),
        "{live:?}"
    );
    for table in t.all() {
        assert!(app.topic_exists(table).await, "{table}");
    }
    app.run("teardown", &[]).expect(0);
    app.assert_torn_down(&t.all().map(String::from)).await;
}

#[tokio::test]
async fn a_teardown_with_pool_scoped_credentials_converges() {
    let app = private_app("pool-key", SimOptions::default());
    let t = Tables::new();
    write(&app, &t.statements());
    app.run("buildup", &[]).expect(0);
    // One of the app's statements is gone already, deleted by someone else: a GET of it, under
    // the pool-scoped key, is 403.
    let flink = app.flink();
    let rollup = deployed(&app, "rollup").await;
    assert!(flink.delete(&rollup).await.unwrap());
    wait_until("the rollup to go", Duration::from_secs(20), || async {
        (!app.app_statements().await.contains_key(&rollup)).then_some(())
    })
    .await;
    let (key, secret) = app.cloud.control().pool_scoped_key().await;
    let run = app
        .run(
            "teardown",
            &[("flink-api-key", &key), ("flink-api-secret", &secret)],
        )
        .expect(0);
    let report = run.report();
    assert_eq!(report["outcome"], "succeeded", "{report:#}");
    app.assert_torn_down(&t.all().map(String::from)).await;
    // The service did answer 403s for statements that were gone.
    let forbidden = app
        .cloud
        .control()
        .requests()
        .await
        .into_iter()
        .filter(|r| r["status"] == 403 && r["api"] == "flink")
        .count();
    assert!(forbidden >= 1, "no 403 was met");
}

#[tokio::test]
async fn a_stop_only_teardown_then_a_resume_whose_phase_shows_late_converge() {
    // Accepted stops and resumes take 1.5 s to move the phase: until then a GET shows the old.
    let app = private_app(
        "late-phase",
        SimOptions {
            update_lag_ms: 1500,
            ..Default::default()
        },
    );
    let t = Tables::new();
    write(&app, &stateless(&t));
    app.run("buildup", &[]).expect(0);
    let job = deployed(&app, "job").await;
    let stopped = app.run("teardown", &[("stop-only", "true")]).expect(0);
    let stop = step_of(&stopped.report(), "stop", "job").clone();
    assert_eq!(stop["phase_after"], "STOPPED", "{stop:#}");
    assert_eq!(app.app_statements().await[&job], "STOPPED");
    let resumed = app.run("buildup", &[]).expect(0);
    let report = resumed.report();
    let resume = step_of(&report, "resume", "job");
    assert_eq!(resume["status"], "done", "{report:#}");
    assert_eq!(resume["phase_after"], "RUNNING", "{resume:#}");
    assert_eq!(app.app_statements().await[&job], "RUNNING");
    assert_eq!(
        app.records().await[&job].state,
        ccaf_housekeeping::tracker::State::Deployed
    );
    app.run("teardown", &[]).expect(0);
    app.assert_torn_down(&[t.src.clone(), t.sink.clone()]).await;
}

#[tokio::test]
async fn a_stopped_statement_purged_since_is_created_again_from_its_record() {
    let app = private_app(
        "purged",
        SimOptions {
            purge_after_ms: 1500,
            ..Default::default()
        },
    );
    let t = Tables::new();
    write(&app, &stateless(&t));
    app.run("buildup", &[]).expect(0);
    let job = deployed(&app, "job").await;
    app.run("teardown", &[("stop-only", "true")]).expect(0);
    wait_until(
        "the stopped job to be purged",
        Duration::from_secs(30),
        || async { (!app.app_statements().await.contains_key(&job)).then_some(()) },
    )
    .await;
    // No manifest: the tracker's definitions are what the app wants. The list may still show
    // the purged statement STOPPED (it lags): the resume finds it gone and creates it again.
    let run = app.run("buildup", &[("manifest", "")]).expect(0);
    let report = run.report();
    let step = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == job.as_str())
        .unwrap_or_else(|| panic!("no step for {job}: {report:#}"));
    assert_eq!(step["status"], "done", "{report:#}");
    assert!(
        step["action"] == "create" || step["reason"].as_str().unwrap().contains("purged"),
        "{step:#}"
    );
    assert_eq!(step["phase_after"], "RUNNING", "{step:#}");
    assert_eq!(app.app_statements().await[&job], "RUNNING");
    app.run("teardown", &[("manifest", "")]).expect(0);
    app.assert_torn_down(&[t.src.clone(), t.sink.clone()]).await;
}

#[tokio::test]
async fn a_stateful_replacement_declines_the_carry_over_says_so_and_converges() {
    let app = private_app("stateful", SimOptions::default());
    let t = Tables::new();
    let mut stmts = stateless(&t);
    stmts[2].1 = format!(
        "INSERT INTO {} SELECT id, CAST(COUNT(*) AS INT) AS amount FROM {} GROUP BY id",
        t.sink, t.src
    );
    write(&app, &stmts);
    app.run("buildup", &[]).expect(0);
    let old = deployed(&app, "job").await;
    stmts[2].1 = stmts[2]
        .1
        .replace("GROUP BY id", "WHERE amount > 0 GROUP BY id");
    write(&app, &stmts);
    let carry = [("carry-over-offsets", "true")];
    let plan = app
        .run("plan", &[("plan-for", "buildup"), carry[0]])
        .expect(0);
    let planned = step_of(&plan.report(), "create", "job").clone();
    let reason = planned["reason"].as_str().unwrap();
    assert!(
        reason.contains("offsets not carried over")
            && reason.contains("aggregation")
            && reason.contains("state is not carried over"),
        "{reason}"
    );
    assert!(
        plan.summary.contains("offsets not carried over"),
        "{}",
        plan.summary
    );
    let run = app.run("buildup", &carry).expect(0);
    let report = run.report();
    let new = step_of(&report, "create", "job")["name"]
        .as_str()
        .unwrap()
        .to_string();
    // The old one is deleted, not stopped for a hand-off; the new one starts anew.
    assert!(run.list("torn-down").contains(&old), "{report:#}");
    let live = app.app_statements().await;
    assert_eq!(live.get(&new).map(String::as_str), Some("RUNNING"));
    assert!(!live.contains_key(&old));
    let spec = app.flink().get(&new).await.unwrap().unwrap();
    assert!(!spec
        .spec
        .properties
        .contains_key("sql.tables.initial-offset-from"));
    app.run("teardown", &[]).expect(0);
    app.assert_torn_down(&[t.src.clone(), t.sink.clone()]).await;
}

#[tokio::test]
async fn a_stateless_carry_over_whose_replacement_fails_leaves_the_old_one_running() {
    let app = private_app("handoff", SimOptions::default());
    let t = Tables::new();
    let mut stmts = stateless(&t);
    write(&app, &stmts);
    app.run("buildup", &[]).expect(0);
    let old = deployed(&app, "job").await;
    // The new version reads a table that does not exist: the service fails it before it
    // waits for the old one.
    let missing = unique("missing").replace('-', "_");
    stmts[2].1 = format!("INSERT INTO {} SELECT id, amount FROM {missing}", t.sink);
    write(&app, &stmts);
    let run = app
        .run("buildup", &[("carry-over-offsets", "true")])
        .expect(1);
    let report = run.report();
    let create = step_of(&report, "create", "job");
    assert_eq!(create["status"], "failed", "{report:#}");
    assert!(create["reason"]
        .as_str()
        .unwrap()
        .contains("offsets carried over"));
    let live = app.app_statements().await;
    assert_eq!(
        live.get(&old).map(String::as_str),
        Some("RUNNING"),
        "the old one keeps running: {live:?}"
    );
    // Fixed, the hand-off goes through.
    stmts[2].1 = format!(
        "INSERT INTO {} SELECT id, amount FROM {} WHERE amount > 0",
        t.sink, t.src
    );
    write(&app, &stmts);
    let run = app
        .run("buildup", &[("carry-over-offsets", "true")])
        .expect(0);
    let report = run.report();
    let new = step_of(&report, "create", "job")["name"]
        .as_str()
        .unwrap()
        .to_string();
    let live = app.app_statements().await;
    assert_eq!(
        live.get(&new).map(String::as_str),
        Some("RUNNING"),
        "{live:?}"
    );
    assert_eq!(
        live.get(&old).map(String::as_str),
        Some("STOPPED"),
        "{live:?}"
    );
    app.run("teardown", &[]).expect(0);
    app.assert_torn_down(&[t.src.clone(), t.sink.clone()]).await;
}

#[tokio::test]
async fn adoption_converges_whether_label_patches_are_ignored_refused_or_applied() {
    for mode in ["ignore", "reject", "apply"] {
        let app = private_app("adopt-labels", SimOptions::default());
        app.cloud
            .control()
            .set_behaviour(json!({ "labels_patch": mode }))
            .await;
        let t = Tables::new();
        let flink = app.flink();
        let props = app.cloud.catalog();
        // A Table API app's statements, under names of its own.
        let prefix = unique("tableapi");
        for (suffix, sql) in stateless(&t) {
            crate::harness::run_statement(&flink, &format!("{prefix}-{suffix}"), &sql, &props)
                .await;
        }
        let no_manifest = ("manifest", "");
        let adopted = app
            .run("adopt", &[("adopt", &format!("{prefix}-*")), no_manifest])
            .expect(0);
        let report = adopted.report();
        let reasons: Vec<&str> = report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["reason"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(reasons.len(), 3, "{mode}: {report:#}");
        let labelled = app
            .cloud
            .control()
            .statements()
            .await
            .into_values()
            .filter(|s| s["labels"][ccaf_housekeeping::ownership::OWNER_LABEL] == app.name.as_str())
            .count();
        match mode {
            "apply" => {
                assert_eq!(labelled, 3, "{mode}");
                assert!(reasons.iter().all(|r| !r.contains("label")), "{reasons:?}");
            }
            _ => {
                assert_eq!(labelled, 0, "{mode}");
                let said = if mode == "ignore" {
                    "did not keep"
                } else {
                    "refused"
                };
                assert!(
                    reasons.iter().all(|r| r.contains(said)),
                    "{mode}: {reasons:?}"
                );
            }
        }
        let torn = app.run("teardown", &[no_manifest]).expect(0);
        assert_eq!(
            torn.list("torn-down").len(),
            3,
            "{mode}: {:#}",
            torn.report()
        );
        assert!(app.live(&prefix).await.is_empty(), "{mode}");
        for table in [&t.src, &t.sink] {
            assert!(!app.topic_exists(table).await, "{mode}: {table}");
        }
        // Built up again without the app, from the records.
        app.run("buildup", &[no_manifest]).expect(0);
        assert_eq!(app.live(&prefix).await.len(), 3, "{mode}");
        app.run("teardown", &[no_manifest]).expect(0);
        assert!(app.live(&prefix).await.is_empty(), "{mode}");
    }
}

#[tokio::test]
async fn a_pool_exhausted_longer_than_the_timeout_fails_clearly_and_holds_nothing_else_back() {
    let app = private_app("full-pool", SimOptions::default());
    app.cloud
        .control()
        .set_behaviour(json!({ "pool_capacity": 1 }))
        .await;
    let t = Tables::new();
    let mut stmts = stateless(&t);
    // Two jobs and room for one.
    stmts.push((
        "second",
        format!(
            "INSERT INTO {} SELECT id, amount FROM {} WHERE amount > 100",
            t.sink, t.src
        ),
    ));
    write(&app, &stmts);
    let env = [("CCAF_HEARTBEAT".to_string(), "1s".to_string())];
    let run = app
        .run_with("buildup", &[("timeout", "4s")], &env)
        .expect(1);
    let report = run.report();
    let jobs: Vec<&Value> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["logical_name"] == "job" || s["logical_name"] == "second")
        .collect();
    assert_eq!(jobs.len(), 2, "{report:#}");
    let failed: Vec<&&Value> = jobs.iter().filter(|s| s["status"] == "failed").collect();
    let done: Vec<&&Value> = jobs.iter().filter(|s| s["status"] == "done").collect();
    assert_eq!((failed.len(), done.len()), (1, 1), "{report:#}");
    let message = failed[0]["error"]["message"].as_str().unwrap();
    assert!(
        message.contains(&app.cloud.pool)
            && message.contains("POOL_EXHAUSTED")
            && message.contains("stayed PENDING"),
        "{message}"
    );
    // Said while it waited, too.
    assert!(
        run.stdout().contains("has no room for it"),
        "{}",
        run.stdout()
    );
    let winner = done[0]["name"].as_str().unwrap();
    let loser = failed[0]["name"].as_str().unwrap();
    // The one that could not start is deleted, so that it does not start later unseen.
    wait_until(
        "the loser to be deleted",
        Duration::from_secs(20),
        || async { (!app.app_statements().await.contains_key(loser)).then_some(()) },
    )
    .await;
    let live = app.app_statements().await;
    assert_eq!(
        live.get(winner).map(String::as_str),
        Some("RUNNING"),
        "{live:?}"
    );
    app.run("teardown", &[]).expect(0);
    app.assert_torn_down(&[t.src.clone(), t.sink.clone()]).await;
}

#[tokio::test]
async fn someone_elses_subjects_stop_the_create_and_the_plan_shows_it() {
    let app = private_app("their-subjects", SimOptions::default());
    let t = Tables::new();
    let stmts = stateless(&t);
    write(&app, &stmts);
    // Another tool left a subject under the sink's name, with a schema of its own.
    ccaf_housekeeping::confluent::install_crypto_provider();
    let http = reqwest::Client::new();
    let subject = format!("{}-value", t.sink);
    let schema =
        json!({"type": "record", "name": "theirs", "fields": [{"name": "x", "type": "long"}]});
    let resp = http
        .post(format!("{}/subjects/{subject}/versions", app.cloud.url))
        .basic_auth(&app.cloud.sr.0, Some(&app.cloud.sr.1))
        .json(&json!({ "schema": schema.to_string() }))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let plan = app.run("plan", &[("plan-for", "buildup")]).expect(0);
    let refused = step_of(&plan.report(), "refuse", "sink").clone();
    assert!(
        refused["reason"].as_str().unwrap().contains(&subject),
        "{refused:#}"
    );
    let run = app.run("buildup", &[]).expect(1);
    let report = run.report();
    assert_eq!(step_of(&report, "create", "src")["status"], "done");
    assert_eq!(step_of(&report, "refuse", "sink")["status"], "refused");
    assert_eq!(step_of(&report, "create", "job")["status"], "blocked");
    assert!(
        !app.topic_exists(&t.sink).await,
        "no table over their subject"
    );
    assert!(
        app.subjects().await.contains(&subject),
        "their subject is untouched"
    );
    app.run("teardown", &[]).expect(0);
    assert!(
        app.subjects().await.contains(&subject),
        "their subject is untouched"
    );
    assert!(!app.topic_exists(&t.src).await);
}

#[tokio::test]
async fn the_apps_own_left_over_subjects_are_removed_before_its_table_is_created_again() {
    // DDL statements are purged soon after they complete, so the sink's DDL is created again
    // once its topic goes.
    let app = private_app(
        "own-subjects",
        SimOptions {
            purge_after_ms: 1000,
            ..Default::default()
        },
    );
    let t = Tables::new();
    write(&app, &stateless(&t));
    app.run("buildup", &[]).expect(0);
    let sink_ddl = app
        .records()
        .await
        .into_keys()
        .find(|n| n.contains("-sink-"))
        .unwrap();
    wait_until("the DDL to be purged", Duration::from_secs(20), || async {
        (!app.app_statements().await.contains_key(&sink_ddl)).then_some(())
    })
    .await;
    // The sink's topic goes, its subjects stay (a drop cut short).
    let admin = ccaf_housekeeping::confluent::kafka::KafkaAdmin::connect(
        &ccaf_housekeeping::confluent::kafka::KafkaConfig::plaintext(
            &app.stack.kafka_bootstrap_servers,
        ),
    )
    .unwrap();
    admin.delete_topic(&t.sink).await.unwrap();
    let subject = format!("{}-value", t.sink);
    assert!(app.subjects().await.contains(&subject));
    let control = app.cloud.control();
    control.clear_requests().await;
    let run = app.run("buildup", &[]).expect(0);
    let report = run.report();
    assert_eq!(
        step_of(&report, "create", &sink_ddl)["status"],
        "done",
        "{report:#}"
    );
    let deleted = control.requests().await.into_iter().any(|r| {
        r["method"] == "DELETE" && r["path"].as_str() == Some(&format!("/subjects/{subject}"))
    });
    assert!(
        deleted,
        "the app's left-over subject was deleted before the create"
    );
    assert!(app.topic_exists(&t.sink).await);
    app.run("teardown", &[]).expect(0);
    app.assert_torn_down(&[t.src.clone(), t.sink.clone()]).await;
}
