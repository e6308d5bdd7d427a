//! `track …`: the tracker's records by hand — list, get, put, delete — and `track lease`, which
//! holds an app's lease (for tests and for diagnosing a stuck lease).

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use crate::cancel::Cancel;
use crate::cli::RunEnv;
use crate::cli::{Checked, TrackCommand};
use crate::config::Credentials;
use crate::input::{parse_duration, ConfigError};
use crate::text::{escape_line, print_line};
use crate::tracker::lease::LeaseRequest;
use crate::tracker::{Record, Scope, Tracker};

use super::{print_json, print_table, CommandError};

/// Run a tracker command. A signal ends it where it is, except that a held lease is released.
pub async fn run(
    checked: Checked,
    command: TrackCommand,
    run_env: &RunEnv,
    cancel: Cancel,
) -> Result<(), CommandError> {
    let lease = matches!(command, TrackCommand::Lease { .. });
    tokio::select! {
        r = run_uncancelled(checked, command, run_env, &cancel) => r,
        s = cancel.until_requested(), if !lease => Err(CommandError::Cancelled(s)),
    }
}

async fn run_uncancelled(
    checked: Checked,
    command: TrackCommand,
    run_env: &RunEnv,
    cancel: &Cancel,
) -> Result<(), CommandError> {
    let mut creds = Credentials::new(checked.credentials.clone());
    match command {
        TrackCommand::List { json } => {
            let env = creds.environment_id_opt().await?;
            let kafka = creds.kafka().await?;
            let tracker =
                Tracker::open(&kafka, &checked.tracker_topic, creds.tracker_key().await?).await?;
            let records = tracker.list(env.as_deref(), checked.app.as_deref()).await?;
            let unverified = tracker
                .unverified(env.as_deref(), checked.app.as_deref())
                .await?;
            for u in &unverified {
                tracing::warn!(key = %u.key, offset = u.offset, reason = %u.reason, "a tracker value the app cannot prove it wrote (never acted on)");
            }
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
                            r.last_phase
                                .as_ref()
                                .map_or("-", |p| p.as_str())
                                .to_string(),
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
            let env = creds.environment_id().await?;
            let kafka = creds.kafka().await?;
            let tracker =
                Tracker::open(&kafka, &checked.tracker_topic, creds.tracker_key().await?).await?;
            let key = crate::tracker::record_key(&env, &name);
            match tracker.get(&env, &name).await? {
                Some(r) => print_json(&mut std::io::stdout().lock(), &r),
                None => match tracker
                    .unverified(Some(&env), None)
                    .await?
                    .into_iter()
                    .find(|u| u.key == key)
                    .and_then(|u| u.record.map(|r| (r, u.reason)))
                {
                    // Shown for review: `track put` of it, once checked, signs it.
                    Some((r, reason)) => {
                        tracing::warn!(%reason, "this record is not the app's: review it, then `track put` it to sign it with the app's key");
                        print_json(&mut std::io::stdout().lock(), &*r)
                    }
                    None => Err(CommandError::NotTracked {
                        name,
                        environment_id: env,
                        topic: checked.tracker_topic.clone(),
                    }),
                },
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
            let tracker =
                Tracker::open(&kafka, &checked.tracker_topic, creds.tracker_key().await?).await?;
            let d = tracker.put(&record).await?;
            print_line(&format!("put {} (offset {})", record.key(), d.offset));
            Ok(())
        }
        TrackCommand::Delete { name } => {
            let env = creds.environment_id().await?;
            let kafka = creds.kafka().await?;
            let tracker =
                Tracker::open(&kafka, &checked.tracker_topic, creds.tracker_key().await?).await?;
            let existed = tracker.get(&env, &name).await?.is_some();
            tracker.delete(&env, &name).await?;
            if existed {
                print_line(&format!("deleted {env}/{name}"));
            } else {
                print_line(&format!(
                    "{env}/{name} was not tracked (tombstone written anyway)"
                ));
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
            let run_id = run_id.unwrap_or_else(|| run_env.lease_run_id());
            let env = creds.environment_id().await?;
            let kafka = creds.kafka().await?;
            let tracker =
                Tracker::open(&kafka, &checked.tracker_topic, creds.tracker_key().await?).await?;
            let mut request = LeaseRequest::new(&env, &app, &run_id, &run_env.lease_holder());
            request.wait = wait;
            request.ttl = ttl;
            hold_lease(&tracker, &request, not_before_ms, cancel).await
        }
    }
}

/// Take the lease, say so, hold it until standard input closes, release it.
async fn hold_lease(
    tracker: &Tracker,
    request: &LeaseRequest,
    not_before_ms: Option<u64>,
    cancel: &Cancel,
) -> Result<(), CommandError> {
    // Connect (and create the topic) before the starting gun, so the race is about the lease.
    tracker.ensure_topic().await?;
    tracker
        .load(&Scope::app(&request.environment_id, &request.app))
        .await?;
    if let Some(at) = not_before_ms {
        let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
        if at > now {
            tokio::time::sleep(Duration::from_millis(at - now)).await;
        }
    }
    let lease = tracker
        .acquire_lease_unless(request, cancel.until_requested())
        .await?
        .map_err(CommandError::Cancelled)?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{}",
            escape_line(&format!("acquired {}", lease.run_id()))
        )
        .map_err(CommandError::Output)?;
        out.flush().map_err(CommandError::Output)?;
    }
    // Hold until stdin closes (or an error reading it), or a signal.
    let stdin_closed = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut sink);
    });
    let held = tokio::select! {
        held = stdin_closed => held.map_err(CommandError::Stdin),
        s = cancel.until_requested() => Err(CommandError::Cancelled(s)),
    };
    let checked = lease.check();
    lease.release().await?;
    held?;
    checked?;
    print_line(&format!("released {}", request.run_id));
    Ok(())
}

fn read_record(file: &Path) -> Result<Record, ConfigError> {
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
