//! The action's integration tests: one binary, talking to the real servers of the test stack
//! (`scripts/stack up`): tansu, ccloud-sim and moto.

// Tests and benchmarks read their stack's variables: the rule of clippy.toml is the action's.
#![allow(clippy::disallowed_methods)]

mod action;
mod cancel;
mod chaos;
mod cli;
mod credentials;
mod engine;
mod first_contact;
mod first_try;
mod flink_client;
mod github_comment;
mod github_outputs;
mod github_summary;
mod github_support;
mod harness;
mod hostile;
mod kafka_admin;
mod lint;
mod live;
mod materialized;
mod mermaid;
mod ownership;
mod schema_registry;
mod speed;
mod tableapi;
mod tracker;
mod trust;
