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
//! the simulator's token bucket of 20 requests/s, burst 20 (`--rate N`: N requests/s, burst N).
//! Default scenarios: `auto auto+rate 8`.

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

/// The simulator's token bucket for `+rate` scenarios (`--rate N`: N requests/s, burst N).
const RATE_RPS: f64 = 20.0;

fn main() {
    let mut sizes: Vec<usize> = DEFAULT_SIZES.to_vec();
    let mut scenarios: Vec<String> = Vec::new();
    let mut rate_rps = RATE_RPS;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--rate" {
            rate_rps = args
                .next()
                .and_then(|r| r.parse().ok())
                .expect("--rate N: requests per second");
        } else if a == "--size" {
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
    let rate_burst = rate_rps.round() as u64;
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
    let mut spent = Vec::new();
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
                    "{{\"latency_ms\": {LATENCY_MS}, \"rate_limit_rps\": {rate_rps}, \"rate_limit_burst\": {rate_burst}}}"
                )
            } else {
                format!("{{\"latency_ms\": {LATENCY_MS}}}")
            };
            control(&sim, "faults", &faults);
            control_request(&sim, "DELETE", "requests", "");
            let sim_cpu_before = cpu_of(sim.pid());
            let m = housekeeping(&bin, &sim, &dir.0, &topic, "teardown", &concurrency);
            let sim_cpu = cpu_of(sim.pid()).saturating_sub(sim_cpu_before);
            let kinds = requests_by_kind(&sim);
            let served: u64 = kinds
                .iter()
                .filter(|((_, k), _)| !k.starts_with("429"))
                .map(|(_, n)| n)
                .sum();
            let floor = if rate {
                chain(size).max(Duration::from_secs_f64(
                    served.saturating_sub(rate_burst) as f64 / rate_rps,
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
                "| {size} / {tables} | {scenario} | {:.1} s | {:.1} s | **{:.2}** | {served} / {minimum_total} (**{:.2}**) | {:.2} s | {:.2} s | {:.1} MiB | {failed} | {} |",
                m.took.as_secs_f64(),
                floor.as_secs_f64(),
                m.took.as_secs_f64() / floor.as_secs_f64(),
                served as f64 / minimum_total as f64,
                m.cpu.as_secs_f64(),
                sim_cpu.as_secs_f64(),
                m.peak_rss_kib as f64 / 1024.0,
                apis.join("; ")
            ));
            spent.push(format!(
                "| {size} / {tables} | {scenario} | {} |",
                where_it_went(&m.report).join(" | ")
            ));
            breakdowns.push((
                format!("{size} statements, `{scenario}`"),
                kinds,
                minimum.clone(),
            ));
        }
    }
    println!();
    println!("| statements / tables | scenario | wall time | floor | × floor | requests served / minimum | CPU | simulator CPU | peak RSS | steps not done | requests per API (report) |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in rows {
        println!("{r}");
    }
    println!();
    println!(
        "Where the time went (the run's report; sums over requests and waits in flight at once):"
    );
    println!("| statements / tables | scenario | Flink requests: queued / in flight (mean) | watch: lists, their time | watch GETs: confirm / lead / guess (missed) | waits: kind n × mean (learned) | notice lag: gone / completed | tracker: writes, their time |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in spent {
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

/// The report's account of where a run's time went, as table cells.
fn where_it_went(report: &serde_json::Value) -> Vec<String> {
    let ms = |v: &serde_json::Value| v.as_u64().unwrap_or(0) as f64 / 1000.0;
    let flink = report["apis"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["api"] == "flink");
    let requests = flink
        .map_or(0, |a| a["requests"].as_u64().unwrap_or(0))
        .max(1) as f64;
    let (queued, in_flight) = flink.map_or((0.0, 0.0), |a| {
        (ms(&a["queued_ms"]), ms(&a["in_request_ms"]))
    });
    let watch = &report["spent"]["watch"];
    let waits = watch["waits"].as_array().cloned().unwrap_or_default();
    let mean = |kind: &str| {
        waits.iter().find(|w| w["change"] == kind).and_then(|w| {
            let n = w["waits"].as_u64().filter(|n| *n > 0)?;
            Some(ms(&w["waited_ms"]) / n as f64)
        })
    };
    let lag = |kind: &str, takes: u64| {
        mean(kind).map_or("—".to_string(), |m| {
            format!("{:.2} s", m - takes as f64 / 1000.0)
        })
    };
    let tracker = &report["spent"]["tracker"];
    vec![
        format!(
            "{queued:.1} s / {in_flight:.1} s ({:.0} ms)",
            in_flight * 1000.0 / requests
        ),
        format!("{}, {:.1} s", watch["lists"], ms(&watch["list_ms"])),
        format!(
            "{} / {} / {} ({})",
            watch["confirm_gets"], watch["lead_gets"], watch["guess_gets"], watch["missed_guesses"]
        ),
        waits
            .iter()
            .map(|w| {
                let n = w["waits"].as_u64().unwrap_or(0).max(1);
                let learned = w["learned_ms"]
                    .as_u64()
                    .map_or(String::new(), |l| format!(" ({:.2} s)", l as f64 / 1000.0));
                format!(
                    "{} {} × {:.2} s{learned}",
                    w["change"].as_str().unwrap_or("?"),
                    w["waits"],
                    ms(&w["waited_ms"]) / n as f64
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        format!(
            "{} / {}",
            lag("deleted", DELETE_MS),
            lag("completed", PENDING_MS)
        ),
        format!("{}, {:.1} s", tracker["writes"], ms(&tracker["write_ms"])),
    ]
}

/// A process's CPU time so far (user and system), from `/proc/<pid>/stat`.
fn cpu_of(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces, so after its closing paren):
    // utime and stime are the 12th and 13th of them, in clock ticks.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<u64>().ok()))
        .sum();
    // SAFETY: sysconf reads a constant of the system and has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    Duration::from_millis(ticks * 1000 / per_second)
}
