//! Chaos: the engine converges through server errors and throttling, and through being killed
//! (SIGKILL) at any point of a rebuild. Each test has a simulator of its own, so its faults never
//! reach another test.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ccaf_housekeeping::tracker::State;
use serde_json::json;
use test_support::{SimOptions, StackEnv};

use crate::harness::{write, App, Cloud, Tables};

fn chaos_app(prefix: &str) -> (App, [String; 3]) {
    let stack = StackEnv::load();
    let cloud = Cloud::private(SimOptions {
        pending_ms: 150,
        stopping_ms: 100,
        deleting_ms: 200,
        ..Default::default()
    });
    let mut app = App::in_cloud(prefix, stack, cloud);
    // A killed run's lease must not hold the next run up for long.
    app.inputs.insert("timeout".into(), "60s".into());
    let t = Tables::new();
    write(&app, &t.statements());
    (app, [t.src, t.sink, t.rollup])
}

/// The app is exactly as its manifest says: every wanted statement live and settled, no other
/// statement of the app, its tables and their subjects present, the tracker's records deployed.
async fn assert_converged(app: &App, wanted: &[String], tables: &[String]) {
    let live = app.app_statements().await;
    let names: BTreeSet<&String> = live.keys().collect();
    let expected: BTreeSet<&String> = wanted.iter().collect();
    assert_eq!(names, expected, "orphan or missing statements: {live:?}");
    for (n, phase) in &live {
        assert!(phase == "RUNNING" || phase == "COMPLETED", "{n} is {phase}");
    }
    for t in tables {
        assert!(app.topic_exists(t).await, "topic {t} missing");
    }
    let subjects = app.subjects().await;
    let ours: BTreeSet<&String> = subjects
        .iter()
        .filter(|s| tables.iter().any(|t| s.starts_with(t.as_str())))
        .collect();
    let want: BTreeSet<String> = [
        format!("{}-value", tables[0]),
        format!("{}-key", tables[1]),
        format!("{}-value", tables[1]),
        format!("{}-value", tables[2]),
    ]
    .into();
    assert_eq!(ours, want.iter().collect(), "orphan or missing subjects");
    let records = app.records().await;
    let recorded: BTreeSet<&String> = records.keys().collect();
    assert_eq!(
        recorded, expected,
        "the tracker knows exactly the live statements"
    );
    for r in records.values() {
        assert_eq!(
            r.state,
            State::Deployed,
            "{}: {:?}",
            r.statement_name,
            r.state
        );
    }
}

#[tokio::test]
async fn teardown_and_rebuild_converge_through_5xx_and_429_bursts() {
    let (app, tables) = chaos_app("chaos-faults");
    let wanted = app.run("buildup", &[]).expect(0).list("rebuilt");
    assert_eq!(wanted.len(), 4);

    let control = app.cloud.control();
    control
        .set_faults(json!({
            "error_fraction": 0.2,
            "error_statuses": [500, 502, 503],
            "rate_limit_rps": 15.0,
            "rate_limit_burst": 4,
            "seed": 7
        }))
        .await;
    let rebuilt = app.run("rebuild", &[]).expect(0);
    assert_eq!(rebuilt.list("rebuilt").len(), 4);
    assert_eq!(rebuilt.list("dropped-tables").len(), 3);
    control.assert_injected("error", 1).await;
    control.assert_injected("rate_limit", 1).await;

    control.set_faults(json!({})).await;
    assert_converged(&app, &wanted, &tables).await;

    control
        .set_faults(json!({"error_fraction": 0.2, "rate_limit_rps": 15.0, "rate_limit_burst": 4, "seed": 11}))
        .await;
    app.run("teardown", &[]).expect(0);
    control.set_faults(json!({})).await;
    app.assert_torn_down(&tables).await;
}

#[tokio::test]
async fn a_rebuild_killed_anywhere_converges_when_run_again() {
    let (app, tables) = chaos_app("chaos-kill");
    let wanted = app.run("buildup", &[]).expect(0).list("rebuilt");
    // How long an undisturbed rebuild takes, to spread the kill points over it.
    let clock = Instant::now();
    app.run("rebuild", &[]).expect(0);
    let full = clock.elapsed();
    let points = 12u32;
    for k in 0..points {
        // Kill points spread evenly over the rebuild, from its first request to its last step.
        let at = full * k / points + Duration::from_millis(40);
        let mut child = app
            .command("rebuild", &[])
            .env("CCAF_LEASE_TTL", "3s")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start a rebuild");
        tokio::time::sleep(at).await; // the kill point, not a wait for a condition
        let _ = child.kill();
        let _ = child.wait();

        let again = app.run("rebuild", &[("timeout", "60s")]);
        let again = again.expect(0);
        assert_eq!(
            again.report()["outcome"],
            "succeeded",
            "kill point {k} at {at:?}"
        );
        assert_converged(&app, &wanted, &tables).await;
    }
    app.run("teardown", &[]).expect(0);
    app.assert_torn_down(&tables).await;
}

#[tokio::test]
async fn teardown_and_rebuild_converge_when_answers_are_lost_after_the_work() {
    let (app, tables) = chaos_app("chaos-lost");
    let control = app.cloud.control();
    // Creates, deletes and stops are carried out, then a third of their answers never arrive:
    // retried creates meet 409, retried deletes meet 404, subject deletes meet 40404.
    let lossy = json!({
        "lost_answer_fraction": { "flink": 0.35, "schema-registry": 0.35, "kafka-rest": 0.35 },
        "seed": 5
    });
    control.set_faults(lossy.clone()).await;
    let wanted = app.run("buildup", &[]).expect(0).list("rebuilt");
    assert_eq!(wanted.len(), 4);
    control.assert_injected("lost_answer", 1).await;
    control.set_faults(json!({})).await;
    assert_converged(&app, &wanted, &tables).await;

    control.set_faults(lossy.clone()).await;
    let rebuilt = app.run("rebuild", &[]).expect(0);
    assert_eq!(rebuilt.list("rebuilt").len(), 4);
    assert_eq!(rebuilt.list("dropped-tables").len(), 3);
    control.set_faults(json!({})).await;
    assert_converged(&app, &wanted, &tables).await;

    control.set_faults(lossy).await;
    app.run("teardown", &[]).expect(0);
    control.set_faults(json!({})).await;
    app.assert_torn_down(&tables).await;
}

#[tokio::test]
async fn deleted_statements_lingering_in_the_list_fool_no_command() {
    let stack = StackEnv::load();
    let cloud = Cloud::private(SimOptions {
        pending_ms: 100,
        stopping_ms: 100,
        deleting_ms: 100,
        list_lag_ms: 30_000,
        ..Default::default()
    });
    let app = App::in_cloud("lagging-list", stack, cloud);
    let t = Tables::new();
    write(&app, &t.statements());
    let tables = [t.src, t.sink, t.rollup];
    let wanted = app.run("buildup", &[]).expect(0).list("rebuilt");
    assert_eq!(wanted.len(), 4);

    let torn = app.run("teardown", &[]).expect(0);
    assert_eq!(torn.list("torn-down").len(), 4);
    // The deleted statements are still listed, as the real list lags deletes.
    let raw = app.listed_names().await;
    let ghosts: Vec<&String> = wanted.iter().filter(|w| raw.contains(w)).collect();
    assert!(!ghosts.is_empty(), "the list did not lag: {raw:?}");

    // A second teardown has nothing to do; status shows them gone.
    let again = app.run("teardown", &[]).expect(0);
    assert_eq!(
        again.report()["outcome"],
        "nothing_to_do",
        "{}",
        again.stdout()
    );
    assert!(again.list("torn-down").is_empty());
    let status = app.run("status", &[]).expect(0).stdout();
    let phases: Vec<&str> = status
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    assert_eq!(phases, ["NOT_FOUND"; 4], "{status}");

    // Built again under the same names while the list still shows the old ones: created,
    // nothing torn down.
    let built = app.run("buildup", &[]).expect(0);
    let raw = app.listed_names().await;
    assert!(
        wanted.iter().any(|w| raw.contains(w)),
        "the buildup ran after the list caught up; the test proves nothing"
    );
    let mut rebuilt = built.list("rebuilt");
    rebuilt.sort();
    let mut expected = wanted.clone();
    expected.sort();
    assert_eq!(rebuilt, expected);
    assert!(built.list("torn-down").is_empty(), "{}", built.stdout());
    assert_converged(&app, &wanted, &tables).await;
    app.run("teardown", &[]).expect(0);
}
