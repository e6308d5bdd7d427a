//! The commands, one file each: the housekeeping commands (`plan`, `teardown`, `buildup`,
//! `rebuild`, `adopt`), `status`, `export`, and the tracker's own (`track …`). Each takes its checked
//! inputs from [`crate::cli::Invocation`] and returns the process's exit code or a
//! [`CommandError`] that says which one.

pub mod export;
pub mod housekeeping;
pub mod status;
pub mod track;

use std::io::Write;

use crate::cancel::Signal;
use crate::text::escape_line;

use crate::confluent::flink::FlinkError;
use crate::confluent::kafka::KafkaError;
use crate::engine::EngineError;
use crate::github::GithubError;
use crate::input::ConfigError;
use crate::preflight::PreflightError;
use crate::secrets::{SecretsError, SecretsUnavailable};
use crate::tracker::TrackerError;

/// Why a command failed, and so the exit code. Every variant keeps its cause as its `source`,
/// so the message `main` prints is the whole chain.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// Bad input or configuration: exit 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secrets(#[from] SecretsUnavailable),
    #[error(transparent)]
    Preflight(Box<PreflightError>),
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error(transparent)]
    Tracker(Box<TrackerError>),
    #[error(transparent)]
    Engine(Box<EngineError>),
    #[error("reading statement `{name}`")]
    ReadStatement {
        name: String,
        #[source]
        source: Box<FlinkError>,
    },
    #[error("no tracker record for statement `{name}` in environment `{environment_id}` (topic `{topic}`)")]
    NotTracked {
        name: String,
        environment_id: String,
        topic: String,
    },
    #[error("reporting to GitHub failed")]
    Report(#[source] GithubError),
    #[error("writing the output failed")]
    Output(#[source] std::io::Error),
    #[error("writing JSON failed")]
    Json(#[source] serde_json::Error),
    #[error("waiting for standard input to close")]
    Stdin(#[source] tokio::task::JoinError),
    /// A signal cancelled the command before it changed anything: exit 130 or 143.
    #[error("cancelled by {0} before anything was changed")]
    Cancelled(Signal),
}

impl From<TrackerError> for CommandError {
    fn from(e: TrackerError) -> CommandError {
        CommandError::Tracker(Box::new(e))
    }
}

impl From<EngineError> for CommandError {
    fn from(e: EngineError) -> CommandError {
        match e {
            EngineError::Config(c) => CommandError::Config(c),
            other => CommandError::Engine(Box::new(other)),
        }
    }
}

impl From<SecretsError> for CommandError {
    fn from(e: SecretsError) -> CommandError {
        match e {
            SecretsError::Config(c) => CommandError::Config(c),
            SecretsError::Unavailable(u) => CommandError::Secrets(u),
        }
    }
}

impl From<PreflightError> for CommandError {
    fn from(e: PreflightError) -> CommandError {
        match e {
            PreflightError::Config(c) => CommandError::Config(c),
            other => CommandError::Preflight(Box::new(other)),
        }
    }
}

impl CommandError {
    /// 1 operation failed, 2 bad input or configuration, 3 another run holds the lease,
    /// 130/143 cancelled by SIGINT/SIGTERM.
    pub fn exit_code(&self) -> i32 {
        match self {
            CommandError::Config(_) => 2,
            CommandError::Cancelled(signal) => signal.exit_code(),
            CommandError::Tracker(e) => tracker_exit_code(e),
            CommandError::Engine(e) => match &**e {
                EngineError::Tracker(t) => tracker_exit_code(t),
                EngineError::Flink(_) | EngineError::Kafka(_) | EngineError::SchemaRegistry(_) => 1,
                EngineError::Cancelled(signal) => signal.exit_code(),
                EngineError::Config(_) => 2,
            },
            CommandError::Secrets(_)
            | CommandError::Preflight(_)
            | CommandError::Kafka(_)
            | CommandError::ReadStatement { .. }
            | CommandError::NotTracked { .. }
            | CommandError::Report(_)
            | CommandError::Output(_)
            | CommandError::Json(_)
            | CommandError::Stdin(_) => 1,
        }
    }

    /// The input a bad-input error names.
    pub fn input_name(&self) -> Option<&'static str> {
        match self {
            CommandError::Config(c) => Some(c.input_name()),
            _ => None,
        }
    }
}

fn tracker_exit_code(e: &TrackerError) -> i32 {
    match e {
        TrackerError::LeaseHeld { .. } => 3,
        TrackerError::InvalidTopic(_)
        | TrackerError::InvalidRecord(_)
        | TrackerError::InvalidLease(_) => 2,
        _ => 1,
    }
}

/// Pretty JSON and a newline, every line defused the JSON way ([`crate::text::defuse_json`]).
fn print_json<T: serde::Serialize + ?Sized>(
    out: &mut impl Write,
    v: &T,
) -> Result<(), CommandError> {
    let text = serde_json::to_string_pretty(v).map_err(CommandError::Json)?;
    writeln!(out, "{}", crate::text::defuse_json(&text)).map_err(CommandError::Output)
}

/// A table of left-aligned columns, two spaces apart, the last column unpadded.
fn print_table(
    out: &mut impl Write,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), CommandError> {
    // Cells escaped before the widths are taken: a detail from the API stays in its row.
    let rows: Vec<Vec<String>> = rows
        .map(|row| {
            row.into_iter()
                .map(|c| escape_line(&c).into_owned())
                .collect()
        })
        .collect();
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
    .map_err(CommandError::Output)?;
    for row in rows {
        writeln!(out, "{}", escape_line(&line(row))).map_err(CommandError::Output)?;
    }
    Ok(())
}
