//! Kafka: connection settings (SASL_SSL + PLAIN with an API key for Confluent Cloud, PLAINTEXT
//! for the local stack) and an admin client that creates and deletes topics.
//!
//! Whether a topic exists is always judged from the metadata of *all* topics: a metadata request
//! naming one topic re-creates it on brokers with `auto.create.topics.enable=true`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use crate::http::limit::{Answered, Api, ApiUsage, Concurrency, Limiter};
use crate::secret::Secret;

/// How long one admin or metadata request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The `kafka-security-protocol` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityProtocol {
    Plaintext,
    SaslSsl,
}

impl SecurityProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SecurityProtocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Ok(SecurityProtocol::Plaintext),
            "SASL_SSL" => Ok(SecurityProtocol::SaslSsl),
            _ => Err(format!(
                "unknown security protocol '{}': expected SASL_SSL or PLAINTEXT",
                s.trim()
            )),
        }
    }
}

/// How to reach and authenticate to the cluster. `Debug` never shows the API secret.
#[derive(Clone, Debug)]
pub struct KafkaConfig {
    pub bootstrap_servers: String,
    pub security: KafkaSecurity,
}

#[derive(Clone, Debug)]
pub enum KafkaSecurity {
    Plaintext,
    /// Confluent Cloud: SASL PLAIN over TLS, the API key as user name.
    SaslSsl {
        api_key: String,
        api_secret: Secret,
        /// CA bundle to verify the brokers with; `None`: the system's.
        ca_location: Option<PathBuf>,
    },
}

/// Routes librdkafka's logs and error callbacks into `tracing`, at levels that fit: a broker we
/// cannot reach is a warning (the operation that needed it fails with its own error), partition
/// EOF is the tracker reader's normal end signal, not an error.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingContext;

impl ClientContext for TracingContext {
    fn log(&self, level: RDKafkaLogLevel, fac: &str, log_message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error
            | RDKafkaLogLevel::Warning => {
                tracing::warn!(facility = fac, "librdkafka: {log_message}")
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::debug!(facility = fac, "librdkafka: {log_message}")
            }
            RDKafkaLogLevel::Debug => tracing::trace!(facility = fac, "librdkafka: {log_message}"),
        }
    }

    fn error(&self, error: RdKafkaError, reason: &str) {
        if matches!(
            error,
            RdKafkaError::PartitionEOF(_) | RdKafkaError::Global(RDKafkaErrorCode::PartitionEOF)
        ) {
            return;
        }
        tracing::warn!(error = %error, "librdkafka: {reason}");
    }
}

impl ConsumerContext for TracingContext {}

/// What kind of client a configuration is for: some properties belong to one kind only, and
/// librdkafka warns about the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientRole {
    Admin,
    Producer,
    Consumer,
}

impl KafkaConfig {
    pub fn plaintext(bootstrap_servers: impl Into<String>) -> KafkaConfig {
        KafkaConfig {
            bootstrap_servers: bootstrap_servers.into(),
            security: KafkaSecurity::Plaintext,
        }
    }

    pub fn protocol(&self) -> SecurityProtocol {
        match self.security {
            KafkaSecurity::Plaintext => SecurityProtocol::Plaintext,
            KafkaSecurity::SaslSsl { .. } => SecurityProtocol::SaslSsl,
        }
    }

    /// The librdkafka configuration. Crate-private: a `ClientConfig` holds the secret in clear
    /// (its own `Debug` hides `sasl.password`, but its map can be read).
    pub(crate) fn client_config(&self, role: ClientRole) -> ClientConfig {
        let mut cfg = ClientConfig::new();
        cfg.set("bootstrap.servers", &self.bootstrap_servers)
            .set("client.id", "ccaf-housekeeping");
        match &self.security {
            KafkaSecurity::Plaintext => {
                cfg.set("security.protocol", "PLAINTEXT");
            }
            KafkaSecurity::SaslSsl {
                api_key,
                api_secret,
                ca_location,
            } => {
                cfg.set("security.protocol", "SASL_SSL")
                    .set("sasl.mechanisms", "PLAIN")
                    .set("sasl.username", api_key)
                    .set("sasl.password", api_secret.expose());
                if let Some(ca) = ca_location {
                    cfg.set("ssl.ca.location", ca.to_string_lossy());
                }
            }
        }
        if role == ClientRole::Consumer {
            // Never let a metadata request of ours create a topic.
            cfg.set("allow.auto.create.topics", "false");
        }
        cfg
    }
}

/// A failure talking to the cluster. Messages come from librdkafka and the broker's error
/// codes; they never contain the SASL password.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("creating a Kafka client for {bootstrap_servers} failed: {reason}")]
    Client {
        bootstrap_servers: String,
        reason: String,
    },
    #[error("reading the cluster's metadata from {bootstrap_servers} failed: {reason}")]
    Metadata {
        bootstrap_servers: String,
        reason: String,
    },
    #[error("creating topic `{topic}` failed: {reason}")]
    CreateTopic { topic: String, reason: String },
    #[error("deleting topic `{topic}` failed: {reason}")]
    DeleteTopic { topic: String, reason: String },
    #[error("describing the configuration of topic `{topic}` failed: {reason}")]
    DescribeConfigs { topic: String, reason: String },
    #[error("topic `{topic}` still exists {waited:?} after its deletion")]
    TopicStillExists { topic: String, waited: Duration },
    #[error("a Kafka task failed: {0}")]
    Task(String),
}

/// One topic as the cluster's metadata shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicInfo {
    pub name: String,
    /// Partition ids, sorted.
    pub partitions: Vec<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    Created,
    AlreadyExists,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    Deleted,
    /// The broker did not know the topic: it was already gone.
    AlreadyGone,
}

/// Topic administration. Cheap to clone.
#[derive(Clone)]
pub struct KafkaAdmin {
    admin: Arc<AdminClient<TracingContext>>,
    bootstrap_servers: String,
    request_timeout: Duration,
    /// Every admin and metadata request waits for room under the Kafka admin limit.
    limiter: Limiter,
}

impl fmt::Debug for KafkaAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KafkaAdmin")
            .field("bootstrap_servers", &self.bootstrap_servers)
            .finish()
    }
}

impl KafkaAdmin {
    /// Creates the client; librdkafka connects lazily, so this fails only on a bad configuration.
    pub fn connect(cfg: &KafkaConfig) -> Result<KafkaAdmin, KafkaError> {
        let admin = cfg
            .client_config(ClientRole::Admin)
            .create_with_context::<_, AdminClient<TracingContext>>(TracingContext)
            .map_err(|e| KafkaError::Client {
                bootstrap_servers: cfg.bootstrap_servers.clone(),
                reason: e.to_string(),
            })?;
        Ok(KafkaAdmin {
            admin: Arc::new(admin),
            bootstrap_servers: cfg.bootstrap_servers.clone(),
            request_timeout: REQUEST_TIMEOUT,
            limiter: Limiter::new(Api::KafkaAdmin, Concurrency::Auto),
        })
    }

    /// The same client with its requests under `concurrency` (shared by later clones).
    pub fn with_concurrency(mut self, concurrency: Concurrency) -> KafkaAdmin {
        self.limiter = Limiter::new(Api::KafkaAdmin, concurrency);
        self
    }

    /// What the cluster's admin API was asked so far.
    pub fn usage(&self) -> ApiUsage {
        self.limiter.usage()
    }

    /// One request under the limit; a throttled or failed one teaches it.
    async fn limited<T>(
        &self,
        request: impl std::future::Future<Output = Result<T, KafkaError>>,
    ) -> Result<T, KafkaError> {
        let permit = self.limiter.acquire().await;
        let result = request.await;
        permit.finish(match &result {
            Ok(_) => Answered::Fine,
            Err(e) if e.to_string().contains("Throttling") => Answered::Throttled(None),
            Err(_) => Answered::Failed,
        });
        result
    }

    /// How long one admin or metadata request may take (default [`REQUEST_TIMEOUT`]).
    pub fn with_request_timeout(mut self, timeout: Duration) -> KafkaAdmin {
        self.request_timeout = timeout;
        self
    }

    /// Every topic of the cluster, from one metadata request for all topics.
    pub async fn list_topics(&self) -> Result<BTreeMap<String, TopicInfo>, KafkaError> {
        let admin = self.admin.clone();
        let bootstrap_servers = self.bootstrap_servers.clone();
        let timeout = self.request_timeout;
        self.limited(blocking(move || {
            let md =
                admin
                    .inner()
                    .fetch_metadata(None, timeout)
                    .map_err(|e| KafkaError::Metadata {
                        bootstrap_servers,
                        reason: e.to_string(),
                    })?;
            Ok(md
                .topics()
                .iter()
                // A topic with an error (unknown, being deleted) is not there for us.
                .filter(|t| t.error().is_none())
                .map(|t| {
                    let mut partitions: Vec<i32> = t.partitions().iter().map(|p| p.id()).collect();
                    partitions.sort_unstable();
                    (
                        t.name().to_string(),
                        TopicInfo {
                            name: t.name().to_string(),
                            partitions,
                        },
                    )
                })
                .collect())
        }))
        .await
    }

    /// The topic's metadata, judged from the full metadata.
    pub async fn describe_topic(&self, name: &str) -> Result<Option<TopicInfo>, KafkaError> {
        Ok(self.list_topics().await?.remove(name))
    }

    pub async fn topic_exists(&self, name: &str) -> Result<bool, KafkaError> {
        Ok(self.describe_topic(name).await?.is_some())
    }

    /// Create a topic with the cluster's default replication factor.
    pub async fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<CreateOutcome, KafkaError> {
        self.limited(self.create_topic_once(name, partitions, configs))
            .await
    }

    async fn create_topic_once(
        &self,
        name: &str,
        partitions: i32,
        configs: &[(&str, &str)],
    ) -> Result<CreateOutcome, KafkaError> {
        let mut topic = NewTopic::new(name, partitions, TopicReplication::Fixed(-1));
        for (k, v) in configs {
            topic = topic.set(k, v);
        }
        let opts = AdminOptions::new()
            .operation_timeout(Some(self.request_timeout))
            .request_timeout(Some(self.request_timeout));
        let results = self
            .admin
            .create_topics([&topic], &opts)
            .await
            .map_err(|e| KafkaError::CreateTopic {
                topic: name.to_string(),
                reason: e.to_string(),
            })?;
        match results.into_iter().next() {
            Some(Ok(_)) => {
                tracing::info!(topic = name, partitions, "created topic");
                Ok(CreateOutcome::Created)
            }
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => {
                Ok(CreateOutcome::AlreadyExists)
            }
            Some(Err((_, code))) => Err(KafkaError::CreateTopic {
                topic: name.to_string(),
                reason: code.to_string(),
            }),
            None => Err(KafkaError::CreateTopic {
                topic: name.to_string(),
                reason: "the broker returned no result".to_string(),
            }),
        }
    }

    /// Delete a topic. A topic the broker does not know is already gone. Deletion is
    /// asynchronous on real clusters: follow with [`KafkaAdmin::wait_topic_gone`].
    pub async fn delete_topic(&self, name: &str) -> Result<DeleteOutcome, KafkaError> {
        self.limited(self.delete_topic_once(name)).await
    }

    async fn delete_topic_once(&self, name: &str) -> Result<DeleteOutcome, KafkaError> {
        let opts = AdminOptions::new()
            .operation_timeout(Some(self.request_timeout))
            .request_timeout(Some(self.request_timeout));
        let results = self
            .admin
            .delete_topics(&[name], &opts)
            .await
            .map_err(|e| KafkaError::DeleteTopic {
                topic: name.to_string(),
                reason: e.to_string(),
            })?;
        match results.into_iter().next() {
            Some(Ok(_)) => {
                tracing::info!(topic = name, "deleted topic");
                Ok(DeleteOutcome::Deleted)
            }
            Some(Err((_, RDKafkaErrorCode::UnknownTopicOrPartition))) => {
                tracing::debug!(topic = name, "topic was already gone");
                Ok(DeleteOutcome::AlreadyGone)
            }
            Some(Err((_, code))) => Err(KafkaError::DeleteTopic {
                topic: name.to_string(),
                reason: code.to_string(),
            }),
            None => Err(KafkaError::DeleteTopic {
                topic: name.to_string(),
                reason: "the broker returned no result".to_string(),
            }),
        }
    }

    /// The cluster's id as its brokers report it (`lkc-…` on Confluent Cloud); `None` when the
    /// brokers report none.
    pub async fn cluster_id(&self) -> Result<Option<String>, KafkaError> {
        let admin = self.admin.clone();
        let bootstrap_servers = self.bootstrap_servers.clone();
        let timeout = self.request_timeout;
        self.limited(blocking(move || {
            // A metadata request first, so a cluster that cannot be reached is an error rather
            // than "no id".
            admin
                .inner()
                .fetch_metadata(None, timeout)
                .map_err(|e| KafkaError::Metadata {
                    bootstrap_servers,
                    reason: e.to_string(),
                })?;
            Ok(admin.inner().fetch_cluster_id(timeout))
        }))
        .await
    }

    /// The topic ids (Kafka's topic UUIDs, base64) of those of `names` that exist; `None` for a
    /// topic of a cluster that has no topic ids. Only call it for names the full metadata shows:
    /// it names the topics in its request.
    pub async fn topic_ids(
        &self,
        names: &[String],
    ) -> Result<BTreeMap<String, Option<String>>, KafkaError> {
        let admin = self.admin.clone();
        let names = names.to_vec();
        let bootstrap_servers = self.bootstrap_servers.clone();
        let timeout = self.request_timeout;
        self.limited(blocking(move || {
            super::topic_ids::describe(admin.inner().native_ptr(), &names, timeout).map_err(
                |reason| KafkaError::Metadata {
                    bootstrap_servers,
                    reason: format!("describing topics: {reason}"),
                },
            )
        }))
        .await
    }

    /// One configuration value of a topic (`cleanup.policy`, …) as the broker reports it;
    /// `None` when the broker reports no such entry.
    pub async fn topic_config(&self, topic: &str, key: &str) -> Result<Option<String>, KafkaError> {
        let opts = AdminOptions::new().request_timeout(Some(self.request_timeout));
        let failed = |reason: String| KafkaError::DescribeConfigs {
            topic: topic.to_string(),
            reason,
        };
        let results = self
            .limited(async {
                self.admin
                    .describe_configs([&ResourceSpecifier::Topic(topic)], &opts)
                    .await
                    .map_err(|e| failed(e.to_string()))
            })
            .await?;
        match results.into_iter().next() {
            Some(Ok(resource)) => Ok(resource.get(key).and_then(|entry| entry.value.clone())),
            Some(Err(code)) => Err(failed(code.to_string())),
            None => Err(failed("the broker returned no result".into())),
        }
    }

    /// Poll the full metadata (with backoff) until the topic is absent, or fail after `timeout`.
    pub async fn wait_topic_gone(&self, name: &str, timeout: Duration) -> Result<(), KafkaError> {
        let start = Instant::now();
        let mut pause = Duration::from_millis(50);
        loop {
            if !self.topic_exists(name).await? {
                tracing::debug!(
                    topic = name,
                    waited_ms = start.elapsed().as_millis() as u64,
                    "topic is gone"
                );
                return Ok(());
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(KafkaError::TopicStillExists {
                    topic: name.to_string(),
                    waited,
                });
            }
            tokio::time::sleep(pause.min(timeout - waited)).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}

/// librdkafka's metadata calls block: run them on the blocking pool.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, KafkaError>
where
    F: FnOnce() -> Result<T, KafkaError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| KafkaError::Task(e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn security_protocol_parses_case_insensitively_and_rejects_others() {
        assert_eq!("sasl_ssl".parse(), Ok(SecurityProtocol::SaslSsl));
        assert_eq!(" PLAINTEXT ".parse(), Ok(SecurityProtocol::Plaintext));
        let err = "SSL".parse::<SecurityProtocol>().unwrap_err();
        assert!(err.contains("'SSL'"), "{err}");
    }

    #[test]
    fn debug_of_a_sasl_config_hides_the_secret() {
        let cfg = KafkaConfig {
            bootstrap_servers: "pkc-1.example:9092".into(),
            security: KafkaSecurity::SaslSsl {
                api_key: "KEY".into(),
                api_secret: Secret::new("s3cr3t-value"),
                ca_location: None,
            },
        };
        let shown = format!("{cfg:?} {:?}", cfg.client_config(ClientRole::Producer));
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        let rd = cfg.client_config(ClientRole::Consumer);
        assert_eq!(rd.get("security.protocol"), Some("SASL_SSL"));
        assert_eq!(rd.get("sasl.mechanisms"), Some("PLAIN"));
        assert_eq!(rd.get("sasl.password"), Some("s3cr3t-value"));
    }
}
