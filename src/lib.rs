//! ccaf-housekeeping: tear down and build up Confluent Cloud for Apache Flink statements, with
//! the topics and subjects behind their tables, remembering what was deployed in a Kafka topic.
//! See `docs/ARCHITECTURE.md` for the flow of one run and the module map.

pub mod cancel;
pub mod cli;
pub mod command;
pub mod commands;
pub mod config;
pub mod confluent;
pub mod deps;
pub mod engine;
pub mod form;
pub mod github;
pub mod http;
pub mod identity;
pub mod input;
pub mod manifest;
pub mod materialized;
pub mod naming;
pub mod ownership;
pub mod plan;
pub mod preflight;
pub mod report;
pub mod secret;
pub mod secrets;
pub mod text;
pub mod tracker;
