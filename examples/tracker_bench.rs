//! Loads tracker records from the broker and reports the time and peak memory of a run's load.
//!
//!     eval "$(scripts/stack env)"
//!     cargo run --release --example tracker_bench [-- RECORDS [APP_RECORDS [RUNS]]]
//!
//! Writes RECORDS (default 100 000) realistic records to a fresh tracker topic, APP_RECORDS
//! (default 150) of them the run's app's and spread over the log, the rest other apps' (nine in
//! ten in the run's environment, so their app is read). Then loads them RUNS times (default 3)
//! scoped to the run's environment and app, and for comparison once with nothing in scope (the
//! read alone) and once with no scope (every record parsed); each load in a fresh process of this
//! example (so the peak memory is the load's, not the writer's): open, read to the end, check the
//! counts.

// Tests and benchmarks read their stack's variables: the rule of clippy.toml is the action's.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

use ccaf_housekeeping::confluent::kafka::KafkaConfig;
use ccaf_housekeeping::tracker::{Provenance, Record, Scope, State, Tables, Tracker, TrackerKey};

/// The run's environment and app.
const ENV: &str = "env-bench01";
const APP: &str = "app-run";

fn kafka() -> KafkaConfig {
    let bootstrap = std::env::var("KAFKA_BOOTSTRAP_SERVERS")
        .expect("KAFKA_BOOTSTRAP_SERVERS: run `eval \"$(scripts/stack env)\"` first");
    KafkaConfig::plaintext(bootstrap)
}

/// Whose record `i` of `n` is: every `n / app_records`-th is the run's app's, the others belong to
/// 200 other apps, one in ten in another environment.
fn owner(i: usize, n: usize, app_records: usize) -> (String, String) {
    let stride = n / app_records.max(1);
    if app_records > 0 && i % stride == 0 && i / stride < app_records {
        return (ENV.to_string(), APP.to_string());
    }
    let env = if i % 10 == 9 {
        format!("env-bench{:02}", 2 + i % 4)
    } else {
        ENV.to_string()
    };
    (env, format!("app-{:03}", i % 200))
}

/// A record the size of a real one: a few hundred characters of SQL, properties, tables.
fn record(i: usize, env: &str, app: &str) -> Record {
    let mut r = Record::new(
        app,
        env,
        format!(
            "{app}-statement-{i:06}-{:08x}",
            i * 2_654_435_761 % (1 << 32)
        ),
        format!(
            "INSERT INTO `flink_kickstarter`.`flink_kickstarter`.`flight_consolidated_{i}`\n\
             SELECT f.confirmation_code, f.flight_number, f.departure_airport_code, \
             f.arrival_airport_code, f.departure_time, f.arrival_time, 'SkyOne' AS airline\n\
             FROM `flink_kickstarter`.`flink_kickstarter`.`skyone_avro_{}` AS f\n\
             WHERE f.departure_time IS NOT NULL;",
            i / 3
        ),
        State::Deployed,
    );
    r.logical_name = Some(format!("statement-{i}"));
    r.properties = BTreeMap::from([
        ("sql.current-catalog".into(), "flink_kickstarter".into()),
        ("sql.current-database".into(), "flink_kickstarter".into()),
        ("sql.local-time-zone".into(), "UTC".into()),
    ]);
    r.compute_pool_id = Some("lfcp-abc123".into());
    r.principal = Some("sa-abc123".into());
    r.tables = Tables {
        reads: vec![format!(
            "flink_kickstarter.flink_kickstarter.skyone_avro_{}",
            i / 3
        )],
        writes: vec![format!(
            "flink_kickstarter.flink_kickstarter.flight_consolidated_{i}"
        )],
        creates: vec![],
        ownership: Vec::new(),
        extra: Default::default(),
    };
    r.last_phase = Some("RUNNING".into());
    r.definition_hash = Some(format!("{:08x}", i * 2_654_435_761 % (1 << 32)));
    r.provenance = Provenance {
        git_sha: Some(format!("{:040x}", i)),
        run_id: Some(format!("{}", 9_000_000_000u64 + i as u64)),
        pr_number: Some(42),
        actor: Some("octocat".into()),
        at: chrono::Utc::now(),
        extra: Default::default(),
    };
    r
}

/// `VmHWM` (peak resident set) and `VmRSS` of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--load") {
        return load(&args[2], &args[3], args[4].parse().expect("record count")).await;
    }
    let arg = |i: usize, default: usize| {
        args.get(i)
            .map(|a| a.parse().expect("RECORDS [APP_RECORDS [RUNS]]"))
            .unwrap_or(default)
    };
    let n = arg(1, 100_000);
    let app_records = arg(2, 150).min(n);
    let runs = arg(3, 3);
    let topic = format!("tracker-bench-{:08x}", rand::random::<u32>());

    let records: Vec<Record> = (0..n)
        .map(|i| {
            let (env, app) = owner(i, n, app_records);
            record(i, &env, &app)
        })
        .collect();
    let ours = records.iter().filter(|r| r.app == APP).count();
    let same_env = records.iter().filter(|r| r.environment_id == ENV).count();
    let bytes: usize = records
        .iter()
        .map(|r| serde_json::to_vec(r).map(|v| v.len()).unwrap_or(0))
        .sum();
    let tracker = Tracker::open(&kafka(), &topic, TrackerKey::unprotected())
        .await
        .expect("open");
    let t = Instant::now();
    for chunk in records.chunks(20_000) {
        tracker.put_all(chunk).await.expect("write");
    }
    let write = t.elapsed();
    println!(
        "wrote {n} records ({:.1} MB of JSON, {} B/record; {ours} of app {APP}, {} other apps' in \
         {ENV}, {} in other environments) to {topic} in {:.2} s: {:.0} records/s",
        bytes as f64 / 1e6,
        bytes / n.max(1),
        same_env - ours,
        n - same_env,
        write.as_secs_f64(),
        n as f64 / write.as_secs_f64()
    );
    drop(records);
    drop(tracker);

    let exe = std::env::current_exe().expect("current exe");
    let plan = (1..=runs)
        .map(|run| (format!("scoped run {run}"), "app", ours))
        .chain([
            ("nothing in scope".to_string(), "none", 0),
            ("full load".to_string(), "all", n),
        ]);
    for (label, scope, expected) in plan {
        let out = Command::new(&exe)
            .args(["--load", &topic, scope, &expected.to_string()])
            .output()
            .expect("run the loader");
        assert!(
            out.status.success(),
            "{label} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        print!("{label}: {}", String::from_utf8_lossy(&out.stdout));
    }
}

/// One load in this process: `scope` is `app` (the run's), `none` or `all`.
async fn load(topic: &str, scope: &str, expected: usize) {
    let scope = match scope {
        "app" => Scope::app(ENV, APP),
        // Nothing in scope: the read alone, for comparison.
        "none" => Scope::app("env-none", "none"),
        _ => Scope::all(),
    };
    let tracker = Tracker::open(&kafka(), topic, TrackerKey::unprotected())
        .await
        .expect("open");
    let (_, rss_before) = memory_kib();
    let t = Instant::now();
    let snap = tracker.load(&scope).await.expect("load");
    let took = t.elapsed();
    let (peak, rss_after) = memory_kib();
    assert_eq!(snap.records.len(), expected, "records loaded");
    assert!(snap.invalid.is_empty(), "{:?}", snap.invalid);
    println!(
        "{} records parsed, {} other apps' known by app, {} unread, in {:.2} s; peak RSS {:.0} MiB \
         (before the load {:.0} MiB, after {:.0} MiB)",
        snap.records.len(),
        snap.other_apps().count(),
        snap.unread,
        took.as_secs_f64(),
        peak as f64 / 1024.0,
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
    );
}
