//! The tracker's record: what was deployed for one statement. The JSON format is a public
//! contract, documented in `docs/tracker-format.md`; change it only as that file says.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{validate_app, validate_id, validate_statement_name};

/// The format version this build writes. Readers accept any version: fields they know are read,
/// the others are kept as they are (see [`Record::extra`]).
pub const RECORD_VERSION: u32 = 1;

/// Lease records live under this key prefix; statement records never do (an environment id is
/// never `lease`).
pub const LEASE_KEY_PREFIX: &str = "lease/";

/// One deployed (or once deployed) statement. Key: `<environment_id>/<statement_name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Format version of the writer; see `docs/tracker-format.md` for the rule.
    pub version: u32,
    /// The app (scope) the statement belongs to.
    pub app: String,
    /// The statement's name in Confluent Cloud (also the key's second half).
    pub statement_name: String,
    /// The Confluent Cloud environment (also the key's first half).
    pub environment_id: String,
    /// The manifest's name for the statement (`[[statements]] name`); `null` for adopted ones.
    #[serde(default)]
    pub logical_name: Option<String>,
    /// The SQL text as submitted.
    pub sql: String,
    /// Statement properties as submitted (`sql.current-catalog`, …).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    #[serde(default)]
    pub compute_pool_id: Option<String>,
    /// The principal (service account) the statement runs as.
    #[serde(default)]
    pub principal: Option<String>,
    #[serde(default)]
    pub tables: Tables,
    pub state: State,
    /// The last phase seen from the Flink API (`RUNNING`, `STOPPED`, …), as the API spells it.
    #[serde(default)]
    pub last_phase: Option<String>,
    /// The statement's labels (`spec`/`metadata.labels`), if any.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The 8 hex digits of the definition hash in a managed statement's name.
    #[serde(default)]
    pub definition_hash: Option<String>,
    /// Why the last operation failed (`status.detail`, exceptions), for `failed` records.
    #[serde(default)]
    pub detail: Option<String>,
    /// Who wrote this version of the record, and when.
    pub provenance: Provenance,
    /// Fields this build does not know (written by a newer version): kept and written back.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// The tables a statement touches, as Flink SQL names (`catalog.database.table` where the engine
/// could resolve them, parts backquoted when they need it: `flink_sql::TableRef`'s form).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tables {
    #[serde(default)]
    pub reads: Vec<String>,
    #[serde(default)]
    pub writes: Vec<String>,
    /// Tables the statement created (CREATE TABLE / CREATE TABLE AS): only these are ever
    /// dropped.
    #[serde(default)]
    pub creates: Vec<String>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    #[serde(default)]
    pub git_sha: Option<String>,
    /// The CI run (GitHub `run_id`, with `-attempt` when > 1) or a local run's id.
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub pr_number: Option<u64>,
    /// Who triggered the run (GitHub actor or local user).
    #[serde(default)]
    pub actor: Option<String>,
    /// When this version of the record was written (RFC 3339, UTC).
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Provenance {
    pub fn now() -> Provenance {
        Provenance {
            git_sha: None,
            run_id: None,
            pr_number: None,
            actor: None,
            at: Utc::now(),
            extra: serde_json::Map::new(),
        }
    }
}

/// Where the statement stands, from the tracker's point of view. An extensible enum: a state
/// written by a newer version reads as [`State::Other`] and is written back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum State {
    /// Being created (intent written, create not yet confirmed).
    Building,
    /// Created and, when last seen, running (or completed, for bounded statements).
    Deployed,
    /// Recorded by `adopt`: created outside this tool, managed from now on.
    Adopted,
    /// Stopped on purpose (`stop-only`): offsets kept for a carry-over.
    Stopped,
    /// Being torn down (intent written, deletion not yet confirmed).
    TearingDown,
    /// Deleted; the record keeps its definition so `buildup` can recreate it.
    TornDown,
    /// The last operation failed; `detail` says why.
    Failed,
    Other(String),
}

impl State {
    pub fn as_str(&self) -> &str {
        match self {
            State::Building => "building",
            State::Deployed => "deployed",
            State::Adopted => "adopted",
            State::Stopped => "stopped",
            State::TearingDown => "tearing_down",
            State::TornDown => "torn_down",
            State::Failed => "failed",
            State::Other(s) => s,
        }
    }
}

impl From<String> for State {
    fn from(s: String) -> State {
        match s.as_str() {
            "building" => State::Building,
            "deployed" => State::Deployed,
            "adopted" => State::Adopted,
            "stopped" => State::Stopped,
            "tearing_down" => State::TearingDown,
            "torn_down" => State::TornDown,
            "failed" => State::Failed,
            _ => State::Other(s),
        }
    }
}

impl From<State> for String {
    fn from(s: State) -> String {
        match s {
            State::Other(s) => s,
            known => known.as_str().to_string(),
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tracker key of a statement record.
pub fn record_key(environment_id: &str, statement_name: &str) -> String {
    format!("{environment_id}/{statement_name}")
}

impl Record {
    /// A new record of the current version with empty optional fields.
    pub fn new(
        app: impl Into<String>,
        environment_id: impl Into<String>,
        statement_name: impl Into<String>,
        sql: impl Into<String>,
        state: State,
    ) -> Record {
        Record {
            version: RECORD_VERSION,
            app: app.into(),
            statement_name: statement_name.into(),
            environment_id: environment_id.into(),
            logical_name: None,
            sql: sql.into(),
            properties: BTreeMap::new(),
            compute_pool_id: None,
            principal: None,
            tables: Tables::default(),
            state,
            last_phase: None,
            labels: BTreeMap::new(),
            definition_hash: None,
            detail: None,
            provenance: Provenance::now(),
            extra: serde_json::Map::new(),
        }
    }

    pub fn key(&self) -> String {
        record_key(&self.environment_id, &self.statement_name)
    }

    /// What a writer checks before a put: the key's parts and the app are well formed.
    pub fn validate(&self) -> Result<(), String> {
        if self.version == 0 {
            return Err("`version` must be 1 or more".into());
        }
        validate_app(&self.app).map_err(|e| format!("`app`: {e}"))?;
        validate_id(&self.environment_id).map_err(|e| format!("`environment_id` {e}"))?;
        if self.environment_id == LEASE_KEY_PREFIX.trim_end_matches('/') {
            return Err("`environment_id` must not be `lease`".into());
        }
        validate_statement_name(&self.statement_name)
            .map_err(|e| format!("`statement_name`: {e}"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_and_states_round_trip() {
        let text = r#"{
            "version": 2, "app": "a", "statement_name": "a-x-0000abcd", "environment_id": "env-1",
            "sql": "SELECT 1", "state": "quarantined", "future": {"nested": [1, 2]},
            "tables": {"reads": ["c.d.t"], "watermarks": true},
            "provenance": {"at": "2026-01-02T03:04:05Z", "runner": "self-hosted"}
        }"#;
        let r: Record = serde_json::from_str(text).unwrap();
        assert_eq!(r.state, State::Other("quarantined".into()));
        assert_eq!(r.version, 2);
        assert!(r.properties.is_empty());
        let back = serde_json::to_value(&r).unwrap();
        assert_eq!(back["future"]["nested"][1], 2);
        assert_eq!(back["tables"]["watermarks"], true);
        assert_eq!(back["provenance"]["runner"], "self-hosted");
        assert_eq!(back["state"], "quarantined");
        let again: Record = serde_json::from_value(back).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn known_states_serialize_snake_case() {
        for s in [
            State::Building,
            State::Deployed,
            State::Adopted,
            State::Stopped,
            State::TearingDown,
            State::TornDown,
            State::Failed,
        ] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<State>(&json).unwrap(), s);
        }
    }

    #[test]
    fn validation_names_the_field() {
        let mut r = Record::new("app", "env-1", "app-x", "SELECT 1", State::Deployed);
        assert!(r.validate().is_ok());
        r.statement_name = "Bad_Name".into();
        assert!(r.validate().unwrap_err().contains("statement_name"));
        r.statement_name = "ok".into();
        r.environment_id = "lease".into();
        assert!(r.validate().unwrap_err().contains("environment_id"));
    }
}
