//! The tracker's record: what was deployed for one statement. The JSON format is a public
//! contract, documented in `docs/tracker-format.md`; change it only as that file says.

use super::format::{record_key, LEASE_KEY_PREFIX};
use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::confluent::flink::Phase;
use crate::input::{validate_app, validate_id};
use crate::naming::check_statement_name;

/// The format version this build writes. Readers accept any version: fields they know are read,
/// the others are kept as they are (see [`Record::extra`]). Version 2 added ownership evidence
/// (`tables.ownership`, `statement_uid`): a version 1 record's `creates` are claims without
/// evidence, which this version never drops (see [`Record::ownership_of`]).
pub const RECORD_VERSION: u32 = 2;

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
    /// The statement's `metadata.uid` as recorded at create or adopt: a live statement of this
    /// name is the one this record describes only if its uid matches.
    #[serde(default)]
    pub statement_uid: Option<String>,
    pub state: State,
    /// The last phase seen from the Flink API (`RUNNING`, `STOPPED`, …), as the API spells it.
    #[serde(default)]
    pub last_phase: Option<Phase>,
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
    /// Tables the statement's SQL creates (CREATE TABLE / CREATE TABLE AS). Whether it created
    /// them is in `ownership`.
    #[serde(default)]
    pub creates: Vec<String>,
    /// The evidence, per table of `creates`, of whether the statement created the incarnation
    /// that exists: only `owned` tables are ever dropped.
    #[serde(default)]
    pub ownership: Vec<TableOwnership>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// What the app knows about one table a statement's SQL creates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableOwnership {
    /// The table, as in `creates`.
    pub table: String,
    /// Its Kafka topic.
    pub topic: String,
    pub status: Ownership,
    /// The Kafka cluster the topic was checked in (`None`: it could not be checked).
    #[serde(default)]
    pub cluster_id: Option<String>,
    /// The topic's id (Kafka's topic UUID) when the statement created it, where the cluster
    /// exposes one: a topic of the same name with another id is another incarnation.
    #[serde(default)]
    pub topic_id: Option<String>,
    /// `metadata.uid` of the statement that created it.
    #[serde(default)]
    pub statement_uid: Option<String>,
    /// Why the status is what it is, for people.
    #[serde(default)]
    pub detail: Option<String>,
    /// When the status was last set.
    pub at: DateTime<Utc>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl TableOwnership {
    pub fn new(table: &str, topic: &str, status: Ownership) -> TableOwnership {
        TableOwnership {
            table: table.to_string(),
            topic: topic.to_string(),
            status,
            cluster_id: None,
            topic_id: None,
            statement_uid: None,
            detail: None,
            at: Utc::now(),
            extra: serde_json::Map::new(),
        }
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> TableOwnership {
        self.detail = Some(detail.into());
        self
    }
}

/// Whether the app created the incarnation of a table that exists. An extensible enum: a
/// status written by a newer version reads as [`Ownership::Other`], which is never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum Ownership {
    /// The topic was absent when the app submitted its CREATE, which has not been seen to
    /// complete yet (a run interrupted in between leaves this).
    Pending,
    /// The app's statement created this incarnation: the topic was absent before its CREATE
    /// and present once the statement completed (or ran). The only status that is dropped.
    Owned,
    /// The topic existed before the app's CREATE: another team's table, or an earlier one.
    Found,
    /// The CREATE failed, never completed, or cannot be shown to have created the table.
    NotCreated,
    /// The table's database is not a Kafka cluster the run could check.
    Unverified,
    /// The app's incarnation is gone (dropped by the app, or found gone or replaced): a table
    /// of that name now is not the app's on this record's account.
    Dropped,
    Other(String),
}

impl Ownership {
    pub fn as_str(&self) -> &str {
        match self {
            Ownership::Pending => "pending",
            Ownership::Owned => "owned",
            Ownership::Found => "found",
            Ownership::NotCreated => "not_created",
            Ownership::Unverified => "unverified",
            Ownership::Dropped => "dropped",
            Ownership::Other(s) => s,
        }
    }

    /// Evidence the app holds (or may still confirm) of having created the table.
    pub fn is_held(&self) -> bool {
        matches!(self, Ownership::Owned | Ownership::Pending)
    }
}

impl From<String> for Ownership {
    fn from(s: String) -> Ownership {
        match s.as_str() {
            "pending" => Ownership::Pending,
            "owned" => Ownership::Owned,
            "found" => Ownership::Found,
            "not_created" => Ownership::NotCreated,
            "unverified" => Ownership::Unverified,
            "dropped" => Ownership::Dropped,
            _ => Ownership::Other(s),
        }
    }
}

impl From<Ownership> for String {
    fn from(o: Ownership) -> String {
        match o {
            Ownership::Other(s) => s,
            known => known.as_str().to_string(),
        }
    }
}

impl fmt::Display for Ownership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
            statement_uid: None,
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

    /// The evidence for each table the statement's SQL creates. A table without an entry (a
    /// version 1 record, or one written by hand) is [`Ownership::NotCreated`]: a claim without
    /// evidence is never enough to drop a table.
    pub fn ownership_of(&self) -> Vec<TableOwnership> {
        self.tables
            .creates
            .iter()
            .map(|t| {
                self.tables
                    .ownership
                    .iter()
                    .find(|o| &o.table == t)
                    .cloned()
                    .unwrap_or_else(|| {
                        let topic = flink_sql::TableRef::parse(t)
                            .map(|r| r.name)
                            .unwrap_or_else(|_| t.clone());
                        TableOwnership::new(t, &topic, Ownership::NotCreated).with_detail(
                            "the record holds no evidence that the statement created it",
                        )
                    })
            })
            .collect()
    }

    /// True while the record holds evidence of a table the app may still have to drop.
    pub fn holds_tables(&self) -> bool {
        self.tables.ownership.iter().any(|o| o.status.is_held())
    }

    /// The evidence kept for `table` (as named in `creates`).
    pub fn ownership(&self, table: &str) -> Option<&TableOwnership> {
        self.tables.ownership.iter().find(|o| o.table == table)
    }

    /// Record the evidence for a table, replacing what was kept for it.
    pub fn set_ownership(&mut self, o: TableOwnership) {
        match self
            .tables
            .ownership
            .iter_mut()
            .find(|e| e.table == o.table)
        {
            Some(e) => *e = o,
            None => self.tables.ownership.push(o),
        }
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
        check_statement_name(&self.statement_name).map_err(|e| format!("`statement_name`: {e}"))?;
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
        // The API's rule, the one `adopt` checks its selectors with: dotted names are names.
        r.statement_name = "team.app-x".into();
        assert!(r.validate().is_ok());
        r.statement_name = "ok".into();
        r.environment_id = "lease".into();
        assert!(r.validate().unwrap_err().contains("environment_id"));
    }
}
