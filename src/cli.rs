//! The command line: one definition of every flag, each also read from the action input's
//! environment variable `INPUT_<NAME>` (the input's name upper-cased, hyphens kept), and the
//! commands built on the tracker (`track …`, `status`).
//!
//! Empty values: an input without a default that arrives empty counts as not given (the runner
//! passes declared-but-unset inputs as empty strings); an input with a default (`tracker-topic`,
//! `kafka-security-protocol`) must not be empty — that is a bad input, exit 2.
//!
//! Every command validates its inputs and resolves its credentials before it touches anything.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::config::{
    validate_app, validate_id, validate_statement_name, validate_topic, ConfigError,
    CredentialInputs, Credentials,
};
use crate::confluent::kafka::{KafkaConfig, SecurityProtocol};
use crate::secrets::{Secret, SecretsError};
use crate::tracker::lease::{default_holder, new_run_id, LeaseRequest};
use crate::tracker::{Record, Tracker, TrackerError, DEFAULT_TOPIC};

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
    pub housekeeping: crate::run::RunInputs,
    /// Without a subcommand, the `command` input says what to do (the action's way).
    #[command(subcommand)]
    pub command: Option<Command>,
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
    pub kafka_api_secret: Option<String>,
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
    pub flink_api_secret: Option<String>,
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
    /// besides the system's: a TLS-inspecting proxy's, a private CA's.
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
    pub schema_registry_api_secret: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show what teardown, buildup or rebuild (`--plan-for`) would do; change nothing.
    Plan,
    /// Delete the app's statements (readers first), then drop the tables they created.
    Teardown,
    /// Converge the app to its definitions: create what is missing, replace what changed.
    Buildup,
    /// Teardown of everything the app has, then buildup from scratch, in one run.
    Rebuild,
    /// Record live statements (`--adopt NAME,prefix*`) as the app's.
    Adopt,
    /// CRUD on tracker records.
    Track {
        #[command(subcommand)]
        command: TrackCommand,
    },
    /// The app's tracked statements with the live phase of each.
    Status {
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
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

/// Why a command failed, and so the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input or configuration: exit 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Something failed while doing the work: exit 1.
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Tracker(Box<TrackerError>),
}

impl From<TrackerError> for CliError {
    fn from(e: TrackerError) -> CliError {
        CliError::Tracker(Box::new(e))
    }
}

impl From<SecretsError> for CliError {
    fn from(e: SecretsError) -> CliError {
        match e {
            SecretsError::Config(c) => CliError::Config(c),
            SecretsError::Unavailable(u) => CliError::Failed(u.to_string()),
        }
    }
}

impl CliError {
    /// 1 operation failed, 2 bad input or configuration, 3 another run holds the lease.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Config(_) => 2,
            CliError::Tracker(e) => match **e {
                TrackerError::LeaseHeld { .. } => 3,
                TrackerError::InvalidTopic(_)
                | TrackerError::InvalidRecord(_)
                | TrackerError::InvalidLease(_) => 2,
                _ => 1,
            },
            CliError::Failed(_) => 1,
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

fn given_secret(v: &Option<String>) -> Option<Secret> {
    v.as_ref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| Secret::new(s.trim()))
}

impl GlobalInputs {
    /// Form checks of every input; each failure names its input.
    pub fn check(&self) -> Result<Checked, ConfigError> {
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
        crate::config::load_ca_bundle(given(&self.ca_bundle).map(PathBuf::from).as_deref())?;
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
            private_networking: crate::run::boolean(
                "private-networking",
                &self.private_networking,
                false,
            )?,
            ca_bundle: given(&self.ca_bundle).map(PathBuf::from),
            kafka_bootstrap_servers: given(&self.kafka_bootstrap_servers),
            kafka_api_key: given(&self.kafka_api_key),
            kafka_api_secret: given_secret(&self.kafka_api_secret),
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

/// Parse `500ms`, `30s`, `10m`, `1h` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration like 30s, 10m or 500ms"))?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("'{s}' is not a duration like 30s, 10m or 500ms")),
    };
    Ok(d)
}

/// Run one command (output to stdout, logs to stderr); `Ok` carries the exit code (1 when an
/// operation of the run failed).
pub async fn run(cli: Cli) -> Result<i32, CliError> {
    let checked = cli.inputs.check()?;
    let command = match cli.command {
        Some(c) => c,
        None => action_command(&cli.inputs)?,
    };
    let housekeeping =
        |name: &'static str| crate::run::run(checked.clone(), &cli.housekeeping, name);
    match command {
        Command::Track { command } => run_track(checked, command).await.map(|()| 0),
        Command::Status { json } => run_status(checked, json).await.map(|()| 0),
        Command::Plan => housekeeping("plan").await,
        Command::Teardown => housekeeping("teardown").await,
        Command::Buildup => housekeeping("buildup").await,
        Command::Rebuild => housekeeping("rebuild").await,
        Command::Adopt => housekeeping("adopt").await,
    }
}

/// The command the `command` input names (the action passes no arguments).
fn action_command(inputs: &GlobalInputs) -> Result<Command, CliError> {
    let Some(name) = given(&inputs.command) else {
        return Err(ConfigError::Missing {
            input: "command",
            hint: "give a command (plan, teardown, buildup, rebuild, adopt, status), as the \
                   `command` input or the first argument"
                .into(),
        }
        .into());
    };
    match name.as_str() {
        "status" => Ok(Command::Status { json: false }),
        "plan" => Ok(Command::Plan),
        "teardown" => Ok(Command::Teardown),
        "buildup" => Ok(Command::Buildup),
        "rebuild" => Ok(Command::Rebuild),
        "adopt" => Ok(Command::Adopt),
        other => Err(ConfigError::input(
            "command",
            format!(
                "unknown command '{other}': expected plan, teardown, buildup, rebuild, adopt or status"
            ),
        )
        .into()),
    }
}

async fn run_track(checked: Checked, command: TrackCommand) -> Result<(), CliError> {
    let mut creds = Credentials::new(checked.credentials.clone());
    match command {
        TrackCommand::List { json } => {
            let env = creds.environment_id_opt().await?;
            let kafka = creds.kafka().await?;
            let tracker = Tracker::open(&kafka, &checked.tracker_topic).await?;
            let records = tracker.list(env.as_deref(), checked.app.as_deref()).await?;
            let mut out = std::io::stdout().lock();
            if json {
                print_json(&mut out, &records)?;
            } else {
                print_table(
                    &mut out,
                    &[
                        "STATEMENT",
                        "APP",
                        "ENVIRONMENT",
                        "STATE",
                        "LAST PHASE",
                        "UPDATED",
                    ],
                    records.iter().map(|r| {
                        vec![
                            r.statement_name.clone(),
                            r.app.clone(),
                            r.environment_id.clone(),
                            r.state.to_string(),
                            r.last_phase.clone().unwrap_or_else(|| "-".into()),
                            r.provenance
                                .at
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        ]
                    }),
                )?;
            }
            Ok(())
        }
        TrackCommand::Get { name } => {
            validate_statement_name(&name).map_err(|r| ConfigError::input("name", r))?;
            let env = creds.environment_id().await?;
            let kafka = creds.kafka().await?;
            let tracker = Tracker::open(&kafka, &checked.tracker_topic).await?;
            match tracker.get(&env, &name).await? {
                Some(r) => print_json(&mut std::io::stdout().lock(), &r),
                None => Err(CliError::Failed(format!(
                    "no tracker record for statement `{name}` in environment `{env}` (topic `{}`)",
                    checked.tracker_topic
                ))),
            }
        }
        TrackCommand::Put { file } => {
            let record = read_record(&file)?;
            record
                .validate()
                .map_err(|r| ConfigError::input("file", format!("{}: {r}", file.display())))?;
            if let Some(env) = creds.environment_id_opt().await? {
                if env != record.environment_id {
                    return Err(ConfigError::input(
                        "file",
                        format!(
                            "the record's environment_id `{}` is not the environment-id `{env}`",
                            record.environment_id
                        ),
                    )
                    .into());
                }
            }
            if let Some(app) = &checked.app {
                if app != &record.app {
                    return Err(ConfigError::input(
                        "file",
                        format!("the record's app `{}` is not the app `{app}`", record.app),
                    )
                    .into());
                }
            }
            let kafka = creds.kafka().await?;
            let tracker = Tracker::open(&kafka, &checked.tracker_topic).await?;
            let d = tracker.put(&record).await?;
            println!("put {} (offset {})", record.key(), d.offset);
            Ok(())
        }
        TrackCommand::Delete { name } => {
            validate_statement_name(&name).map_err(|r| ConfigError::input("name", r))?;
            let env = creds.environment_id().await?;
            let kafka = creds.kafka().await?;
            let tracker = Tracker::open(&kafka, &checked.tracker_topic).await?;
            let existed = tracker.get(&env, &name).await?.is_some();
            tracker.delete(&env, &name).await?;
            if existed {
                println!("deleted {env}/{name}");
            } else {
                println!("{env}/{name} was not tracked (tombstone written anyway)");
            }
            Ok(())
        }
        TrackCommand::Lease {
            run_id,
            wait,
            ttl,
            not_before_ms,
        } => {
            let app = checked.app.clone().ok_or_else(|| ConfigError::Missing {
                input: "app",
                hint: "the lease is the app's: give app".into(),
            })?;
            let wait = parse_duration(&wait).map_err(|r| ConfigError::input("wait", r))?;
            let ttl = parse_duration(&ttl).map_err(|r| ConfigError::input("ttl", r))?;
            let run_id = run_id.unwrap_or_else(new_run_id);
            let env = creds.environment_id().await?;
            let kafka = creds.kafka().await?;
            let tracker = Tracker::open(&kafka, &checked.tracker_topic).await?;
            hold_lease(&tracker, &env, &app, &run_id, wait, ttl, not_before_ms).await
        }
    }
}

async fn hold_lease(
    tracker: &Tracker,
    env: &str,
    app: &str,
    run_id: &str,
    wait: Duration,
    ttl: Duration,
    not_before_ms: Option<u64>,
) -> Result<(), CliError> {
    // Connect (and create the topic) before the starting gun, so the race is about the lease.
    tracker.ensure_topic().await?;
    tracker.load().await?;
    if let Some(at) = not_before_ms {
        let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
        if at > now {
            tokio::time::sleep(Duration::from_millis(at - now)).await;
        }
    }
    let mut req = LeaseRequest::new(env, app, run_id, &default_holder());
    req.wait = wait;
    req.ttl = ttl;
    let lease = tracker.acquire_lease(&req).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "acquired {}", lease.run_id()).map_err(io_failed)?;
        out.flush().map_err(io_failed)?;
    }
    // Hold until stdin closes (or an error reading it).
    let held = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut sink);
    })
    .await;
    let checked = lease.check();
    lease.release().await?;
    held.map_err(|e| CliError::Failed(e.to_string()))?;
    checked?;
    println!("released {run_id}");
    Ok(())
}

async fn run_status(checked: Checked, json: bool) -> Result<(), CliError> {
    let app = checked.app.clone().ok_or_else(|| ConfigError::Missing {
        input: "app",
        hint: "status shows one app's statements: give app".into(),
    })?;
    let mut creds = Credentials::new(checked.credentials.clone());
    let flink = creds.flink().await?;
    let kafka = creds.kafka().await?;
    let client = flink.client(&creds.extra_roots()?)?;
    let tracker = Tracker::open(&kafka, &checked.tracker_topic).await?;
    let records = tracker
        .list(Some(&flink.environment_id), Some(&app))
        .await?;
    let mut rows = Vec::with_capacity(records.len());
    for r in &records {
        let live = client.get(&r.statement_name).await.map_err(|e| {
            CliError::Failed(format!("reading statement `{}`: {e}", r.statement_name))
        })?;
        let phase = match &live {
            Some(s) => s.phase().as_str().to_string(),
            None => "NOT_FOUND".to_string(),
        };
        rows.push(StatusRow {
            statement_name: r.statement_name.clone(),
            state: r.state.to_string(),
            phase,
            last_phase: r.last_phase.clone(),
            detail: live
                .as_ref()
                .and_then(|s| s.status.detail.clone())
                .filter(|d| !d.is_empty()),
        });
    }
    let mut out = std::io::stdout().lock();
    if json {
        print_json(&mut out, &rows)?;
    } else {
        print_table(
            &mut out,
            &["STATEMENT", "STATE", "PHASE", "LAST PHASE", "DETAIL"],
            rows.iter().map(|r| {
                vec![
                    r.statement_name.clone(),
                    r.state.clone(),
                    r.phase.clone(),
                    r.last_phase.clone().unwrap_or_else(|| "-".into()),
                    r.detail.clone().unwrap_or_default(),
                ]
            }),
        )?;
    }
    Ok(())
}

/// One line of `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusRow {
    pub statement_name: String,
    /// The tracker's state.
    pub state: String,
    /// The live phase from the Flink API, `NOT_FOUND` when the statement does not exist.
    pub phase: String,
    pub last_phase: Option<String>,
    pub detail: Option<String>,
}

fn read_record(file: &PathBuf) -> Result<Record, ConfigError> {
    let text = if file.as_os_str() == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin().lock(), &mut s)
            .map_err(|e| ConfigError::input("file", format!("reading standard input: {e}")))?;
        s
    } else {
        std::fs::read_to_string(file)
            .map_err(|e| ConfigError::input("file", format!("{}: {e}", file.display())))?
    };
    serde_json::from_str(&text).map_err(|e| {
        ConfigError::input(
            "file",
            format!("{} is not a tracker record: {e}", file.display()),
        )
    })
}

fn io_failed(e: std::io::Error) -> CliError {
    CliError::Failed(format!("writing the output failed: {e}"))
}

fn print_json<T: serde::Serialize + ?Sized>(out: &mut impl Write, v: &T) -> Result<(), CliError> {
    serde_json::to_writer_pretty(&mut *out, v)
        .map_err(|e| CliError::Failed(format!("writing JSON failed: {e}")))?;
    writeln!(out).map_err(io_failed)
}

fn print_table(
    out: &mut impl Write,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), CliError> {
    let rows: Vec<Vec<String>> = rows.collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| -> String {
        let last = cells.len().saturating_sub(1);
        cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(
        out,
        "{}",
        line(header.iter().map(|h| h.to_string()).collect())
    )
    .map_err(io_failed)?;
    for row in rows {
        writeln!(out, "{}", line(row)).map_err(io_failed)?;
    }
    Ok(())
}

/// The Kafka configuration the inputs resolve to (for tools built on this crate).
pub async fn kafka_config(inputs: &GlobalInputs) -> Result<KafkaConfig, CliError> {
    let checked = inputs.check()?;
    Ok(Credentials::new(checked.credentials).kafka().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
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
        let c = g.check().unwrap();
        assert!(c.credentials.kafka_api_key.is_none());
        g.tracker_topic = String::new();
        let err = g.check().unwrap_err().to_string();
        assert!(err.contains("tracker-topic"), "{err}");
        g.tracker_topic = DEFAULT_TOPIC.into();
        g.kafka_security_protocol = "SSL".into();
        let err = g.check().unwrap_err().to_string();
        assert!(err.contains("kafka-security-protocol"), "{err}");
    }
}
