//! Learning the names of the run's environment and Kafka clusters (`identity::Names`), once per
//! run, the way Confluent's Table API plugin does: one query of the environment's
//! `INFORMATION_SCHEMA.SCHEMATA` (every cluster with its id and name, and the environment's),
//! as a hidden statement of the app that the run deletes once it is read.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Engine;
use crate::confluent::flink::{NewStatement, Phase};
use crate::confluent::watch::Change;
use crate::identity::Names;
use crate::ownership::{HIDDEN_LABEL, OWNER_LABEL};

impl Engine {
    /// The names of the run's environment and clusters: what it knows, and when `lookup`, what
    /// the environment's catalog answers. A lookup that fails leaves the spellings as they are
    /// (said in the log): tables named both ways are then two tables, as before.
    pub async fn names(&self, lookup: bool) -> Names {
        let mut names = self.names.clone();
        if !lookup {
            return names;
        }
        match self.ask_schemata().await {
            Ok(rows) => names.learn(&rows),
            Err(why) => tracing::warn!(
                reason = %why,
                "could not learn the names of the environment and its clusters; tables are told apart by their spelling"
            ),
        }
        names
    }

    /// `SELECT … FROM <env>.INFORMATION_SCHEMA.SCHEMATA`, as a hidden statement of the app,
    /// deleted once read.
    async fn ask_schemata(&self) -> Result<Vec<Vec<Value>>, String> {
        let sql = format!(
            "SELECT `CATALOG_ID`, `CATALOG_NAME`, `SCHEMA_ID`, `SCHEMA_NAME` FROM `{}`.`INFORMATION_SCHEMA`.`SCHEMATA`",
            self.environment_id.replace('`', "``")
        );
        // Unique per run: a name deleted moments ago stays held for a while (§F.3).
        let nonce: u32 = rand::random();
        let mut stem = format!("{}-names", self.app);
        stem.truncate(crate::naming::MAX_DEPLOYED_LEN - 9);
        let name = format!("{}-{nonce:08x}", stem.trim_end_matches('-'));
        let labels: BTreeMap<String, String> = [
            (OWNER_LABEL.to_string(), self.app.clone()),
            (HIDDEN_LABEL.to_string(), "true".to_string()),
        ]
        .into();
        let new = NewStatement {
            name: name.clone(),
            sql,
            properties: [(
                "sql.current-catalog".to_string(),
                self.environment_id.clone(),
            )]
            .into(),
            compute_pool_id: self.defaults.compute_pool.clone(),
            principal: self.defaults.principal.clone(),
            labels,
        };
        let created = self.flink.create(&new).await.map_err(|e| e.to_string())?;
        let done = self
            .watch
            .wait_until_of(
                &name,
                created.metadata.uid.as_deref(),
                Change::Completed,
                |s| s.phase().is_settled(),
                self.timeout,
            )
            .await;
        let rows = match &done {
            Ok(d) if d.last.as_ref().map(|s| s.phase()) == Some(&Phase::Completed) => {
                self.flink.results(&name).await.map_err(|e| e.to_string())
            }
            Ok(d) => Err(format!(
                "the catalog query {name} ended {}",
                d.last
                    .as_ref()
                    .map_or("gone".to_string(), |s| s.phase().to_string())
            )),
            Err(e) => Err(e.to_string()),
        };
        // Bounded and read: it goes, whatever it answered.
        if let Err(e) = self.flink.delete(&name).await {
            tracing::warn!(statement = %name, error = %e, "could not delete the catalog query");
        }
        rows.and_then(|r| r.ok_or_else(|| format!("{name} was gone before it was read")))
    }
}
