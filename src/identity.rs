//! One identity per table. Confluent Cloud takes a catalog (environment) and a database (Kafka
//! cluster) by id or by display name, and clients mix them: Confluent's Table API plugin creates
//! a table as `` `env-…`.`lkc-…`.`t` `` and inserts into `` `my-env`.`my-cluster`.`t` `` (the
//! reference, §F.12). A table is (environment id, cluster id, name), whatever its SQL calls it:
//! [`Names::canonical`] is the one place a spelling becomes that identity, and
//! [`Names::shown`] the one place it is turned back into display names for people.
//!
//! The names are learnt once per run (`engine::names`), as the plugin learns them: one query of
//! the environment's `INFORMATION_SCHEMA.SCHEMATA` — only when the run's spellings mix a name
//! that the ids and the `database-clusters` input do not explain with another spelling (one
//! spelling used throughout is consistent as written). This module is pure: it only turns
//! spellings into identities and back.

use std::collections::{BTreeMap, BTreeSet};

use flink_sql::TableRef;
use serde_json::Value;

/// The names the run knows its environment and clusters by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    environment_id: String,
    environment_name: Option<String>,
    /// Cluster display name → id.
    cluster_ids: BTreeMap<String, String>,
    /// Cluster id → display name.
    cluster_names: BTreeMap<String, String>,
    /// Cluster ids known without a name (the one the run is connected to).
    known_ids: BTreeSet<String>,
}

impl Names {
    /// What the run knows before it asks: the environment's id, the cluster its Kafka connection
    /// reaches, and the `database-clusters` mapping (display name → id).
    pub fn new(
        environment_id: &str,
        connected: Option<&str>,
        database_clusters: &BTreeMap<String, String>,
    ) -> Names {
        let mut names = Names {
            environment_id: environment_id.to_string(),
            ..Names::default()
        };
        names.known_ids.extend(connected.map(str::to_string));
        for (name, id) in database_clusters {
            names.add_cluster(id, name);
        }
        names
    }

    fn add_cluster(&mut self, id: &str, name: &str) {
        self.known_ids.insert(id.to_string());
        self.cluster_ids.insert(name.to_string(), id.to_string());
        self.cluster_names.insert(id.to_string(), name.to_string());
    }

    /// Add what `INFORMATION_SCHEMA.SCHEMATA` answered: rows of `CATALOG_ID`, `CATALOG_NAME`,
    /// `SCHEMA_ID`, `SCHEMA_NAME`.
    pub fn learn(&mut self, rows: &[Vec<Value>]) {
        for row in rows {
            let field = |i: usize| row.get(i).and_then(Value::as_str);
            if let (Some(catalog_id), Some(catalog_name)) = (field(0), field(1)) {
                if catalog_id == self.environment_id {
                    self.environment_name = Some(catalog_name.to_string());
                }
            }
            if let (Some(id), Some(name)) = (field(2), field(3)) {
                self.add_cluster(id, name);
            }
        }
    }

    /// Whether `catalog` and `database` are spellings this run can turn into ids (or leave as
    /// they are, knowing they name something else).
    fn knows(&self, catalog: Option<&str>, database: Option<&str>) -> bool {
        let catalog_known = catalog.is_none_or(|c| {
            c == self.environment_id || self.environment_name.as_deref() == Some(c)
        });
        let database_known =
            database.is_none_or(|d| self.known_ids.contains(d) || self.cluster_ids.contains_key(d));
        catalog_known && database_known
    }

    /// Whether these spellings (`(catalog, database)` pairs) mix names the run cannot tell
    /// apart without asking: two catalogs, or two databases, at least one of which it does not
    /// know. One spelling used throughout needs no lookup (the identity is consistent as
    /// written), so a run whose SQL names its tables one way never queries the catalog.
    pub fn need_lookup<'a>(
        &self,
        spellings: impl IntoIterator<Item = (Option<&'a str>, Option<&'a str>)>,
    ) -> bool {
        let mut catalogs = BTreeSet::new();
        let mut databases = BTreeSet::new();
        let mut unknown_catalog = false;
        let mut unknown_database = false;
        for (c, d) in spellings {
            if let Some(c) = c {
                unknown_catalog |= !self.knows(Some(c), None);
                catalogs.insert(self.canonical_catalog(c));
            }
            if let Some(d) = d {
                unknown_database |= !self.knows(None, Some(d));
                databases.insert(self.canonical_database(d));
            }
        }
        (unknown_catalog && catalogs.len() > 1) || (unknown_database && databases.len() > 1)
    }

    fn canonical_catalog(&self, c: &str) -> String {
        if self.environment_name.as_deref() == Some(c) {
            self.environment_id.clone()
        } else {
            c.to_string()
        }
    }

    fn canonical_database(&self, d: &str) -> String {
        self.cluster_ids
            .get(d)
            .cloned()
            .unwrap_or_else(|| d.to_string())
    }

    /// The table's identity: its catalog as the environment's id and its database as its
    /// cluster's id, where the run knows them; a spelling it does not know is left as written
    /// (it names another environment or cluster, or one the run could not learn).
    pub fn canonical(&self, t: &TableRef) -> TableRef {
        let catalog = t.catalog.as_deref().map(|c| self.canonical_catalog(c));
        let database = t.database.as_deref().map(|d| self.canonical_database(d));
        TableRef {
            catalog,
            database,
            name: t.name.clone(),
        }
    }

    /// The table as people know it: display names where the run knows them.
    pub fn shown(&self, t: &TableRef) -> TableRef {
        let catalog =
            t.catalog.as_ref().map(
                |c| match (&self.environment_name, c == &self.environment_id) {
                    (Some(name), true) => name.clone(),
                    _ => c.clone(),
                },
            );
        let database = t.database.as_ref().map(|d| {
            self.cluster_names
                .get(d)
                .cloned()
                .unwrap_or_else(|| d.clone())
        });
        TableRef {
            catalog,
            database,
            name: t.name.clone(),
        }
    }
}

/// The catalog and database spellings a statement's tables and properties use.
pub fn spellings<'a>(
    tables: impl IntoIterator<Item = &'a TableRef>,
    properties: &'a BTreeMap<String, String>,
) -> Vec<(Option<&'a str>, Option<&'a str>)> {
    let mut out: Vec<(Option<&str>, Option<&str>)> = tables
        .into_iter()
        .map(|t| (t.catalog.as_deref(), t.database.as_deref()))
        .collect();
    out.push((
        properties.get("sql.current-catalog").map(String::as_str),
        properties.get("sql.current-database").map(String::as_str),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(catalog: Option<&str>, database: Option<&str>, name: &str) -> TableRef {
        TableRef {
            catalog: catalog.map(str::to_string),
            database: database.map(str::to_string),
            name: name.into(),
        }
    }

    fn learnt() -> Names {
        let mut n = Names::new("env-1", Some("lkc-1"), &BTreeMap::new());
        n.learn(&[
            vec![
                json!("env-1"),
                json!("my env"),
                json!("lkc-1"),
                json!("my-cluster"),
            ],
            vec![
                json!("env-1"),
                json!("my env"),
                json!("lkc-2"),
                json!("other"),
            ],
        ]);
        n
    }

    #[test]
    fn ids_names_and_backquoted_spellings_are_one_table() {
        let n = learnt();
        let by_ids = t(Some("env-1"), Some("lkc-1"), "orders");
        for spelled in [
            t(Some("my env"), Some("my-cluster"), "orders"),
            t(Some("env-1"), Some("my-cluster"), "orders"),
            t(Some("my env"), Some("lkc-1"), "orders"),
            // Backquoted or not, the parser gives the same parts.
            TableRef::parse("`my env`.`my-cluster`.orders").unwrap(),
            TableRef::parse("`env-1`.`lkc-1`.`orders`").unwrap(),
        ] {
            assert_eq!(n.canonical(&spelled), by_ids, "{spelled}");
        }
        // Unqualified, resolved against either spelling of the current catalog and database.
        let bare = TableRef::new("orders");
        for (cat, db) in [
            ("my env", "my-cluster"),
            ("env-1", "lkc-1"),
            ("env-1", "my-cluster"),
        ] {
            assert_eq!(n.canonical(&bare.resolve(Some(cat), Some(db))), by_ids);
        }
        assert_eq!(n.shown(&by_ids).to_string(), "`my env`.`my-cluster`.orders");
        // Another cluster of the environment keeps its own identity; an unknown spelling stays.
        assert_eq!(
            n.canonical(&t(Some("my env"), Some("other"), "orders")),
            t(Some("env-1"), Some("lkc-2"), "orders")
        );
        let elsewhere = t(Some("env-9"), Some("somewhere"), "orders");
        assert_eq!(n.canonical(&elsewhere), elsewhere);
        // Idempotent.
        assert_eq!(n.canonical(&n.canonical(&by_ids)), by_ids);
    }

    #[test]
    fn a_lookup_is_needed_only_when_spellings_the_run_does_not_know_are_mixed() {
        let mapped: BTreeMap<String, String> = [("mine".to_string(), "lkc-1".to_string())].into();
        let n = Names::new("env-1", Some("lkc-1"), &mapped);
        assert!(!n.need_lookup([(Some("env-1"), Some("lkc-1"))]));
        assert!(!n.need_lookup([
            (Some("env-1"), Some("mine")),
            (Some("env-1"), Some("lkc-1"))
        ]));
        assert!(!n.need_lookup([(None, None)]));
        // One unknown spelling used throughout is consistent as written.
        assert!(!n.need_lookup([(Some("my env"), Some("my-cluster"))]));
        assert!(!n.need_lookup([
            (Some("my env"), Some("my-cluster")),
            (Some("my env"), Some("my-cluster"))
        ]));
        // Mixed with the id, the unknown spelling might be the same thing: ask.
        assert!(n.need_lookup([
            (Some("my env"), Some("lkc-1")),
            (Some("env-1"), Some("lkc-1"))
        ]));
        assert!(n.need_lookup([
            (Some("env-1"), Some("my-cluster")),
            (Some("env-1"), Some("mine"))
        ]));
        // Once learnt, nothing is unknown.
        assert!(!learnt().need_lookup([
            (Some("my env"), Some("other")),
            (Some("env-1"), Some("lkc-1"))
        ]));
        // Before the lookup the mapping already decides.
        assert_eq!(
            n.canonical(&t(Some("env-1"), Some("mine"), "x")),
            t(Some("env-1"), Some("lkc-1"), "x")
        );
    }
}
