//! Kafka REST v3 topics, driven with plain HTTP and checked against the real broker over the Kafka
//! protocol (`confluent-cloud-api.md` B, `kafkarest-v3-openapi.yaml`).

use std::time::Duration;

use reqwest::{header, Method, Response};
use serde_json::{json, Value};

use crate::support::{self, broker_topics, text, unique, wait_until, Sim};

async fn status_json(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = text(resp).await;
    let value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("a {status} answer is not JSON ({e}): {body}"));
    (status, value)
}

async fn call(sim: &Sim, method: Method, path: &str) -> (u16, Value) {
    status_json(sim.kafka_rest(method, path).send().await.expect("request")).await
}

fn assert_error(got: &(u16, Value), status: u16, error_code: u64, what: &str) {
    assert_eq!(got.0, status, "{what}: {}", got.1);
    assert_eq!(got.1["error_code"], json!(error_code), "{what}: {}", got.1);
    assert!(
        got.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: no message in {}",
        got.1
    );
}

/// The shape of a `KafkaTopic` (`confluent-cloud-api.md` B "Topic object").
fn assert_topic(sim: &Sim, t: &Value, name: &str, partitions: u64) {
    let cluster = &sim.sim.kafka_cluster_id;
    let me = format!("{}/kafka/v3/clusters/{cluster}/topics/{name}", sim.sim.url);
    assert_eq!(t["kind"], "KafkaTopic", "{t}");
    assert_eq!(t["metadata"]["self"], json!(me), "{t}");
    assert_eq!(
        t["metadata"]["resource_name"],
        json!(format!("crn:///kafka={cluster}/topic={name}")),
        "{t}"
    );
    assert_eq!(t["cluster_id"], json!(cluster), "{t}");
    assert_eq!(t["topic_name"], json!(name), "{t}");
    assert_eq!(t["is_internal"], false, "{t}");
    assert_eq!(t["partitions_count"], json!(partitions), "{t}");
    assert_eq!(t["replication_factor"], 1, "{t}");
    assert_eq!(
        t["partitions"]["related"],
        json!(format!("{me}/partitions")),
        "{t}"
    );
    assert_eq!(
        t["configs"]["related"],
        json!(format!("{me}/configs")),
        "{t}"
    );
}

async fn listed(sim: &Sim) -> Vec<Value> {
    let (status, body) = call(sim, Method::GET, "").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["kind"], "KafkaTopicList", "{body}");
    assert_eq!(
        body["metadata"]["self"],
        json!(format!(
            "{}/kafka/v3/clusters/{}/topics",
            sim.sim.url, sim.sim.kafka_cluster_id
        ))
    );
    body["data"].as_array().cloned().expect("data")
}

async fn wait_in_broker(sim: &Sim, topic: &str, present: bool) {
    let bootstrap = sim.stack.kafka_bootstrap_servers.clone();
    let what = format!(
        "topic {topic} to be {}",
        if present {
            "in the broker"
        } else {
            "gone from the broker"
        }
    );
    wait_until(&what, Duration::from_secs(15), || {
        let bootstrap = bootstrap.clone();
        let topic = topic.to_string();
        async move {
            let topics = tokio::task::spawn_blocking(move || broker_topics(&bootstrap))
                .await
                .expect("metadata task");
            (topics.contains(&topic) == present).then_some(())
        }
    })
    .await
}

#[tokio::test]
async fn topics_are_created_listed_and_deleted_in_the_broker() {
    let sim = support::start();
    let name = unique("rest-topic");

    let resp = sim
        .kafka_rest(Method::POST, "")
        .json(&json!({ "topic_name": name, "partitions_count": 3, "configs": [{ "name": "cleanup.policy", "value": "delete" }] }))
        .send()
        .await
        .expect("create");
    let ct = resp.headers().get(header::CONTENT_TYPE).cloned();
    let created = status_json(resp).await;
    assert_eq!(created.0, 201, "create: {}", created.1);
    assert_eq!(
        ct.as_ref().and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    assert_topic(&sim, &created.1, &name, 3);
    wait_in_broker(&sim, &name, true).await;

    let (status, got) = call(&sim, Method::GET, &format!("/{name}")).await;
    assert_eq!(status, 200, "{got}");
    assert_topic(&sim, &got, &name, 3);
    let all = listed(&sim).await;
    let mine: Vec<&Value> = all
        .iter()
        .filter(|t| t["topic_name"] == json!(name))
        .collect();
    assert_eq!(mine.len(), 1, "{all:?}");
    assert_topic(&sim, mine[0], &name, 3);

    let again = status_json(
        sim.kafka_rest(Method::POST, "")
            .json(&json!({ "topic_name": name, "partitions_count": 1 }))
            .send()
            .await
            .expect("create again"),
    )
    .await;
    assert_error(&again, 400, 40002, "creating an existing topic");

    let resp = sim
        .kafka_rest(Method::DELETE, &format!("/{name}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 204);
    assert_eq!(text(resp).await, "");
    wait_in_broker(&sim, &name, false).await;

    let gone = call(&sim, Method::GET, &format!("/{name}")).await;
    assert_error(&gone, 404, 40403, "GET of a deleted topic");
    assert_eq!(
        gone.1["message"],
        "This server does not host this topic-partition."
    );
    let again = call(&sim, Method::DELETE, &format!("/{name}")).await;
    assert_error(&again, 404, 40403, "DELETE of a deleted topic");
    assert!(!listed(&sim)
        .await
        .iter()
        .any(|t| t["topic_name"] == json!(name)));
}

#[tokio::test]
async fn create_validates_its_body() {
    let sim = support::start();
    let name = unique("rest-invalid");
    // Names Kafka's broker refuses (tansu would take them, so the simulator must check).
    let illegal = [
        String::new(),
        ".".to_string(),
        "..".to_string(),
        format!("{name} with spaces"),
        format!("{name}/slash"),
        format!("{name}-{}", "x".repeat(250)),
    ];
    let mut cases = vec![
        (
            "no topic_name".to_string(),
            json!({ "partitions_count": 1 }),
        ),
        (
            "zero partitions".to_string(),
            json!({ "topic_name": name, "partitions_count": 0 }),
        ),
    ];
    for n in &illegal {
        cases.push((
            format!("the illegal name {n:?}"),
            json!({ "topic_name": n, "partitions_count": 1 }),
        ));
        cases.push((
            format!("validate_only with the illegal name {n:?}"),
            json!({ "topic_name": n, "validate_only": true }),
        ));
    }
    for (what, body) in cases {
        let what = what.as_str();
        let got = status_json(
            sim.kafka_rest(Method::POST, "")
                .json(&body)
                .send()
                .await
                .expect("create"),
        )
        .await;
        assert_error(&got, 400, 40002, what);
    }
    // validate_only answers 200 with the topic it would create, and creates nothing.
    let (status, body) = status_json(
        sim.kafka_rest(Method::POST, "")
            .json(&json!({ "topic_name": name, "partitions_count": 2, "validate_only": true }))
            .send()
            .await
            .expect("validate"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_topic(&sim, &body, &name, 2);
    let topics = broker_topics(&sim.stack.kafka_bootstrap_servers);
    for n in illegal.iter().chain([&name]) {
        assert!(!topics.contains(n), "{n:?} reached the broker");
    }
}

#[tokio::test]
async fn an_unknown_cluster_is_404() {
    let sim = support::start();
    let base = format!("{}/kafka/v3/clusters/lkc-nope/topics", sim.sim.url);
    let key = &sim.sim.kafka_api_key;
    let secret = &sim.sim.kafka_api_secret;
    let requests = [
        ("list", sim.http.get(&base)),
        ("get", sim.http.get(format!("{base}/t"))),
        ("delete", sim.http.delete(format!("{base}/t"))),
        (
            "create",
            sim.http
                .post(&base)
                .json(&json!({ "topic_name": unique("rest-nope") })),
        ),
    ];
    for (what, req) in requests {
        let got = status_json(req.basic_auth(key, Some(secret)).send().await.expect(what)).await;
        assert_error(&got, 404, 404, what);
    }
}

#[tokio::test]
async fn auth_is_enforced_with_40101() {
    let sim = support::start();
    let url = format!(
        "{}/kafka/v3/clusters/{}/topics",
        sim.sim.url, sim.sim.kafka_cluster_id
    );
    let cases = [
        ("no credentials", sim.http.get(&url)),
        (
            "a wrong secret",
            sim.http
                .get(&url)
                .basic_auth(&sim.sim.kafka_api_key, Some("wrong")),
        ),
        (
            "the Schema Registry key",
            sim.http
                .get(&url)
                .basic_auth(&sim.sim.sr_api_key, Some(&sim.sim.sr_api_secret)),
        ),
        (
            "a delete without credentials",
            sim.http.delete(format!("{url}/whatever")),
        ),
    ];
    for (what, req) in cases {
        let resp = req.send().await.expect("request");
        assert!(
            resp.headers().contains_key(header::WWW_AUTHENTICATE),
            "{what}: no WWW-Authenticate"
        );
        let got = status_json(resp).await;
        assert_error(&got, 401, 40101, what);
    }
    // With the right key the same list works.
    listed(&sim).await;
}

#[tokio::test]
async fn a_table_created_through_flink_is_a_listed_topic() {
    let sim = support::start();
    let table = unique("rest-table");
    sim.run(
        &unique("ddl"),
        &format!("CREATE TABLE `{table}` (id INT, v STRING) DISTRIBUTED BY (id) INTO 4 BUCKETS"),
        "COMPLETED",
    )
    .await;
    let all = listed(&sim).await;
    let t = all
        .iter()
        .find(|t| t["topic_name"] == json!(table))
        .unwrap_or_else(|| panic!("{table} is not listed: {all:?}"));
    assert_topic(&sim, t, &table, 4);
    let (status, got) = call(&sim, Method::GET, &format!("/{table}")).await;
    assert_eq!(status, 200, "{got}");
    assert_topic(&sim, &got, &table, 4);

    // And DROP TABLE takes it away again.
    sim.run(
        &unique("drop"),
        &format!("DROP TABLE `{table}`"),
        "COMPLETED",
    )
    .await;
    assert_error(
        &call(&sim, Method::GET, &format!("/{table}")).await,
        404,
        40403,
        "GET of a dropped table's topic",
    );
}

#[tokio::test]
async fn a_table_whose_name_is_no_legal_topic_fails_and_creates_nothing() {
    let sim = support::start();
    let table = format!("{} with spaces", unique("rest-illegal"));
    let failed = sim
        .run(
            &unique("ddl-illegal"),
            &format!("CREATE TABLE `{table}` (id INT)"),
            "FAILED",
        )
        .await;
    let detail = failed["status"]["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("illegal"), "{failed}");
    assert!(!sim.topic_exists(&table), "{table:?} reached the broker");
    assert_eq!(sim.subjects().await, Vec::<String>::new());
}
