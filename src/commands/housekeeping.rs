//! The housekeeping commands — `plan`, `teardown`, `buildup`, `rebuild`, `adopt` — from checked
//! inputs to exit code: read the manifest, resolve credentials, build the clients, check each
//! API before anything changes, run the engine, report to GitHub.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::cancel::Cancel;
use crate::cli::{Checked, Settings};
use crate::command::{Command, Goal};
use crate::config::Credentials;
use crate::confluent::flink::ListFilter;
use crate::confluent::http::{Credentials as ApiCredentials, RetryPolicy};
use crate::confluent::kafka::KafkaAdmin;
use crate::confluent::schema_registry::SchemaRegistryClient;
use crate::confluent::watch::StatementWatch;
use crate::engine::{Defaults, Engine, Request};
use crate::github::live::{self, Live};
use crate::github::{self, GithubContext, Masker, Presentation, ReportOptions};
use crate::input::{parse_duration, ConfigError};
use crate::manifest::{self, Manifest};
use crate::ownership::{ClusterScope, OWNER_LABEL};
use crate::preflight;
use crate::tracker::{Provenance, Tracker};

use super::CommandError;

/// What the engine is asked to do: `plan` and dry runs plan, `adopt` adopts, the rest run.
fn request(command: Command, settings: &Settings) -> Request {
    let goal = match command {
        Command::Plan => return Request::Plan(settings.plan_for),
        Command::Adopt => {
            return Request::Adopt(crate::engine::adopt::Selection {
                statements: settings.adopt.clone(),
                tables: settings.adopt_tables.clone(),
            })
        }
        Command::Teardown => Goal::Teardown,
        Command::Buildup => Goal::Buildup,
        Command::Rebuild => Goal::Rebuild,
    };
    if settings.dry_run {
        Request::Plan(goal)
    } else {
        Request::Run(goal)
    }
}

/// Run `command`; returns the exit code. A signal before the engine starts ends the command
/// at once (nothing was changed); after that the engine stops cooperatively and the report is
/// still written.
pub async fn run(
    command: Command,
    checked: Checked,
    settings: Settings,
    cancel: Cancel,
) -> Result<i32, CommandError> {
    let request = request(command, &settings);
    refuse_fork_head(command, &request, &settings)?;
    let (engine, manifest, masker) = tokio::select! {
        prepared = prepare(checked, &settings, cancel.clone()) => prepared?,
        signal = cancel.until_requested() => return Err(CommandError::Cancelled(signal)),
    };
    // The steps shown as they finish, and the ones still waiting named once per heartbeat.
    let presentation = Presentation::detect();
    let live = Live::new(live::human_out(settings.output), presentation, &masker)
        .with_status_line(live::status_target(settings.output));
    let every = live::heartbeat_interval();
    let on_event = |e: crate::report::StepEvent<'_>| live.event(e);
    let result = {
        let run = engine.run(&request, manifest.as_ref(), &settings.options, &on_event);
        tokio::pin!(run);
        let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                result = &mut run => break result,
                _ = beat.tick() => live.heartbeat(every),
            }
        }
    };
    let report = match result {
        Ok(report) => report,
        Err(e) => {
            // The error is printed after: not inside a stage's group.
            live.close();
            return Err(e.into());
        }
    };
    live.finish(&report);
    tracing::debug!("run finished; reporting");

    let ctx =
        GithubContext::from_env(settings.github_token.clone()).with_pr_number(settings.pr_number);
    let options = ReportOptions {
        comment: settings.comment,
        summary: settings.summary,
        presentation,
        output: settings.output,
    };
    // The work is done; a report that cannot be written fails the step all the same.
    github::report_run(&report, &ctx, options, &masker)
        .await
        .map_err(CommandError::Report)?;
    tracing::debug!("reported");
    // Every tracker write was acknowledged before the report: nothing is left to flush. The
    // Kafka clients' destructors would only wait for librdkafka's threads (≈ 0.2 s of every
    // run), so the process leaves them to the exit.
    std::mem::forget(engine);
    Ok(report.exit_code())
}

/// A run that changes things refuses a fork's head on the events that give it this repository's
/// secrets (`pull_request_target`, `workflow_run`) unless `allow-fork-head` says otherwise: the
/// manifest and SQL it would read may be anyone's. A payload that does not say whose head it is
/// counts as a fork's. Before any network call: bad input, exit 2.
fn refuse_fork_head(
    command: Command,
    request: &Request,
    settings: &Settings,
) -> Result<(), ConfigError> {
    use github::event::{Event, Head, FORK_HEAD_EVENTS};
    if settings.allow_fork_head || matches!(request, Request::Plan(_)) {
        return Ok(());
    }
    let ctx = GithubContext::from_env(None);
    let Some(name) = ctx
        .event_name
        .as_deref()
        .filter(|n| FORK_HEAD_EVENTS.contains(n))
    else {
        return Ok(());
    };
    let head = match &ctx.event_path {
        Some(path) => match Event::load(name, path) {
            Ok(event) => event.head(),
            Err(e) => {
                tracing::warn!(error = %e, "the event payload cannot be read");
                Head::Unknown
            }
        },
        None => Head::Unknown,
    };
    let whose = match head {
        Head::Own => return Ok(()),
        Head::Fork(Some(repo)) => format!("a fork's ({repo})"),
        Head::Fork(None) => "a fork's (a deleted repository)".to_string(),
        Head::Unknown => "maybe a fork's (the event payload does not say)".to_string(),
    };
    Err(ConfigError::input(
        "allow-fork-head",
        format!(
            "{command} refused on the {name} event: its head is {whose}, and a fork's \
             manifest and SQL would run with this repository's credentials; set \
             allow-fork-head: true only if the workflow checks out trusted code"
        ),
    ))
}

/// Everything a run needs, read and checked before anything changes: the manifest, the
/// credentials, the clients (each API answering), the tracker.
async fn prepare(
    checked: Checked,
    settings: &Settings,
    cancel: Cancel,
) -> Result<(Engine, Option<Manifest>, Masker), CommandError> {
    let manifest: Option<Manifest> = match &settings.manifest {
        Some(path) => Some(
            manifest::load(path, &settings.workspace, checked.app.as_deref())
                .map_err(ConfigError::Manifest)?,
        ),
        None => None,
    };
    tracing::debug!(
        statements = manifest.as_ref().map_or(0, |m| m.statements.len()),
        "read the manifest"
    );
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
    let roots = creds.extra_roots();
    let flink_client = flink.client(&roots)?.with_concurrency(settings.concurrency);
    let registry_client = match &registry {
        Some(r) => Some(
            SchemaRegistryClient::with_roots(
                &r.url,
                &ApiCredentials::new(r.api_key.clone(), r.api_secret.expose()),
                retry,
                &roots,
            )
            .map_err(|e| ConfigError::input("schema-registry-url", e.to_string()))?
            .with_concurrency(settings.concurrency),
        ),
        None => None,
    };
    let kafka_admin = KafkaAdmin::connect(&kafka)?.with_concurrency(settings.concurrency);
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
    tracing::debug!("clients ready");
    // The tracker's clients first: librdkafka connects (and the idempotent producer gets its
    // id) in the background while the pre-flight checks run, instead of on the lease's first
    // write. Creating them reads and writes nothing.
    let tracker_key = creds.tracker_key().await?;
    tracing::info!(source = %tracker_key.source, "tracker key");
    let tracker = Tracker::open(&kafka, &checked.tracker_topic, tracker_key).await?;
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
    .await?;
    tracing::debug!("pre-flight checks passed");
    let cluster = cluster_scope(reached.cluster_id, &settings.database_clusters)?;

    // The watch lists the app's statements: those carrying its owner label.
    let watch = StatementWatch::new(
        flink_client.clone(),
        ListFilter {
            label_selector: Some(format!("{OWNER_LABEL}={app}")),
            compute_pool_id: None,
        },
    );
    let names = crate::identity::Names::new(
        &flink.environment_id,
        cluster.connected.as_deref(),
        &settings.database_clusters,
    );
    let engine = Engine {
        flink: flink_client,
        watch,
        kafka: kafka_admin,
        registry: registry_client,
        tracker,
        cluster,
        names,
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
        cancel,
    };
    Ok((engine, manifest, masker))
}

/// The Kafka cluster the run's connection reaches, and the databases the user names it by. A
/// mapping to any other cluster is bad input: it would have the run check (and delete) topics in
/// a cluster that is not the tables'.
fn cluster_scope(
    connected: Option<String>,
    names: &BTreeMap<String, String>,
) -> Result<ClusterScope, ConfigError> {
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
            ));
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
