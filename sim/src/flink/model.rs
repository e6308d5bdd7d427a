//! A statement as the simulator keeps it, and its JSON form (`sql.v1.Statement`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use flink_sql::{Analysis, ParseError, StatementKind};
use serde_json::{json, Value};

/// `status.phase`. The real enum is extensible; these are the values the spec lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Running,
    Completed,
    Deleting,
    Failing,
    Failed,
    Stopping,
    Stopped,
    Degraded,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "PENDING",
            Phase::Running => "RUNNING",
            Phase::Completed => "COMPLETED",
            Phase::Deleting => "DELETING",
            Phase::Failing => "FAILING",
            Phase::Failed => "FAILED",
            Phase::Stopping => "STOPPING",
            Phase::Stopped => "STOPPED",
            Phase::Degraded => "DEGRADED",
        }
    }
}

/// A stop or resume the service accepted and has not started yet: a PUT or PATCH is answered
/// at once, and the phase moves later (the reference, §F.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Stop,
    Resume,
}

/// `status.scaling_status.scaling_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalingState {
    Ok,
    /// The compute pool has no room for the statement: it stays PENDING.
    PoolExhausted,
}

impl ScalingState {
    pub fn as_str(self) -> &'static str {
        match self {
            ScalingState::Ok => "OK",
            ScalingState::PoolExhausted => "POOL_EXHAUSTED",
        }
    }
}

/// How many past versions of a statement are kept for the lagging list, at most.
const HISTORY_CAP: usize = 64;

#[derive(Debug, Clone)]
pub struct StatementException {
    pub name: String,
    pub message: String,
    pub timestamp: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct StatementRec {
    pub name: String,
    pub uid: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub resource_version: u64,
    pub labels: BTreeMap<String, String>,
    pub sql: String,
    pub properties: BTreeMap<String, String>,
    pub compute_pool_id: String,
    pub principal: String,
    pub stopped: bool,
    pub baseline_cfu: Option<i64>,
    pub phase: Phase,
    pub detail: String,
    pub parsed: Result<Analysis, ParseError>,
    /// When the current transitional phase (PENDING, STOPPING, DELETING) is due to end.
    pub due: Option<Instant>,
    /// The phase engine is working on this statement (its SQL effects are under way).
    pub busy: bool,
    /// Its SQL effects have been applied once (a resumed CTAS does not create its table again).
    pub effects_applied: bool,
    pub exceptions: Vec<StatementException>,
    pub latest_offsets: BTreeMap<String, String>,
    pub latest_offsets_timestamp: Option<DateTime<Utc>>,
    pub end_time: Option<DateTime<Utc>>,
    /// The rows of a query that has them (`INFORMATION_SCHEMA` queries), once it completed.
    pub result: Option<super::info_schema::ResultSet>,
    /// An accepted stop or resume that has not started (it starts when `due`).
    pub transition: Option<Transition>,
    /// The compute pool admitted it: it holds a place while it is not in a terminal phase.
    pub admitted: bool,
    /// Its carry-over offsets were checked (a stateless statement the service accepts).
    pub carry_checked: bool,
    pub scaling_state: ScalingState,
    /// When the create was answered (the list shows a new statement late).
    pub created_instant: Instant,
    /// Earlier versions, oldest first, each from when it was current: what the lagging list
    /// shows.
    pub history: Vec<(Instant, Arc<StatementRec>)>,
}

impl StatementRec {
    /// Record a change: every change, phase changes included, moves `resource_version` on.
    pub fn touch(&mut self) {
        self.resource_version += 1;
        self.updated_at = Utc::now();
        self.remember();
    }

    /// Keep the current version for the lagging list.
    pub fn remember(&mut self) {
        let history = std::mem::take(&mut self.history);
        let snapshot = Arc::new(self.clone());
        self.history = history;
        if self.history.len() >= HISTORY_CAP {
            self.history.remove(0);
        }
        self.history.push((Instant::now(), snapshot));
    }

    /// The version the list shows at `now`: as the statement was `lag` ago (its first version
    /// if it is younger), forgetting the versions no list can show any more.
    pub fn listed_version(&mut self, now: Instant, lag: Duration) -> Arc<StatementRec> {
        let cut = now.checked_sub(lag).unwrap_or(now);
        let shown = self
            .history
            .iter()
            .rposition(|(at, _)| *at <= cut)
            .unwrap_or(0);
        self.history.drain(..shown);
        match self.history.first() {
            Some((_, v)) => v.clone(),
            None => {
                self.remember();
                self.history[0].1.clone()
            }
        }
    }

    /// Holds a place in its compute pool: admitted, and not (yet) in a terminal phase.
    pub fn holds_pool_place(&self) -> bool {
        self.admitted
            && matches!(
                self.phase,
                Phase::Pending
                    | Phase::Running
                    | Phase::Degraded
                    | Phase::Stopping
                    | Phase::Failing
            )
    }

    /// Only `INSERT INTO`, CTAS and `EXECUTE STATEMENT SET` can be resumed (the reference, §A.6).
    pub fn is_resumable(&self) -> bool {
        matches!(
            self.kind(),
            Some(
                StatementKind::Insert | StatementKind::CreateTableAs | StatementKind::StatementSet
            )
        )
    }

    pub fn set_phase(&mut self, phase: Phase, detail: impl Into<String>) {
        self.phase = phase;
        self.detail = detail.into();
        if matches!(phase, Phase::Completed | Phase::Failed | Phase::Stopped) {
            self.end_time = Some(Utc::now());
        }
        self.touch();
    }

    pub fn fail(&mut self, exception: &str, detail: &str) {
        self.exceptions.push(StatementException {
            name: exception.to_string(),
            message: detail.to_string(),
            timestamp: Utc::now(),
        });
        self.set_phase(Phase::Failed, detail);
    }

    pub fn kind(&self) -> Option<&StatementKind> {
        self.parsed.as_ref().ok().map(|a| &a.kind)
    }

    /// A dry run (`sql.dry-run = true`): validated and classified, never run.
    pub fn is_dry_run(&self) -> bool {
        self.properties.get("sql.dry-run").map(String::as_str) == Some("true")
    }

    /// Unbounded when it reads tables continuously (Kafka-backed tables are unbounded);
    /// DDL, `INSERT … VALUES`, catalog queries and dry runs are bounded.
    pub fn is_bounded(&self) -> bool {
        if self.is_dry_run() {
            return true;
        }
        match &self.parsed {
            Ok(a) if super::info_schema::is_query(a) => true,
            Ok(a) => match a.kind {
                StatementKind::Insert
                | StatementKind::StatementSet
                | StatementKind::Select
                | StatementKind::CreateTableAs => a.reads.is_empty(),
                _ => true,
            },
            Err(_) => true,
        }
    }

    pub fn carry_over_from(&self) -> Option<&str> {
        self.properties
            .get("sql.tables.initial-offset-from")
            .map(String::as_str)
    }

    pub fn to_json(&self, base: &str, org: &str, env: &str) -> Value {
        let traits = if matches!(self.phase, Phase::Failed | Phase::Failing | Phase::Pending) {
            Value::Null
        } else {
            let kind = self.kind().map(|k| k.sql_kind()).unwrap_or("OTHER");
            let columns: Vec<Value> = self
                .result
                .as_ref()
                .map(|r| r.columns.iter().map(|c| c.to_json()).collect())
                .unwrap_or_default();
            json!({
                "sql_kind": kind,
                "is_bounded": self.is_bounded(),
                "is_append_only": true,
                "upsert_columns": null,
                "schema": { "columns": columns },
                "connection_refs": [],
            })
        };
        let mut status = json!({
            "phase": self.phase.as_str(),
            "detail": self.detail,
            "traits": traits,
            "network_kind": "PUBLIC",
            "latest_offsets": self.latest_offsets,
            "latest_offsets_timestamp": self
                .latest_offsets_timestamp
                .map(rfc3339)
                .unwrap_or_else(|| "0001-01-01T00:00:00Z".to_string()),
            "scaling_status": {
                "scaling_state": self.scaling_state.as_str(),
                "last_updated": rfc3339(self.updated_at),
            },
        });
        if let Some(end) = self.end_time {
            status["end_time"] = json!(rfc3339(end));
        }
        let mut spec = json!({
            "statement": self.sql,
            "properties": self.properties,
            "compute_pool_id": self.compute_pool_id,
            "principal": self.principal,
            "stopped": self.stopped,
            "execution_mode": "streaming",
        });
        if let Some(cfu) = self.baseline_cfu {
            spec["scaling"] = json!({ "baseline_cfu": cfu });
        }
        json!({
            "api_version": "sql/v1",
            "kind": "Statement",
            "organization_id": org,
            "environment_id": env,
            "name": self.name,
            "metadata": {
                "self": statement_url(base, org, env, &self.name),
                "created_at": rfc3339(self.created_at),
                "updated_at": rfc3339(self.updated_at),
                "uid": self.uid,
                "resource_version": self.resource_version.to_string(),
                "labels": self.labels,
            },
            "spec": spec,
            "status": status,
        })
    }
}

pub fn statements_url(base: &str, org: &str, env: &str) -> String {
    format!("{base}/sql/v1/organizations/{org}/environments/{env}/statements")
}

pub fn statement_url(base: &str, org: &str, env: &str, name: &str) -> String {
    format!("{}/{name}", statements_url(base, org, env))
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The API's statement name rule: ≤ 100 characters of
/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*`.
pub fn valid_statement_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 100 {
        return false;
    }
    name.split('.').all(|label| {
        let b = label.as_bytes();
        !b.is_empty()
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
    })
}

#[cfg(test)]
mod tests {
    use super::valid_statement_name;

    #[test]
    fn statement_names_follow_the_api_pattern() {
        for ok in ["a", "ci-orders-v2", "a.b", "x1.y-2.z", &"a".repeat(100)] {
            assert!(valid_statement_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "A",
            "a_b",
            "a..b",
            ".a",
            "a.",
            "a b",
            &"a".repeat(101),
        ] {
            assert!(!valid_statement_name(bad), "{bad}");
        }
    }
}
