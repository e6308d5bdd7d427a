//! The action's integration tests: one binary, talking to the real servers of the test stack
//! (`scripts/stack up`): tansu, ccloud-sim and moto.

mod credentials;
mod flink_client;
mod kafka_admin;
mod schema_registry;
mod tracker;
