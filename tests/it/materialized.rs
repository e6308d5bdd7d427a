//! Materialized tables (§G) through the real binary, against the simulator's awkward defaults
//! (a table goes CREATING and ALTERING for a while, its catalog entry lingers after a drop, its
//! subjects survive it): built up, left alone when unchanged, evolved in place when edited,
//! replaced when the service refuses the change in place, dropped with their subjects, and
//! never evolved or dropped when they are another team's.

use serde_json::Value;
use test_support::{unique, SimOptions, StackEnv};

use crate::harness::{write, App, Cloud};

fn steps(report: &Value) -> Vec<Value> {
    report["steps"].as_array().cloned().unwrap_or_default()
}

/// The step of `action` whose logical name is `logical`.
fn step(report: &Value, action: &str, logical: &str) -> Value {
    steps(report)
        .into_iter()
        .find(|s| s["action"] == action && s["logical_name"] == logical)
        .unwrap_or_else(|| panic!("no {action} step for {logical}: {report:#}"))
}

/// Whether `table` is among the tables dropped (shown qualified, by display names).
fn dropped(tables: &[String], table: &str) -> bool {
    tables.iter().any(|t| t.ends_with(&format!(".{table}")))
}

fn retry_causes(step: &Value) -> Vec<String> {
    step["retries"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|r| r["cause"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A source table, a materialized table over it, and a job that reads the materialized table.
struct Pipeline {
    src: String,
    big: String,
    sink: String,
}

impl Pipeline {
    fn new() -> Pipeline {
        let t = |p: &str| unique(p).replace('-', "_");
        Pipeline {
            src: t("src"),
            big: t("big"),
            sink: t("sink"),
        }
    }

    fn statements(&self, big_sql: &str) -> Vec<(&'static str, String)> {
        vec![
            (
                "src",
                format!("CREATE TABLE {} (id STRING, amount INT)", self.src),
            ),
            (
                "big",
                big_sql
                    .replace("{big}", &self.big)
                    .replace("{src}", &self.src),
            ),
            ("sink", format!("CREATE TABLE {} (id STRING)", self.sink)),
            (
                "job",
                format!("INSERT INTO {} SELECT id FROM {}", self.sink, self.big),
            ),
        ]
    }
}

const V1: &str = "CREATE OR ALTER MATERIALIZED TABLE {big} DISTRIBUTED BY (id) INTO 2 BUCKETS \
                  AS SELECT id, amount FROM {src} WHERE amount > 10";

async fn version_of(app: &App, table: &str) -> u32 {
    app.materialized(table)
        .await
        .unwrap_or_else(|| panic!("no materialized table {table}"))
        .version()
}

#[tokio::test]
async fn a_materialized_table_is_built_up_left_alone_evolved_replaced_and_dropped() {
    // A simulator of its own: its request log then holds only this app's requests.
    let app = App::in_cloud(
        "mt",
        StackEnv::load(),
        Cloud::private(SimOptions::default()),
    );
    let p = Pipeline::new();
    write(&app, &p.statements(V1));
    let built = app.run("buildup", &[]).expect(0);
    assert_eq!(built.list("rebuilt").len(), 4, "{:#}", built.report());
    let mt = app.materialized(&p.big).await.expect("created");
    assert_eq!(mt.phase().as_str(), "RUNNING");
    assert_eq!(mt.version(), 1);
    let topic_v1 = app.topic_id(&p.big).await.expect("its topic");

    // Unchanged, whatever its layout and start mode: nothing is submitted.
    write(
        &app,
        &p.statements(
            "create or alter materialized table {big}\n  DISTRIBUTED BY (id) INTO 2 BUCKETS\n  \
             START_MODE = FROM_NOW\nAS select id, amount -- the same query\n  from {src} where amount > 10",
        ),
    );
    app.cloud.control().clear_requests().await;
    let again = app.run("buildup", &[]).expect(0);
    assert!(again.list("rebuilt").is_empty(), "{:#}", again.report());
    assert!(again.list("evolved").is_empty(), "{:#}", again.report());
    let posts = app
        .cloud
        .control()
        .requests()
        .await
        .into_iter()
        .filter(|r| r["method"] != "GET")
        .count();
    assert_eq!(posts, 0, "an unchanged buildup submits nothing");
    assert_eq!(version_of(&app, &p.big).await, 1);

    // A query edit evolves it in place: the same topic, version 2, the reader left running.
    write(
        &app,
        &p.statements(
            "CREATE OR ALTER MATERIALIZED TABLE {big} DISTRIBUTED BY (id) INTO 2 BUCKETS \
             START_MODE = FROM_BEGINNING AS SELECT id, amount FROM {src} WHERE amount > 20",
        ),
    );
    let evolved = app.run("buildup", &[]).expect(0);
    let report = evolved.report();
    let e = step(&report, "evolve", "big");
    assert_eq!(e["status"], "done", "{e:#}");
    let reason = e["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("its query changed"), "{reason}");
    assert!(reason.contains("FROM_BEGINNING"), "{reason}");
    assert!(reason.contains("version 1 → 2"), "{reason}");
    assert_eq!(
        evolved.list("evolved"),
        vec![e["name"].as_str().unwrap().to_string()]
    );
    assert!(evolved.list("torn-down").is_empty(), "{report:#}");
    assert!(evolved.list("rebuilt").is_empty(), "{report:#}");
    assert!(evolved.list("dropped-tables").is_empty(), "{report:#}");
    assert_eq!(version_of(&app, &p.big).await, 2);
    assert_eq!(app.topic_id(&p.big).await.as_ref(), Some(&topic_v1));
    // One statement of the table is left: the new one; the tracker knows only it.
    let records = app.records().await;
    let big_records: Vec<&String> = records.keys().filter(|n| n.contains("-big-")).collect();
    assert_eq!(
        big_records,
        vec![e["name"].as_str().unwrap()],
        "{records:#?}"
    );
    let summary = evolved.summary.clone();
    assert!(summary.contains("evolve"), "{summary}");

    // A distribution change is refused in place: a replace, with its reason.
    write(
        &app,
        &p.statements(
            "CREATE OR ALTER MATERIALIZED TABLE {big} DISTRIBUTED BY (id) INTO 4 BUCKETS \
             AS SELECT id, amount FROM {src} WHERE amount > 20",
        ),
    );
    let replaced = app.run("buildup", &[]).expect(0);
    let report = replaced.report();
    let create = step(&report, "create", "big");
    let why = create["reason"].as_str().unwrap_or_default();
    assert!(why.contains("distribution changed"), "{why}");
    assert!(
        dropped(&replaced.list("dropped-tables"), &p.big),
        "{report:#}"
    );
    assert_eq!(version_of(&app, &p.big).await, 1);
    let topic_v2 = app.topic_id(&p.big).await.expect("its new topic");
    assert_ne!(topic_v2, topic_v1, "a replace is a new incarnation");

    // Removed from the manifest (with its reader): dropped, its surviving subjects with it.
    let kept: Vec<(&'static str, String)> = p
        .statements(V1)
        .into_iter()
        .filter(|(n, _)| *n == "src" || *n == "sink")
        .collect();
    write(&app, &kept);
    let pruned = app.run("buildup", &[]).expect(0);
    assert!(
        dropped(&pruned.list("dropped-tables"), &p.big),
        "{:#}",
        pruned.report()
    );
    assert!(app.materialized(&p.big).await.is_none());
    assert!(!app.topic_exists(&p.big).await);
    let subjects = app.subjects().await;
    assert!(
        !subjects.iter().any(|s| s.starts_with(&p.big)),
        "the materialized table's subjects survived its drop: {subjects:?}"
    );

    app.run("teardown", &[]).expect(0);
    app.assert_torn_down(&[p.src.clone(), p.big.clone(), p.sink.clone()])
        .await;
}

#[tokio::test]
async fn a_teardown_drops_materialized_tables_consumers_first() {
    let app = App::new("mt-chain");
    let p = Pipeline::new();
    let top = unique("top").replace('-', "_");
    let mut statements = p.statements(V1);
    statements.push((
        "top",
        format!(
            "CREATE OR ALTER MATERIALIZED TABLE {top} AS SELECT id FROM {} WHERE amount > 50",
            p.big
        ),
    ));
    write(&app, &statements);
    app.run("buildup", &[]).expect(0);
    assert_eq!(version_of(&app, &top).await, 1);
    app.cloud.control().clear_requests().await;
    let down = app.run("teardown", &[]).expect(0);
    assert_eq!(down.list("dropped-tables").len(), 4, "{:#}", down.report());
    // The service saw the DELETE of the reading table before the one of the table it reads.
    let deletes: Vec<String> = app
        .cloud
        .control()
        .requests()
        .await
        .into_iter()
        .filter(|r| r["method"] == "DELETE")
        .filter_map(|r| r["path"].as_str().map(str::to_string))
        .filter(|path| path.contains("/materialized-tables/"))
        .collect();
    let first = |t: &str| {
        deletes
            .iter()
            .position(|path| path.ends_with(&format!("/materialized-tables/{t}")))
            .unwrap_or_else(|| panic!("no DELETE of {t}: {deletes:?}"))
    };
    assert!(first(&top) < first(&p.big), "{deletes:?}");
    assert!(app.materialized(&top).await.is_none());
    assert!(app.materialized(&p.big).await.is_none());
    app.assert_torn_down(&[p.src.clone(), p.big.clone(), p.sink.clone(), top])
        .await;
}

#[tokio::test]
async fn a_rebuild_right_after_the_drop_waits_out_the_lingering_catalog_entry() {
    // The catalog keeps the dropped table longer than its drop takes: the create meets it.
    let app = App::in_cloud(
        "mt-linger",
        StackEnv::load(),
        Cloud::private(SimOptions {
            extra_args: vec!["--mt-catalog-linger-ms".into(), "4000".into()],
            ..Default::default()
        }),
    );
    let p = Pipeline::new();
    write(&app, &p.statements(V1));
    app.run("buildup", &[]).expect(0);
    let before = app.topic_id(&p.big).await.expect("its topic");
    let rebuilt = app.run("rebuild", &[]).expect(0);
    let report = rebuilt.report();
    let create = step(&report, "create", "big");
    assert_eq!(create["status"], "done", "{create:#}");
    assert!(
        retry_causes(&create).iter().any(|c| c == "catalog_lingers"),
        "the create met the lingering entry: {create:#}"
    );
    assert_eq!(version_of(&app, &p.big).await, 1);
    let after = app.topic_id(&p.big).await.expect("its new topic");
    assert_ne!(after, before);
    app.run("teardown", &[]).expect(0);
    app.assert_torn_down(&[p.src.clone(), p.big.clone(), p.sink.clone()])
        .await;
}

#[tokio::test]
async fn an_evolution_and_a_drop_met_by_another_change_converge() {
    let app = App::new("mt-busy");
    let p = Pipeline::new();
    write(&app, &p.statements(V1));
    app.run("buildup", &[]).expect(0);
    // Another change keeps the table busy while the evolution is submitted (longer than the
    // run takes to get there).
    app.cloud.control().hold_materialized(&p.big, 6000).await;
    write(
        &app,
        &p.statements(
            "CREATE OR ALTER MATERIALIZED TABLE {big} DISTRIBUTED BY (id) INTO 2 BUCKETS \
             AS SELECT id, amount FROM {src} WHERE amount > 30",
        ),
    );
    let evolved = app.run("buildup", &[]).expect(0);
    let report = evolved.report();
    let e = step(&report, "evolve", "big");
    assert_eq!(e["status"], "done", "{e:#}");
    assert!(
        retry_causes(&e).iter().any(|c| c == "being_modified"),
        "the evolution met the other change: {e:#}"
    );
    assert!(version_of(&app, &p.big).await >= 2);
    // A teardown while another change is settling: the DELETE answers 409 until it is done.
    // (Longer than the teardown takes to reach the drop, which comes after the statements.)
    app.cloud.control().hold_materialized(&p.big, 10_000).await;
    let down = app.run("teardown", &[]).expect(0);
    let report = down.report();
    let dropped = steps(&report)
        .into_iter()
        .find(|s| {
            s["action"] == "drop_table" && s["name"].as_str().is_some_and(|n| n.ends_with(&p.big))
        })
        .unwrap_or_else(|| panic!("no drop of {}: {report:#}", p.big));
    assert!(
        retry_causes(&dropped).iter().any(|c| c == "being_modified"),
        "the drop met the other change: {dropped:#}"
    );
    app.assert_torn_down(&[p.src.clone(), p.big.clone(), p.sink.clone()])
        .await;
}

#[tokio::test]
async fn a_materialized_table_of_another_team_is_never_evolved_or_dropped() {
    let stack = StackEnv::load();
    let theirs = App::in_cloud("mt-theirs", stack.clone(), Cloud::stack(&stack));
    let mine = App::in_cloud("mt-mine", stack.clone(), Cloud::stack(&stack));
    let p = Pipeline::new();
    write(&theirs, &p.statements(V1));
    theirs.run("buildup", &[]).expect(0);
    let their_topic = theirs.topic_id(&p.big).await.expect("their topic");

    // Our app declares a materialized table of the same name: not created over theirs.
    write(
        &mine,
        &[(
            "big",
            format!(
                "CREATE OR ALTER MATERIALIZED TABLE {} AS SELECT id FROM {}",
                p.big, p.src
            ),
        )],
    );
    let refused = mine.run("buildup", &[]).expect(1);
    let report = refused.report();
    let r = step(&report, "refuse", "big");
    assert!(
        r["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("would evolve someone else's table"),
        "{r:#}"
    );
    let plan = mine.run("plan", &[("plan-for", "rebuild")]).expect(0);
    assert!(
        steps(&plan.report()).iter().all(|s| s["action"] != "create"
            && s["action"] != "evolve"
            && s["action"] != "drop_table"),
        "{:#}",
        plan.report()
    );
    mine.run("teardown", &[]).expect(0);
    mine.run("rebuild", &[]).expect(1);
    assert_eq!(version_of(&theirs, &p.big).await, 1);
    assert_eq!(theirs.topic_id(&p.big).await, Some(their_topic));
    theirs.run("teardown", &[]).expect(0);
    theirs
        .assert_torn_down(&[p.src.clone(), p.big.clone(), p.sink.clone()])
        .await;
}
