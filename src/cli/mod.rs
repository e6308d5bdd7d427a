//! The command line and the action's inputs: one definition of every input (a clap flag that
//! is also read from the action input's environment variable `INPUT_<NAME>`, the input's name
//! upper-cased, hyphens kept), and the checks that turn them into a validated [`Invocation`]:
//! which command to run, with what. Nothing here does I/O beyond reading files the inputs name.
//!
//! Empty values: an input without a default that arrives empty counts as not given (the runner
//! passes declared-but-unset inputs as empty strings); an input with a default (`tracker-topic`,
//! `kafka-security-protocol`) must not be empty — that is a bad input, exit 2.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

pub mod env;
pub mod spec;

pub use env::RunEnv;
pub use spec::Reporting;

use crate::command::{Command, Goal};
use crate::config::CredentialInputs;
use crate::confluent::kafka::SecurityProtocol;
use crate::github::{CommentMode, OutputFormat};
use crate::http::limit::Concurrency;
use crate::input::{parse_duration, validate_app, validate_id, validate_topic, ConfigError};
use crate::manifest;
use crate::naming::{check_statement_name, valid_statement_prefix};
use crate::plan::Options;
use crate::secret::Secret;
use crate::tracker::DEFAULT_TOPIC;

#[derive(Parser, Debug)]
#[command(
    name = "ccaf-housekeeping",
    version,
    about = "Tear down and build up Confluent Cloud for Apache Flink statements, their topics and \
             subjects; remember what was deployed in a Kafka topic"
)]
pub struct Cli {
    #[command(flatten)]
    pub inputs: GlobalInputs,
    #[command(flatten)]
    pub housekeeping: HousekeepingInputs,
    /// Without a subcommand, the `command` input says what to do (the action's way).
    #[command(subcommand)]
    pub command: Option<CliCommand>,
}

/// The subcommands: the housekeeping commands, `status`, and the tracker's own.
#[derive(Subcommand, Debug)]
pub enum CliCommand {
    #[command(flatten)]
    Run(Command),
    /// The app's tracked statements with the live phase of each.
    Status {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Write the app's tracked (e.g. adopted) statements out as a manifest (the `manifest`
    /// input: a file that does not exist yet) and one SQL file per statement beside it.
    Export,
    /// CRUD on tracker records.
    Track {
        #[command(subcommand)]
        command: TrackCommand,
    },
}

/// The inputs every command shares (action inputs; flags anywhere on the command line).
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalInputs {
    /// The action's `command` input, used when no subcommand is given.
    #[arg(long = "command", env = "INPUT_COMMAND", global = true, hide = true)]
    pub command: Option<String>,
    /// The app's scope name ([a-z0-9-]).
    #[arg(long = "app", env = "INPUT_APP", global = true)]
    pub app: Option<String>,
    /// Confluent Cloud environment id (env-…); default: the Flink secret's `environment.id`.
    #[arg(long = "environment-id", env = "INPUT_ENVIRONMENT-ID", global = true)]
    pub environment_id: Option<String>,
    /// The tracker's compacted topic.
    #[arg(long = "tracker-topic", env = "INPUT_TRACKER-TOPIC", global = true, default_value = DEFAULT_TOPIC)]
    pub tracker_topic: String,

    #[arg(
        long = "kafka-bootstrap-servers",
        env = "INPUT_KAFKA-BOOTSTRAP-SERVERS",
        global = true
    )]
    pub kafka_bootstrap_servers: Option<String>,
    #[arg(
        long = "kafka-api-key",
        env = "INPUT_KAFKA-API-KEY",
        global = true,
        hide_env_values = true
    )]
    pub kafka_api_key: Option<String>,
    #[arg(
        long = "kafka-api-secret",
        env = "INPUT_KAFKA-API-SECRET",
        global = true,
        hide_env_values = true
    )]
    pub kafka_api_secret: Option<Secret>,
    /// The key the app signs its tracker records and leases with (at least 32 characters; one
    /// per line for a rotation, the first signing). Default: `tracker.key` in the Kafka secret,
    /// else one derived from the Kafka API secret.
    #[arg(
        long = "tracker-key",
        env = "INPUT_TRACKER-KEY",
        global = true,
        hide_env_values = true
    )]
    pub tracker_key: Option<Secret>,
    /// SASL_SSL (Confluent Cloud) or PLAINTEXT.
    #[arg(
        long = "kafka-security-protocol",
        env = "INPUT_KAFKA-SECURITY-PROTOCOL",
        global = true,
        default_value = "SASL_SSL"
    )]
    pub kafka_security_protocol: String,

    #[arg(long = "aws-region", env = "INPUT_AWS-REGION", global = true)]
    pub aws_region: Option<String>,
    /// AWS Secrets Manager secret with the Flink keys.
    #[arg(long = "flink-secret-id", env = "INPUT_FLINK-SECRET-ID", global = true)]
    pub flink_secret_id: Option<String>,
    /// AWS Secrets Manager secret with the Kafka keys.
    #[arg(long = "kafka-secret-id", env = "INPUT_KAFKA-SECRET-ID", global = true)]
    pub kafka_secret_id: Option<String>,
    /// AWS Secrets Manager secret with the Schema Registry keys.
    #[arg(
        long = "schema-registry-secret-id",
        env = "INPUT_SCHEMA-REGISTRY-SECRET-ID",
        global = true
    )]
    pub schema_registry_secret_id: Option<String>,

    #[arg(
        long = "flink-api-key",
        env = "INPUT_FLINK-API-KEY",
        global = true,
        hide_env_values = true
    )]
    pub flink_api_key: Option<String>,
    #[arg(
        long = "flink-api-secret",
        env = "INPUT_FLINK-API-SECRET",
        global = true,
        hide_env_values = true
    )]
    pub flink_api_secret: Option<Secret>,
    #[arg(long = "organization-id", env = "INPUT_ORGANIZATION-ID", global = true)]
    pub organization_id: Option<String>,
    #[arg(long = "cloud", env = "INPUT_CLOUD", global = true)]
    pub cloud: Option<String>,
    #[arg(long = "region", env = "INPUT_REGION", global = true)]
    pub region: Option<String>,
    #[arg(long = "compute-pool-id", env = "INPUT_COMPUTE-POOL-ID", global = true)]
    pub compute_pool_id: Option<String>,
    #[arg(long = "principal-id", env = "INPUT_PRINCIPAL-ID", global = true)]
    pub principal_id: Option<String>,
    /// Flink gateway before /sql/v1; default https://flink.{region}.{cloud}.confluent.cloud.
    #[arg(long = "flink-endpoint", env = "INPUT_FLINK-ENDPOINT", global = true)]
    pub flink_endpoint: Option<String>,
    /// The default Flink endpoint is the region's private one
    /// (https://flink.{region}.{cloud}.private.confluent.cloud).
    #[arg(long = "private-networking", env = "INPUT_PRIVATE-NETWORKING", global = true, num_args = 0..=1, default_missing_value = "true")]
    pub private_networking: Option<String>,
    /// A PEM file of certificate authorities the HTTPS clients (Flink, Schema Registry) trust
    /// besides the system's: a TLS-inspecting proxy's, a private CA's. A regular file of at most
    /// 1 MiB inside the workspace.
    #[arg(long = "ca-bundle", env = "INPUT_CA-BUNDLE", global = true)]
    pub ca_bundle: Option<String>,

    #[arg(
        long = "schema-registry-url",
        env = "INPUT_SCHEMA-REGISTRY-URL",
        global = true
    )]
    pub schema_registry_url: Option<String>,
    #[arg(
        long = "schema-registry-api-key",
        env = "INPUT_SCHEMA-REGISTRY-API-KEY",
        global = true,
        hide_env_values = true
    )]
    pub schema_registry_api_key: Option<String>,
    #[arg(
        long = "schema-registry-api-secret",
        env = "INPUT_SCHEMA-REGISTRY-API-SECRET",
        global = true,
        hide_env_values = true
    )]
    pub schema_registry_api_secret: Option<Secret>,
}

/// The inputs of the housekeeping commands (action inputs; flags anywhere on the command line).
/// Values arrive as text, as the runner passes them, and are checked by [`RunInputs::check`] so
/// that every bad value is one message naming its input.
#[derive(Args, Debug, Clone, Default)]
pub struct HousekeepingInputs {
    /// The manifest; default: ccaf-housekeeping.toml in the workspace, if present.
    #[arg(long = "manifest", env = "INPUT_MANIFEST", global = true)]
    pub manifest: Option<String>,
    /// With `plan`: teardown, buildup or rebuild (default).
    #[arg(long = "plan-for", env = "INPUT_PLAN-FOR", global = true)]
    pub plan_for: Option<String>,
    /// Plan only, change nothing.
    #[arg(long = "dry-run", env = "INPUT_DRY-RUN", global = true, num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: Option<String>,
    /// With `adopt`: statement names or `prefix*` patterns, comma or newline separated.
    #[arg(long = "adopt", env = "INPUT_ADOPT", global = true)]
    pub adopt: Option<String>,
    /// With `adopt`: table names or `prefix*` patterns (`table`, or `catalog.database.table`):
    /// the statements that create or write them, comma or newline separated.
    #[arg(long = "adopt-tables", env = "INPUT_ADOPT-TABLES", global = true)]
    pub adopt_tables: Option<String>,
    /// Glob patterns of statements and tables never touched, comma or newline separated.
    #[arg(long = "protect", env = "INPUT_PROTECT", global = true)]
    pub protect: Option<String>,
    /// Drop the tables the app created (default true).
    #[arg(long = "drop-tables", env = "INPUT_DROP-TABLES", global = true)]
    pub drop_tables: Option<String>,
    /// Teardown stops statements instead of deleting them.
    #[arg(long = "stop-only", env = "INPUT_STOP-ONLY", global = true, num_args = 0..=1, default_missing_value = "true")]
    pub stop_only: Option<String>,
    /// Start a replaced statement from the old one's offsets.
    #[arg(long = "carry-over-offsets", env = "INPUT_CARRY-OVER-OFFSETS", global = true, num_args = 0..=1, default_missing_value = "true")]
    pub carry_over_offsets: Option<String>,
    /// Requests in flight per API: `auto` (the default: adapts to how the API answers) or a
    /// pinned number.
    #[arg(long = "concurrency", env = "INPUT_CONCURRENCY", global = true)]
    pub concurrency: Option<String>,
    /// How long one statement or table may take to settle (default 10m).
    #[arg(long = "timeout", env = "INPUT_TIMEOUT", global = true)]
    pub timeout: Option<String>,
    /// Default `sql.current-catalog` (the environment).
    #[arg(long = "catalog", env = "INPUT_CATALOG", global = true)]
    pub catalog: Option<String>,
    /// Default `sql.current-database` (the Kafka cluster).
    #[arg(long = "database", env = "INPUT_DATABASE", global = true)]
    pub database: Option<String>,
    /// Databases named by display name, as `name=lkc-id` pairs (comma or newline separated):
    /// the Kafka cluster each is. Tables are checked (and dropped) only in the cluster of
    /// kafka-bootstrap-servers.
    #[arg(
        long = "database-clusters",
        env = "INPUT_DATABASE-CLUSTERS",
        global = true
    )]
    pub database_clusters: Option<String>,
    /// Token for the PR comment.
    #[arg(
        long = "github-token",
        env = "INPUT_GITHUB-TOKEN",
        global = true,
        hide_env_values = true
    )]
    pub github_token: Option<Secret>,
    /// auto (pull requests and merges), always or never.
    #[arg(long = "comment", env = "INPUT_COMMENT", global = true)]
    pub comment: Option<String>,
    /// The PR to comment on (default: from the event).
    #[arg(long = "pr-number", env = "INPUT_PR-NUMBER", global = true)]
    pub pr_number: Option<String>,
    /// Write the job summary (default true).
    #[arg(long = "summary", env = "INPUT_SUMMARY", global = true)]
    pub summary: Option<String>,
    /// What stdout carries at the end: text (default) or json (the run report, for scripts).
    #[arg(long = "output", env = "INPUT_OUTPUT", global = true)]
    pub output: Option<String>,
    /// Let teardown, buildup, rebuild and adopt run on a `pull_request_target` or `workflow_run`
    /// event whose head is a fork's (default false: refused, exit 2).
    #[arg(long = "allow-fork-head", env = "INPUT_ALLOW-FORK-HEAD", global = true, num_args = 0..=1, default_missing_value = "true")]
    pub allow_fork_head: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum TrackCommand {
    /// The tracked statements (of the environment, when known; of the app, with --app).
    List {
        /// One JSON array of records instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print one statement's record as JSON.
    Get {
        /// The statement's name.
        name: String,
    },
    /// Write a record (JSON, as `track get` prints it).
    Put {
        /// The record's JSON file; `-` reads standard input.
        #[arg(long)]
        file: PathBuf,
    },
    /// Remove a statement's record (a tombstone).
    Delete {
        /// The statement's name.
        name: String,
    },
    /// Take the app's lease, print `acquired <run id>`, hold it until standard input closes,
    /// release it. For tests and for diagnosing a stuck lease.
    #[command(hide = true)]
    Lease {
        #[arg(long)]
        run_id: Option<String>,
        /// How long to wait for another run's lease (e.g. `0s`, `30s`, `10m`).
        #[arg(long, default_value = "0s")]
        wait: String,
        /// The lease's time to live without renewal.
        #[arg(long, default_value = "2m")]
        ttl: String,
        /// Connect first, then ask for the lease at this instant (ms since the epoch): lets two
        /// processes race at the same moment.
        #[arg(long)]
        not_before_ms: Option<u64>,
    },
}

/// What to run, with every input checked for form: the typed command `main` dispatches on.
#[derive(Debug)]
// One per process, moved once into its command: boxing a variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub enum Invocation {
    Run {
        checked: Checked,
        spec: crate::engine::RunSpec,
        reporting: Reporting,
    },
    Status {
        checked: Checked,
        json: bool,
    },
    Export {
        checked: Checked,
        /// Where the manifest goes (it does not exist yet; inside the workspace).
        manifest: PathBuf,
    },
    Track {
        checked: Checked,
        command: TrackCommand,
    },
}

impl Cli {
    /// The command to run (the subcommand, or else the `command` input) with its inputs
    /// checked; every bad input is an error naming it, before anything is touched.
    pub fn invocation(self, env: &RunEnv) -> Result<Invocation, ConfigError> {
        self.check_printable()?;
        let workspace = &env.workspace;
        let checked = self.inputs.check(workspace)?;
        let command = match self.command {
            Some(c) => c,
            None => action_command(&self.inputs)?,
        };
        Ok(match command {
            CliCommand::Run(command) => {
                let settings = self.housekeeping.check(command, workspace)?;
                let (spec, reporting) = spec::build(command, &checked, settings, env)?;
                Invocation::Run {
                    checked,
                    spec,
                    reporting,
                }
            }
            CliCommand::Status { json } => Invocation::Status { checked, json },
            CliCommand::Export => Invocation::Export {
                manifest: self.housekeeping.export_target(workspace)?,
                checked,
            },
            CliCommand::Track { command } => {
                command.check()?;
                Invocation::Track { checked, command }
            }
        })
    }
}

/// Inputs that are lists: a line break (LF or CR LF) separates their items, so it is no control
/// character there.
const LIST_INPUTS: &[&str] = &["adopt", "adopt-tables", "protect", "database-clusters"];

impl Cli {
    /// No input but the credentials may hold a control character: each becomes a name, an id, a
    /// URL, a path or a pattern, and is printed (`text::check_printable`). Credentials are never
    /// printed, and a bad one is refused by the service it is for.
    fn check_printable(&self) -> Result<(), ConfigError> {
        let g = &self.inputs;
        let h = &self.housekeeping;
        let mut named: Vec<(&'static str, Option<&str>)> = vec![
            ("command", g.command.as_deref()),
            ("app", g.app.as_deref()),
            ("environment-id", g.environment_id.as_deref()),
            ("tracker-topic", Some(g.tracker_topic.as_str())),
            (
                "kafka-bootstrap-servers",
                g.kafka_bootstrap_servers.as_deref(),
            ),
            ("kafka-api-key", g.kafka_api_key.as_deref()),
            (
                "kafka-security-protocol",
                Some(g.kafka_security_protocol.as_str()),
            ),
            ("aws-region", g.aws_region.as_deref()),
            ("flink-secret-id", g.flink_secret_id.as_deref()),
            ("kafka-secret-id", g.kafka_secret_id.as_deref()),
            (
                "schema-registry-secret-id",
                g.schema_registry_secret_id.as_deref(),
            ),
            ("flink-api-key", g.flink_api_key.as_deref()),
            ("organization-id", g.organization_id.as_deref()),
            ("cloud", g.cloud.as_deref()),
            ("region", g.region.as_deref()),
            ("compute-pool-id", g.compute_pool_id.as_deref()),
            ("principal-id", g.principal_id.as_deref()),
            ("flink-endpoint", g.flink_endpoint.as_deref()),
            ("private-networking", g.private_networking.as_deref()),
            ("ca-bundle", g.ca_bundle.as_deref()),
            ("schema-registry-url", g.schema_registry_url.as_deref()),
            (
                "schema-registry-api-key",
                g.schema_registry_api_key.as_deref(),
            ),
            ("manifest", h.manifest.as_deref()),
            ("plan-for", h.plan_for.as_deref()),
            ("dry-run", h.dry_run.as_deref()),
            ("adopt", h.adopt.as_deref()),
            ("adopt-tables", h.adopt_tables.as_deref()),
            ("protect", h.protect.as_deref()),
            ("drop-tables", h.drop_tables.as_deref()),
            ("stop-only", h.stop_only.as_deref()),
            ("carry-over-offsets", h.carry_over_offsets.as_deref()),
            ("concurrency", h.concurrency.as_deref()),
            ("timeout", h.timeout.as_deref()),
            ("catalog", h.catalog.as_deref()),
            ("database", h.database.as_deref()),
            ("database-clusters", h.database_clusters.as_deref()),
            ("comment", h.comment.as_deref()),
            ("pr-number", h.pr_number.as_deref()),
            ("summary", h.summary.as_deref()),
            ("output", h.output.as_deref()),
            ("allow-fork-head", h.allow_fork_head.as_deref()),
        ];
        match &self.command {
            Some(CliCommand::Track {
                command: TrackCommand::Get { name } | TrackCommand::Delete { name },
            }) => named.push(("name", Some(name.as_str()))),
            Some(CliCommand::Track {
                command:
                    TrackCommand::Lease {
                        run_id, wait, ttl, ..
                    },
            }) => named.extend([
                ("run-id", run_id.as_deref()),
                ("wait", Some(wait.as_str())),
                ("ttl", Some(ttl.as_str())),
            ]),
            _ => {}
        }
        for (input, value) in named {
            let Some(value) = value else { continue };
            // Surrounding blanks (a trailing newline from YAML) are trimmed from every value.
            let value = value.trim();
            let items: Vec<&str> = if LIST_INPUTS.contains(&input) {
                value
                    .split('\n')
                    .map(|item| item.strip_suffix('\r').unwrap_or(item))
                    .collect()
            } else {
                vec![value]
            };
            for item in items {
                crate::text::check_printable(item).map_err(|r| ConfigError::input(input, r))?;
            }
        }
        Ok(())
    }
}

/// The command the `command` input names (the action passes no arguments).
fn action_command(inputs: &GlobalInputs) -> Result<CliCommand, ConfigError> {
    let Some(name) = given(&inputs.command) else {
        return Err(ConfigError::Missing {
            input: "command",
            hint:
                "give a command (plan, teardown, buildup, rebuild, adopt, status, export), as the \
                   `command` input or the first argument"
                    .into(),
        });
    };
    if name == "status" {
        return Ok(CliCommand::Status { json: false });
    }
    if name == "export" {
        return Ok(CliCommand::Export);
    }
    name.parse::<Command>().map(CliCommand::Run).map_err(|_| {
        ConfigError::input(
            "command",
            format!(
                "unknown command '{name}': expected plan, teardown, buildup, rebuild, adopt, status or export"
            ),
        )
    })
}

impl TrackCommand {
    /// Form checks of the tracker commands' own arguments.
    fn check(&self) -> Result<(), ConfigError> {
        match self {
            TrackCommand::Get { name } | TrackCommand::Delete { name } => {
                check_statement_name(name).map_err(|r| ConfigError::input("name", r))
            }
            TrackCommand::Lease { wait, ttl, .. } => {
                parse_duration(wait).map_err(|r| ConfigError::input("wait", r))?;
                parse_duration(ttl).map_err(|r| ConfigError::input("ttl", r))?;
                Ok(())
            }
            TrackCommand::List { .. } | TrackCommand::Put { .. } => Ok(()),
        }
    }
}

/// Inputs checked for form (not yet resolved against secrets).
#[derive(Debug, Clone)]
pub struct Checked {
    pub app: Option<String>,
    pub tracker_topic: String,
    pub credentials: CredentialInputs,
}

/// `Some(v)` for a non-empty (trimmed) value, `None` for absent or empty.
fn given(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A credential input: masked now that the mask hook is installed (clap parsed it unmasked).
fn given_secret(v: &Option<Secret>) -> Option<Secret> {
    v.as_ref()
        .map(|s| s.expose().trim())
        .filter(|s| !s.is_empty())
        .map(Secret::new)
}

impl GlobalInputs {
    /// Form checks of every input; each failure names its input. `workspace` is where the
    /// `ca-bundle` file must be.
    pub fn check(&self, workspace: &Path) -> Result<Checked, ConfigError> {
        let app = given(&self.app);
        if let Some(a) = &app {
            validate_app(a).map_err(|r| ConfigError::input("app", r))?;
        }
        let tracker_topic = self.tracker_topic.trim().to_string();
        validate_topic(&tracker_topic).map_err(|r| ConfigError::input("tracker-topic", r))?;
        let protocol: SecurityProtocol = self
            .kafka_security_protocol
            .parse()
            .map_err(|r: String| ConfigError::input("kafka-security-protocol", r))?;
        let environment_id = given(&self.environment_id);
        if let Some(e) = &environment_id {
            validate_id(e).map_err(|r| ConfigError::input("environment-id", r))?;
        }
        for (input, v) in [
            ("organization-id", &self.organization_id),
            ("compute-pool-id", &self.compute_pool_id),
            ("principal-id", &self.principal_id),
        ] {
            if let Some(v) = given(v) {
                validate_id(&v).map_err(|r| ConfigError::input(input, r))?;
            }
        }
        // A bundle that cannot be used is bad input, found before anything else happens.
        let ca_bundle = crate::config::load_ca_bundle(
            workspace,
            given(&self.ca_bundle).map(PathBuf::from).as_deref(),
        )?;
        let credentials = CredentialInputs {
            aws_region: given(&self.aws_region),
            flink_secret_id: given(&self.flink_secret_id),
            kafka_secret_id: given(&self.kafka_secret_id),
            schema_registry_secret_id: given(&self.schema_registry_secret_id),
            flink_api_key: given(&self.flink_api_key),
            flink_api_secret: given_secret(&self.flink_api_secret),
            organization_id: given(&self.organization_id),
            environment_id,
            cloud: given(&self.cloud),
            region: given(&self.region),
            compute_pool_id: given(&self.compute_pool_id),
            principal_id: given(&self.principal_id),
            flink_endpoint: given(&self.flink_endpoint),
            private_networking: boolean("private-networking", &self.private_networking, false)?,
            ca_bundle,
            kafka_bootstrap_servers: given(&self.kafka_bootstrap_servers),
            kafka_api_key: given(&self.kafka_api_key),
            kafka_api_secret: given_secret(&self.kafka_api_secret),
            tracker_key: match given_secret(&self.tracker_key) {
                Some(k) => Some(
                    crate::tracker::TrackerKey::parse(&k, crate::tracker::KeySource::Input)
                        .map_err(|reason| ConfigError::Input {
                            input: "tracker-key",
                            reason,
                        })?,
                ),
                None => None,
            },
            kafka_security_protocol: Some(protocol),
            kafka_ca_location: None,
            schema_registry_url: given(&self.schema_registry_url),
            schema_registry_api_key: given(&self.schema_registry_api_key),
            schema_registry_api_secret: given_secret(&self.schema_registry_api_secret),
        };
        Ok(Checked {
            app,
            tracker_topic,
            credentials,
        })
    }
}

impl HousekeepingInputs {
    /// Where `export` writes the manifest: the `manifest` input (relative to the workspace),
    /// else `ccaf-housekeeping.toml` in the workspace. It must not exist (nothing the user
    /// has is overwritten), and it must be inside the workspace.
    pub fn export_target(&self, workspace: &Path) -> Result<PathBuf, ConfigError> {
        let path = match given(&self.manifest) {
            Some(p) => workspace.join(p),
            None => workspace.join(manifest::DEFAULT_FILE),
        };
        if path.exists() {
            return Err(ConfigError::input(
                "manifest",
                format!(
                    "'{}' exists already; export writes a new manifest: name another file, or \
                     move this one away",
                    path.display()
                ),
            ));
        }
        let inside = path
            .parent()
            .and_then(|dir| dir.canonicalize().ok())
            .zip(workspace.canonicalize().ok())
            .is_some_and(|(dir, root)| dir.starts_with(root));
        if !inside {
            return Err(ConfigError::input(
                "manifest",
                format!(
                    "'{}' is not in an existing directory inside the workspace",
                    path.display()
                ),
            ));
        }
        Ok(path)
    }
}

/// The checked housekeeping inputs.
#[derive(Debug)]
pub struct Settings {
    /// Where the manifest and the SQL files it names must be (`GITHUB_WORKSPACE`, else the
    /// current directory).
    pub workspace: PathBuf,
    pub manifest: Option<PathBuf>,
    pub plan_for: Goal,
    pub dry_run: bool,
    pub adopt: Vec<String>,
    /// Tables whose creating or writing statements `adopt` takes.
    pub adopt_tables: Vec<String>,
    pub options: Options,
    pub concurrency: Concurrency,
    pub timeout: Duration,
    pub catalog: Option<String>,
    pub database: Option<String>,
    /// Database display name → Kafka cluster id.
    pub database_clusters: BTreeMap<String, String>,
    pub github_token: Option<Secret>,
    pub comment: CommentMode,
    pub pr_number: Option<u64>,
    pub summary: bool,
    pub output: OutputFormat,
    /// The `allow-fork-head` input.
    pub allow_fork_head: bool,
}

/// A boolean input: YAML 1.2's spellings of true and false; empty means the default.
fn boolean(input: &'static str, v: &Option<String>, default: bool) -> Result<bool, ConfigError> {
    match given(v).as_deref() {
        None => Ok(default),
        Some("true" | "True" | "TRUE") => Ok(true),
        Some("false" | "False" | "FALSE") => Ok(false),
        Some(other) => Err(ConfigError::input(
            input,
            format!("'{other}' is not a boolean: use true or false"),
        )),
    }
}

/// A list input: comma or newline separated, blanks dropped.
fn list(v: &Option<String>) -> Vec<String> {
    given(v)
        .map(|s| {
            s.split([',', '\n'])
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

impl HousekeepingInputs {
    /// Form checks of every housekeeping input; each failure names its input. `workspace` is
    /// where a relative manifest path and the default manifest are looked for.
    pub fn check(&self, command: Command, workspace: &Path) -> Result<Settings, ConfigError> {
        let plan_for = match given(&self.plan_for) {
            None => Goal::Rebuild,
            Some(p) => p
                .parse::<Goal>()
                .map_err(|why| ConfigError::input("plan-for", why))?,
        };
        let manifest = match given(&self.manifest) {
            Some(p) => {
                let path = workspace.join(&p);
                if !path.is_file() {
                    return Err(ConfigError::input(
                        "manifest",
                        format!("no manifest at '{p}'"),
                    ));
                }
                Some(path)
            }
            None => Some(workspace.join(manifest::DEFAULT_FILE)).filter(|p| p.is_file()),
        };
        let adopt = list(&self.adopt);
        for sel in &adopt {
            let ok = match sel.strip_suffix('*') {
                Some(prefix) => valid_statement_prefix(prefix),
                None => check_statement_name(sel).is_ok(),
            };
            if !ok {
                return Err(ConfigError::input(
                    "adopt",
                    format!("'{sel}' is neither a statement name nor a `prefix*` pattern"),
                ));
            }
        }
        let adopt_tables = list(&self.adopt_tables);
        for sel in &adopt_tables {
            if flink_sql::TableRef::parse(sel.strip_suffix('*').unwrap_or(sel)).is_err() {
                return Err(ConfigError::input(
                    "adopt-tables",
                    format!("'{sel}' is neither a table name nor a `prefix*` pattern"),
                ));
            }
        }
        if command == Command::Adopt && adopt.is_empty() && adopt_tables.is_empty() {
            return Err(ConfigError::Missing {
                input: "adopt",
                hint: "adopt needs statement names or prefix* patterns (adopt), or tables \
                       (adopt-tables)"
                    .into(),
            });
        }
        let mut protect = Vec::new();
        for p in list(&self.protect) {
            protect.push(glob::Pattern::new(&p).map_err(|e| {
                ConfigError::input("protect", format!("'{p}' is not a glob pattern: {e}"))
            })?);
        }
        let concurrency = match given(&self.concurrency) {
            None => Concurrency::Auto,
            Some(c) => c
                .parse::<Concurrency>()
                .map_err(|why| ConfigError::input("concurrency", format!("'{c}' {why}")))?,
        };
        let timeout = match given(&self.timeout) {
            None => Duration::from_secs(600),
            Some(t) => match parse_duration(&t) {
                Ok(d) if !d.is_zero() => d,
                Ok(_) => return Err(ConfigError::input("timeout", "must be more than zero")),
                Err(e) => return Err(ConfigError::input("timeout", e)),
            },
        };
        let comment = match given(&self.comment) {
            None => CommentMode::Auto,
            Some(c) => c.parse().map_err(|_| {
                ConfigError::input(
                    "comment",
                    format!("'{c}' is not one of auto, always, never"),
                )
            })?,
        };
        let output = match given(&self.output) {
            None => OutputFormat::Text,
            Some(o) => o.parse().map_err(|()| {
                ConfigError::input("output", format!("'{o}' is not one of text, json"))
            })?,
        };
        let mut database_clusters = BTreeMap::new();
        for pair in list(&self.database_clusters) {
            let bad = || {
                ConfigError::input(
                    "database-clusters",
                    format!(
                        "'{pair}' is not `database=cluster-id` (e.g. flink_kickstarter=lkc-abc123)"
                    ),
                )
            };
            let (name, id) = pair.split_once('=').ok_or_else(bad)?;
            let (name, id) = (name.trim(), id.trim());
            if name.is_empty() || validate_id(id).is_err() {
                return Err(bad());
            }
            if database_clusters
                .insert(name.to_string(), id.to_string())
                .is_some()
            {
                return Err(ConfigError::input(
                    "database-clusters",
                    format!("database '{name}' is mapped twice"),
                ));
            }
        }
        let pr_number = match given(&self.pr_number) {
            None => None,
            Some(n) => match n.parse::<u64>() {
                Ok(v) if v > 0 => Some(v),
                _ => {
                    return Err(ConfigError::input(
                        "pr-number",
                        format!("'{n}' is not a pull request number"),
                    ))
                }
            },
        };
        Ok(Settings {
            workspace: workspace.to_path_buf(),
            manifest,
            plan_for,
            dry_run: boolean("dry-run", &self.dry_run, false)?,
            adopt,
            adopt_tables,
            options: Options {
                drop_tables: boolean("drop-tables", &self.drop_tables, true)?,
                stop_only: boolean("stop-only", &self.stop_only, false)?,
                carry_over_offsets: boolean("carry-over-offsets", &self.carry_over_offsets, false)?,
                protect,
            },
            concurrency,
            timeout,
            catalog: given(&self.catalog),
            database: given(&self.database),
            database_clusters,
            github_token: given_secret(&self.github_token),
            comment,
            pr_number,
            summary: boolean("summary", &self.summary, true)?,
            output,
            allow_fork_head: boolean("allow-fork-head", &self.allow_fork_head, false)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run's environment with nothing set, the workspace the current directory.
    fn test_env() -> RunEnv {
        RunEnv::from_lookup(|_| None, std::env::current_dir().ok()).unwrap()
    }

    #[test]
    fn every_input_but_the_credentials_refuses_control_characters() {
        use clap::CommandFactory;
        let credentials = [
            "kafka-api-secret",
            "flink-api-secret",
            "schema-registry-api-secret",
            "github-token",
            "tracker-key",
        ];
        let mut checked = 0;
        for arg in Cli::command().get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") || credentials.contains(&long) {
                continue;
            }
            for hostile in [
                "x\u{1b}]0;y",
                "a\r::add-mask::b",
                "c\u{2028}d",
                "ok\n::stop-commands::t",
            ] {
                // In a list, a line break only separates items (each then checked on its own).
                if LIST_INPUTS.contains(&long) && hostile.contains('\n') {
                    continue;
                }
                let cli = Cli::try_parse_from([
                    "ccaf-housekeeping",
                    "plan",
                    &format!("--{long}={hostile}"),
                ])
                .unwrap_or_else(|e| panic!("--{long}: {e}"));
                let err = cli.invocation(&test_env()).expect_err(long);
                assert_eq!(err.input_name(), long, "{hostile:?}: {err}");
                assert!(err.to_string().contains("control character"), "{err}");
                assert!(!err.to_string().contains(hostile), "{err}");
            }
            checked += 1;
        }
        assert!(checked > 30, "{checked}");
    }

    #[test]
    fn no_debug_of_the_inputs_shows_a_credential() {
        let cli = Cli::try_parse_from([
            "ccaf-housekeeping",
            "buildup",
            "--app=demo",
            "--flink-api-secret=flink-s3cret-value",
            "--kafka-api-secret=kafka-s3cret-value",
            "--schema-registry-api-secret=sr-s3cret-value",
            "--github-token=ghp_t0ken-value",
        ])
        .unwrap();
        let shown = format!("{cli:?} {cli:#?}");
        let invocation = format!("{:?}", cli.invocation(&test_env()).unwrap());
        for secret in [
            "flink-s3cret-value",
            "kafka-s3cret-value",
            "sr-s3cret-value",
            "ghp_t0ken-value",
        ] {
            assert!(!shown.contains(secret), "{shown}");
            assert!(!invocation.contains(secret), "{invocation}");
        }
        assert!(shown.contains("Secret(***)"), "{shown}");
    }

    #[test]
    fn every_flag_reads_its_input_variable() {
        use clap::CommandFactory;
        let cmd = Cli::command();
        for arg in cmd.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if matches!(long, "help" | "version") {
                continue;
            }
            let env = arg
                .get_env()
                .unwrap_or_else(|| panic!("--{long} has no env"))
                .to_string_lossy()
                .to_string();
            assert_eq!(
                env,
                format!("INPUT_{}", long.to_ascii_uppercase()),
                "--{long}"
            );
        }
    }

    #[test]
    fn empty_defaulted_inputs_are_bad_and_empty_optional_ones_absent() {
        let mut g = GlobalInputs {
            tracker_topic: DEFAULT_TOPIC.into(),
            kafka_security_protocol: "SASL_SSL".into(),
            kafka_api_key: Some("  ".into()),
            ..Default::default()
        };
        let c = g.check(Path::new(".")).unwrap();
        assert!(c.credentials.kafka_api_key.is_none());
        g.tracker_topic = String::new();
        let err = g.check(Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("tracker-topic"), "{err}");
        g.tracker_topic = DEFAULT_TOPIC.into();
        g.kafka_security_protocol = "SSL".into();
        let err = g.check(Path::new(".")).unwrap_err().to_string();
        assert!(err.contains("kafka-security-protocol"), "{err}");
    }

    fn inputs(pairs: &[(&str, &str)]) -> HousekeepingInputs {
        let mut i = HousekeepingInputs::default();
        for (k, v) in pairs {
            let v = Some(v.to_string());
            match *k {
                "dry-run" => i.dry_run = v,
                "drop-tables" => i.drop_tables = v,
                "concurrency" => i.concurrency = v,
                "timeout" => i.timeout = v,
                "protect" => i.protect = v,
                "adopt" => i.adopt = v,
                "adopt-tables" => i.adopt_tables = v,
                "plan-for" => i.plan_for = v,
                "comment" => i.comment = v,
                "pr-number" => i.pr_number = v,
                "manifest" => i.manifest = v,
                other => panic!("{other}"),
            }
        }
        i
    }

    fn bad(pairs: &[(&str, &str)], command: &str) -> String {
        inputs(pairs)
            .check(command.parse().unwrap(), Path::new("."))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults_and_empty_values() {
        let s = inputs(&[("dry-run", ""), ("concurrency", " ")])
            .check(Command::Buildup, Path::new("/nonexistent"))
            .unwrap();
        assert!(!s.dry_run && s.options.drop_tables && !s.options.stop_only);
        assert_eq!(
            (s.concurrency, s.timeout),
            (Concurrency::Auto, Duration::from_secs(600))
        );
        assert_eq!(s.plan_for, Goal::Rebuild);
        assert_eq!(s.comment, CommentMode::Auto);
        assert!(s.manifest.is_none());
        let s = inputs(&[
            ("protect", "keep_*, audit\nlegacy-*"),
            ("timeout", "90s"),
            ("dry-run", "TRUE"),
        ])
        .check(Command::Teardown, Path::new("."))
        .unwrap();
        assert_eq!(s.options.protect.len(), 3);
        assert_eq!(s.timeout, Duration::from_secs(90));
        assert!(s.dry_run);
    }

    #[test]
    fn adopt_takes_what_the_api_calls_a_statement_name() {
        let s = inputs(&[("adopt", "team.app-x, team.app-*\ncombined-flight-data-*")])
            .check(Command::Adopt, Path::new("."))
            .unwrap();
        assert_eq!(s.adopt.len(), 3);
        for selector in ["-x", "a..b", "team.-app*", "a*b"] {
            let msg = bad(&[("adopt", selector)], "adopt");
            assert!(msg.contains("input `adopt`"), "{selector}: {msg}");
        }
    }

    #[test]
    fn every_bad_value_names_its_input() {
        for (pairs, command, needle) in [
            (vec![("dry-run", "yes")], "buildup", "input `dry-run`"),
            (
                vec![("drop-tables", "1")],
                "teardown",
                "input `drop-tables`",
            ),
            (vec![("concurrency", "0")], "buildup", "input `concurrency`"),
            (
                vec![("concurrency", "many")],
                "buildup",
                "input `concurrency`",
            ),
            (
                vec![("timeout", "10 minutes")],
                "buildup",
                "input `timeout`",
            ),
            (vec![("timeout", "0s")], "buildup", "input `timeout`"),
            (vec![("protect", "[abc")], "teardown", "input `protect`"),
            (vec![("adopt", "Bad_Name")], "adopt", "input `adopt`"),
            (vec![("adopt", "a*b*")], "adopt", "input `adopt`"),
            (vec![], "adopt", "input `adopt` is missing"),
            (vec![("plan-for", "deploy")], "plan", "input `plan-for`"),
            (vec![("comment", "sometimes")], "buildup", "input `comment`"),
            (vec![("pr-number", "-3")], "buildup", "input `pr-number`"),
            (
                vec![("manifest", "missing.toml")],
                "buildup",
                "input `manifest`",
            ),
        ] {
            let msg = bad(&pairs, command);
            assert!(msg.contains(needle), "{pairs:?}: {msg}");
        }
    }
}
