//! The simulator's configuration: one definition for flags and their environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use serde::{Deserialize, Serialize};

/// A loopback simulator of Confluent Cloud: Flink statements (`sql/v1`), Schema Registry and
/// Kafka REST v3, path-routed on one port, backed by a real Kafka-protocol broker.
#[derive(Parser, Debug, Clone)]
#[command(name = "ccloud-sim", version, about)]
pub struct Config {
    /// Address to listen on (loopback; port 0 picks a free one).
    #[arg(long, env = "SIM_LISTEN", default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Write the bound port number to this file once the server accepts connections.
    #[arg(long, env = "SIM_PORT_FILE")]
    pub port_file: Option<PathBuf>,

    /// Also serve every API over HTTPS with this certificate chain (PEM); needs `--tls-key`.
    #[arg(long, env = "SIM_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The HTTPS certificate's private key (PEM).
    #[arg(long, env = "SIM_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Address of the HTTPS listener (loopback; port 0 picks a free one).
    #[arg(long, env = "SIM_TLS_LISTEN", default_value = "127.0.0.1:0")]
    pub tls_listen: SocketAddr,

    /// Write the HTTPS port number to this file once it accepts connections.
    #[arg(long, env = "SIM_TLS_PORT_FILE")]
    pub tls_port_file: Option<PathBuf>,

    /// Bootstrap servers of the broker that backs the simulated Kafka cluster (PLAINTEXT).
    #[arg(long, env = "SIM_KAFKA_BOOTSTRAP_SERVERS")]
    pub kafka_bootstrap_servers: String,

    /// Organization id (a UUID, as on Confluent Cloud).
    #[arg(
        long,
        env = "SIM_ORG_ID",
        default_value = "5f8f3c1e-6d1a-4b2e-9c7d-2a4b6c8d0e1f"
    )]
    pub org_id: String,

    /// Environment id; `sql.current-catalog` may name it by id or by `--env-name`.
    #[arg(long, env = "SIM_ENV_ID", default_value = "env-sim001")]
    pub env_id: String,

    /// Environment display name.
    #[arg(long, env = "SIM_ENV_NAME", default_value = "sim-environment")]
    pub env_name: String,

    /// Kafka cluster id; `sql.current-database` may name it by id or by `--kafka-cluster-name`.
    #[arg(long, env = "SIM_KAFKA_CLUSTER_ID", default_value = "lkc-sim001")]
    pub kafka_cluster_id: String,

    /// Kafka cluster display name.
    #[arg(long, env = "SIM_KAFKA_CLUSTER_NAME", default_value = "sim-cluster")]
    pub kafka_cluster_name: String,

    /// The compute pool statements run in when they name none (the only pool that exists).
    #[arg(long, env = "SIM_COMPUTE_POOL_ID", default_value = "lfcp-sim001")]
    pub compute_pool_id: String,

    /// The principal statements run as when they name none.
    #[arg(long, env = "SIM_PRINCIPAL_ID", default_value = "sa-sim001")]
    pub principal_id: String,

    /// Flink API key (HTTP Basic user for `/sql/v1`).
    #[arg(long, env = "SIM_FLINK_API_KEY", default_value = "SIMFLINKKEY")]
    pub flink_api_key: String,

    /// Flink API secret.
    #[arg(
        long,
        env = "SIM_FLINK_API_SECRET",
        default_value = "sim-flink-secret",
        hide_env_values = true
    )]
    pub flink_api_secret: String,

    /// Schema Registry API key.
    #[arg(long, env = "SIM_SR_API_KEY", default_value = "SIMSRKEY")]
    pub sr_api_key: String,

    /// Schema Registry API secret.
    #[arg(
        long,
        env = "SIM_SR_API_SECRET",
        default_value = "sim-sr-secret",
        hide_env_values = true
    )]
    pub sr_api_secret: String,

    /// Kafka API key (HTTP Basic user for Kafka REST v3).
    #[arg(long, env = "SIM_KAFKA_API_KEY", default_value = "SIMKAFKAKEY")]
    pub kafka_api_key: String,

    /// Kafka API secret.
    #[arg(
        long,
        env = "SIM_KAFKA_API_SECRET",
        default_value = "sim-kafka-secret",
        hide_env_values = true
    )]
    pub kafka_api_secret: String,

    /// Enable the `/_sim/` control endpoint (faults, timings, request log, reset).
    #[arg(long, env = "SIM_CONTROL", default_value_t = false)]
    pub control: bool,

    /// Partitions of a topic created by CREATE TABLE without `DISTRIBUTED ... INTO n BUCKETS`.
    #[arg(long, env = "SIM_DEFAULT_PARTITIONS", default_value_t = 6)]
    pub default_partitions: i32,

    #[command(flatten)]
    pub timings: Timings,

    #[command(flatten)]
    pub behaviour: Behaviour,
}

/// How long each asynchronous phase lasts. Also adjustable at run time via `/_sim/timings`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Timings {
    /// PENDING lasts this long before a statement runs, completes or fails.
    #[arg(long = "pending-ms", env = "SIM_PENDING_MS", default_value_t = 300)]
    pub pending_ms: u64,
    /// STOPPING lasts this long before STOPPED.
    #[arg(long = "stopping-ms", env = "SIM_STOPPING_MS", default_value_t = 300)]
    pub stopping_ms: u64,
    /// DELETING lasts this long before the statement is gone (404).
    #[arg(long = "deleting-ms", env = "SIM_DELETING_MS", default_value_t = 500)]
    pub deleting_ms: u64,
    /// How often running statements are checked for vanished source/sink topics (DEGRADED).
    #[arg(
        long = "health-check-ms",
        env = "SIM_HEALTH_CHECK_MS",
        default_value_t = 250
    )]
    pub health_check_ms: u64,
    /// How long a deleted statement lingers in the list (as DELETING) after GET answers 404,
    /// and how long a name created again still lists as its old incarnation (Confluent Cloud's
    /// list lags deletes by 5–15 s).
    #[arg(long = "list-lag-ms", env = "SIM_LIST_LAG_MS", default_value_t = 1000)]
    pub list_lag_ms: u64,
    /// How long a new statement is missing from the list after its create was answered.
    #[arg(
        long = "list-new-lag-ms",
        env = "SIM_LIST_NEW_LAG_MS",
        default_value_t = 400
    )]
    pub list_new_lag_ms: u64,
    /// How late the list shows a statement's changes (phase, detail, labels): it shows each
    /// statement as it was this long ago.
    #[arg(
        long = "list-phase-lag-ms",
        env = "SIM_LIST_PHASE_LAG_MS",
        default_value_t = 300
    )]
    pub list_phase_lag_ms: u64,
    /// How long after an accepted stop or resume (PUT, PATCH) the phase starts to move: until
    /// then a GET still shows the old phase.
    #[arg(
        long = "update-lag-ms",
        env = "SIM_UPDATE_LAG_MS",
        default_value_t = 250
    )]
    pub update_lag_ms: u64,
    /// How long a statement's name stays taken after the statement is gone (a create meets 409).
    #[arg(long = "name-hold-ms", env = "SIM_NAME_HOLD_MS", default_value_t = 800)]
    pub name_hold_ms: u64,
    /// How long after a table's topic is gone a CREATE TABLE / CTAS of it is created FAILED
    /// ("The table ... was found, but its Kafka topic does not exist ... try again later").
    #[arg(
        long = "recreate-window-ms",
        env = "SIM_RECREATE_WINDOW_MS",
        default_value_t = 1500
    )]
    pub recreate_window_ms: u64,
    /// How long a statement stays in a terminal phase (COMPLETED, FAILED, STOPPED) before the
    /// service purges it (about 30 days on Confluent Cloud).
    #[arg(
        long = "purge-after-ms",
        env = "SIM_PURGE_AFTER_MS",
        default_value_t = 60_000
    )]
    pub purge_after_ms: u64,
    /// How long a newly declared table's columns are missing from
    /// `INFORMATION_SCHEMA.COLUMNS` (the catalog lags, §F.10).
    #[arg(
        long = "catalog-lag-ms",
        env = "SIM_CATALOG_LAG_MS",
        default_value_t = 300
    )]
    pub catalog_lag_ms: u64,
    /// How long a new materialized table stays CREATING before RUNNING.
    #[arg(
        long = "mt-creating-ms",
        env = "SIM_MT_CREATING_MS",
        default_value_t = 600
    )]
    pub mt_creating_ms: u64,
    /// How long an accepted evolution of a materialized table stays ALTERING (`latest_version`
    /// above `version`) before the new query is live.
    #[arg(
        long = "mt-altering-ms",
        env = "SIM_MT_ALTERING_MS",
        default_value_t = 800
    )]
    pub mt_altering_ms: u64,
    /// How long a dropped materialized table's catalog entry lingers after the resource is gone:
    /// `INFORMATION_SCHEMA.TABLES` lists it and a create of its name fails "table already exists"
    /// (dbt waits up to 120 s, §G.7).
    #[arg(
        long = "mt-catalog-linger-ms",
        env = "SIM_MT_CATALOG_LINGER_MS",
        default_value_t = 1500
    )]
    pub mt_catalog_linger_ms: u64,
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            pending_ms: 300,
            stopping_ms: 300,
            deleting_ms: 500,
            health_check_ms: 250,
            list_lag_ms: 1000,
            list_new_lag_ms: 400,
            list_phase_lag_ms: 300,
            update_lag_ms: 250,
            name_hold_ms: 800,
            recreate_window_ms: 1500,
            purge_after_ms: 60_000,
            catalog_lag_ms: 300,
            mt_creating_ms: 600,
            mt_altering_ms: 800,
            mt_catalog_linger_ms: 1500,
        }
    }
}

/// What the service does with a change of `metadata.labels` after create (a PATCH of
/// `/metadata/labels`, or a PUT carrying other labels): undocumented (the reference, §F.13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "snake_case")]
pub enum LabelsPatch {
    /// Answered 200, and the labels stay as they were.
    #[default]
    Ignore,
    /// The labels change.
    Apply,
    /// Answered 422: statement metadata is read-only.
    Reject,
}

/// Behaviours a test chooses at run time (`/_sim/behaviour`), beside faults and timings.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default, deny_unknown_fields)]
pub struct Behaviour {
    /// How label changes after create are treated.
    #[arg(long = "labels-patch", env = "SIM_LABELS_PATCH", value_enum, default_value_t = LabelsPatch::Ignore)]
    pub labels_patch: LabelsPatch,
    /// How many statements the compute pool runs at once (none: no limit). A statement beyond
    /// it stays PENDING with `scaling_status.scaling_state` `POOL_EXHAUSTED`.
    #[arg(long = "pool-capacity", env = "SIM_POOL_CAPACITY")]
    pub pool_capacity: Option<u32>,
    /// Whether a dropped materialized table's Schema Registry subjects survive the drop (dbt
    /// observed them surviving; the docs say they go, §G.7).
    #[arg(
        long = "mt-drop-keeps-subjects",
        env = "SIM_MT_DROP_KEEPS_SUBJECTS",
        default_value_t = true,
        action = clap::ArgAction::Set
    )]
    pub mt_drop_keeps_subjects: bool,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            labels_patch: LabelsPatch::Ignore,
            pool_capacity: None,
            mt_drop_keeps_subjects: true,
        }
    }
}
