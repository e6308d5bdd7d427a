//! Kafka REST v3 topics (`kafkarest-v3-openapi.yaml`), backed by the real broker: peer tools
//! delete topics this way, and what they do must be visible to a Kafka client.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::broker::{BrokerError, TopicInfo};
use crate::http::{json_response, kafka_error, parse_json};
use crate::Sim;

pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route(
            "/kafka/v3/clusters/{cluster_id}/topics",
            get(list_topics).post(create_topic),
        )
        .route(
            "/kafka/v3/clusters/{cluster_id}/topics/{topic_name}",
            get(get_topic).delete(delete_topic),
        )
}

fn unknown_cluster() -> Response {
    kafka_error(StatusCode::NOT_FOUND, 404, "HTTP 404 Not Found")
}

fn unknown_topic() -> Response {
    kafka_error(
        StatusCode::NOT_FOUND,
        40403,
        "This server does not host this topic-partition.",
    )
}

fn broker_failure(e: BrokerError) -> Response {
    kafka_error(StatusCode::INTERNAL_SERVER_ERROR, 50003, &e.to_string())
}

fn topic_body(sim: &Sim, t: &TopicInfo) -> Value {
    let cluster = &sim.cfg.kafka_cluster_id;
    let me = format!(
        "{}/kafka/v3/clusters/{cluster}/topics/{}",
        sim.base_url(),
        t.name
    );
    json!({
        "kind": "KafkaTopic",
        "metadata": {
            "self": me,
            "resource_name": format!("crn:///kafka={cluster}/topic={}", t.name),
        },
        "cluster_id": cluster,
        "topic_name": t.name,
        "is_internal": t.name.starts_with("__") || t.name.starts_with('_'),
        "replication_factor": t.replication_factor,
        "partitions_count": t.partitions,
        "partitions": { "related": format!("{me}/partitions") },
        "configs": { "related": format!("{me}/configs") },
        "partition_reassignments": { "related": format!("{me}/partitions/-/reassignment") },
    })
}

async fn list_topics(State(sim): State<Arc<Sim>>, Path(cluster): Path<String>) -> Response {
    if cluster != sim.cfg.kafka_cluster_id {
        return unknown_cluster();
    }
    match sim.broker.topics().await {
        Ok(topics) => {
            let mut listed: Vec<_> = topics.values().collect();
            listed.sort_by(|a, b| {
                crate::http::list_key(&a.name).cmp(&crate::http::list_key(&b.name))
            });
            let data: Vec<Value> = listed.into_iter().map(|t| topic_body(&sim, t)).collect();
            let body = json!({
                "kind": "KafkaTopicList",
                "metadata": {
                    "self": format!("{}/kafka/v3/clusters/{cluster}/topics", sim.base_url()),
                    "next": null,
                },
                "data": data,
            });
            json_response(StatusCode::OK, "application/json", &body)
        }
        Err(e) => broker_failure(e),
    }
}

async fn get_topic(
    State(sim): State<Arc<Sim>>,
    Path((cluster, topic)): Path<(String, String)>,
) -> Response {
    if cluster != sim.cfg.kafka_cluster_id {
        return unknown_cluster();
    }
    match sim.broker.topics().await {
        Ok(topics) => match topics.get(&topic) {
            Some(t) => json_response(StatusCode::OK, "application/json", &topic_body(&sim, t)),
            None => unknown_topic(),
        },
        Err(e) => broker_failure(e),
    }
}

#[derive(Deserialize)]
struct CreateBody {
    topic_name: String,
    partitions_count: Option<i32>,
    #[allow(dead_code)] // accepted and ignored: the simulated cluster has one broker
    replication_factor: Option<i32>,
    #[serde(default)]
    configs: Vec<ConfigEntry>,
    #[serde(default)]
    validate_only: bool,
}

#[derive(Deserialize)]
struct ConfigEntry {
    name: String,
    value: Option<String>,
}

async fn create_topic(
    State(sim): State<Arc<Sim>>,
    Path(cluster): Path<String>,
    body: Bytes,
) -> Response {
    if cluster != sim.cfg.kafka_cluster_id {
        return unknown_cluster();
    }
    let req: CreateBody = match parse_json(&body)
        .and_then(|v| serde_json::from_value(v).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => return kafka_error(StatusCode::BAD_REQUEST, 40002, &e),
    };
    // Kafka's broker refuses illegal names (InvalidTopicException → 400/40002 from Kafka REST);
    // checked before `validate_only` too.
    if let Err(why) = crate::broker::legal_topic_name(&req.topic_name) {
        return kafka_error(StatusCode::BAD_REQUEST, 40002, &why);
    }
    let partitions = req.partitions_count.unwrap_or(6);
    if partitions < 1 {
        return kafka_error(
            StatusCode::BAD_REQUEST,
            40002,
            "Number of partitions must be larger than 0.",
        );
    }
    let configs: Vec<(String, String)> = req
        .configs
        .into_iter()
        .filter_map(|c| c.value.map(|v| (c.name, v)))
        .collect();
    let info = TopicInfo {
        name: req.topic_name.clone(),
        partitions,
        replication_factor: 1,
    };
    if req.validate_only {
        return json_response(StatusCode::OK, "application/json", &topic_body(&sim, &info));
    }
    match sim
        .broker
        .create_topic(&req.topic_name, partitions, &configs)
        .await
    {
        Ok(()) => json_response(
            StatusCode::CREATED,
            "application/json",
            &topic_body(&sim, &info),
        ),
        Err(BrokerError::AlreadyExists(n)) => kafka_error(
            StatusCode::BAD_REQUEST,
            40002,
            &format!("Topic '{n}' already exists."),
        ),
        Err(BrokerError::IllegalName(why)) => kafka_error(StatusCode::BAD_REQUEST, 40002, &why),
        Err(e) => broker_failure(e),
    }
}

async fn delete_topic(
    State(sim): State<Arc<Sim>>,
    Path((cluster, topic)): Path<(String, String)>,
) -> Response {
    if cluster != sim.cfg.kafka_cluster_id {
        return unknown_cluster();
    }
    match sim.broker.delete_topic(&topic).await {
        Ok(()) => {
            sim.table_gone(&topic);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(BrokerError::NotFound(_)) => unknown_topic(),
        Err(e) => broker_failure(e),
    }
}
