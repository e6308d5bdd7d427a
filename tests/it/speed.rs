//! Fast by default: a run at the default `concurrency` (auto) counts its requests per API in the
//! report — the same numbers the services saw — and no step polls its own statement: one watch
//! lists the app's statements for every wait.

use std::collections::BTreeMap;

use serde_json::Value;
use test_support::{SimOptions, StackEnv};

use crate::harness::{write, App, Cloud, Tables};

/// The report's request count for `api`, with its concurrency setting.
fn counted(report: &Value, api: &str) -> (u64, String) {
    let entry = report["apis"]
        .as_array()
        .and_then(|apis| apis.iter().find(|a| a["api"] == api))
        .unwrap_or_else(|| panic!("no {api} in the report's apis: {report}"));
    (
        entry["requests"].as_u64().expect("requests"),
        entry["concurrency"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

#[tokio::test]
async fn a_teardown_counts_its_requests_per_api_and_polls_no_statement() {
    let cloud = Cloud::private(SimOptions {
        pending_ms: 200,
        deleting_ms: 2_000,
        ..Default::default()
    });
    let app = App::in_cloud("budget", StackEnv::load(), cloud);
    let t = Tables::new();
    write(&app, &t.statements());
    let wanted = app.run("buildup", &[]).expect(0).list("rebuilt");
    assert_eq!(wanted.len(), 4);
    let control = app.cloud.control();
    control.clear_requests().await;

    let torn = app.run("teardown", &[]).expect(0);
    assert_eq!(torn.list("torn-down").len(), 4);
    let report = torn.report();
    let log = control.requests().await;

    // The report's counts are what the services saw, request for request.
    for api in ["flink", "schema-registry"] {
        let (requests, concurrency) = counted(&report, api);
        let seen = log.iter().filter(|e| e["api"] == api).count() as u64;
        assert_eq!(
            requests, seen,
            "{api}: counted {requests}, the service saw {seen}"
        );
        assert_eq!(concurrency, "auto", "the default");
    }
    let (kafka, _) = counted(&report, "kafka-admin");
    assert!(kafka > 0, "the topic checks are counted too");
    assert!(
        torn.summary.contains("Requests — Flink statements:"),
        "{}",
        torn.summary
    );

    // Every statement deleted (the app's four and the DROP TABLE statements): one GET to check
    // it is the recorded one before its delete, one to confirm it gone when its kind of change
    // is due (or once the list no longer shows it). A step polling its statement would GET it
    // every few hundred milliseconds of the 2 s delete. The watch follows one statement per
    // kind of change (the lead it learns the timing from): those are the only ones with more.
    let mut gets: BTreeMap<String, usize> = BTreeMap::new();
    let mut deletes: BTreeMap<String, usize> = BTreeMap::new();
    for e in log.iter().filter(|e| e["api"] == "flink") {
        let path = e["path"].as_str().unwrap_or_default();
        let Some((_, name)) = path.rsplit_once("/statements/") else {
            continue;
        };
        match e["method"].as_str() {
            Some("GET") => *gets.entry(name.to_string()).or_default() += 1,
            Some("DELETE") => *deletes.entry(name.to_string()).or_default() += 1,
            _ => {}
        }
    }
    assert_eq!(
        deletes.len(),
        4 + 3,
        "the app's statements and one DROP TABLE per table: {deletes:?}"
    );
    for name in &wanted {
        assert_eq!(deletes.get(name), Some(&1), "{name}");
    }
    let followed: Vec<&String> = gets
        .iter()
        .filter(|(_, n)| **n > 2)
        .map(|(k, _)| k)
        .collect();
    // Deleted and completed (the DROP TABLE statements): at most one lead each.
    assert!(followed.len() <= 2, "polled: {followed:?} ({gets:?})");
    let leads = report["spent"]["watch"]["lead_gets"]
        .as_u64()
        .expect("the report says what the watch did");
    let total: usize = gets.values().sum();
    assert!(
        total as u64 <= 2 * gets.len() as u64 + leads,
        "{total} GETs beyond two per statement and the leads' {leads}: {gets:?}"
    );
    let watched = log
        .iter()
        .filter(|e| {
            e["method"] == "GET"
                && e["query"]
                    .as_str()
                    .is_some_and(|q| q.contains("label_selector"))
        })
        .count();
    assert!(
        watched >= 4,
        "the watch listed the app's statements: {watched}"
    );
}
