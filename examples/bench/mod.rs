//! What the benchmarks share: the workspace's binaries, a generated app, a run of the action
//! against a private simulator, and the simulator's control endpoint.

// Each benchmark uses a part of what is here.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use test_support::PrivateSim;

pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name}: run `eval \"$(scripts/stack env)\"` first"))
}

/// A binary of the workspace, from the profile this example was built with.
pub fn binary(name: &str) -> PathBuf {
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

pub fn write_app(dir: &Path, app: &str, tag: &str, pairs: usize, jobs: usize) {
    std::fs::create_dir_all(dir.join("sql")).unwrap();
    let mut manifest = format!("app = \"{app}\"\n");
    let mut add = |name: &str, sql: String| {
        std::fs::write(dir.join(format!("sql/{name}.sql")), sql).unwrap();
        manifest.push_str(&format!(
            "\n[[statements]]\nname = \"{name}\"\nsql = \"sql/{name}.sql\"\n"
        ));
    };
    for i in 0..pairs {
        add(
            &format!("src-{i}"),
            format!("CREATE TABLE src_{tag}_{i} (id STRING, amount INT)"),
        );
        add(
            &format!("sink-{i}"),
            format!("CREATE TABLE sink_{tag}_{i} (id STRING, amount INT)"),
        );
    }
    for j in 0..jobs {
        let k = j % pairs;
        add(
            &format!("job-{j}"),
            format!("INSERT INTO sink_{tag}_{k} SELECT id, amount + {j} FROM src_{tag}_{k}"),
        );
    }
    std::fs::write(dir.join("ccaf-housekeeping.toml"), manifest).unwrap();
}

/// What one run took and asked.
pub struct Measured {
    pub took: Duration,
    pub report: serde_json::Value,
    /// CPU time of the action's process (user and system).
    pub cpu: Duration,
    /// The process's peak resident set size, in KiB.
    pub peak_rss_kib: u64,
}

pub fn housekeeping(
    bin: &Path,
    sim: &PrivateSim,
    dir: &Path,
    topic: &str,
    command: &str,
    concurrency: &str,
) -> Measured {
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
        ("--timeout", "20m".into()),
        ("--comment", "never".into()),
        ("--summary", "false".into()),
        ("--output", "json".into()),
    ];
    let mut cmd = Command::new(bin);
    // CCAF_BENCH_LOG=debug shows where a run spends its time (on stderr).
    let log = std::env::var("CCAF_BENCH_LOG").ok();
    cmd.arg(command)
        .current_dir(dir)
        .env("CCAF_LOG", log.as_deref().unwrap_or("warn"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (flag, value) in &args {
        cmd.arg(flag).arg(value);
    }
    let start = Instant::now();
    // Reaped by `wait_with_usage` (wait4), which clippy cannot see.
    #[allow(clippy::zombie_processes)]
    let mut child = cmd.spawn().expect("run ccaf-housekeeping");
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out = std::thread::spawn(move || {
        let mut b = Vec::new();
        stdout.read_to_end(&mut b).map(|_| b)
    });
    let err = std::thread::spawn(move || {
        let mut b = Vec::new();
        stderr.read_to_end(&mut b).map(|_| b)
    });
    let (status, usage) = wait_with_usage(child.id());
    let took = start.elapsed();
    let (stdout, stderr) = (
        out.join().unwrap().expect("stdout"),
        err.join().unwrap().expect("stderr"),
    );
    assert!(
        status == 0,
        "{command} failed ({status}): {}\n{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    );
    if log.is_some() {
        eprintln!("{}", String::from_utf8_lossy(&stderr));
    }
    let report = serde_json::from_slice(&stdout).expect("the JSON report on stdout");
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Measured {
        took,
        report,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        peak_rss_kib: usage.ru_maxrss as u64,
    }
}

/// Wait for the child `pid` and return its raw wait status and resource usage: `wait4`, since
/// std's `Child::wait` drops the usage and `getrusage(RUSAGE_CHILDREN)` mixes every child.
fn wait_with_usage(pid: u32) -> (i32, libc::rusage) {
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unwaited child; both pointers are to live locals.
        let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if r == pid as libc::pid_t {
            return (status, usage);
        }
        let e = std::io::Error::last_os_error();
        assert!(
            e.kind() == std::io::ErrorKind::Interrupted,
            "wait4({pid}): {e}"
        );
    }
}

/// One request to the simulator's control endpoint over a plain socket; the response body.
pub fn control_request(sim: &PrivateSim, method: &str, what: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let addr = sim.url.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} /_sim/{what} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 2"), "{resp}");
    resp.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

pub fn control(sim: &PrivateSim, what: &str, body: &str) {
    control_request(sim, "PUT", what, body);
}

/// The simulator's request log since it was last cleared, counted by API and kind.
pub fn requests_by_kind(sim: &PrivateSim) -> BTreeMap<(String, String), u64> {
    let log: serde_json::Value =
        serde_json::from_str(&control_request(sim, "GET", "requests", "")).expect("log JSON");
    let mut out = BTreeMap::new();
    for e in log["requests"].as_array().into_iter().flatten() {
        let api = e["api"].as_str().unwrap_or("?").to_string();
        let method = e["method"].as_str().unwrap_or("?");
        let path = e["path"].as_str().unwrap_or("");
        let query = e["query"].as_str().unwrap_or("");
        let kind = if e["fault"] == "rate_limit" {
            "429 (not served)".to_string()
        } else if api == "flink" && path.ends_with("/statements") && method == "GET" {
            if query.contains("label_selector") {
                "list (the watch)".into()
            } else {
                "list (snapshot, checks)".into()
            }
        } else if api == "flink" && path.ends_with("/statements") {
            format!("{method} a statement")
        } else if api == "flink" {
            format!("{method} one statement")
        } else {
            format!(
                "{method} {}",
                if path.contains("/versions") {
                    "versions"
                } else {
                    "subjects"
                }
            )
        };
        *out.entry((api, kind)).or_default() += 1;
    }
    out
}
