//! The simulator's integration tests: each test starts a private `ccloud-sim` process on
//! `127.0.0.1:0` against the stack's real broker (tansu), and talks to it over HTTP.

mod support;

mod statements;

mod awkward;
mod conformance;
mod faults;
mod info_schema;
mod kafka_rest;
mod materialized;
mod registry;
