//! Cancellation as GitHub does it: a signal to the running binary. The run starts no more steps,
//! the steps in flight record where they stand, the lease is released, the report is written,
//! the exit code names the signal — and the next run converges.

use std::time::Duration;

use ccaf_housekeeping::tracker::State;
use serde_json::{json, Value};
use test_support::{wait_until, SimOptions, StackEnv};

use crate::harness::{write, App, Cloud, Tables};

fn slow_app(prefix: &str) -> (App, [String; 3]) {
    let stack = StackEnv::load();
    let cloud = Cloud::private(SimOptions {
        pending_ms: 100,
        stopping_ms: 100,
        deleting_ms: 100,
        ..Default::default()
    });
    let mut app = App::in_cloud(prefix, stack, cloud);
    // One step at a time, so a signal lands with steps still to start.
    app.inputs.insert("concurrency".into(), "1".into());
    let t = Tables::new();
    write(&app, &t.statements());
    (app, [t.src, t.sink, t.rollup])
}

/// Wait until the simulator has been asked to delete one of the app's statements.
async fn first_delete(app: &App) {
    let control = app.cloud.control();
    wait_until(
        "the first statement DELETE",
        Duration::from_secs(60),
        || async {
            control.requests().await.into_iter().find(|r| {
                r["method"] == "DELETE"
                    && r["path"]
                        .as_str()
                        .is_some_and(|p| p.contains(&format!("/statements/{}-", app.name)))
            })
        },
    )
    .await;
}

fn steps_with_status<'a>(report: &'a Value, status: &str) -> Vec<&'a Value> {
    report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter(|s| s["status"] == status)
        .collect()
}

#[tokio::test]
async fn sigterm_mid_teardown_records_releases_reports_and_exits_143() {
    let (app, tables) = slow_app("cancel-term");
    app.run("buildup", &[]).expect(0);
    let control = app.cloud.control();
    // Deletes stay DELETING well beyond the grace: cancellation ends the wait, and the next
    // run (its timeout is a minute) waits the rest out.
    control.set_timings(json!({ "deleting_ms": 15_000 })).await;
    control.clear_requests().await;

    let env = [
        ("CCAF_CANCEL_GRACE".to_string(), "1s".to_string()),
        // A lease left behind would hold the next run up for ten minutes.
        ("CCAF_LEASE_TTL".to_string(), "10m".to_string()),
    ];
    let run = app.start("teardown", &[], &env);
    first_delete(&app).await;
    run.signal("-TERM");
    let run = run.finish().expect(143);

    let report = run.report();
    assert_eq!(report["outcome"], "cancelled");
    assert_eq!(report["cancelled_by"], "SIGTERM");
    let cancelled = steps_with_status(&report, "cancelled");
    assert_eq!(cancelled.len(), 1, "one step was in flight: {report:#}");
    let in_flight = cancelled[0];
    assert_eq!(in_flight["phase_after"], "DELETING", "{in_flight:#}");
    let not_started = steps_with_status(&report, "blocked");
    assert!(!not_started.is_empty(), "{report:#}");
    for s in &not_started {
        assert!(
            s["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("cancelled by SIGTERM"),
            "{s:#}"
        );
    }
    assert!(run.summary.contains("Cancelled"), "{}", run.summary);
    // The failed output names what was not done: the step in flight and those not started.
    let failed = run.list("failed");
    assert!(
        failed.iter().any(|f| in_flight["name"] == f.as_str()),
        "{failed:?}"
    );
    assert_eq!(failed.len(), 1 + not_started.len(), "{failed:?}");

    // The in-flight statement's record says where it stood.
    let name = in_flight["name"].as_str().expect("name");
    let records = app.records().await;
    let rec = records.get(name).expect("its record");
    assert_eq!(rec.state, State::TearingDown);
    assert_eq!(
        rec.last_phase.as_ref().map(|p| p.as_str()),
        Some("DELETING")
    );
    assert!(
        rec.detail
            .as_deref()
            .unwrap_or_default()
            .contains("cancelled by SIGTERM"),
        "{rec:?}"
    );

    // The lease is free (the next run would give up after a second), and it converges (new
    // deletes are quick again; the one in flight keeps its time).
    control.set_timings(json!({ "deleting_ms": 100 })).await;
    let next = app
        .run_with("teardown", &[], &[("CCAF_LEASE_WAIT".into(), "1s".into())])
        .expect(0);
    assert!(!next.list("torn-down").is_empty());
    app.assert_torn_down(&tables).await;
}

#[tokio::test]
async fn a_second_signal_ends_the_grace_and_a_run_waiting_for_the_lease_leaves_at_once() {
    let (app, tables) = slow_app("cancel-int");
    app.run("buildup", &[]).expect(0);
    let control = app.cloud.control();
    control.set_timings(json!({ "deleting_ms": 20_000 })).await;
    control.clear_requests().await;

    // A grace longer than the test: only the second signal can end it.
    let long_grace = [("CCAF_CANCEL_GRACE".to_string(), "10m".to_string())];
    let first = app.start("teardown", &[], &long_grace);
    first_delete(&app).await;

    // A second run queues for the lease, then is cancelled before it changed anything.
    let waiting = app.start(
        "teardown",
        &[],
        &[("CCAF_LEASE_WAIT".to_string(), "10m".to_string())],
    );
    wait_until(
        "the second run to wait for the lease",
        Duration::from_secs(60),
        || async {
            waiting
                .stderr_so_far()
                .contains("another run holds the lease; waiting")
                .then_some(())
        },
    )
    .await;
    waiting.signal("-TERM");
    let waited = waiting.finish().expect(143);
    assert!(
        waited
            .stderr()
            .contains("cancelled by SIGTERM before anything was changed"),
        "{}",
        waited.stderr()
    );

    first.signal("-INT");
    first.signal("-TERM");
    let run = first.finish().expect(130);
    let report = run.report();
    assert_eq!(
        report["cancelled_by"], "SIGINT",
        "the first signal names it"
    );
    assert_eq!(
        steps_with_status(&report, "cancelled").len(),
        1,
        "{report:#}"
    );

    // Neither run's lease holds the next one up.
    control.set_timings(json!({ "deleting_ms": 100 })).await;
    app.run_with("teardown", &[], &[("CCAF_LEASE_WAIT".into(), "1s".into())])
        .expect(0);
    app.assert_torn_down(&tables).await;
}

#[tokio::test]
async fn a_signal_ends_the_wait_for_a_dropped_tables_topic_too() {
    let (app, tables) = slow_app("cancel-drop");
    app.run("buildup", &[]).expect(0);
    let control = app.cloud.control();
    // DROP TABLE completes but leaves the topic: the step waits for the topic to go.
    control.set_faults(json!({ "partial_drops": true })).await;
    control.clear_requests().await;
    let run = app.start(
        "teardown",
        &[("timeout", "60s")],
        &[("CCAF_CANCEL_GRACE".to_string(), "1s".to_string())],
    );
    // The first DROP statement is deleted once it completed: its step waits for the topic next.
    let drops = format!("/statements/{}-drop-", app.name);
    wait_until(
        "a DROP statement deleted",
        Duration::from_secs(60),
        || async {
            control
                .requests()
                .await
                .iter()
                .any(|r| {
                    r["method"] == "DELETE"
                        && r["path"].as_str().is_some_and(|p| p.contains(&drops))
                })
                .then_some(())
        },
    )
    .await;
    run.signal("-TERM");
    let run = run.finish().expect(143);
    let report = run.report();
    let cancelled = steps_with_status(&report, "cancelled");
    assert_eq!(cancelled.len(), 1, "{report:#}");
    assert_eq!(cancelled[0]["action"], "drop_table", "{report:#}");
    // The wait ended with the grace, not with the 60 s timeout.
    let ms = cancelled[0]["duration_ms"].as_u64().unwrap_or(u64::MAX);
    assert!(ms < 60_000, "the drop waited out its timeout: {ms} ms");

    control.set_faults(json!({})).await;
    app.run_with("teardown", &[], &[("CCAF_LEASE_WAIT".into(), "1s".into())])
        .expect(0);
    app.assert_torn_down(&tables).await;
}
