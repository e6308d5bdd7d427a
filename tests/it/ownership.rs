//! Ownership by evidence (safety rule 1), end to end through the real binary: another team's
//! table survives every teardown and rebuild of an app that declared, failed to create, or once
//! dropped a table of the same name; a run killed between a DDL statement's deletion and its
//! table's drop is finished by the next run (unless the name is someone else's by then); tables
//! in a cluster the run cannot check are refused; a live statement that is not the recorded one
//! is refused; a run that loses its lease changes nothing more and exits 3; records that do not
//! check out on read are never acted on; SQL that would drop, alter, create or write a `protect`ed
//! table (from the manifest, the tracker's definitions or a statement being adopted) is bad input,
//! refused before anything changes.

use std::collections::BTreeMap;
use std::time::Duration;

use ccaf_housekeeping::confluent::flink::{is_settled, NewStatement};
use ccaf_housekeeping::confluent::kafka::{KafkaAdmin, KafkaConfig};
use ccaf_housekeeping::ownership::OWNER_LABEL;
use ccaf_housekeeping::tracker::{Ownership, Record, State, Tracker};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use serde_json::{json, Value};
use test_support::{unique, wait_until, SimOptions, StackEnv};

use crate::harness::{signal, write, App, Cloud};

fn table(prefix: &str) -> String {
    unique(prefix).replace('-', "_")
}

/// The report's steps as (action, name, status, reason).
fn steps(report: &Value) -> Vec<(String, String, String, String)> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let f = |k: &str| s[k].as_str().unwrap_or_default().to_string();
            (f("action"), f("name"), f("status"), f("reason"))
        })
        .collect()
}

/// Delete `name` and create another statement of that name, same SQL, properties and labels —
/// as someone else would; returns it once settled.
async fn replace_behind_the_apps_back(
    flink: ccaf_housekeeping::confluent::flink::FlinkClient,
    name: &str,
) -> ccaf_housekeeping::confluent::flink::Statement {
    let original = flink.get(name).await.unwrap().unwrap();
    flink.delete(name).await.unwrap();
    flink
        .watch()
        .wait_gone(name, Duration::from_secs(30))
        .await
        .unwrap();
    let again = NewStatement {
        name: name.to_string(),
        sql: original.sql().to_string(),
        properties: original.spec.properties.clone(),
        compute_pool_id: original.spec.compute_pool_id.clone(),
        principal: original.spec.principal.clone(),
        labels: original.metadata.labels.clone(),
    };
    // Gone, the name is held a moment longer (§F.3): created again once it is free.
    test_support::wait_until(
        "the name to be free again",
        Duration::from_secs(30),
        || async {
            match flink.create(&again).await {
                Ok(s) => Some(s),
                Err(ccaf_housekeeping::confluent::FlinkError::NameHeld { .. }) => None,
                Err(e) => panic!("creating {name} again: {e:?}"),
            }
        },
    )
    .await;
    flink
        .watch()
        .wait_until(name, is_settled, Duration::from_secs(30))
        .await
        .unwrap();
    flink.get(name).await.unwrap().unwrap()
}

/// The evidence the app's records hold about `table`, by statement.
async fn evidence(app: &App, table: &str) -> Vec<(String, Ownership)> {
    app.records()
        .await
        .values()
        .flat_map(|r| {
            r.tables
                .ownership
                .iter()
                .filter(|o| o.topic == table)
                .map(|o| (r.statement_name.clone(), o.status.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Another team's app that owns one table, `name`, with a key (two subjects).
fn their_app(name: &str) -> App {
    let theirs = App::new("own-theirs");
    theirs.write_manifest(&[(
        "orders",
        &format!("CREATE TABLE {name} (id STRING, amount INT, PRIMARY KEY (id) NOT ENFORCED)"),
    )]);
    theirs
}

async fn assert_table_alive(app: &App, name: &str) {
    assert!(app.topic_exists(name).await, "topic {name} is gone");
    let subjects = app.subjects().await;
    for s in [format!("{name}-key"), format!("{name}-value")] {
        assert!(subjects.contains(&s), "subject {s} is gone: {subjects:?}");
    }
}

async fn assert_table_gone(app: &App, name: &str) {
    assert!(!app.topic_exists(name).await, "topic {name} is left");
    let subjects = app.subjects().await;
    assert!(
        !subjects.iter().any(|s| s.starts_with(&format!("{name}-"))),
        "subjects of {name} are left: {subjects:?}"
    );
}

/// My app: DDL of `orders` (as given), a table of its own, and a job from one to the other.
fn my_app(orders_ddl: &str, orders: &str, mine: &str) -> App {
    let app = App::new("own-mine");
    write(
        &app,
        &[
            ("orders", orders_ddl.to_string()),
            (
                "mine",
                format!("CREATE TABLE {mine} (id STRING, amount INT)"),
            ),
            (
                "job",
                format!("INSERT INTO {mine} SELECT id, amount FROM {orders}"),
            ),
        ],
    );
    app
}

#[tokio::test]
async fn create_table_if_not_exists_on_another_teams_table_never_drops_it() {
    let (orders, mine) = (table("orders"), table("mine"));
    let theirs = their_app(&orders);
    theirs.run("buildup", &[]).expect(0);

    let app = my_app(
        &format!("CREATE TABLE IF NOT EXISTS {orders} (id STRING, amount INT, PRIMARY KEY (id) NOT ENFORCED)"),
        &orders,
        &mine,
    );
    app.run("buildup", &[]).expect(0);
    assert_eq!(
        evidence(&app, &orders)
            .await
            .iter()
            .map(|(_, o)| o.clone())
            .collect::<Vec<_>>(),
        vec![Ownership::Found],
        "the statement completed but created nothing"
    );
    assert_eq!(evidence(&app, &mine).await[0].1, Ownership::Owned);

    let torn = app.run("teardown", &[]).expect(0);
    assert_table_alive(&app, &orders).await;
    assert_table_gone(&app, &mine).await;
    let dropped = torn.list("dropped-tables");
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert!(dropped[0].ends_with(&mine));
    assert!(
        torn.report()["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains(&format!("{orders} is kept"))),
        "{:#}",
        torn.report()
    );
    // A rebuild neither: it tears down only what the app owns.
    app.run("rebuild", &[]).expect(0);
    assert_table_alive(&app, &orders).await;
    app.run("teardown", &[]).expect(0);
    assert_table_alive(&app, &orders).await;
    assert!(app.app_statements().await.is_empty());

    theirs.run("teardown", &[]).expect(0);
    assert_table_gone(&theirs, &orders).await;
}

#[tokio::test]
async fn a_create_table_that_failed_on_an_existing_table_owns_nothing() {
    let (orders, mine) = (table("orders"), table("mine"));
    let theirs = their_app(&orders);
    theirs.run("buildup", &[]).expect(0);

    let app = my_app(
        &format!("CREATE TABLE {orders} (id STRING, amount INT, PRIMARY KEY (id) NOT ENFORCED)"),
        &orders,
        &mine,
    );
    let built = app.run("buildup", &[]).expect(1);
    let failed = built.list("failed");
    assert!(
        failed.iter().any(|f| f.contains("-orders-")),
        "the DDL fails: {failed:?}"
    );
    let records = app.records().await;
    let ddl = records
        .values()
        .find(|r| r.logical_name.as_deref() == Some("orders"))
        .unwrap();
    assert_eq!(ddl.state, State::Failed);
    assert_eq!(ddl.tables.creates.len(), 1, "the record still names it");
    assert_eq!(ddl.tables.ownership[0].status, Ownership::Found);

    app.run("teardown", &[]).expect(0);
    assert_table_alive(&app, &orders).await;
    assert_table_gone(&app, &mine).await;

    theirs.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn a_table_the_app_dropped_is_not_the_apps_when_another_team_makes_it_again() {
    let (orders, mine) = (table("orders"), table("mine"));
    let app = my_app(
        &format!("CREATE TABLE {orders} (id STRING, amount INT, PRIMARY KEY (id) NOT ENFORCED)"),
        &orders,
        &mine,
    );
    app.run("buildup", &[]).expect(0);
    assert_eq!(evidence(&app, &orders).await[0].1, Ownership::Owned);
    let torn = app.run("teardown", &[]).expect(0);
    assert_eq!(torn.list("dropped-tables").len(), 2);
    assert_table_gone(&app, &orders).await;
    assert_eq!(
        evidence(&app, &orders).await[0].1,
        Ownership::Dropped,
        "a confirmed drop ends the app's ownership"
    );

    // Last month's teardown; now another team has its own `orders`.
    let theirs = their_app(&orders);
    theirs.run("buildup", &[]).expect(0);

    // The app's record says its incarnation is gone: the plan does not even name the table.
    let plan = app.run("plan", &[("plan-for", "teardown")]).expect(0);
    assert!(
        steps(&plan.report())
            .iter()
            .all(|(_, name, ..)| !name.ends_with(orders.as_str())),
        "{:#}",
        plan.report()
    );
    let again = app.run("teardown", &[]).expect(0);
    assert!(
        again.list("dropped-tables").is_empty(),
        "{:#}",
        again.report()
    );
    assert_table_alive(&app, &orders).await;

    // A rebuild's buildup runs the app's CREATE TABLE, which fails on their table; theirs stays.
    let rebuilt = app.run("rebuild", &[]).expect(1);
    assert!(
        !rebuilt
            .list("dropped-tables")
            .iter()
            .any(|d| d.ends_with(&orders)),
        "{:#}",
        rebuilt.report()
    );
    assert_table_alive(&app, &orders).await;
    app.run("teardown", &[]).expect(0);
    assert_table_alive(&app, &orders).await;
    assert_table_gone(&app, &mine).await;

    theirs.run("teardown", &[]).expect(0);
    assert_table_gone(&theirs, &orders).await;
}

/// An app in a private simulator, built up, with the names of its three tables.
async fn built_private_app(prefix: &str) -> (App, [String; 3]) {
    let stack = StackEnv::load();
    let cloud = Cloud::private(SimOptions {
        pending_ms: 150,
        stopping_ms: 100,
        deleting_ms: 200,
        ..Default::default()
    });
    let app = App::in_cloud(prefix, stack, cloud);
    let t = crate::harness::Tables::new();
    write(&app, &t.statements());
    app.run("buildup", &[]).expect(0);
    (app, [t.src, t.sink, t.rollup])
}

/// Start a teardown and kill it (SIGKILL) once its DROP TABLE statements are submitted and
/// stalled: every DDL statement is deleted by then, and no table is dropped.
async fn kill_teardown_between_delete_and_drop(app: &App, tables: &[String]) {
    let control = app.cloud.control();
    control.set_faults(json!({ "stall_drops": true })).await;
    let mut child = app
        .command("teardown", &[])
        .env("CCAF_LEASE_TTL", "2s")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start a teardown");
    let drops = format!("{}-drop-", app.name);
    // One stalled DROP per table: every DDL statement's delete is confirmed by then.
    wait_until(
        "a DROP TABLE statement per table, waiting",
        Duration::from_secs(60),
        || async {
            let waiting = app
                .app_statements()
                .await
                .iter()
                .filter(|(n, phase)| n.starts_with(&drops) && *phase == "PENDING")
                .count();
            (waiting == tables.len()).then_some(())
        },
    )
    .await;
    let _ = child.kill();
    let _ = child.wait();
    control.set_faults(json!({})).await;
    // The crash window: the DDL statements are gone, the tables are not.
    let left = app.app_statements().await;
    assert!(
        left.keys().all(|n| n.starts_with(&drops)),
        "only stalled DROPs are left: {left:?}"
    );
    for t in tables {
        assert!(app.topic_exists(t).await, "{t} was dropped before the kill");
    }
}

#[tokio::test]
async fn a_teardown_killed_between_a_ddl_delete_and_its_drop_is_finished_next_time() {
    let (app, tables) = built_private_app("own-crash").await;
    kill_teardown_between_delete_and_drop(&app, &tables).await;

    let next = app.run("teardown", &[]).expect(0);
    let mut dropped = next.list("dropped-tables");
    dropped.sort();
    assert_eq!(dropped.len(), 3, "{:#}", next.report());
    for t in &tables {
        assert_table_gone(&app, t).await;
    }
    assert!(
        app.app_statements().await.is_empty(),
        "stalled DROPs are deleted"
    );
    for r in app.records().await.values() {
        assert_eq!(r.state, State::TornDown, "{}", r.statement_name);
        assert!(
            !r.holds_tables(),
            "{} still holds evidence",
            r.statement_name
        );
    }
}

#[tokio::test]
async fn a_table_recreated_by_another_team_in_the_crash_window_is_spared() {
    let (app, tables) = built_private_app("own-crash-theirs").await;
    kill_teardown_between_delete_and_drop(&app, &tables).await;

    // Before the app runs again, another team drops the sink and makes its own.
    let sink = &tables[1];
    let flink = app.flink();
    let props = app.cloud.catalog();
    let admin =
        KafkaAdmin::connect(&KafkaConfig::plaintext(&app.stack.kafka_bootstrap_servers)).unwrap();
    let before = admin.topic_ids(std::slice::from_ref(sink)).await.unwrap()[sink].clone();
    for (name, sql) in [
        (
            unique("theirs-drop"),
            format!("DROP TABLE IF EXISTS {sink}"),
        ),
        (
            unique("theirs-create"),
            format!("CREATE TABLE {sink} (id STRING, amount INT, PRIMARY KEY (id) NOT ENFORCED)"),
        ),
    ] {
        // Another team, recreating the table right after dropping it, retries "try again later".
        let done = crate::harness::run_statement(&flink, &name, &sql, &props).await;
        assert_eq!(done.phase().as_str(), "COMPLETED", "{:?}", done.status);
    }
    let theirs = admin.topic_ids(std::slice::from_ref(sink)).await.unwrap()[sink].clone();
    assert!(theirs.is_some(), "the broker has topic ids");
    assert_ne!(before, theirs, "a new incarnation");

    let next = app.run("teardown", &[]).expect(0);
    let report = next.report();
    let spared = steps(&report)
        .into_iter()
        .find(|(_, name, _, _)| name.ends_with(sink.as_str()))
        .unwrap_or_else(|| panic!("no step for {sink}: {report:#}"));
    assert!(spared.3.contains("spared"), "{spared:?}");
    assert!(!next
        .list("dropped-tables")
        .iter()
        .any(|d| d.ends_with(sink.as_str())));
    assert_table_alive(&app, sink).await;
    assert_eq!(
        admin.topic_ids(std::slice::from_ref(sink)).await.unwrap()[sink],
        theirs,
        "their incarnation is untouched"
    );
    for t in [&tables[0], &tables[2]] {
        assert_table_gone(&app, t).await;
    }
    // The app no longer claims it: later runs leave it alone without saying so again.
    assert!(evidence(&app, sink).await.iter().all(|(_, o)| !o.is_held()));
    let later = app.run("teardown", &[]).expect(0);
    assert!(later.list("dropped-tables").is_empty());
    assert_table_alive(&app, sink).await;

    // Their cleanup.
    let cleanup = App::in_cloud(
        "own-crash-cleanup",
        app.stack.clone(),
        Cloud::stack(&app.stack),
    );
    cleanup.write_manifest(&[("drop", &format!("DROP TABLE IF EXISTS {sink}"))]);
    cleanup.run("buildup", &[]).expect(0);
    cleanup.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn tables_in_a_cluster_the_run_cannot_check_are_refused_not_dropped() {
    // The simulator puts the app's tables in cluster `lkc-…` other than the one the run's Kafka
    // connection reaches (the stack's broker).
    let other = unique("lkc");
    let stack = StackEnv::load();
    assert_ne!(other, stack.kafka_cluster_id);
    let cloud = Cloud::private(SimOptions {
        kafka_cluster_id: Some(other.clone()),
        ..Default::default()
    });
    let app = App::in_cloud("own-cluster", stack, cloud);
    let t = crate::harness::Tables::new();
    write(&app, &t.statements());
    let built = app.run("buildup", &[]).expect(0);
    let notes = built.report()["notes"].to_string();
    assert!(
        notes.contains("never drop") && notes.contains(&other),
        "{notes}"
    );
    for table in t.all() {
        assert_eq!(evidence(&app, table).await[0].1, Ownership::Unverified);
    }

    let torn = app.run("teardown", &[]).expect(1);
    let report = torn.report();
    let refused: Vec<(String, String, String, String)> = steps(&report)
        .into_iter()
        .filter(|(action, ..)| action == "refuse")
        .collect();
    assert_eq!(refused.len(), 3, "{report:#}");
    for (_, _, status, reason) in &refused {
        assert_eq!(status, "refused");
        assert!(
            reason.contains("not verified") && reason.contains(&other),
            "{reason}"
        );
    }
    assert!(torn.list("dropped-tables").is_empty());
    assert_eq!(torn.list("failed").len(), 3);
    assert!(torn.summary.contains("not verified"), "{}", torn.summary);
    // The statements are the app's, verified on the service: they went.
    assert!(app.app_statements().await.is_empty());
    // Nothing was deleted in the other cluster, directly or through a DROP TABLE.
    for table in t.all() {
        assert!(app.topic_exists(table).await, "{table} was dropped");
    }
    assert!(
        !app.live("").await.keys().any(|n| n.contains("-drop-")),
        "no DROP TABLE was submitted"
    );
    let admin =
        KafkaAdmin::connect(&KafkaConfig::plaintext(&app.stack.kafka_bootstrap_servers)).unwrap();
    for table in t.all() {
        admin.delete_topic(table).await.unwrap();
    }
}

#[tokio::test]
async fn a_live_statement_that_is_not_the_recorded_one_is_refused() {
    let app = App::new("own-uid");
    let t = crate::harness::Tables::new();
    write(&app, &t.statements());
    let built = app.run("buildup", &[]).expect(0);
    let report = built.report();
    let job = built
        .list("rebuilt")
        .into_iter()
        .find(|n| {
            report["steps"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == n.as_str() && s["logical_name"] == "job")
        })
        .unwrap();
    let records = app.records().await;
    let recorded_uid = records[&job].statement_uid.clone().expect("uid recorded");
    assert_eq!(
        app.flink()
            .get(&job)
            .await
            .unwrap()
            .unwrap()
            .metadata
            .labels[OWNER_LABEL],
        app.name,
        "labelled with the app's name"
    );

    // Someone deletes the job and makes another of the same name, same SQL, same label.
    let flink = app.flink();
    let impostor = replace_behind_the_apps_back(app.flink(), &job).await;
    assert_ne!(
        impostor.metadata.uid.as_deref(),
        Some(recorded_uid.as_str())
    );

    let torn = app.run("teardown", &[]).expect(1);
    let report = torn.report();
    let (_, _, status, reason) = steps(&report)
        .into_iter()
        .find(|(_, name, ..)| *name == job)
        .unwrap();
    assert_eq!(status, "refused", "{report:#}");
    assert!(reason.contains(&recorded_uid), "{reason}");
    let live = app.app_statements().await;
    assert_eq!(
        live.get(&job).map(String::as_str),
        Some("RUNNING"),
        "not deleted"
    );
    assert_eq!(
        flink.get(&job).await.unwrap().unwrap().metadata.uid,
        impostor.metadata.uid
    );
    // What depends on it waited: its tables are still there.
    for table in [&t.src, &t.sink] {
        assert!(app.topic_exists(table).await);
    }

    flink.delete(&job).await.unwrap();
    flink
        .watch()
        .wait_gone(&job, Duration::from_secs(30))
        .await
        .unwrap();
    app.run("teardown", &[]).expect(0);
    assert!(app.app_statements().await.is_empty());
}

#[tokio::test]
async fn a_run_that_loses_its_lease_changes_nothing_more_and_exits_3() {
    let stack = StackEnv::load();
    let cloud = Cloud::private(SimOptions {
        pending_ms: 100,
        deleting_ms: 3_000,
        ..Default::default()
    });
    let app = App::in_cloud("own-lease", stack, cloud);
    let t = crate::harness::Tables::new();
    write(&app, &t.statements());
    app.run("buildup", &[]).expect(0);
    let control = app.cloud.control();

    // One step at a time; the first delete takes 3 s.
    let child = app
        .command("teardown", &[("concurrency", "1")])
        .env("CCAF_LEASE_TTL", "2s")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start a teardown");
    wait_until(
        "a statement being deleted",
        Duration::from_secs(30),
        || async {
            app.app_statements()
                .await
                .values()
                .any(|phase| phase == "DELETING")
                .then_some(())
        },
    )
    .await;
    // The run cannot renew its lease: it is frozen (as in a long pause of its machine) until
    // the lease has expired, when another run could take it.
    signal(child.id(), "-STOP");
    let seen = control.requests().await.len();
    let tracker = Tracker::open(
        &KafkaConfig::plaintext(&app.stack.kafka_bootstrap_servers),
        &app.tracker_topic,
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap();
    wait_until(
        "the frozen run's lease to expire",
        Duration::from_secs(30),
        || async {
            let leases = tracker
                .lease_entries(&app.cloud.env_id, &app.name)
                .await
                .unwrap();
            leases
                .iter()
                .all(|l| l.record.expires_at < chrono::Utc::now())
                .then_some(())
        },
    )
    .await;
    signal(child.id(), "-CONT");

    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("the lease is lost"), "{stderr}");
    // Nothing was changed after the lease was lost: no request but reads.
    let log = control.requests().await;
    let changes: Vec<&Value> = log[seen..]
        .iter()
        .filter(|r| r["method"] != "GET")
        .collect();
    assert!(
        changes.is_empty(),
        "changes after the lease was lost: {changes:#?}"
    );
    // The one delete in flight left its intent and nothing after; the rest never started.
    let records: BTreeMap<String, Record> = app.records().await;
    let tearing: Vec<&Record> = records
        .values()
        .filter(|r| r.state == State::TearingDown)
        .collect();
    assert_eq!(tearing.len(), 1, "{records:#?}");
    assert_eq!(
        records
            .values()
            .filter(|r| r.state == State::Deployed)
            .count(),
        3
    );
    for table in t.all() {
        assert!(app.topic_exists(table).await);
    }

    // A second run proceeds safely and finishes the job.
    app.run("teardown", &[]).expect(0);
    assert!(app.app_statements().await.is_empty());
    for table in t.all() {
        assert!(!app.topic_exists(table).await);
    }
}

#[tokio::test]
async fn a_record_under_another_statements_key_is_never_acted_on() {
    let victim_app = App::new("own-victim");
    let vt = crate::harness::Tables::new();
    write(&victim_app, &vt.statements());
    let victims = victim_app.run("buildup", &[]).expect(0).list("rebuilt");

    let mut app = App::new("own-keys");
    // Both apps share one tracker topic.
    app.tracker_topic = victim_app.tracker_topic.clone();
    let t = crate::harness::Tables::new();
    write(&app, &t.statements());
    app.run("buildup", &[]).expect(0);

    // A record of my app that names the victim's statement, under a key of my app's.
    let victim = victims[0].clone();
    let mut forged = Record::new(
        &app.name,
        &app.cloud.env_id,
        &victim,
        "INSERT INTO x SELECT * FROM y",
        State::Deployed,
    );
    forged.statement_name = victim.clone();
    let payload = serde_json::to_vec(&forged).unwrap();
    let key = format!("{}/{}-forged", app.cloud.env_id, app.name);
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &app.stack.kafka_bootstrap_servers)
        .create()
        .unwrap();
    producer
        .send(
            FutureRecord::to(&app.tracker_topic)
                .key(&key)
                .payload(&payload)
                .partition(0),
            Duration::from_secs(10),
        )
        .await
        .unwrap();

    let torn = app.run("teardown", &[]).expect(0);
    assert!(
        torn.stderr().contains(&key),
        "a warning names the key: {}",
        torn.stderr()
    );
    assert!(!torn.list("torn-down").contains(&victim));
    let live = victim_app.app_statements().await;
    for v in &victims {
        assert!(live.contains_key(v), "{v} was touched: {live:?}");
    }
    victim_app.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn adopting_another_apps_statement_is_refused() {
    let orders = table("orders");
    let theirs = their_app(&orders);
    let their_ddl = theirs.run("buildup", &[]).expect(0).list("rebuilt")[0].clone();

    let app = App::new("own-adopter");
    let run = app
        .run("adopt", &[("adopt", &their_ddl), ("manifest", "")])
        .expect(1);
    let (_, _, status, _) = steps(&run.report()).into_iter().next().unwrap();
    assert_eq!(status, "refused", "{:#}", run.report());
    assert!(app.records().await.is_empty(), "nothing recorded");
    let live = app.flink().get(&their_ddl).await.unwrap().unwrap();
    assert_eq!(
        live.metadata.labels.get(OWNER_LABEL),
        Some(&theirs.name),
        "their label is untouched"
    );
    theirs.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn adopting_a_statement_another_app_recorded_is_refused() {
    // No label says whose the statement is: only the tracker does, and a run's load reads no
    // more of another app's record than its app.
    let app = App::new("own-adopt-rec");
    let flink = app.flink();
    let sink = table("unlabelled");
    let name = format!("{}-unlabelled", app.name);
    let sql = format!("CREATE TABLE {sink} (id STRING)");
    let props = app.cloud.catalog();
    flink
        .create(&NewStatement {
            name: name.clone(),
            sql: sql.clone(),
            properties: props,
            ..Default::default()
        })
        .await
        .unwrap();
    flink
        .watch()
        .wait_until(&name, is_settled, Duration::from_secs(30))
        .await
        .unwrap();
    let tracker = Tracker::open(
        &KafkaConfig::plaintext(&app.stack.kafka_bootstrap_servers),
        &app.tracker_topic,
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap();
    let other = unique("own-recorder");
    let theirs = Record::new(&other, &app.cloud.env_id, &name, &sql, State::Adopted);
    tracker.put(&theirs).await.unwrap();

    let run = app
        .run("adopt", &[("adopt", &name), ("manifest", "")])
        .expect(1);
    let report = run.report();
    let (_, _, status, _) = steps(&report).into_iter().next().unwrap();
    assert_eq!(status, "refused", "{report:#}");
    assert!(
        report
            .to_string()
            .contains(&format!("belongs to app '{other}'")),
        "{report:#}"
    );
    assert!(app.records().await.is_empty(), "nothing recorded");
    assert_eq!(
        tracker.get(&app.cloud.env_id, &name).await.unwrap(),
        Some(theirs),
        "their record is untouched"
    );
    let live = flink.get(&name).await.unwrap().unwrap();
    assert_eq!(live.metadata.labels.get(OWNER_LABEL), None, "not labelled");

    flink.delete(&name).await.unwrap();
    let admin =
        KafkaAdmin::connect(&KafkaConfig::plaintext(&app.stack.kafka_bootstrap_servers)).unwrap();
    admin.delete_topic(&sink).await.unwrap();
}

#[tokio::test]
async fn in_a_rebuild_a_refused_teardown_holds_back_only_what_depends_on_it() {
    let app = App::new("own-rebuild");
    let t = crate::harness::Tables::new();
    let solo = crate::harness::Tables::new();
    let mut statements = t.statements();
    // A second pipeline that shares nothing with the first.
    statements.push((
        "solo",
        format!("CREATE TABLE {} (id STRING, amount INT)", solo.src),
    ));
    statements.push((
        "solo-copy",
        format!(
            "CREATE TABLE {} AS SELECT id, amount FROM {}",
            solo.rollup, solo.src
        ),
    ));
    write(&app, &statements);
    let built = app.run("buildup", &[]).expect(0);
    let report = built.report();
    let name_of = |logical: &str| {
        report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["logical_name"] == logical)
            .and_then(|s| s["name"].as_str())
            .unwrap()
            .to_string()
    };
    let (job, solo_ddl, solo_copy) = (name_of("job"), name_of("solo"), name_of("solo-copy"));

    // The first pipeline's job is replaced behind the app's back: its teardown is refused.
    let flink = app.flink();
    replace_behind_the_apps_back(app.flink(), &job).await;

    let rebuilt = app.run("rebuild", &[]).expect(1);
    let report = rebuilt.report();
    let status_of = |name: &str, action: &str| {
        steps(&report)
            .into_iter()
            .find(|(a, n, ..)| *n == name && *a == action)
            .map(|(_, _, status, _)| status.to_string())
    };
    assert_eq!(
        status_of(&job, "refuse").as_deref(),
        Some("refused"),
        "{report:#}"
    );
    // The other pipeline was torn down and built up again.
    for name in [&solo_ddl, &solo_copy] {
        assert_eq!(
            status_of(name, "delete").as_deref(),
            Some("done"),
            "{report:#}"
        );
        assert_eq!(
            status_of(name, "create").as_deref(),
            Some("done"),
            "{report:#}"
        );
    }
    assert!(rebuilt.list("rebuilt").contains(&solo_copy));
    // The job's own buildup waited for it.
    assert_eq!(
        status_of(&job, "create").as_deref(),
        Some("blocked"),
        "{report:#}"
    );

    flink.delete(&job).await.unwrap();
    flink
        .watch()
        .wait_gone(&job, Duration::from_secs(30))
        .await
        .unwrap();
    app.run("teardown", &[]);
}

#[tokio::test]
async fn a_teardown_killed_in_the_direct_delete_fallback_removes_the_subjects_next_time() {
    let (app, tables) = built_private_app("own-fallback").await;
    let control = app.cloud.control();
    // DROP TABLE completes but leaves topic and subjects (it is not atomic on Confluent
    // Cloud): the executor falls back to deleting them directly.
    control.set_faults(json!({ "partial_drops": true })).await;
    // A short timeout: the run waits that long for a DROP to remove the topic before it
    // falls back.
    let run = app.start(
        "teardown",
        &[("timeout", "3s")],
        &[("CCAF_LEASE_TTL".to_string(), "2s".to_string())],
    );
    let drops = format!("{}-drop-", app.name);
    wait_until(
        "a DROP TABLE statement",
        Duration::from_secs(60),
        || async {
            app.app_statements()
                .await
                .keys()
                .any(|n| n.starts_with(&drops))
                .then_some(())
        },
    )
    .await;
    // From now on the registry answers slowly: the fallback deletes a topic, then waits on
    // the registry before it deletes the subjects. The kill lands in between.
    control
        .set_faults(
            json!({ "partial_drops": true, "apis": ["schema-registry"], "latency_ms": 4000 }),
        )
        .await;
    let gone = wait_until(
        "a topic deleted directly",
        Duration::from_secs(60),
        || async {
            for t in &tables {
                if !app.topic_exists(t).await {
                    return Some(t.clone());
                }
            }
            None
        },
    )
    .await;
    run.signal("-KILL");
    let _ = run.finish();
    control.set_faults(json!({})).await;
    let subjects = app.subjects().await;
    assert!(
        subjects.iter().any(|s| s.starts_with(&format!("{gone}-"))),
        "the kill came after the subjects of {gone} were deleted: {subjects:?}"
    );

    app.run("teardown", &[]).expect(0);
    for t in &tables {
        assert_table_gone(&app, t).await;
    }
    for r in app.records().await.values() {
        assert!(
            !r.holds_tables(),
            "{} still holds evidence",
            r.statement_name
        );
    }
}

/// `protect` covers what SQL does: a run whose SQL would change a protected table is bad input,
/// refused before anything changes. The first line of stderr, for the message.
fn refused_for_protect(run: &crate::harness::Run, parts: &[&str]) -> String {
    let err = run.stderr();
    let line = err
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_else(|| panic!("no error line in\n{err}"))
        .to_string();
    for part in ["input `protect`", "nothing was changed"]
        .iter()
        .chain(parts)
    {
        assert!(line.contains(part), "{part:?} missing from {line}");
    }
    line
}

#[tokio::test]
async fn a_manifest_that_drops_a_protected_table_is_bad_input_and_changes_nothing() {
    let (audit, mine) = (table("audit"), table("mine"));
    let theirs = their_app(&audit);
    theirs.run("buildup", &[]).expect(0);

    let app = App::new("own-protect");
    app.write_manifest(&[
        ("mine", &format!("CREATE TABLE {mine} (id STRING)")),
        ("tidy", &format!("DROP TABLE {audit}")),
    ]);
    let pattern = format!("{}*", &audit[..audit.len() - 4]);
    let protect = format!("keep_*\n{pattern}");
    for (command, extra) in [
        ("buildup", vec![]),
        ("rebuild", vec![]),
        ("plan", vec![("plan-for", "buildup")]),
    ] {
        let mut inputs = vec![("protect", protect.as_str())];
        inputs.extend(extra);
        let run = app.run(command, &inputs).expect(2);
        refused_for_protect(
            &run,
            &[
                "statement `tidy`",
                "drops table ",
                &format!(".{audit}, which"),
                &format!("pattern '{pattern}'"),
            ],
        );
    }
    // Nothing changed: their table, no statement of the app, not even its own table's DDL.
    assert_table_alive(&app, &audit).await;
    assert!(!app.topic_exists(&mine).await, "the app's own DDL ran");
    assert!(
        app.app_statements().await.is_empty(),
        "{:?}",
        app.app_statements().await
    );
    assert!(app.records().await.is_empty(), "nothing recorded");

    theirs.run("teardown", &[]).expect(0);
    assert_table_gone(&theirs, &audit).await;
}

#[tokio::test]
async fn a_rebuild_from_the_tracker_whose_sql_writes_a_protected_table_is_bad_input() {
    let (audit, src) = (table("audit"), table("src"));
    let theirs = their_app(&audit);
    theirs.run("buildup", &[]).expect(0);
    let app = App::new("own-protect-rec");
    app.write_manifest(&[
        (
            "src",
            &format!("CREATE TABLE {src} (id STRING, amount INT)"),
        ),
        (
            "job",
            &format!("INSERT INTO {audit} SELECT id, amount FROM {src}"),
        ),
    ]);
    let built = app.run("buildup", &[]).expect(0);
    let report = built.report();
    let job = built
        .list("rebuilt")
        .into_iter()
        .find(|n| n.contains("-job-"))
        .unwrap_or_else(|| panic!("{report:#}"));
    let before = app.records().await;

    // By ids, while the app's SQL resolves its tables by the environment's display name (the
    // `catalog` input): one identity all the same.
    let c = &app.cloud;
    let pattern = format!("{}.{}.{audit}", c.env_id, c.cluster_id);
    let no_manifest = [("manifest", ""), ("protect", pattern.as_str())];
    let run = app.run("rebuild", &no_manifest).expect(2);
    refused_for_protect(
        &run,
        &[
            &format!("statement `job` (deployed as `{job}`)"),
            "writes table ",
            &format!(".{audit}, which"),
            &format!("pattern '{pattern}'"),
        ],
    );
    app.run(
        "plan",
        &[no_manifest[0], no_manifest[1], ("plan-for", "rebuild")],
    )
    .expect(2);
    // Adopting it again under the pattern is refused the same way, before it is recorded.
    let adopt = app
        .run("adopt", &[no_manifest[0], no_manifest[1], ("adopt", &job)])
        .expect(2);
    refused_for_protect(&adopt, &[&format!("statement `{job}`")]);

    // Nothing changed: the job runs as it did, the same statement, the records as they were.
    let live = app
        .flink()
        .get(&job)
        .await
        .unwrap()
        .expect("the job is live");
    assert_eq!(live.phase().to_string(), "RUNNING");
    assert_eq!(live.metadata.uid, before[&job].statement_uid);
    let after = app.records().await;
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>()
    );
    for (name, r) in &after {
        assert_eq!(r.state, before[name].state, "{name}");
        assert_eq!(
            r.provenance.at, before[name].provenance.at,
            "{name} rewritten"
        );
    }
    assert!(app.topic_exists(&src).await);
    assert_table_alive(&app, &audit).await;

    app.run("teardown", &[("manifest", "")]).expect(0);
    theirs.run("teardown", &[]).expect(0);
}

/// A DELETE retried after its answer was lost re-reads the statement first: once another
/// incarnation holds the name (the lost attempt was carried out, someone created the statement
/// again, labels and SQL alike), the retry is not sent and the newcomer lives.
#[tokio::test]
async fn a_retried_delete_is_not_sent_once_another_incarnation_holds_the_name() {
    let app = App::in_cloud(
        "own-retry",
        StackEnv::load(),
        Cloud::private(SimOptions::default()),
    );
    app.write_manifest(&[("show", "SHOW TABLES")]);
    let built = app.run("buildup", &[]).expect(0);
    let name = built.list("rebuilt").pop().expect("one statement");
    let flink = app.flink();
    let original = flink.get(&name).await.unwrap().unwrap();
    let control = app.cloud.control();
    // A deleted statement goes at once and frees its name: the newcomer fits in the window.
    control
        .set_timings(json!({"deleting_ms": 0, "name_hold_ms": 0}))
        .await;
    // Every DELETE is carried out, then its answer is lost: a 502, 8 s later.
    control
        .set_faults(json!({
            "apis": ["flink"],
            "lost_answer_fraction": {"flink": 1.0},
            "lost_answer_methods": ["DELETE"],
            "lost_answer_statuses": [502],
            "lost_answer_hang_ms": 8000,
        }))
        .await;
    control.clear_requests().await;
    let started = app.start("teardown", &[], &[]);
    // The run's first DELETE was carried out (its answer still on the way).
    wait_until(
        "the run's first DELETE",
        Duration::from_secs(30),
        || async { (!control.statements().await.contains_key(&name)).then_some(()) },
    )
    .await;
    flink
        .create(&NewStatement {
            name: name.clone(),
            sql: original.sql().to_string(),
            properties: original.spec.properties.clone(),
            compute_pool_id: original.spec.compute_pool_id.clone(),
            principal: original.spec.principal.clone(),
            labels: original.metadata.labels.clone(),
        })
        .await
        .unwrap();
    let theirs = flink.get(&name).await.unwrap().unwrap();
    assert_ne!(theirs.metadata.uid, original.metadata.uid);
    let run = started.finish();
    assert_eq!(run.code(), 1, "{}\n{}", run.stdout(), run.stderr());

    let deletes: Vec<Value> = control
        .requests()
        .await
        .into_iter()
        .filter(|r| r["method"] == "DELETE" && r["path"].as_str().unwrap_or("").ends_with(&name))
        .collect();
    assert_eq!(deletes.len(), 1, "the retry was sent: {deletes:#?}");
    assert_eq!(deletes[0]["fault"], "lost_answer");
    let live = control.statements().await;
    assert_eq!(
        live.get(&name).map(|s| s["uid"].clone()),
        Some(json!(theirs.metadata.uid)),
        "the newcomer was deleted"
    );
    let step = run.report()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name.as_str())
        .cloned()
        .unwrap();
    assert_eq!(step["status"], "refused", "{step:#}");
    control.set_faults(json!({})).await;
    flink.delete(&name).await.unwrap();
}
