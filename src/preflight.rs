//! Before anything changes: each API a housekeeping command uses accepts its credentials, the
//! Kafka cluster can be reached, and the tracker topic, if it exists, is compacted. A refusal is
//! bad configuration (exit 2) naming the API, where the credential came from (input or secret),
//! and the permission it lacks; a service that is merely slow or failing is not (exit 1).

use crate::config::CredentialSource;
use crate::confluent::flink::{FlinkClient, FlinkError};
use crate::confluent::kafka::KafkaAdmin;
use crate::confluent::schema_registry::{SchemaRegistryClient, SchemaRegistryError};
use crate::http::ApiError;
use crate::input::ConfigError;

/// How long the first contact with the Kafka cluster may take.
const KAFKA_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What the checks look at.
pub struct Checks<'a> {
    pub flink: &'a FlinkClient,
    pub flink_source: &'a CredentialSource,
    pub environment_id: &'a str,
    pub registry: Option<(&'a SchemaRegistryClient, &'a CredentialSource)>,
    pub kafka: &'a KafkaAdmin,
    /// Where the Kafka connection's settings came from (`kafka-bootstrap-servers` or the
    /// Kafka secret).
    pub kafka_source: &'a CredentialSource,
    pub tracker_topic: &'a str,
}

/// Why the run may not start.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// The credentials or the configuration are wrong: exit 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The Flink API could not be asked (timeouts, 5xx): exit 1.
    #[error("checking the Flink API failed")]
    Flink(#[source] FlinkError),
    /// Schema Registry could not be asked: exit 1.
    #[error("checking Schema Registry failed")]
    SchemaRegistry(#[source] SchemaRegistryError),
}

/// What the checks learned on the way.
#[derive(Debug, Clone)]
pub struct Reached {
    /// The id of the Kafka cluster the connection reaches (`None`: it reports none).
    pub cluster_id: Option<String>,
}

/// Run every check, the three services at once; the first refusal in the order Flink, Schema
/// Registry, Kafka is the one reported, whatever answered first.
pub async fn check(c: &Checks<'_>) -> Result<Reached, PreflightError> {
    let registry = async {
        match c.registry {
            Some((registry, source)) => schema_registry(registry, source).await,
            None => Ok(()),
        }
    };
    let (flink, registry, kafka) = tokio::join!(flink(c), registry, kafka(c));
    flink?;
    registry?;
    kafka
}

async fn kafka(c: &Checks<'_>) -> Result<Reached, PreflightError> {
    // A cluster that answers at all answers a metadata request in well under this.
    let kafka = c.kafka.clone().with_request_timeout(KAFKA_TIMEOUT);
    // Both at once; a cluster that cannot be reached is the refusal named first.
    let (cluster_id, tracker) = tokio::join!(kafka.cluster_id(), tracker_topic(c));
    let cluster_id = cluster_id.map_err(|e| {
        refused(
            c.kafka_source,
            &format!("the Kafka cluster cannot be reached, or does not accept the API key: {e}"),
        )
    })?;
    tracker?;
    Ok(Reached { cluster_id })
}

async fn flink(c: &Checks<'_>) -> Result<(), PreflightError> {
    let source = c.flink_source;
    match c.flink.check_access().await {
        Ok(()) => Ok(()),
        Err(FlinkError::Api(ApiError::Status { status: 401, .. })) => Err(refused(
            source,
            "the Flink API does not accept the API key (HTTP 401): is it a Flink API key of this \
             environment's region?",
        )),
        Err(FlinkError::Api(ApiError::Status { status: 403, .. })) => Err(refused(
            source,
            &format!(
                "the Flink API key may not list statements in environment {} (HTTP 403): its \
                 principal needs the FlinkDeveloper role (or FlinkAdmin) there",
                c.environment_id
            ),
        )),
        Err(FlinkError::Api(ApiError::Status {
            status: 404,
            detail,
            ..
        })) => Err(ConfigError::input(
            "environment-id",
            format!("the Flink API knows no such organization or environment (HTTP 404): {detail}"),
        )
        .into()),
        Err(FlinkError::Api(e @ ApiError::Transport { .. })) => Err(ConfigError::input(
            "flink-endpoint",
            format!("the Flink API cannot be reached: {e}"),
        )
        .into()),
        Err(e) => Err(PreflightError::Flink(e)),
    }
}

async fn schema_registry(
    registry: &SchemaRegistryClient,
    source: &CredentialSource,
) -> Result<(), PreflightError> {
    // A prefix no subject has: the answer is small, the credentials are checked all the same.
    match registry
        .list_subjects(Some("ccaf-housekeeping-access-check-"))
        .await
    {
        Ok(_) => Ok(()),
        Err(SchemaRegistryError::Api(ApiError::Status { status: 401, .. })) => Err(refused(
            source,
            "Schema Registry does not accept the API key (HTTP 401): is it a key of this \
             registry?",
        )),
        Err(SchemaRegistryError::Api(ApiError::Status { status: 403, .. })) => Err(refused(
            source,
            "the Schema Registry API key may not read subjects (HTTP 403): its principal needs \
             DeveloperRead and DeveloperManage (or ResourceOwner) on the app's subjects",
        )),
        Err(SchemaRegistryError::Api(e @ ApiError::Transport { .. })) => Err(ConfigError::input(
            "schema-registry-url",
            format!("Schema Registry cannot be reached: {e}"),
        )
        .into()),
        Err(e) => Err(PreflightError::SchemaRegistry(e)),
    }
}

async fn tracker_topic(c: &Checks<'_>) -> Result<(), PreflightError> {
    let topic = c.tracker_topic;
    let exists = c.kafka.topic_exists(topic).await.map_err(|e| {
        refused(
            c.kafka_source,
            &format!("the Kafka cluster's topics cannot be listed: {e}"),
        )
    })?;
    if !exists {
        // Created compacted on the first write.
        return Ok(());
    }
    let policy = c
        .kafka
        .topic_config(topic, "cleanup.policy")
        .await
        .map_err(|e| {
            refused(
                c.kafka_source,
                &format!(
                    "the tracker topic's configuration cannot be read: the API key needs \
                     DESCRIBE_CONFIGS on topic `{topic}`: {e}"
                ),
            )
        })?;
    let compacted = policy
        .as_deref()
        .is_some_and(|p| p.split(',').any(|v| v.trim() == "compact"));
    if !compacted {
        return Err(ConfigError::input(
            "tracker-topic",
            format!(
                "topic `{topic}` has cleanup.policy={}: the tracker's records would expire; use \
                 a compacted topic (cleanup.policy=compact), or name another with tracker-topic",
                policy.as_deref().unwrap_or("(none)")
            ),
        )
        .into());
    }
    Ok(())
}

fn refused(source: &CredentialSource, why: &str) -> PreflightError {
    match source {
        CredentialSource::Input(input) => ConfigError::input(input, why.to_string()),
        CredentialSource::Secret { secret_id, input } => {
            ConfigError::input(input, format!("secret `{secret_id}`: {why}"))
        }
    }
    .into()
}
