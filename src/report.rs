//! The run report: one serde value describing what a run did to every statement and table. The
//! executor fills it; the reporters (step outputs, job summary, PR comment) only read it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::confluent::watch::WatchStats;
use crate::http::limit::ApiUsage;
use crate::tracker::WriteStats;

use crate::cancel::Signal;
use crate::command::{Command, Goal};
use crate::confluent::flink::Phase;
pub use crate::plan::{Action, Stage};

pub const REPORT_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RunReport {
    pub version: u32,
    pub command: Command,
    /// With `plan` (and dry runs): what was planned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_for: Option<Goal>,
    pub app: String,
    pub environment_id: String,
    pub dry_run: bool,
    pub started_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub outcome: Outcome,
    /// The signal that cancelled the run (with [`Outcome::Cancelled`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<Signal>,
    pub steps: Vec<StepReport>,
    #[serde(default)]
    pub notes: Vec<String>,
    /// Requests per API, and the concurrency each reached.
    #[serde(default)]
    pub apis: Vec<ApiUsage>,
    /// Where the run's time went besides the requests: the watch's lists and GETs, the waits
    /// per kind of change, the tracker's writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spent: Option<Spent>,
    /// Values of the tracker the app cannot prove it wrote, and writes that tried to replace
    /// what it did: never acted on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untrusted: Vec<Untrusted>,
    /// Live statements with the app's label that the tracker has no record of the app wrote.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub untracked: Vec<Untracked>,
}

/// Where a run's time went besides the requests (those are in [`RunReport::apis`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Spent {
    pub watch: WatchStats,
    pub tracker: WriteStats,
}

/// A tracker value the run did not believe.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Untrusted {
    pub key: String,
    pub offset: i64,
    pub reason: String,
}

/// A statement of the app's (by its label) that the tracker does not know.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Untracked {
    pub name: String,
    pub phase: Phase,
    /// What to do about it.
    pub hint: String,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Everything planned was done.
    Succeeded,
    /// Nothing needed doing.
    NothingToDo,
    /// A plan or dry run: nothing was changed.
    Planned,
    /// At least one step failed or was refused (the steps say which); exit code 1.
    Failed,
    /// The run lost its lease and stopped changing anything (the steps say what was done and
    /// what was not); exit code 3.
    LeaseLost,
    /// A signal cancelled the run: it started no more steps, the steps in flight finished or
    /// recorded where they stood; exit code 130 (SIGINT) or 143 (SIGTERM).
    Cancelled,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Statement,
    Table,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Done as planned.
    Done,
    /// Nothing to do (unchanged, or protected and skipped).
    Unchanged,
    /// Only planned (plan, dry run).
    Planned,
    /// Not started because a step it depends on failed (or the run lost its lease).
    Blocked,
    Failed,
    /// Not done because the run cannot prove the target is the app's (a live statement that is
    /// not the one recorded, a table it cannot check): nothing was touched.
    Refused,
    /// Stopped by the run's cancellation while it waited; its record says where it stood.
    Cancelled,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepReport {
    pub stage: Stage,
    pub action: Action,
    pub kind: Kind,
    /// The statement name, or the table.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logical_name: Option<String>,
    pub status: Status,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_before: Option<Phase>,
    /// The phase when the step ended; `None` when the statement is gone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase_after: Option<Phase>,
    pub duration_ms: u64,
    /// For tables: what was removed.
    #[serde(default, skip_serializing_if = "Removed::is_empty")]
    pub removed: Removed,
    /// For statements: the tables its SQL creates, reads and writes (the app's picture).
    #[serde(default, skip_serializing_if = "TableUse::is_empty")]
    pub tables: TableUse,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<StepError>,
    /// Changes the service asked to be tried again, and were (a create after a table's drop,
    /// a name still held), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retries: Vec<Retry>,
}

impl StepReport {
    /// The retries in words, for the step's line and the summary: `retried 2×: …`.
    pub fn retry_note(&self) -> Option<String> {
        if self.retries.is_empty() {
            return None;
        }
        let mut causes: Vec<&'static str> = Vec::new();
        for r in &self.retries {
            let words = r.cause.words();
            if !causes.contains(&words) {
                causes.push(words);
            }
        }
        Some(format!(
            "retried {}×: {}",
            self.retries.len(),
            causes.join("; ")
        ))
    }
}

/// One more try of a step's change, because the service said to try again later.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Retry {
    pub cause: RetryCause,
    /// When, in milliseconds after the step started.
    pub at_ms: u64,
    /// What the service said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Why a change was tried again.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RetryCause {
    /// A table created right after its drop: the service still had it in its catalog and
    /// failed the create, "try again later" (§F.5). The failed statement was deleted first.
    RecreateWindow,
    /// The statement's name was still held by one deleted moments ago (409, §F.3).
    NameHeld,
    /// A materialized table created right after its drop: its catalog entry was still there,
    /// "table already exists" (§G.7). The failed statement was deleted first.
    CatalogLingers,
    /// A materialized table was busy with a change ("currently being modified", or a 409 on
    /// its DELETE, §G.6).
    BeingModified,
}

crate::command::spelled!(RetryCause {
    RecreateWindow => "recreate_window",
    NameHeld => "name_held",
    CatalogLingers => "catalog_lingers",
    BeingModified => "being_modified",
});

impl RetryCause {
    fn words(self) -> &'static str {
        match self {
            RetryCause::RecreateWindow => {
                "its table was dropped moments ago and the service said to try again later"
            }
            RetryCause::NameHeld => "its name was still held by a statement deleted moments ago",
            RetryCause::CatalogLingers => {
                "its materialized table was dropped moments ago and the catalog still had it"
            }
            RetryCause::BeingModified => "its materialized table was busy with another change",
        }
    }
}

/// What the engine tells the run's display while it works: a step started, a step finished.
/// A step is known by its action and name (a statement can be torn down and built up in one run,
/// never twice by the same action).
#[derive(Debug, Clone, Copy)]
pub enum StepEvent<'a> {
    Started {
        stage: Stage,
        action: Action,
        name: &'a str,
    },
    Finished(&'a StepReport),
    /// A step in flight waits on something worth saying (a full compute pool, a retry's
    /// backoff): the heartbeat says it instead of the generic wait.
    Waiting {
        action: Action,
        name: &'a str,
        note: &'a str,
    },
}

/// The engine's listener for [`StepEvent`]s (called from the steps' tasks, so it must not block
/// for long).
pub type Progress<'a> = &'a (dyn Fn(StepEvent<'_>) + Sync);

/// The tables a statement's SQL touches, by the names table steps carry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct TableUse {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub creates: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reads: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub writes: Vec<String>,
}

impl TableUse {
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty() && self.reads.is_empty() && self.writes.is_empty()
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Removed {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    /// The DROP TABLE statement did not remove them in time: they were deleted directly.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deleted_directly: bool,
}

impl Removed {
    pub fn is_empty(&self) -> bool {
        self.topic.is_none() && self.subjects.is_empty() && !self.deleted_directly
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StepError {
    pub message: String,
    /// The statement's `status.detail`, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The statement's exceptions (`name: message`), newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<String>,
}

impl RunReport {
    fn names(&self, pick: impl Fn(&StepReport) -> bool) -> Vec<String> {
        self.steps
            .iter()
            .filter(|s| pick(s))
            .map(|s| s.name.clone())
            .collect()
    }

    /// Statements deleted, stopped or pruned.
    pub fn torn_down(&self) -> Vec<String> {
        self.names(|s| {
            s.kind == Kind::Statement && s.status == Status::Done && s.action.tears_down()
        })
    }

    /// Statements created or resumed.
    pub fn rebuilt(&self) -> Vec<String> {
        self.names(|s| {
            s.kind == Kind::Statement
                && s.status == Status::Done
                && s.action.builds_up()
                && s.action != Action::Evolve
        })
    }

    /// The statements that evolved a materialized table in place.
    pub fn evolved(&self) -> Vec<String> {
        self.names(|s| {
            s.kind == Kind::Statement && s.status == Status::Done && s.action == Action::Evolve
        })
    }

    pub fn unchanged(&self) -> Vec<String> {
        self.names(|s| s.kind == Kind::Statement && s.action == Action::Unchanged)
    }

    pub fn dropped_tables(&self) -> Vec<String> {
        self.names(|s| {
            s.kind == Kind::Table && s.status == Status::Done && s.action == Action::DropTable
        })
    }

    /// Steps that failed, were refused, or could not run because of a failure.
    pub fn failed(&self) -> Vec<String> {
        self.names(|s| {
            matches!(
                s.status,
                Status::Failed | Status::Blocked | Status::Refused | Status::Cancelled
            )
        })
    }

    /// The process exit code for this report: 1 when anything failed, 3 when the run lost its
    /// lease, 130/143 when a signal cancelled it, else 0.
    pub fn exit_code(&self) -> i32 {
        match self.outcome {
            Outcome::Failed => 1,
            Outcome::LeaseLost => 3,
            Outcome::Cancelled => self
                .cancelled_by
                .map_or(Signal::Terminate.exit_code(), Signal::exit_code),
            Outcome::Succeeded | Outcome::NothingToDo | Outcome::Planned => 0,
        }
    }
}
