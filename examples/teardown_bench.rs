//! Times a teardown of an app against a simulator that answers every request after 100 ms and
//! takes 3 s to delete a statement, next to the floor those settings imply; counts its requests
//! next to their minimum, and reads the process's CPU time and peak memory.
//!
//!     scripts/stack up && eval "$(scripts/stack env)"
//!     cargo build --release -p ccaf-housekeeping -p ccloud-sim
//!     cargo run --release --example teardown_bench [-- [--size N[,N…]] SCENARIO…]
//!
//! The app of `N` statements (default 150): `N/6` source and `N/6` sink tables (DDL
//! statements), and jobs each reading a source and writing a sink — 150 statements and 50 tables,
//! 1 000 and 332, 3 000 and 1 000. Each measurement builds the app up (with the simulator's
//! faults off), then sets 100 ms per request and 3 s deletes, and times the `teardown` process.
//! A scenario is `auto` (the default settings) or a pinned concurrency (`8`), with `+rate` for
//! the simulator's token bucket of 20 requests/s, burst 20. Default scenarios: `auto auto+rate 8`.

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
/// Sizes measured by default: statements (a sixth of them source tables, a sixth sink tables).
const DEFAULT_SIZES: [usize; 1] = [150];

/// The simulator's token bucket for `+rate` scenarios.
const RATE_RPS: f64 = 20.0;
const RATE_BURST: u64 = 20;

fn main() {
    let mut sizes: Vec<usize> = DEFAULT_SIZES.to_vec();
    let mut scenarios: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--size" {
            let v = args.next().expect("--size N[,N…]");
            sizes = v
                .split(',')
                .map(|n| n.trim().parse().expect("--size: statement counts"))
                .collect();
        } else {
            scenarios.push(a);
        }
    }
    if scenarios.is_empty() {
        scenarios = vec!["auto".to_string(), "auto+rate".into(), "8".into()];
    }
    let bin = binary("ccaf-housekeeping");
    let sim_bin = binary("ccloud-sim");
    // The floor: the longest chain of waits, each request on it at 100 ms. The pre-flight
    // checks (one Flink page, one subjects list) and the run's list pages (snapshot); a job's
    // delete (the GET that verifies it is the recorded statement, DELETE, 3 s, the GET that sees
    // it gone), then its source table's DDL (the same), then the table's drop (subjects listed,
    // DROP created, pending, seen COMPLETED, deleted, 3 s, seen gone, subjects checked). With a
    // rate limit, the requests the services served ÷ the rate (less the burst) when longer.
    let chain = |statements: usize| {
        let pages = statements.div_ceil(100) as u64;
        let requests = 2 + pages + 3 + 3 + 6;
        Duration::from_millis(3 * DELETE_MS + PENDING_MS + requests * LATENCY_MS)
    };
    println!("{LATENCY_MS} ms per request, {DELETE_MS} ms per delete");
    let mut rows = Vec::new();
    let mut breakdowns = Vec::new();
    let mut round = 0;
    for &size in &sizes {
        let pairs = (size / 6).max(1);
        let jobs = size - 2 * pairs;
        let (statements, tables) = (size as u64, 2 * pairs as u64);
        // The minimum a teardown of this app asks, besides the watch's lists: per statement one
        // GET (is it the recorded one?), one DELETE and one GET that confirms it gone; per table
        // one DROP TABLE statement (created, deleted, confirmed gone) and two subject checks;
        // the snapshot's list pages and the pre-flight's page and subjects list.
        let pages = statements.div_ceil(100);
        let minimum: BTreeMap<(&str, &str), u64> = [
            (("flink", "GET one statement"), 2 * statements + tables),
            (("flink", "DELETE one statement"), statements + tables),
            (("flink", "POST a statement"), tables),
            (("flink", "list (snapshot, checks)"), 1 + pages),
            (("schema-registry", "GET subjects"), 2 * tables + 1),
        ]
        .into();
        let minimum_total: u64 = minimum.values().sum();
        for scenario in &scenarios {
            round += 1;
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
            write_app(&dir.0, &app, &tag, pairs, jobs);
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
                chain(size).max(Duration::from_secs_f64(
                    served.saturating_sub(RATE_BURST) as f64 / RATE_RPS,
                ))
            } else {
                chain(size)
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
                "| {size} / {tables} | {scenario} | {:.1} s | {:.1} s | **{:.2}** | {served} / {minimum_total} (**{:.2}**) | {:.2} s | {:.1} MiB | {failed} | {} |",
                m.took.as_secs_f64(),
                floor.as_secs_f64(),
                m.took.as_secs_f64() / floor.as_secs_f64(),
                served as f64 / minimum_total as f64,
                m.cpu.as_secs_f64(),
                m.peak_rss_kib as f64 / 1024.0,
                apis.join("; ")
            ));
            breakdowns.push((
                format!("{size} statements, `{scenario}`"),
                kinds,
                minimum.clone(),
            ));
        }
    }
    println!();
    println!("| statements / tables | scenario | wall time | floor | × floor | requests served / minimum | CPU | peak RSS | steps not done | requests per API (report) |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        println!("{r}");
    }
    for (what, kinds, minimum) in breakdowns {
        println!();
        println!("requests of {what} (the simulator's log):");
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
