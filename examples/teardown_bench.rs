//! Times a teardown of an app with 50 tables and 150 statements against a simulator that answers
//! every request after 100 ms and takes 3 s to delete a statement, next to the floor those
//! settings imply, and counts its requests per API next to their minimum.
//!
//!     scripts/stack up && eval "$(scripts/stack env)"
//!     cargo build -p ccaf-housekeeping -p ccloud-sim
//!     cargo run --example teardown_bench [-- SCENARIO...]
//!
//! (Waits dominate, not CPU: a debug build measures the same; add `--release` to both commands
//! for release binaries.)
//!
//! The app: 25 source and 25 sink tables (DDL statements), and 100 jobs, each reading a source
//! and writing a sink — 150 statements, 50 tables. Each measurement builds the app up (with the
//! simulator's faults off), then sets 100 ms per request and 3 s deletes, and times the
//! `teardown` process. A scenario is `auto` (the default settings) or a pinned concurrency (`8`),
//! with `+rate` for the simulator's token bucket of 20 requests/s, burst 20. Default scenarios:
//! `auto auto+rate 8`.

// Tests and benchmarks read their stack's variables: the rule of clippy.toml is the action's.
#![allow(clippy::disallowed_methods)]

mod bench;

use std::collections::BTreeMap;
use std::time::Duration;

use bench::{binary, control, control_request, env, housekeeping, requests_by_kind, write_app};
use test_support::{PrivateSim, SimOptions, TempDir};

const LATENCY_MS: u64 = 100;
const DELETE_MS: u64 = 3_000;
const PENDING_MS: u64 = 300;
const PAIRS: usize = 25;
const JOBS: usize = 100;

/// The simulator's token bucket for `+rate` scenarios.
const RATE_RPS: f64 = 20.0;
const RATE_BURST: u64 = 20;

fn main() {
    let scenarios: Vec<String> = std::env::args().skip(1).collect();
    let scenarios = if scenarios.is_empty() {
        vec!["auto".to_string(), "auto+rate".into(), "8".into()]
    } else {
        scenarios
    };
    let bin = binary("ccaf-housekeeping");
    let sim_bin = binary("ccloud-sim");
    // The floor: the longest chain of waits, each request on it at 100 ms. The pre-flight
    // checks (one Flink page, one subjects list) and the run's two list pages; a job's delete
    // (the GET that verifies it is the recorded statement, DELETE, 3 s, the GET that sees it
    // gone), then its source table's DDL (the same), then the table's drop (subjects listed,
    // DROP created, pending, seen COMPLETED, deleted, 3 s, seen gone, subjects checked). With a
    // rate limit, the requests the services served ÷ the rate (less the burst) when longer.
    let chain_requests = 2 + 2 + 3 + 3 + 6;
    let chain = Duration::from_millis(3 * DELETE_MS + PENDING_MS + chain_requests * LATENCY_MS);
    println!(
        "app: {} statements, {} tables; {LATENCY_MS} ms per request, {DELETE_MS} ms per delete",
        2 * PAIRS + JOBS,
        2 * PAIRS
    );
    println!(
        "chain floor (longest chain of waits): {:.1} s",
        chain.as_secs_f64()
    );
    let mut rows = Vec::new();
    let mut breakdowns = Vec::new();
    for (round, scenario) in scenarios.iter().enumerate() {
        let (concurrency, rate) = match scenario.split_once('+') {
            Some((c, "rate")) => (c.to_string(), true),
            _ => (scenario.clone(), false),
        };
        let sim = PrivateSim::spawn(
            &sim_bin,
            &env("KAFKA_BOOTSTRAP_SERVERS"),
            SimOptions {
                pending_ms: PENDING_MS,
                stopping_ms: PENDING_MS,
                deleting_ms: 200,
                // The broker's own cluster: the tables are the app's to check and drop.
                kafka_cluster_id: Some(env("SIM_KAFKA_CLUSTER_ID")),
                ..Default::default()
            },
        );
        let dir = TempDir::new("teardown-bench");
        let tag = format!("{}{round}", std::process::id());
        let app = format!("bench-{tag}");
        write_app(&dir.0, &app, &tag, PAIRS, JOBS);
        let topic = format!("ccaf-bench-tracker-{tag}");
        housekeeping(&bin, &sim, &dir.0, &topic, "buildup", "auto");
        control(
            &sim,
            "timings",
            &format!("{{\"deleting_ms\": {DELETE_MS}}}"),
        );
        let faults = if rate {
            format!(
                "{{\"latency_ms\": {LATENCY_MS}, \"rate_limit_rps\": {RATE_RPS}, \"rate_limit_burst\": {RATE_BURST}}}"
            )
        } else {
            format!("{{\"latency_ms\": {LATENCY_MS}}}")
        };
        control(&sim, "faults", &faults);
        control_request(&sim, "DELETE", "requests", "");
        let m = housekeeping(&bin, &sim, &dir.0, &topic, "teardown", &concurrency);
        let kinds = requests_by_kind(&sim);
        let served: u64 = kinds
            .iter()
            .filter(|((_, k), _)| !k.starts_with("429"))
            .map(|(_, n)| n)
            .sum();
        let floor = if rate {
            chain.max(Duration::from_secs_f64(
                served.saturating_sub(RATE_BURST) as f64 / RATE_RPS,
            ))
        } else {
            chain
        };
        let failed = m.report["steps"]
            .as_array()
            .map_or(0, |s| s.iter().filter(|s| s["status"] != "done").count());
        let apis: Vec<String> = m.report["apis"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                format!(
                    "{} {} ({} × 429), reached {}",
                    a["api"].as_str().unwrap_or("?"),
                    a["requests"],
                    a["throttled"],
                    a["limit_reached"]
                )
            })
            .collect();
        rows.push(format!(
            "| {scenario} | {:.1} s | {:.1} s | **{:.2}** | {failed} | {} |",
            m.took.as_secs_f64(),
            floor.as_secs_f64(),
            m.took.as_secs_f64() / floor.as_secs_f64(),
            apis.join("; ")
        ));
        breakdowns.push((scenario.clone(), kinds));
    }
    println!();
    println!("| scenario | teardown wall time | floor | × floor | steps not done | requests per API (report) |");
    println!("|---|---:|---:|---:|---:|---|");
    for r in rows {
        println!("{r}");
    }
    // The minimum a teardown of this app asks, besides the watch's lists: per statement one GET
    // (is it the recorded one?), one DELETE and one GET that confirms it gone; per table one
    // DROP TABLE statement (created, deleted, confirmed gone) and two subject checks; the
    // snapshot's two list pages and the pre-flight's page and subjects list.
    let statements = (2 * PAIRS + JOBS) as u64;
    let tables = 2 * PAIRS as u64;
    let minimum: BTreeMap<(&str, &str), u64> = [
        (("flink", "GET one statement"), 2 * statements + tables),
        (("flink", "DELETE one statement"), statements + tables),
        (("flink", "POST a statement"), tables),
        (("flink", "list (snapshot, checks)"), 3),
        (("schema-registry", "GET subjects"), 2 * tables + 1),
    ]
    .into();
    for (scenario, kinds) in breakdowns {
        println!();
        println!("requests of `{scenario}` (the simulator's log):");
        println!("| API | request | count | minimum |");
        println!("|---|---|---:|---:|");
        for ((api, kind), n) in &kinds {
            let min = minimum
                .get(&(api.as_str(), kind.as_str()))
                .map_or("—".to_string(), |m| m.to_string());
            println!("| {api} | {kind} | {n} | {min} |");
        }
    }
}
