//! The simulated Kafka cluster is a real broker: topics are created, listed and deleted with the
//! Kafka admin protocol, so what the action sees through its own Kafka client is the truth.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

const OP_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("topic '{0}' already exists")]
    AlreadyExists(String),
    #[error("topic '{0}' does not exist")]
    NotFound(String),
    #[error("{0}")]
    IllegalName(String),
    #[error("broker: {0}")]
    Kafka(String),
}

/// A cheap-to-clone handle on the broker. Every call runs on the blocking pool because
/// librdkafka's metadata calls block.
#[derive(Clone)]
pub struct Broker {
    admin: Arc<AdminClient<DefaultClientContext>>,
    consumer: Arc<BaseConsumer>,
}

impl Broker {
    pub fn connect(bootstrap: &str) -> Result<Broker, BrokerError> {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", bootstrap)
            // Never let a metadata request create a topic as a side effect.
            .set("allow.auto.create.topics", "false")
            .set("group.id", "ccloud-sim-metadata")
            .set("enable.auto.commit", "false");
        let admin = cfg
            .create::<AdminClient<DefaultClientContext>>()
            .map_err(|e| BrokerError::Kafka(e.to_string()))?;
        let consumer = cfg
            .create::<BaseConsumer>()
            .map_err(|e| BrokerError::Kafka(e.to_string()))?;
        Ok(Broker {
            admin: Arc::new(admin),
            consumer: Arc::new(consumer),
        })
    }

    /// Every topic of the cluster (from a metadata request for all topics; naming one topic could
    /// auto-create it on brokers configured that way).
    pub async fn topics(&self) -> Result<BTreeMap<String, TopicInfo>, BrokerError> {
        let consumer = self.consumer.clone();
        blocking(move || {
            let md = consumer
                .fetch_metadata(None, OP_TIMEOUT)
                .map_err(|e| BrokerError::Kafka(e.to_string()))?;
            Ok(md
                .topics()
                .iter()
                .filter(|t| t.error().is_none())
                .map(|t| {
                    let rf = t
                        .partitions()
                        .first()
                        .map(|p| p.replicas().len() as i32)
                        .unwrap_or(0);
                    (
                        t.name().to_string(),
                        TopicInfo {
                            name: t.name().to_string(),
                            partitions: t.partitions().len() as i32,
                            replication_factor: rf,
                        },
                    )
                })
                .collect())
        })
        .await
    }

    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &[(String, String)],
    ) -> Result<(), BrokerError> {
        // Apache Kafka refuses illegal names; tansu creates them, so the check is done here for
        // Kafka REST and CREATE TABLE alike.
        legal_topic_name(name).map_err(BrokerError::IllegalName)?;
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
        for (k, v) in configs {
            topic = topic.set(k, v);
        }
        let opts = AdminOptions::new().operation_timeout(Some(OP_TIMEOUT));
        let results = self
            .admin
            .create_topics([&topic], &opts)
            .await
            .map_err(kafka_err)?;
        match results.into_iter().next() {
            Some(Ok(_)) | None => Ok(()),
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => {
                Err(BrokerError::AlreadyExists(name.to_string()))
            }
            Some(Err((_, code))) => Err(BrokerError::Kafka(format!(
                "creating topic '{name}' failed: {code}"
            ))),
        }
    }

    pub async fn delete_topic(&self, name: &str) -> Result<(), BrokerError> {
        let opts = AdminOptions::new().operation_timeout(Some(OP_TIMEOUT));
        let results = self
            .admin
            .delete_topics(&[name], &opts)
            .await
            .map_err(kafka_err)?;
        match results.into_iter().next() {
            Some(Ok(_)) | None => Ok(()),
            Some(Err((_, RDKafkaErrorCode::UnknownTopicOrPartition))) => {
                Err(BrokerError::NotFound(name.to_string()))
            }
            Some(Err((_, code))) => Err(BrokerError::Kafka(format!(
                "deleting topic '{name}' failed: {code}"
            ))),
        }
    }

    /// High watermark of each partition, for `status.latest_offsets` of a stopped statement.
    pub async fn high_watermarks(&self, topic: &str, partitions: i32) -> Vec<(i32, i64)> {
        let consumer = self.consumer.clone();
        let topic = topic.to_string();
        blocking(move || {
            Ok((0..partitions)
                .map(|p| {
                    let high = consumer
                        .fetch_watermarks(&topic, p, OP_TIMEOUT)
                        .map(|(_, h)| h)
                        .unwrap_or(0);
                    (p, high)
                })
                .collect())
        })
        .await
        .unwrap_or_default()
    }
}

/// Apache Kafka's rules for a topic name (`org.apache.kafka.common.internals.Topic.validate`).
pub fn legal_topic_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("Topic name is illegal, it can't be empty".into());
    }
    if name == "." || name == ".." {
        return Err(format!("Topic name cannot be \"{name}\""));
    }
    if name.len() > 249 {
        return Err(format!(
            "Topic name is illegal, it can't be longer than 249 characters, topic name: {name}"
        ));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return Err(format!("Topic name \"{name}\" is illegal, it contains a character other than ASCII alphanumerics, '.', '_' and '-'"));
    }
    Ok(())
}

fn kafka_err(e: KafkaError) -> BrokerError {
    BrokerError::Kafka(e.to_string())
}

async fn blocking<T, F>(f: F) -> Result<T, BrokerError>
where
    F: FnOnce() -> Result<T, BrokerError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BrokerError::Kafka(format!("broker task failed: {e}")))?
}
