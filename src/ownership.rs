//! Ownership (safety rule 1) by evidence: the rules that decide whether a live statement is the
//! one a tracker record describes, and in which Kafka cluster a table can be checked at all. Pure
//! functions: the planner calls them on its snapshot, the executor again on what it reads just
//! before a mutation.
//!
//! The evidence itself (what a record holds per table) is the tracker's format
//! ([`crate::tracker::TableOwnership`]); `docs/ownership.md` says which evidence is used and
//! what window remains.

use std::collections::BTreeMap;
use std::fmt;

use flink_sql::TableRef;

use crate::confluent::flink::Statement;

/// The label every statement of the app carries, with the app's name as its value: written at
/// create and at adopt, checked before every stop or delete.
pub const OWNER_LABEL: &str = "user.confluent.io/ccaf-housekeeping";
/// Confluent's label that hides a statement from default views (our DROP TABLE statements).
pub const HIDDEN_LABEL: &str = "user.confluent.io/hidden";

/// The Kafka clusters a run can check tables in: the one `kafka-bootstrap-servers` reaches,
/// known by its id and by the display names the `database-clusters` input maps to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterScope {
    /// The id the brokers report (`None`: they report none, so no table can be checked).
    pub connected: Option<String>,
    /// Database display name → cluster id, each already checked to be `connected`.
    pub names: BTreeMap<String, String>,
}

/// Why a table cannot be checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotVerified(pub String);

impl fmt::Display for NotVerified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl ClusterScope {
    /// The id of the cluster `table` lives in, when it is the cluster this run is connected to;
    /// otherwise why not. A table's database is its Kafka cluster, by id or display name.
    pub fn check(&self, table: &TableRef) -> Result<String, NotVerified> {
        let Some(connected) = &self.connected else {
            return Err(NotVerified(
                "the Kafka cluster of kafka-bootstrap-servers reports no cluster id".into(),
            ));
        };
        let Some(database) = &table.database else {
            return Err(NotVerified(format!(
                "its database (Kafka cluster) is not known: qualify it or set sql.current-database \
                 (kafka-bootstrap-servers reaches {connected})"
            )));
        };
        if database == connected || self.names.get(database) == Some(connected) {
            return Ok(connected.clone());
        }
        Err(NotVerified(format!(
            "its database `{database}` is not the Kafka cluster kafka-bootstrap-servers reaches \
             ({connected}); name it by id, or map it with database-clusters ({database}={connected}) \
             if it is that cluster"
        )))
    }

    /// Whether a table checked in `cluster_id` can be checked again now.
    pub fn same_cluster(&self, cluster_id: Option<&str>) -> Result<(), NotVerified> {
        match (cluster_id, &self.connected) {
            (Some(c), Some(now)) if c == now => Ok(()),
            (Some(c), Some(now)) => Err(NotVerified(format!(
                "it was created in Kafka cluster {c}, but kafka-bootstrap-servers reaches {now}"
            ))),
            (Some(c), None) => Err(NotVerified(format!(
                "it was created in Kafka cluster {c}, and kafka-bootstrap-servers reports no cluster id"
            ))),
            (None, _) => Err(NotVerified(
                "its cluster was never checked (it could not be when it was created)".into(),
            )),
        }
    }
}

/// What a record says identifies its statement.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub app: &'a str,
    /// `metadata.uid` as recorded at create or adopt; `None` when the run that created it was
    /// interrupted before it saw the statement.
    pub uid: Option<&'a str>,
    pub sql: &'a str,
}

/// What the live statement shows.
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    pub uid: Option<&'a str>,
    /// The value of [`OWNER_LABEL`].
    pub owner: Option<&'a str>,
    pub sql: &'a str,
}

impl<'a> Shown<'a> {
    pub fn of(s: &'a Statement) -> Shown<'a> {
        Shown {
            uid: s.metadata.uid.as_deref(),
            owner: s.metadata.labels.get(OWNER_LABEL).map(String::as_str),
            sql: s.sql(),
        }
    }
}

/// Is the live statement the one the record describes? With a uid on record, the live one must
/// have that uid — a uid is never reused, so it is the very statement the app created or adopted
/// — and must not carry another app's ownership label; it need not carry the app's own, since
/// the service may not keep a label patched after create (§F.13: adoption labels where the
/// service takes it). Without a uid (the run that created it was interrupted before it saw
/// the statement), the label the create set and the recorded SQL must both match. `Err` says
/// why not.
pub fn verify_statement(expected: &Expected<'_>, shown: &Shown<'_>) -> Result<(), String> {
    match shown.owner {
        Some(other) if other != expected.app => {
            return Err(format!(
                "it is labelled as app `{other}`'s ({OWNER_LABEL}={other}), not `{}`'s",
                expected.app
            ))
        }
        None if expected.uid.is_none() => {
            return Err(format!(
                "it does not carry the app's label {OWNER_LABEL}={}, and the tracker's record \
                 has no uid for it",
                expected.app
            ))
        }
        _ => {}
    }
    match (expected.uid, shown.uid) {
        (Some(want), Some(got)) if want == got => Ok(()),
        (Some(want), got) => Err(format!(
            "its uid is {}, the tracker's record says {want}: it is another statement of the same name",
            got.unwrap_or("missing")
        )),
        (None, _) if shown.sql.trim() == expected.sql.trim() => Ok(()),
        (None, _) => Err(
            "the tracker's record has no uid for it and its SQL differs from the record's".into(),
        ),
    }
}

/// Is the live topic the incarnation recorded? Different ids are different incarnations, and
/// where the cluster has topic ids a claim without one proves nothing (every run that creates a
/// table records its topic's id).
pub fn same_incarnation(recorded: Option<&str>, live: Option<&str>) -> bool {
    match (recorded, live) {
        (Some(a), Some(b)) => a == b,
        (None, Some(_)) => false,
        // A cluster without topic ids: the name decides (the window docs/ownership.md
        // describes).
        (_, None) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> ClusterScope {
        ClusterScope {
            connected: Some("lkc-1".into()),
            names: [("orders-cluster".to_string(), "lkc-1".to_string())].into(),
        }
    }

    fn table(db: Option<&str>) -> TableRef {
        TableRef {
            catalog: Some("env".into()),
            database: db.map(str::to_string),
            name: "orders".into(),
        }
    }

    #[test]
    fn a_table_is_checked_only_in_the_connected_cluster() {
        let s = scope();
        assert_eq!(s.check(&table(Some("lkc-1"))).unwrap(), "lkc-1");
        assert_eq!(s.check(&table(Some("orders-cluster"))).unwrap(), "lkc-1");
        let e = s.check(&table(Some("lkc-2"))).unwrap_err();
        assert!(
            e.0.contains("lkc-2") && e.0.contains("database-clusters"),
            "{e}"
        );
        assert!(s.check(&table(None)).is_err());
        let unknown = ClusterScope::default();
        assert!(unknown.check(&table(Some("lkc-1"))).is_err());
        assert!(s.same_cluster(Some("lkc-1")).is_ok());
        assert!(s.same_cluster(Some("lkc-9")).is_err());
        assert!(s.same_cluster(None).is_err());
    }

    #[test]
    fn a_statement_is_ours_by_label_and_uid_or_label_and_sql() {
        let exp = Expected {
            app: "app",
            uid: Some("u1"),
            sql: "SELECT 1",
        };
        let ok = Shown {
            uid: Some("u1"),
            owner: Some("app"),
            sql: "SELECT 1",
        };
        assert!(verify_statement(&exp, &ok).is_ok());
        let other_uid = Shown {
            uid: Some("u2"),
            ..ok
        };
        assert!(verify_statement(&exp, &other_uid)
            .unwrap_err()
            .contains("another statement"));
        // The recorded uid is the evidence: a statement the service would not label is still
        // the one adopted.
        let no_label = Shown { owner: None, ..ok };
        assert!(verify_statement(&exp, &no_label).is_ok());
        let no_label_other_uid = Shown {
            owner: None,
            ..other_uid
        };
        assert!(verify_statement(&exp, &no_label_other_uid).is_err());
        let other_app = Shown {
            owner: Some("theirs"),
            ..ok
        };
        assert!(verify_statement(&exp, &other_app)
            .unwrap_err()
            .contains("theirs"));
        // No uid recorded (a run killed before it saw the statement): label and SQL decide.
        let unrecorded = Expected { uid: None, ..exp };
        assert!(verify_statement(&unrecorded, &other_uid).is_ok());
        // Without a uid, the label the create set is needed.
        assert!(verify_statement(&unrecorded, &no_label)
            .unwrap_err()
            .contains(OWNER_LABEL));
        let other_sql = Shown {
            sql: "SELECT 2",
            ..ok
        };
        assert!(verify_statement(&unrecorded, &other_sql).is_err());
    }

    #[test]
    fn incarnations_differ_only_by_ids_both_sides_have() {
        assert!(same_incarnation(Some("a"), Some("a")));
        assert!(!same_incarnation(Some("a"), Some("b")));
        // Where the cluster has ids, a claim without one proves nothing.
        assert!(!same_incarnation(None, Some("b")));
        assert!(same_incarnation(Some("a"), None));
    }
}
