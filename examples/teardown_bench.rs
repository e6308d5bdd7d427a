//! Times a teardown of an app with 50 tables and 150 statements against a simulator that answers
//! every request after 100 ms and takes 3 s to delete a statement, next to the floor those
//! settings imply and to a one-at-a-time baseline.
//!
//!     scripts/stack up && eval "$(scripts/stack env)"
//!     cargo build -p ccaf-housekeeping -p ccloud-sim
//!     cargo run --example teardown_bench [-- CONCURRENCY...]
//!
//! (Waits dominate, not CPU: a debug build measures the same; add `--release` to both commands
//! for release binaries.)
//!
//! The app: 25 source and 25 sink tables (DDL statements), and 100 jobs, each reading a source
//! and writing a sink — 150 statements, 50 tables. Each measurement builds the app up (with the
//! simulator's faults off), then sets 100 ms per request and 3 s deletes, and times the
//! `teardown` process. Default concurrencies: 150 (every step at once), 8 (the input's default)
//! and 1 (the baseline).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use test_support::{PrivateSim, SimOptions, TempDir};

const LATENCY_MS: u64 = 100;
const DELETE_MS: u64 = 3_000;
const PENDING_MS: u64 = 300;
const PAIRS: usize = 25;
const JOBS: usize = 100;

fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name}: run `eval \"$(scripts/stack env)\"` first"))
}

/// A binary of the workspace, from the profile this example was built with.
fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    // target/<profile>/examples/teardown_bench → target/<profile>/<name>
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let p = profile_dir.join(name);
    assert!(
        p.exists(),
        "{}: build it first with `cargo build [--release] -p ccaf-housekeeping -p ccloud-sim`",
        p.display()
    );
    p
}

fn write_app(dir: &Path, app: &str, tag: &str) {
    std::fs::create_dir_all(dir.join("sql")).unwrap();
    let mut manifest = format!("app = \"{app}\"\n");
    let mut add = |name: &str, sql: String| {
        std::fs::write(dir.join(format!("sql/{name}.sql")), sql).unwrap();
        manifest.push_str(&format!(
            "\n[[statements]]\nname = \"{name}\"\nsql = \"sql/{name}.sql\"\n"
        ));
    };
    for i in 0..PAIRS {
        add(
            &format!("src-{i}"),
            format!("CREATE TABLE src_{tag}_{i} (id STRING, amount INT)"),
        );
        add(
            &format!("sink-{i}"),
            format!("CREATE TABLE sink_{tag}_{i} (id STRING, amount INT)"),
        );
    }
    for j in 0..JOBS {
        let k = j % PAIRS;
        add(
            &format!("job-{j}"),
            format!("INSERT INTO sink_{tag}_{k} SELECT id, amount + {j} FROM src_{tag}_{k}"),
        );
    }
    std::fs::write(dir.join("ccaf-housekeeping.toml"), manifest).unwrap();
}

fn housekeeping(
    bin: &Path,
    sim: &PrivateSim,
    dir: &Path,
    topic: &str,
    command: &str,
    concurrency: usize,
) -> Duration {
    let kafka = env("KAFKA_BOOTSTRAP_SERVERS");
    let args: Vec<(&str, String)> = vec![
        ("--flink-endpoint", sim.url.clone()),
        ("--flink-api-key", sim.flink_api_key.clone()),
        ("--flink-api-secret", sim.flink_api_secret.clone()),
        ("--organization-id", sim.org_id.clone()),
        ("--environment-id", sim.env_id.clone()),
        ("--compute-pool-id", sim.compute_pool_id.clone()),
        ("--principal-id", sim.principal_id.clone()),
        ("--catalog", sim.env_id.clone()),
        ("--database", sim.kafka_cluster_id.clone()),
        ("--kafka-bootstrap-servers", kafka),
        ("--kafka-security-protocol", "PLAINTEXT".into()),
        ("--schema-registry-url", sim.url.clone()),
        ("--schema-registry-api-key", sim.sr_api_key.clone()),
        ("--schema-registry-api-secret", sim.sr_api_secret.clone()),
        ("--tracker-topic", topic.to_string()),
        ("--concurrency", concurrency.to_string()),
        ("--timeout", "10m".into()),
        ("--comment", "never".into()),
        ("--summary", "false".into()),
    ];
    let mut cmd = Command::new(bin);
    cmd.arg(command).current_dir(dir).env("CCAF_LOG", "warn");
    for (flag, value) in &args {
        cmd.arg(flag).arg(value);
    }
    let start = Instant::now();
    let out = cmd.output().expect("run ccaf-housekeeping");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{command} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

fn control(sim: &PrivateSim, what: &str, body: &str) {
    // The control endpoint needs no client library: one PUT over a plain socket.
    use std::io::{Read, Write};
    let addr = sim.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "PUT /_sim/{what} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
}

fn main() {
    let concurrencies: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("concurrency numbers"))
        .collect();
    let concurrencies = if concurrencies.is_empty() {
        vec![150, 8, 1]
    } else {
        concurrencies
    };
    let bin = binary("ccaf-housekeeping");
    let sim_bin = binary("ccloud-sim");
    // The floor: the longest chain of waits, each request on it at 100 ms. The pre-flight
    // checks (one Flink page, one subjects list) and the run's two list pages; a job's delete
    // (the GET that verifies it is the recorded statement, DELETE, 3 s, the GET that sees it
    // gone), then its source table's DDL (the same), then the table's drop (subjects listed,
    // DROP created, pending, seen COMPLETED, deleted, 3 s, seen gone, subjects checked). No
    // rate limit is set, so requests ÷ rate adds no floor of its own.
    let chain_requests = 2 + 2 + 3 + 3 + 6;
    let floor = Duration::from_millis(3 * DELETE_MS + PENDING_MS + chain_requests * LATENCY_MS);
    println!(
        "app: {} statements, {} tables; {LATENCY_MS} ms per request, {DELETE_MS} ms per delete",
        2 * PAIRS + JOBS,
        2 * PAIRS
    );
    println!(
        "floor (longest chain of waits): {:.1} s",
        floor.as_secs_f64()
    );
    println!("| concurrency | teardown wall time | × floor |");
    println!("|---:|---:|---:|");
    for (round, c) in concurrencies.iter().enumerate() {
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
        write_app(&dir.0, &app, &tag);
        let topic = format!("ccaf-bench-tracker-{tag}");
        housekeeping(&bin, &sim, &dir.0, &topic, "buildup", 150);
        control(
            &sim,
            "timings",
            &format!("{{\"deleting_ms\": {DELETE_MS}}}"),
        );
        control(&sim, "faults", &format!("{{\"latency_ms\": {LATENCY_MS}}}"));
        let took = housekeeping(&bin, &sim, &dir.0, &topic, "teardown", *c);
        println!(
            "| {c} | {:.1} s | {:.2} |",
            took.as_secs_f64(),
            took.as_secs_f64() / floor.as_secs_f64()
        );
    }
}
