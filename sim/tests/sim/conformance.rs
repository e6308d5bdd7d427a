//! Conformance with a client we did not write: Confluent's Python driver `confluent-sql` (PyPI),
//! unmodified, from the tools virtualenv, runs `tests/conformance/confluent_sql_conformance.py`
//! against a private simulator.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::{self, unique};

/// What the script prints last when every check passed (an early `exit 0` would not).
const DONE: &str = "conformance: all checks passed";

#[tokio::test]
async fn confluent_sql_creates_lists_stops_and_deletes_statements() {
    let sim = support::start();
    let venv = sim.stack.tools_venv.clone().expect(
        "CCAF_TOOLS_VENV is not set: the tools virtualenv (with confluent-sql) comes with \
         `scripts/stack up`; run the tests with scripts/test or eval \"$(scripts/stack env)\"",
    );
    let python = venv.join("bin").join("python");
    assert!(python.exists(), "{} does not exist", python.display());
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("conformance")
        .join("confluent_sql_conformance.py");
    let suffix = unique("c").trim_start_matches("c-").to_string();

    let mut cmd = tokio::process::Command::new(&python);
    cmd.arg(&script)
        // Only what the script needs: no proxy settings, no stack variables of another simulator.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("CONFORMANCE_ENDPOINT", &sim.sim.url)
        .env("CONFORMANCE_ORG_ID", &sim.sim.org_id)
        .env("CONFORMANCE_ENV_ID", &sim.sim.env_id)
        .env("CONFORMANCE_COMPUTE_POOL_ID", &sim.sim.compute_pool_id)
        .env("CONFORMANCE_DATABASE", &sim.sim.kafka_cluster_id)
        .env("CONFORMANCE_FLINK_API_KEY", &sim.sim.flink_api_key)
        .env("CONFORMANCE_FLINK_API_SECRET", &sim.sim.flink_api_secret)
        .env("CONFORMANCE_SUFFIX", &suffix)
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(240), cmd.output())
        .await
        .expect("the conformance script did not finish within 240 s")
        .unwrap_or_else(|e| panic!("running {}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(DONE),
        "confluent-sql conformance failed ({}):\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}",
        out.status
    );

    // The driver really went through the simulator's Flink API, authenticated, with every
    // operation the script names.
    let log = sim.requests().await;
    let flink: Vec<&Value> = log.iter().filter(|r| r["api"] == "flink").collect();
    assert!(
        flink.iter().all(|r| r["auth"] == "ok"),
        "unauthenticated driver requests: {flink:?}"
    );
    for (method, status) in [
        ("POST", 201),
        ("GET", 200),
        ("PATCH", 200),
        ("DELETE", 202),
        ("GET", 404),
    ] {
        assert!(
            flink
                .iter()
                .any(|r| r["method"] == method && r["status"] == status),
            "no {method} answered {status} in {flink:?}"
        );
    }
    // Its tables are real topics.
    for table in [format!("conf-src-{suffix}"), format!("conf-sink-{suffix}")] {
        assert!(sim.topic_exists(&table), "topic {table} is missing");
    }
}
