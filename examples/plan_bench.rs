//! Times `plan` of an app with 500 tracked statements against a simulator that answers at once:
//! what a run pays before its first change (process start, pre-flight checks, the lease-free
//! snapshot — tracker load, every list page, the topics and their ids — and the plan).
//!
//!     scripts/stack up && eval "$(scripts/stack env)"
//!     cargo build -p ccaf-housekeeping -p ccloud-sim
//!     cargo run --example plan_bench [-- RUNS]
//!
//! The app: 25 source and 25 sink tables (DDL statements) and 450 jobs, each reading a source
//! and writing a sink — 500 statements, built up once (faults off), then planned RUNS times
//! (default 10), each a fresh process planning a rebuild (every statement and table).

// Tests and benchmarks read their stack's variables: the rule of clippy.toml is the action's.
#![allow(clippy::disallowed_methods)]

mod bench;

use std::time::Duration;

use bench::{binary, env, housekeeping, write_app};
use test_support::{PrivateSim, SimOptions, TempDir};

const PAIRS: usize = 25;
const JOBS: usize = 450;

fn main() {
    let runs: usize = std::env::args()
        .nth(1)
        .map(|a| a.parse().expect("RUNS is a number"))
        .unwrap_or(10);
    let bin = binary("ccaf-housekeeping");
    let sim = PrivateSim::spawn(
        &binary("ccloud-sim"),
        &env("KAFKA_BOOTSTRAP_SERVERS"),
        SimOptions {
            pending_ms: 50,
            stopping_ms: 50,
            deleting_ms: 50,
            kafka_cluster_id: Some(env("SIM_KAFKA_CLUSTER_ID")),
            ..Default::default()
        },
    );
    let dir = TempDir::new("plan-bench");
    let tag = std::process::id().to_string();
    write_app(&dir.0, &format!("plan-{tag}"), &tag, PAIRS, JOBS);
    let topic = format!("ccaf-bench-tracker-plan-{tag}");
    let built = housekeeping(&bin, &sim, &dir.0, &topic, "buildup", "auto");
    println!(
        "built up {} statements in {:.1} s",
        2 * PAIRS + JOBS,
        built.took.as_secs_f64()
    );
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let m = housekeeping(&bin, &sim, &dir.0, &topic, "plan", "auto");
            // `plan` plans a rebuild: every statement torn down and built again.
            assert_eq!(m.report["outcome"], "planned", "{}", m.report);
            m.took
        })
        .collect();
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "plan of {} tracked statements, {runs} runs: min {:.0} ms, median {:.0} ms, max {:.0} ms",
        2 * PAIRS + JOBS,
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    );
    // The same command torn down again, so the shared broker keeps no tables of the bench.
    housekeeping(&bin, &sim, &dir.0, &topic, "teardown", "auto");
}
