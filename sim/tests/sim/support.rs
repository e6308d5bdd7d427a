//! A private simulator per test, and thin HTTP helpers for its three APIs.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
pub use test_support::{unique, wait_until, PrivateSim, SimOptions, StackEnv};

pub struct Sim {
    pub sim: PrivateSim,
    pub http: reqwest::Client,
    pub stack: StackEnv,
}

pub fn start() -> Sim {
    start_with(SimOptions::default())
}

pub fn start_with(opts: SimOptions) -> Sim {
    test_support::install_crypto_provider();
    let stack = StackEnv::load();
    let sim = PrivateSim::spawn(
        std::path::Path::new(env!("CARGO_BIN_EXE_ccloud-sim")),
        &stack.kafka_bootstrap_servers,
        opts,
    );
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client");
    Sim { sim, http, stack }
}

impl Sim {
    pub fn flink(&self, method: Method, path: &str) -> RequestBuilder {
        let url = if path.is_empty() {
            self.sim.statements_url()
        } else {
            format!("{}/{path}", self.sim.statements_url())
        };
        self.http
            .request(method, url)
            .basic_auth(&self.sim.flink_api_key, Some(&self.sim.flink_api_secret))
    }

    pub fn sr(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.sim.url))
            .basic_auth(&self.sim.sr_api_key, Some(&self.sim.sr_api_secret))
    }

    pub fn kafka_rest(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(
                method,
                format!(
                    "{}/kafka/v3/clusters/{}/topics{path}",
                    self.sim.url, self.sim.kafka_cluster_id
                ),
            )
            .basic_auth(&self.sim.kafka_api_key, Some(&self.sim.kafka_api_secret))
    }

    pub fn control(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.sim.control_url()))
    }

    /// `sql.current-catalog` / `sql.current-database` naming this simulator's environment and
    /// cluster by id.
    pub fn props(&self) -> Value {
        json!({
            "sql.current-catalog": self.sim.env_id,
            "sql.current-database": self.sim.kafka_cluster_id,
        })
    }

    /// Create a statement; panics unless the API answers 201.
    pub async fn create(&self, name: &str, sql: &str) -> Value {
        let resp = self
            .flink(Method::POST, "")
            .json(
                &json!({ "name": name, "spec": { "statement": sql, "properties": self.props() } }),
            )
            .send()
            .await
            .expect("create request");
        assert_eq!(resp.status(), 201, "create {name}: {}", text(resp).await);
        json_of(resp).await
    }

    pub async fn get(&self, name: &str) -> Option<Value> {
        let resp = self.flink(Method::GET, name).send().await.expect("get");
        match resp.status().as_u16() {
            200 => Some(json_of(resp).await),
            404 => None,
            s => panic!("GET {name}: {s} {}", text(resp).await),
        }
    }

    pub async fn phase(&self, name: &str) -> Option<String> {
        self.get(name).await.map(|v| {
            v["status"]["phase"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
    }

    /// Wait until the statement is in `phase`; returns the statement.
    pub async fn wait_phase(&self, name: &str, phase: &str) -> Value {
        wait_until(
            &format!("{name} to be {phase}"),
            Duration::from_secs(20),
            || async {
                self.get(name)
                    .await
                    .filter(|v| v["status"]["phase"] == phase)
            },
        )
        .await
    }

    pub async fn wait_gone(&self, name: &str) {
        wait_until(
            &format!("{name} to be gone"),
            Duration::from_secs(20),
            || async { self.get(name).await.is_none().then_some(()) },
        )
        .await
    }

    /// Create a statement and wait for it to settle in `phase`.
    pub async fn run(&self, name: &str, sql: &str, phase: &str) -> Value {
        self.create(name, sql).await;
        self.wait_phase(name, phase).await
    }

    /// The names and phases the list shows now, one page of 100 (the list lags the service).
    pub async fn listed(&self) -> Vec<(String, String)> {
        let resp = self
            .flink(Method::GET, "")
            .query(&[("page_size", "100")])
            .send()
            .await
            .expect("list");
        json_of(resp).await["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|d| {
                (
                    d["name"].as_str().unwrap_or_default().to_string(),
                    d["status"]["phase"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                )
            })
            .collect()
    }

    pub async fn subjects(&self) -> Vec<String> {
        let resp = self
            .sr(Method::GET, "/subjects")
            .send()
            .await
            .expect("subjects");
        assert_eq!(resp.status(), 200);
        serde_json::from_value(json_of(resp).await).expect("subject list")
    }

    pub async fn set_faults(&self, faults: Value) {
        let resp = self
            .control(Method::PUT, "/faults")
            .json(&faults)
            .send()
            .await
            .expect("faults");
        assert_eq!(resp.status(), 200, "{}", text(resp).await);
    }

    pub async fn set_timings(&self, timings: Value) {
        let resp = self
            .control(Method::PUT, "/timings")
            .json(&timings)
            .send()
            .await
            .expect("timings");
        assert_eq!(resp.status(), 200, "{}", text(resp).await);
    }

    /// The simulator's request log (API requests only).
    pub async fn requests(&self) -> Vec<Value> {
        let resp = self
            .control(Method::GET, "/requests")
            .send()
            .await
            .expect("log");
        let v = json_of(resp).await;
        v["requests"].as_array().cloned().unwrap_or_default()
    }

    /// Whether the topic exists in the broker, from the full metadata.
    pub fn topic_exists(&self, topic: &str) -> bool {
        broker_topics(&self.stack.kafka_bootstrap_servers).contains(&topic.to_string())
    }
}

/// Every topic in the broker, asked over the Kafka protocol (not through the simulator).
pub fn broker_topics(bootstrap: &str) -> Vec<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("allow.auto.create.topics", "false")
        .create()
        .expect("consumer");
    let md = consumer
        .fetch_metadata(None, Duration::from_secs(10))
        .expect("metadata");
    md.topics().iter().map(|t| t.name().to_string()).collect()
}

pub async fn json_of(resp: Response) -> Value {
    resp.json().await.expect("JSON body")
}

pub async fn text(resp: Response) -> String {
    resp.text().await.unwrap_or_default()
}
