//! Clients for Confluent Cloud: the Flink statements API, Schema Registry, and Kafka.

pub mod flink;
pub mod kafka;
pub mod materialized;
pub mod schema_registry;
mod topic_ids;
pub mod watch;

pub use flink::{FlinkClient, FlinkConfig, FlinkError};
// The HTTP layer is the product's, not Confluent's (secrets and GitHub use it too); these
// paths stay for the clients' callers.
pub use crate::http;
pub use crate::http::limit;
pub use crate::http::{install_crypto_provider, ApiError, Credentials, RetryPolicy};
pub use schema_registry::{SchemaRegistryClient, SchemaRegistryError};
