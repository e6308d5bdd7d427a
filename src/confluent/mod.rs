//! Clients for Confluent Cloud: the Flink statements API, Schema Registry, and Kafka.

pub mod flink;
pub mod http;
pub mod kafka;
pub mod limit;
pub mod materialized;
pub mod schema_registry;
mod topic_ids;
pub mod watch;

pub use flink::{FlinkClient, FlinkConfig, FlinkError};
pub use http::{install_crypto_provider, ApiError, Credentials, RetryPolicy};
pub use schema_registry::{SchemaRegistryClient, SchemaRegistryError};
