//! The housekeeping commands — `plan`, `teardown`, `buildup`, `rebuild`, `adopt` — from inputs
//! to exit code: check every input (exit 2 before anything is touched), read the manifest,
//! resolve credentials, build the clients, run the engine, report to GitHub.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;

use crate::cli::{parse_duration, Checked, CliError};
use crate::config::{ConfigError, Credentials};
use crate::confluent::http::{Credentials as ApiCredentials, RetryPolicy};
use crate::confluent::kafka::KafkaAdmin;
use crate::confluent::schema_registry::SchemaRegistryClient;
use crate::engine::{Defaults, Engine, EngineError, Request};
use crate::github::{self, CommentMode, GithubContext, Masker, ReportOptions};
use crate::manifest::{self, Manifest};
use crate::ownership::ClusterScope;
use crate::plan::{Command, Options};
use crate::preflight;
use crate::secrets::Secret;
use crate::tracker::{Provenance, Tracker};

/// The inputs of the housekeeping commands (action inputs; flags anywhere on the command line).
/// Values arrive as text, as the runner passes them, and are checked by [`RunInputs::check`] so
/// that every bad value is one message naming its input.
#[derive(Args, Debug, Clone, Default)]
pub struct RunInputs {
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
    /// Parallel API operations (default 8).
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
    pub github_token: Option<String>,
    /// auto (pull requests and merges), always or never.
    #[arg(long = "comment", env = "INPUT_COMMENT", global = true)]
    pub comment: Option<String>,
    /// The PR to comment on (default: from the event).
    #[arg(long = "pr-number", env = "INPUT_PR-NUMBER", global = true)]
    pub pr_number: Option<String>,
    /// Write the job summary (default true).
    #[arg(long = "summary", env = "INPUT_SUMMARY", global = true)]
    pub summary: Option<String>,
}

/// The checked housekeeping inputs.
#[derive(Debug)]
pub struct Settings {
    pub manifest: Option<PathBuf>,
    pub plan_for: Command,
    pub dry_run: bool,
    pub adopt: Vec<String>,
    pub options: Options,
    pub concurrency: usize,
    pub timeout: Duration,
    pub catalog: Option<String>,
    pub database: Option<String>,
    /// Database display name → Kafka cluster id.
    pub database_clusters: BTreeMap<String, String>,
    pub github_token: Option<Secret>,
    pub comment: CommentMode,
    pub pr_number: Option<u64>,
    pub summary: bool,
}

/// Steps in flight at most; each holds a connection and polls its statement.
const MAX_CONCURRENCY: usize = 256;

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A boolean input: YAML 1.2's spellings of true and false; empty means the default.
pub(crate) fn boolean(
    input: &'static str,
    v: &Option<String>,
    default: bool,
) -> Result<bool, ConfigError> {
    match given(v) {
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

fn command_named(input: &'static str, name: &str) -> Result<Command, ConfigError> {
    match name {
        "teardown" => Ok(Command::Teardown),
        "buildup" => Ok(Command::Buildup),
        "rebuild" => Ok(Command::Rebuild),
        other => Err(ConfigError::input(
            input,
            format!("'{other}' is not one of teardown, buildup, rebuild"),
        )),
    }
}

impl RunInputs {
    /// Form checks of every housekeeping input; each failure names its input. `workspace` is
    /// where a relative manifest path and the default manifest are looked for.
    pub fn check(&self, command: &str, workspace: &Path) -> Result<Settings, ConfigError> {
        let plan_for = match given(&self.plan_for) {
            None => Command::Rebuild,
            Some(p) => command_named("plan-for", p)?,
        };
        let manifest = match given(&self.manifest) {
            Some(p) => {
                let path = workspace.join(p);
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
            let name = sel.strip_suffix('*').unwrap_or(sel);
            let ok = !name.is_empty()
                && name.len() <= crate::naming::MAX_NAME_LEN
                && name.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                })
                && !name.contains('*');
            if !ok {
                return Err(ConfigError::input(
                    "adopt",
                    format!("'{sel}' is neither a statement name nor a `prefix*` pattern"),
                ));
            }
        }
        if command == "adopt" && adopt.is_empty() {
            return Err(ConfigError::Missing {
                input: "adopt",
                hint: "adopt needs statement names or prefix* patterns".into(),
            });
        }
        let mut protect = Vec::new();
        for p in list(&self.protect) {
            protect.push(glob::Pattern::new(&p).map_err(|e| {
                ConfigError::input("protect", format!("'{p}' is not a glob pattern: {e}"))
            })?);
        }
        let concurrency = match given(&self.concurrency) {
            None => 8,
            Some(c) => match c.parse::<usize>() {
                Ok(n) if (1..=MAX_CONCURRENCY).contains(&n) => n,
                _ => {
                    return Err(ConfigError::input(
                        "concurrency",
                        format!("'{c}' is not a number from 1 to {MAX_CONCURRENCY}"),
                    ))
                }
            },
        };
        let timeout = match given(&self.timeout) {
            None => Duration::from_secs(600),
            Some(t) => match parse_duration(t) {
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
            if name.is_empty() || crate::config::validate_id(id).is_err() {
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
            manifest,
            plan_for,
            dry_run: boolean("dry-run", &self.dry_run, false)?,
            adopt,
            options: Options {
                drop_tables: boolean("drop-tables", &self.drop_tables, true)?,
                stop_only: boolean("stop-only", &self.stop_only, false)?,
                carry_over_offsets: boolean("carry-over-offsets", &self.carry_over_offsets, false)?,
                protect,
            },
            concurrency,
            timeout,
            catalog: given(&self.catalog).map(str::to_string),
            database: given(&self.database).map(str::to_string),
            database_clusters,
            github_token: given(&self.github_token).map(Secret::new),
            comment,
            pr_number,
            summary: boolean("summary", &self.summary, true)?,
        })
    }
}

/// The directory the workspace-relative paths are taken from.
pub fn workspace() -> PathBuf {
    std::env::var_os("GITHUB_WORKSPACE")
        .map(PathBuf::from)
        .filter(|p| !p.as_os_str().is_empty())
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Run `command` (`plan`, `teardown`, `buildup`, `rebuild`, `adopt`); returns the exit code.
pub async fn run(checked: Checked, inputs: &RunInputs, command: &str) -> Result<i32, CliError> {
    let settings = inputs.check(command, &workspace())?;
    let manifest: Option<Manifest> = match &settings.manifest {
        Some(path) => Some(
            manifest::load(path, checked.app.as_deref())
                .map_err(|e| ConfigError::input("manifest", e.to_string()))?,
        ),
        None => None,
    };
    let app = match (&manifest, &checked.app) {
        (Some(m), _) => m.app.clone(),
        (None, Some(a)) => a.clone(),
        (None, None) => {
            return Err(ConfigError::Missing {
                input: "app",
                hint: "name the app with the app input or in a manifest".into(),
            }
            .into())
        }
    };
    let request = match command {
        "plan" => Request::Plan(settings.plan_for),
        "adopt" => Request::Adopt(settings.adopt.clone()),
        other => {
            let c = command_named("command", other)?;
            if settings.dry_run {
                Request::Plan(c)
            } else {
                Request::Run(c)
            }
        }
    };

    let mut creds = Credentials::new(checked.credentials.clone());
    let flink = creds.flink().await?;
    let kafka = creds.kafka().await?;
    let registry = if checked.credentials.schema_registry_url.is_some()
        || checked.credentials.schema_registry_secret_id.is_some()
    {
        Some(creds.schema_registry().await?)
    } else {
        None
    };
    let mut masker = Masker::new();
    masker.add_secret(&flink.api_secret);
    if let crate::confluent::kafka::KafkaSecurity::SaslSsl { api_secret, .. } = &kafka.security {
        masker.add_secret(api_secret);
    }
    if let Some(r) = &registry {
        masker.add_secret(&r.api_secret);
    }
    if let Some(t) = &settings.github_token {
        masker.add_secret(t);
    }

    let retry = RetryPolicy::default();
    let roots = creds.extra_roots()?;
    let flink_client = flink.client(&roots)?;
    let registry_client = match &registry {
        Some(r) => Some(
            SchemaRegistryClient::with_roots(
                &r.url,
                &ApiCredentials::new(r.api_key.clone(), r.api_secret.expose()),
                retry,
                &roots,
            )
            .map_err(|e| ConfigError::input("schema-registry-url", e.to_string()))?,
        ),
        None => None,
    };
    let kafka_admin = KafkaAdmin::connect(&kafka).map_err(|e| CliError::Failed(e.to_string()))?;
    tracing::info!(
        endpoint = %flink.endpoint,
        organization_id = %flink.organization_id,
        environment_id = %flink.environment_id,
        cloud = flink.cloud.as_deref().unwrap_or("-"),
        region = flink.region.as_deref().unwrap_or("-"),
        compute_pool_id = flink.compute_pool_id.as_deref().unwrap_or("-"),
        principal_id = flink.principal_id.as_deref().unwrap_or("-"),
        flink_api_key = %flink.api_key,
        kafka_bootstrap_servers = %kafka.bootstrap_servers,
        schema_registry_url = registry.as_ref().map_or("-", |r| r.url.as_str()),
        "configuration"
    );
    // Before anything changes: every API accepts its credentials, the tracker topic is usable.
    let kafka_source = creds.kafka_source();
    let reached = preflight::check(&preflight::Checks {
        flink: &flink_client,
        flink_source: &flink.source,
        environment_id: &flink.environment_id,
        registry: registry_client
            .as_ref()
            .zip(registry.as_ref().map(|r| &r.source)),
        kafka: &kafka_admin,
        kafka_source: &kafka_source,
        tracker_topic: &checked.tracker_topic,
    })
    .await
    .map_err(|e| match e {
        preflight::PreflightError::Config(c) => CliError::Config(c),
        other => CliError::Failed(other.to_string()),
    })?;
    let cluster = cluster_scope(reached.cluster_id, &settings.database_clusters)?;
    let tracker = Tracker::open(&kafka, &checked.tracker_topic).await?;

    let engine = Engine {
        flink: flink_client,
        kafka: kafka_admin,
        registry: registry_client,
        tracker,
        cluster,
        app: app.clone(),
        environment_id: flink.environment_id.clone(),
        defaults: Defaults {
            compute_pool: flink.compute_pool_id.clone(),
            principal: flink.principal_id.clone(),
            catalog: settings.catalog.clone(),
            database: settings.database.clone(),
        },
        provenance: provenance(settings.pr_number),
        timeout: settings.timeout,
        concurrency: settings.concurrency,
        lease_ttl: env_duration("CCAF_LEASE_TTL"),
        lease_wait: env_duration("CCAF_LEASE_WAIT")
            .unwrap_or(crate::tracker::LeaseRequest::DEFAULT_WAIT),
    };
    let report = engine
        .run(&request, manifest.as_ref(), &settings.options, &|_| {})
        .await
        .map_err(CliError::from)?;

    let ctx =
        GithubContext::from_env(settings.github_token.clone()).with_pr_number(settings.pr_number);
    let options = ReportOptions {
        comment: settings.comment,
        summary: settings.summary,
    };
    if let Err(e) = github::report_run(&report, &ctx, options, &masker).await {
        // The work is done; a report that cannot be written fails the step all the same.
        return Err(CliError::Failed(format!("reporting to GitHub failed: {e}")));
    }
    Ok(report.exit_code())
}

/// The Kafka cluster the run's connection reaches, and the databases the user names it by. A
/// mapping to any other cluster is bad input: it would have the run check (and delete) topics in
/// a cluster that is not the tables'.
fn cluster_scope(
    connected: Option<String>,
    names: &BTreeMap<String, String>,
) -> Result<ClusterScope, CliError> {
    for (name, id) in names {
        if connected.as_deref() != Some(id.as_str()) {
            return Err(ConfigError::input(
                "database-clusters",
                format!(
                    "database '{name}' is mapped to {id}, but kafka-bootstrap-servers reaches {}",
                    connected
                        .as_deref()
                        .unwrap_or("a cluster that reports no id")
                ),
            )
            .into());
        }
    }
    if connected.is_none() {
        tracing::warn!(
            "the Kafka cluster reports no cluster id: no table can be checked, so none is dropped"
        );
    }
    Ok(ClusterScope {
        connected,
        names: names.clone(),
    })
}

/// Who and what started this run, for the tracker's records.
fn provenance(pr_number: Option<u64>) -> Provenance {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let run_id = env("GITHUB_RUN_ID").map(|id| match env("GITHUB_RUN_ATTEMPT") {
        Some(a) if a != "1" => format!("{id}-{a}"),
        _ => id,
    });
    Provenance {
        git_sha: env("GITHUB_SHA"),
        run_id,
        pr_number,
        actor: env("GITHUB_ACTOR").or_else(|| env("USER")),
        ..Provenance::now()
    }
}

/// An advanced setting read from the environment only (not an action input), e.g. the lease's
/// time to live in tests that kill runs on purpose.
fn env_duration(name: &str) -> Option<Duration> {
    std::env::var(name)
        .ok()
        .and_then(|v| parse_duration(&v).ok())
}

impl From<EngineError> for CliError {
    fn from(e: EngineError) -> CliError {
        match e {
            EngineError::Tracker(t) => CliError::Tracker(Box::new(t)),
            other => CliError::Failed(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(pairs: &[(&str, &str)]) -> RunInputs {
        let mut i = RunInputs::default();
        for (k, v) in pairs {
            let v = Some(v.to_string());
            match *k {
                "dry-run" => i.dry_run = v,
                "drop-tables" => i.drop_tables = v,
                "concurrency" => i.concurrency = v,
                "timeout" => i.timeout = v,
                "protect" => i.protect = v,
                "adopt" => i.adopt = v,
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
            .check(command, Path::new("."))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn defaults_and_empty_values() {
        let s = inputs(&[("dry-run", ""), ("concurrency", " ")])
            .check("buildup", Path::new("/nonexistent"))
            .unwrap();
        assert!(!s.dry_run && s.options.drop_tables && !s.options.stop_only);
        assert_eq!((s.concurrency, s.timeout), (8, Duration::from_secs(600)));
        assert_eq!(s.plan_for, Command::Rebuild);
        assert_eq!(s.comment, CommentMode::Auto);
        assert!(s.manifest.is_none());
        let s = inputs(&[
            ("protect", "keep_*, audit\nlegacy-*"),
            ("timeout", "90s"),
            ("dry-run", "TRUE"),
        ])
        .check("teardown", Path::new("."))
        .unwrap();
        assert_eq!(s.options.protect.len(), 3);
        assert_eq!(s.timeout, Duration::from_secs(90));
        assert!(s.dry_run);
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
