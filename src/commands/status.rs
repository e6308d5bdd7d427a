//! `status`: the app's tracked statements, each with its live phase from the Flink API.

use crate::cli::Checked;
use crate::config::Credentials;
use crate::confluent::flink::Phase;
use crate::input::ConfigError;
use crate::tracker::{State, Tracker};

use super::{print_json, print_table, CommandError};

/// One line of `status`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusRow {
    pub statement_name: String,
    /// The tracker's state.
    pub state: State,
    /// The live phase from the Flink API, `NOT_FOUND` when the statement does not exist.
    pub phase: LivePhase,
    pub last_phase: Option<Phase>,
    pub detail: Option<String>,
}

/// A statement's live phase, or that it does not exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LivePhase {
    Live(Phase),
    NotFound,
}

impl LivePhase {
    pub fn as_str(&self) -> &str {
        match self {
            LivePhase::Live(p) => p.as_str(),
            LivePhase::NotFound => "NOT_FOUND",
        }
    }
}

impl serde::Serialize for LivePhase {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

pub async fn run(checked: Checked, json: bool) -> Result<(), CommandError> {
    let app = checked.app.clone().ok_or_else(|| ConfigError::Missing {
        input: "app",
        hint: "status shows one app's statements: give app".into(),
    })?;
    let mut creds = Credentials::new(checked.credentials.clone());
    let flink = creds.flink().await?;
    let kafka = creds.kafka().await?;
    let client = flink.client(&creds.extra_roots())?;
    let tracker = Tracker::open(&kafka, &checked.tracker_topic, creds.tracker_key().await?).await?;
    let records = tracker
        .list(Some(&flink.environment_id), Some(&app))
        .await?;
    let mut rows = Vec::with_capacity(records.len());
    for r in &records {
        let live =
            client
                .get(&r.statement_name)
                .await
                .map_err(|source| CommandError::ReadStatement {
                    name: r.statement_name.clone(),
                    source: Box::new(source),
                })?;
        rows.push(StatusRow {
            statement_name: r.statement_name.clone(),
            state: r.state.clone(),
            phase: match &live {
                Some(s) => LivePhase::Live(s.phase().clone()),
                None => LivePhase::NotFound,
            },
            last_phase: r.last_phase.clone(),
            detail: live
                .as_ref()
                .and_then(|s| s.status.detail.clone())
                .filter(|d| !d.is_empty()),
        });
    }
    let mut out = std::io::stdout().lock();
    if json {
        print_json(&mut out, &rows)
    } else {
        print_table(
            &mut out,
            &["STATEMENT", "STATE", "PHASE", "LAST PHASE", "DETAIL"],
            rows.iter().map(|r| {
                vec![
                    r.statement_name.clone(),
                    r.state.to_string(),
                    r.phase.as_str().to_string(),
                    r.last_phase
                        .as_ref()
                        .map_or("-", |p| p.as_str())
                        .to_string(),
                    r.detail.clone().unwrap_or_default(),
                ]
            }),
        )
    }
}
