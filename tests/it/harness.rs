//! Running the real binary as the runner would: a temp workspace with a manifest and SQL files,
//! `INPUT_*` variables pointing at the stack (or a private simulator), `GITHUB_OUTPUT` and
//! `GITHUB_STEP_SUMMARY` files read back with the runner's rules.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;
use test_support::{unique, PrivateSim, SimOptions, StackEnv, TempDir};

pub const BIN: &str = env!("CARGO_BIN_EXE_ccaf-housekeeping");

/// Where the app's Confluent Cloud is: the stack's simulator or a private one. Clones share it.
#[derive(Clone)]
pub struct Cloud {
    pub url: String,
    /// The same APIs over HTTPS (its certificate signed by the stack's CA).
    pub https_url: Option<String>,
    pub org_id: String,
    pub env_id: String,
    pub env_name: String,
    pub cluster_id: String,
    pub cluster_name: String,
    pub pool: String,
    pub principal: String,
    pub flink: (String, String),
    pub sr: (String, String),
    pub control_url: String,
    /// Kept alive while an app uses it (dropping the last one stops the process).
    _private: Option<std::sync::Arc<PrivateSim>>,
}

impl Cloud {
    pub fn control(&self) -> SimControl {
        SimControl::new(&self.control_url)
    }

    /// Properties that resolve unqualified table names to this cloud's environment and cluster.
    pub fn catalog(&self) -> std::collections::BTreeMap<String, String> {
        [
            ("sql.current-catalog".to_string(), self.env_name.clone()),
            ("sql.current-database".to_string(), self.cluster_id.clone()),
        ]
        .into()
    }

    pub fn stack(stack: &StackEnv) -> Cloud {
        Cloud {
            url: stack.flink_url.clone(),
            https_url: Some(stack.flink_https_url.clone()),
            org_id: stack.org_id.clone(),
            env_id: stack.env_id.clone(),
            env_name: stack.env_name.clone(),
            cluster_id: stack.kafka_cluster_id.clone(),
            cluster_name: stack.kafka_cluster_name.clone(),
            pool: stack.compute_pool_id.clone(),
            principal: stack.principal_id.clone(),
            flink: (stack.flink_api_key.clone(), stack.flink_api_secret.clone()),
            sr: (stack.sr_api_key.clone(), stack.sr_api_secret.clone()),
            control_url: stack.control_url.clone(),
            _private: None,
        }
    }

    pub fn private(opts: SimOptions) -> Cloud {
        Cloud::of(private_sim(opts))
    }

    /// The cloud a simulator of the test's own stands for (e.g. one in front of a private broker).
    pub fn of(sim: PrivateSim) -> Cloud {
        Cloud {
            url: sim.url.clone(),
            https_url: sim.https_url.clone(),
            org_id: sim.org_id.clone(),
            env_id: sim.env_id.clone(),
            env_name: sim.env_name.clone(),
            cluster_id: sim.kafka_cluster_id.clone(),
            cluster_name: sim.kafka_cluster_name.clone(),
            pool: sim.compute_pool_id.clone(),
            principal: sim.principal_id.clone(),
            flink: (sim.flink_api_key.clone(), sim.flink_api_secret.clone()),
            sr: (sim.sr_api_key.clone(), sim.sr_api_secret.clone()),
            control_url: sim.control_url(),
            _private: Some(std::sync::Arc::new(sim)),
        }
    }
}

/// An app under test: its workspace, names and the cloud it lives in.
pub struct App {
    pub stack: StackEnv,
    pub cloud: Cloud,
    pub dir: TempDir,
    pub name: String,
    pub tracker_topic: String,
    /// Extra `INPUT_*` settings for every run.
    pub inputs: BTreeMap<String, String>,
}

/// One run of the binary.
pub struct Run {
    pub output: Output,
    pub outputs: BTreeMap<String, String>,
    pub summary: String,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The `report` output, parsed.
    pub fn report(&self) -> Value {
        let text = self.outputs.get("report").unwrap_or_else(|| {
            panic!(
                "no report output (exit {}):\nstdout:\n{}\nstderr:\n{}",
                self.code(),
                self.stdout(),
                self.stderr()
            )
        });
        serde_json::from_str(text).expect("the report output is JSON")
    }

    /// A JSON-array output as names.
    pub fn list(&self, output: &str) -> Vec<String> {
        let text = self.outputs.get(output).map(String::as_str).unwrap_or("[]");
        serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("output {output} is not a JSON array: {e}: {text}"))
    }

    /// Panics with the whole log unless the exit code is `code`.
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code(),
            code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }

    /// The report's steps with `action`, by name.
    pub fn steps(&self, action: &str) -> Vec<String> {
        let mut names: Vec<String> = self.report()["steps"]
            .as_array()
            .map(|steps| {
                steps
                    .iter()
                    .filter(|s| s["action"] == action)
                    .map(|s| s["name"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

impl App {
    pub fn new(prefix: &str) -> App {
        let stack = StackEnv::load();
        let cloud = Cloud::stack(&stack);
        App::in_cloud(prefix, stack, cloud)
    }

    pub fn in_cloud(prefix: &str, stack: StackEnv, cloud: Cloud) -> App {
        App {
            stack,
            cloud,
            dir: TempDir::new("ccaf-app"),
            name: unique(prefix),
            tracker_topic: unique("tracker"),
            inputs: BTreeMap::new(),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.0.join(rel)
    }

    /// Write the manifest: statements as (logical name, SQL), each SQL in its own file.
    pub fn write_manifest(&self, statements: &[(&str, &str)]) {
        std::fs::create_dir_all(self.path("sql")).expect("sql dir");
        let mut text = format!("app = \"{}\"\n", self.name);
        for (name, sql) in statements {
            std::fs::write(self.path(&format!("sql/{name}.sql")), sql).expect("sql file");
            text.push_str(&format!(
                "\n[[statements]]\nname = \"{name}\"\nsql = \"sql/{name}.sql\"\n"
            ));
        }
        std::fs::write(self.path("ccaf-housekeeping.toml"), text).expect("manifest");
    }

    /// The `INPUT_*` variables of a run against this app's cloud.
    pub fn env(&self) -> BTreeMap<String, String> {
        let c = &self.cloud;
        let mut e: BTreeMap<String, String> = [
            ("app", self.name.clone()),
            (
                "manifest",
                self.path("ccaf-housekeeping.toml").display().to_string(),
            ),
            ("flink-endpoint", c.url.clone()),
            ("flink-api-key", c.flink.0.clone()),
            ("flink-api-secret", c.flink.1.clone()),
            ("organization-id", c.org_id.clone()),
            ("environment-id", c.env_id.clone()),
            ("compute-pool-id", c.pool.clone()),
            ("principal-id", c.principal.clone()),
            ("catalog", c.env_name.clone()),
            ("database", c.cluster_id.clone()),
            (
                "kafka-bootstrap-servers",
                self.stack.kafka_bootstrap_servers.clone(),
            ),
            ("kafka-security-protocol", "PLAINTEXT".into()),
            ("schema-registry-url", c.url.clone()),
            ("schema-registry-api-key", c.sr.0.clone()),
            ("schema-registry-api-secret", c.sr.1.clone()),
            ("tracker-topic", self.tracker_topic.clone()),
            ("timeout", "60s".into()),
            ("comment", "never".into()),
        ]
        .into_iter()
        .map(|(k, v)| (input(k), v))
        .collect();
        for (k, v) in &self.inputs {
            e.insert(input(k), v.clone());
        }
        e
    }

    /// Run `command` as the action would (inputs in the environment, no arguments).
    pub fn run(&self, command: &str, extra: &[(&str, &str)]) -> Run {
        self.run_with(command, extra, &[])
    }

    /// Like [`App::run`], with more variables in the environment (the runner's `GITHUB_*`).
    pub fn run_with(&self, command: &str, extra: &[(&str, &str)], env: &[(String, String)]) -> Run {
        self.start(command, extra, env).finish()
    }

    /// The run started, its stdout and stderr going to files (tests read them while it runs).
    pub fn start(
        &self,
        command: &str,
        extra: &[(&str, &str)],
        env: &[(String, String)],
    ) -> Started {
        let mut cmd = self.command(command, extra);
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        let file = |what: &str| self.path(&format!("{what}-{}", unique("run")));
        let (out_file, summary_file) = (file("output"), file("summary"));
        let (stdout_file, stderr_file) = (file("stdout"), file("stderr"));
        let create = |p: &PathBuf| std::fs::File::create(p).expect("a log file");
        cmd.env("GITHUB_OUTPUT", &out_file)
            .env("GITHUB_STEP_SUMMARY", &summary_file)
            .stdout(create(&stdout_file))
            .stderr(create(&stderr_file));
        Started {
            child: cmd.spawn().expect("starting ccaf-housekeeping"),
            out_file,
            summary_file,
            stdout_file,
            stderr_file,
        }
    }

    /// The command, not started (for tests that kill it).
    pub fn command(&self, command: &str, extra: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            .env("GITHUB_WORKSPACE", &self.dir.0)
            .current_dir(&self.dir.0)
            .env(input("command"), command);
        for (k, v) in self.env() {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(input(k), v);
        }
        cmd
    }
}

/// A run in progress.
pub struct Started {
    pub child: std::process::Child,
    out_file: PathBuf,
    summary_file: PathBuf,
    stdout_file: PathBuf,
    stderr_file: PathBuf,
}

impl Started {
    /// Send `sig` (`-TERM`, `-INT`, `-STOP`, …) to the run.
    pub fn signal(&self, sig: &str) {
        signal(self.child.id(), sig);
    }

    /// What the run has written to stderr so far.
    pub fn stderr_so_far(&self) -> String {
        std::fs::read_to_string(&self.stderr_file).unwrap_or_default()
    }

    /// What the run has written to stdout so far.
    pub fn stdout_so_far(&self) -> String {
        std::fs::read_to_string(&self.stdout_file).unwrap_or_default()
    }

    /// Whether the run is still going.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Wait for the run to end; its exit, output and files.
    pub fn finish(mut self) -> Run {
        let status = self.child.wait().expect("waiting for ccaf-housekeeping");
        let read = |p: &PathBuf| std::fs::read(p).unwrap_or_default();
        let output = Output {
            status,
            stdout: read(&self.stdout_file),
            stderr: read(&self.stderr_file),
        };
        let outputs = std::fs::read_to_string(&self.out_file)
            .map(|t| {
                crate::github_support::parse_runner_file(&t)
                    .expect("GITHUB_OUTPUT follows the runner's format")
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default();
        let summary = std::fs::read_to_string(&self.summary_file).unwrap_or_default();
        Run {
            output,
            outputs,
            summary,
        }
    }
}

/// Send a signal with `kill`.
pub fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill")
        .success();
    assert!(ok, "kill {sig} {pid}");
}

/// `INPUT_<NAME>`: upper-cased, hyphens kept, as the runner does.
pub fn input(name: &str) -> String {
    format!("INPUT_{}", name.to_uppercase().replace(' ', "_"))
}

/// Unique table names for one app: source, sink (with a key), and a CTAS rollup.
pub struct Tables {
    pub src: String,
    pub sink: String,
    pub rollup: String,
}

impl Tables {
    pub fn new() -> Tables {
        let t = |p: &str| unique(p).replace('-', "_");
        Tables {
            src: t("src"),
            sink: t("sink"),
            rollup: t("rollup"),
        }
    }

    pub fn all(&self) -> [&str; 3] {
        [&self.src, &self.sink, &self.rollup]
    }

    pub fn statements(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "src",
                format!("CREATE TABLE {} (id STRING, amount INT)", self.src),
            ),
            (
                "sink",
                format!(
                    "CREATE TABLE {} (id STRING, amount INT, PRIMARY KEY (id) NOT ENFORCED)",
                    self.sink
                ),
            ),
            (
                "job",
                format!(
                    "INSERT INTO {} SELECT id, amount FROM {}",
                    self.sink, self.src
                ),
            ),
            (
                "rollup",
                format!(
                    "CREATE TABLE {} AS SELECT id, amount FROM {}",
                    self.rollup, self.sink
                ),
            ),
        ]
    }
}

/// Write a manifest of (logical name, SQL) pairs.
pub fn write(app: &App, statements: &[(&'static str, String)]) {
    let refs: Vec<(&str, &str)> = statements.iter().map(|(n, s)| (*n, s.as_str())).collect();
    app.write_manifest(&refs);
}

/// The simulator's `/_sim` control endpoint and request log.
pub(crate) struct SimControl {
    url: String,
    http: reqwest::Client,
}

impl SimControl {
    pub(crate) fn new(control_url: &str) -> SimControl {
        ccaf_housekeeping::confluent::install_crypto_provider();
        SimControl {
            url: control_url.trim_end_matches('/').to_string(),
            http: reqwest::Client::new(),
        }
    }

    pub(crate) async fn set_faults(&self, faults: Value) {
        let resp = self
            .http
            .put(format!("{}/faults", self.url))
            .json(&faults)
            .send()
            .await
            .expect("PUT /_sim/faults");
        assert!(
            resp.status().is_success(),
            "PUT /_sim/faults: {}",
            resp.status()
        );
    }

    pub(crate) async fn set_timings(&self, timings: Value) {
        let resp = self
            .http
            .put(format!("{}/timings", self.url))
            .json(&timings)
            .send()
            .await
            .expect("PUT /_sim/timings");
        assert!(
            resp.status().is_success(),
            "PUT /_sim/timings: {}",
            resp.status()
        );
    }

    /// `PUT /_sim/behaviour`: how label patches are treated, the compute pool's capacity.
    pub(crate) async fn set_behaviour(&self, behaviour: Value) {
        let resp = self
            .http
            .put(format!("{}/behaviour", self.url))
            .json(&behaviour)
            .send()
            .await
            .expect("PUT /_sim/behaviour");
        assert!(
            resp.status().is_success(),
            "PUT /_sim/behaviour: {}",
            resp.status()
        );
    }

    /// A Flink API key of a principal whose role is scoped to the compute pool (a missing
    /// statement answers 403 to it): `(key, secret)`.
    pub(crate) async fn pool_scoped_key(&self) -> (String, String) {
        let v: Value = self
            .http
            .post(format!("{}/keys", self.url))
            .json(&serde_json::json!({ "scope": "compute-pool" }))
            .send()
            .await
            .expect("POST /_sim/keys")
            .json()
            .await
            .expect("key is JSON");
        (
            v["key"].as_str().expect("key").to_string(),
            v["secret"].as_str().expect("secret").to_string(),
        )
    }

    /// Every statement as the simulator holds it now (no list lag): name → `{phase, uid,
    /// labels, scaling_state}`.
    pub(crate) async fn statements(&self) -> BTreeMap<String, Value> {
        let v: Value = self
            .http
            .get(format!("{}/statements", self.url))
            .send()
            .await
            .expect("GET /_sim/statements")
            .json()
            .await
            .expect("statements are JSON");
        v["statements"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s["name"].as_str().unwrap_or_default().to_string(), s))
            .collect()
    }

    /// The request log (`seq`, `at_ms`, `method`, `path`, `query`, `host`, `status`, `auth`,
    /// `fault`), oldest first.
    pub(crate) async fn requests(&self) -> Vec<Value> {
        let v: Value = self
            .http
            .get(format!("{}/requests", self.url))
            .send()
            .await
            .expect("GET /_sim/requests")
            .json()
            .await
            .expect("request log is JSON");
        v["requests"].as_array().cloned().unwrap_or_default()
    }

    /// Panics unless at least `min` requests were answered with the injected `fault`; returns
    /// how many were.
    pub(crate) async fn assert_injected(&self, fault: &str, min: usize) -> usize {
        let log = self.requests().await;
        let n = log.iter().filter(|e| e["fault"] == fault).count();
        eprintln!(
            "{} requests, {n} answered with an injected {fault}",
            log.len()
        );
        assert!(
            n >= min,
            "the {fault} fault was not applied: {n} of {}",
            log.len()
        );
        n
    }

    /// Keep the materialized table `name` busy (ALTERING, "being modified" by another
    /// statement) for `ms` milliseconds from now.
    pub(crate) async fn hold_materialized(&self, name: &str, ms: u64) {
        let resp = self
            .http
            .post(format!(
                "{}/materialized-tables/{name}/hold?ms={ms}",
                self.url
            ))
            .send()
            .await
            .expect("POST /_sim/materialized-tables/…/hold");
        assert!(resp.status().is_success(), "hold {name}: {}", resp.status());
    }

    pub(crate) async fn clear_requests(&self) {
        self.http
            .delete(format!("{}/requests", self.url))
            .send()
            .await
            .expect("DELETE /_sim/requests");
    }
}

/// Run one statement as another team (or a person) would, outside the action: create it and
/// wait until it settles; a table created right after its drop fails "try again later" for a
/// while (§F.5), so that is tried again under a new name, as a person would. Returns the
/// statement as it settled.
pub(crate) async fn run_statement(
    flink: &ccaf_housekeeping::confluent::flink::FlinkClient,
    name: &str,
    sql: &str,
    properties: &BTreeMap<String, String>,
) -> ccaf_housekeeping::confluent::flink::Statement {
    use ccaf_housekeeping::confluent::flink::{is_settled, NewStatement};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    for attempt in 0.. {
        let name = if attempt == 0 {
            name.to_string()
        } else {
            format!("{name}-{attempt}")
        };
        flink
            .create(&NewStatement {
                name: name.clone(),
                sql: sql.to_string(),
                properties: properties.clone(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("creating {name}: {e}"));
        let done = flink
            .watch()
            .wait_until(&name, is_settled, std::time::Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("waiting for {name}: {e}"));
        let last = done
            .last
            .unwrap_or_else(|| panic!("{name} disappeared while starting"));
        let retry = last
            .status
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("try again later"));
        if !retry || std::time::Instant::now() > deadline {
            return last;
        }
        let _ = flink.delete(&name).await;
        tokio::time::sleep(std::time::Duration::from_millis(200 << attempt.min(4))).await;
    }
    unreachable!("the loop returns")
}

/// A simulator of the test's own in front of the stack's broker: its tables live in the
/// broker's cluster (the stack's cluster id) unless the options say otherwise.
pub(crate) fn private_sim(mut opts: SimOptions) -> PrivateSim {
    let env = StackEnv::load();
    let bin = env
        .sim_bin
        .expect("CCLOUD_SIM_BIN is not set: start the stack with scripts/stack up");
    opts.kafka_cluster_id
        .get_or_insert_with(|| env.kafka_cluster_id.clone());
    PrivateSim::spawn(&bin, &env.kafka_bootstrap_servers, opts)
}

// ---- looking at the cloud, the broker and the tracker directly ----

use ccaf_housekeeping::confluent::flink::{FlinkClient, FlinkConfig};
use ccaf_housekeeping::confluent::http::{Credentials, RetryPolicy};
use ccaf_housekeeping::confluent::kafka::{KafkaAdmin, KafkaConfig};
use ccaf_housekeeping::confluent::schema_registry::SchemaRegistryClient;
use ccaf_housekeeping::tracker::{Record, Scope, Tracker};

impl App {
    pub fn flink(&self) -> FlinkClient {
        test_support::install_crypto_provider();
        FlinkClient::new(FlinkConfig {
            endpoint: self.cloud.url.clone(),
            organization_id: self.cloud.org_id.clone(),
            environment_id: self.cloud.env_id.clone(),
            credentials: Credentials::new(&self.cloud.flink.0, &self.cloud.flink.1),
            retry: RetryPolicy::default(),
        })
        .expect("flink client")
    }

    /// Live statements whose name starts with `prefix`, name → phase.
    pub async fn live(&self, prefix: &str) -> BTreeMap<String, String> {
        // What the simulator holds now: the list lags (a new statement shows late, a phase
        // change too, a deleted one lingers), and a test checks where a run left the cloud.
        self.cloud
            .control()
            .statements()
            .await
            .into_iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(name, s)| (name, s["phase"].as_str().unwrap_or_default().to_string()))
            .collect()
    }

    /// Every name the statement list shows, read raw (one page of 100), as the service sends
    /// it: deleted statements included while the list lags.
    pub async fn listed_names(&self) -> Vec<String> {
        test_support::install_crypto_provider();
        let url = format!(
            "{}/sql/v1/organizations/{}/environments/{}/statements?page_size=100",
            self.cloud.url, self.cloud.org_id, self.cloud.env_id
        );
        let v: Value = reqwest::Client::new()
            .get(url)
            .basic_auth(&self.cloud.flink.0, Some(&self.cloud.flink.1))
            .send()
            .await
            .expect("list statements")
            .json()
            .await
            .expect("a statement list");
        v["data"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|s| s["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Live statements of this app (their names start with the app's name).
    pub async fn app_statements(&self) -> BTreeMap<String, String> {
        self.live(&format!("{}-", self.name)).await
    }

    pub async fn sql_of(&self, name: &str) -> Option<String> {
        self.flink()
            .get(name)
            .await
            .expect("get statement")
            .map(|s| s.sql().to_string())
    }

    pub async fn subjects(&self) -> Vec<String> {
        test_support::install_crypto_provider();
        SchemaRegistryClient::new(
            &self.cloud.url,
            &Credentials::new(&self.cloud.sr.0, &self.cloud.sr.1),
            RetryPolicy::default(),
        )
        .expect("registry client")
        .list_subjects(None)
        .await
        .expect("subjects")
    }

    pub async fn topic_exists(&self, topic: &str) -> bool {
        KafkaAdmin::connect(&KafkaConfig::plaintext(&self.stack.kafka_bootstrap_servers))
            .expect("admin")
            .topic_exists(topic)
            .await
            .expect("metadata")
    }

    /// The topic's id, `None` when the topic does not exist.
    pub async fn topic_id(&self, topic: &str) -> Option<String> {
        KafkaAdmin::connect(&KafkaConfig::plaintext(&self.stack.kafka_bootstrap_servers))
            .expect("admin")
            .topic_ids(&[topic.to_string()])
            .await
            .expect("topic ids")
            .remove(topic)
            .flatten()
    }

    /// The materialized table `name` of the app's cluster, as the resource shows it.
    pub async fn materialized(
        &self,
        name: &str,
    ) -> Option<ccaf_housekeeping::confluent::materialized::MaterializedTable> {
        self.flink()
            .get_materialized(&self.cloud.cluster_id, name)
            .await
            .expect("GET the materialized table")
    }

    /// The app's statements, the topics and subjects of `tables` are gone, and the tracker
    /// says every statement is torn down.
    pub async fn assert_torn_down(&self, tables: &[String]) {
        assert!(self.app_statements().await.is_empty(), "statements left");
        for t in tables {
            assert!(!self.topic_exists(t).await, "topic {t} left");
        }
        let subjects = self.subjects().await;
        assert!(
            !subjects
                .iter()
                .any(|s| tables.iter().any(|t| s.starts_with(t.as_str()))),
            "subjects left: {subjects:?}"
        );
        let records = self.records().await;
        assert!(
            records
                .values()
                .all(|r| r.state == ccaf_housekeeping::tracker::State::TornDown),
            "{records:#?}"
        );
    }

    /// This app's tracker records, by statement name.
    pub async fn records(&self) -> BTreeMap<String, Record> {
        let t = Tracker::open(
            &KafkaConfig::plaintext(&self.stack.kafka_bootstrap_servers),
            &self.tracker_topic,
            ccaf_housekeeping::tracker::TrackerKey::unprotected(),
        )
        .await
        .expect("tracker");
        t.load(&Scope::app(&self.cloud.env_id, &self.name))
            .await
            .expect("load tracker")
            .list(Some(&self.cloud.env_id), Some(&self.name))
            .into_iter()
            .map(|r| (r.statement_name.clone(), r.clone()))
            .collect()
    }
}
