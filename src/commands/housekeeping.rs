//! The housekeeping commands — `plan`, `teardown`, `buildup`, `rebuild`, `adopt` — from checked
//! inputs to exit code: read the manifest, resolve credentials, build the clients, check each
//! API before anything changes, run the engine, report to GitHub.

use std::collections::BTreeMap;
use std::io::IsTerminal;

use crate::cancel::Cancel;
use crate::cli::{Checked, Reporting};
use crate::config::Credentials;
use crate::confluent::flink::ListFilter;
use crate::confluent::kafka::KafkaAdmin;
use crate::confluent::schema_registry::SchemaRegistryClient;
use crate::confluent::watch::StatementWatch;
use crate::engine::{Clients, Engine, RunSpec, Site};
use crate::github::live::{self, Live};
use crate::github::{self, Masker, Presentation, ReportOptions};
use crate::http::{Credentials as ApiCredentials, RetryPolicy};
use crate::input::ConfigError;
use crate::ownership::{ClusterScope, OWNER_LABEL};
use crate::preflight;
use crate::tracker::Tracker;

use super::CommandError;

/// Run what `spec` asks; returns the exit code. A signal before the engine starts ends the
/// command at once (nothing was changed); after that the engine stops cooperatively and the
/// report is still written.
pub async fn run(
    checked: Checked,
    spec: RunSpec,
    reporting: Reporting,
    cancel: Cancel,
) -> Result<i32, CommandError> {
    let (engine, masker) = tokio::select! {
        prepared = prepare(checked, spec, &reporting, cancel.clone()) => prepared?,
        signal = cancel.until_requested() => return Err(CommandError::Cancelled(signal)),
    };
    // The steps shown as they finish, and the ones still waiting named once per heartbeat.
    let actions = reporting.actions.then_some("true");
    let presentation = Presentation::from_parts(actions, std::io::stdout().is_terminal());
    let live = Live::new(live::human_out(reporting.output), presentation, &masker)
        .with_status_line(live::status_target(reporting.output));
    let every = reporting.heartbeat;
    let on_event = |e: crate::report::StepEvent<'_>| live.event(e);
    let result = {
        let run = engine.run(&on_event);
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

    let options = ReportOptions {
        comment: reporting.comment,
        summary: reporting.summary,
        presentation,
        output: reporting.output,
    };
    // The work is done; a report that cannot be written fails the step all the same.
    github::report_run(&report, &reporting.github, options, &masker)
        .await
        .map_err(CommandError::Report)?;
    tracing::debug!("reported");
    // Every tracker write was acknowledged before the report: nothing is left to flush. The
    // Kafka clients' destructors would only wait for librdkafka's threads (≈ 0.2 s of every
    // run), so the process leaves them to the exit.
    std::mem::forget(engine);
    Ok(report.exit_code())
}

/// Everything a run needs that takes requests, checked before anything changes: the
/// credentials, the clients (each API answering), the tracker.
async fn prepare(
    checked: Checked,
    spec: RunSpec,
    reporting: &Reporting,
    cancel: Cancel,
) -> Result<(Engine, Masker), CommandError> {
    tracing::debug!(
        statements = spec.manifest.as_ref().map_or(0, |m| m.statements.len()),
        "read the manifest"
    );
    let app = spec.app.clone();
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
    if let Some(t) = &reporting.github.token {
        masker.add_secret(t);
    }

    let retry = RetryPolicy::default();
    let roots = creds.extra_roots();
    let flink_client = flink.client(&roots)?.with_concurrency(spec.concurrency);
    let registry_client = match &registry {
        Some(r) => Some(
            SchemaRegistryClient::with_roots(
                &r.url,
                &ApiCredentials::new(r.api_key.clone(), r.api_secret.expose()),
                retry,
                &roots,
            )
            .map_err(|e| ConfigError::input("schema-registry-url", e.to_string()))?
            .with_concurrency(spec.concurrency),
        ),
        None => None,
    };
    let kafka_admin = KafkaAdmin::connect(&kafka)?.with_concurrency(spec.concurrency);
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
    let cluster = cluster_scope(reached.cluster_id, &spec.database_clusters)?;

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
        &spec.database_clusters,
    );
    let clients = Clients {
        flink: flink_client,
        watch,
        kafka: kafka_admin,
        registry: registry_client,
        tracker,
    };
    let site = Site {
        environment_id: flink.environment_id.clone(),
        cluster,
        names,
        compute_pool: flink.compute_pool_id.clone(),
        principal: flink.principal_id.clone(),
    };
    Ok((Engine::new(clients, site, spec, cancel), masker))
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
