//! The materialized tables resource (`sql/v1/…/databases/{cluster}/materialized-tables`, §G.2):
//! read one, delete one. Creating and evolving go through statements (`CREATE OR ALTER
//! MATERIALIZED TABLE`), because only the SQL carries `START_MODE` and the definition exactly as
//! the app wrote it (the resource's spec has neither the start mode nor the column list as SQL);
//! see `docs/materialized-tables.md`.
//!
//! Wire types follow the OpenAPI schema (`sql.v1.MaterializedTable`) and tolerate what the
//! service adds or leaves out, as [`super::flink`] does for statements.

use std::fmt;

use serde::{Deserialize, Deserializer};
use url::Url;

use super::flink::{null_default, FlinkClient, FlinkError};
use crate::http::HttpRequest;

/// `status.phase` of a materialized table: an extensible enum (the OpenAPI's
/// `x-extensible-enum`); an unknown value is kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum MtPhase {
    Pending,
    Creating,
    Altering,
    Running,
    Completed,
    Degraded,
    Stopping,
    Stopped,
    Failing,
    Failed,
    Deleting,
    #[default]
    Missing,
    Unknown(String),
}

impl MtPhase {
    const KNOWN: [MtPhase; 11] = [
        MtPhase::Pending,
        MtPhase::Creating,
        MtPhase::Altering,
        MtPhase::Running,
        MtPhase::Completed,
        MtPhase::Degraded,
        MtPhase::Stopping,
        MtPhase::Stopped,
        MtPhase::Failing,
        MtPhase::Failed,
        MtPhase::Deleting,
    ];

    pub fn parse(s: &str) -> MtPhase {
        if s.trim().is_empty() {
            return MtPhase::Missing;
        }
        MtPhase::KNOWN
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
            .unwrap_or_else(|| MtPhase::Unknown(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        match self {
            MtPhase::Pending => "PENDING",
            MtPhase::Creating => "CREATING",
            MtPhase::Altering => "ALTERING",
            MtPhase::Running => "RUNNING",
            MtPhase::Completed => "COMPLETED",
            MtPhase::Degraded => "DEGRADED",
            MtPhase::Stopping => "STOPPING",
            MtPhase::Stopped => "STOPPED",
            MtPhase::Failing => "FAILING",
            MtPhase::Failed => "FAILED",
            MtPhase::Deleting => "DELETING",
            MtPhase::Missing => "",
            MtPhase::Unknown(s) => s,
        }
    }

    /// A change is on its way (Terraform waits on these, §G.9).
    pub fn is_changing(&self) -> bool {
        matches!(
            self,
            MtPhase::Pending
                | MtPhase::Creating
                | MtPhase::Altering
                | MtPhase::Stopping
                | MtPhase::Deleting
                | MtPhase::Missing
        )
    }

    /// The change failed: waiting does not help (Terraform aborts on these).
    pub fn has_failed(&self) -> bool {
        matches!(self, MtPhase::Failing | MtPhase::Failed)
    }
}

impl fmt::Display for MtPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MtPhase {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MtPhase, D::Error> {
        let s: Option<String> = Option::deserialize(d)?;
        Ok(MtPhase::parse(s.as_deref().unwrap_or("")))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MtMetadata {
    pub uid: Option<String>,
    pub labels: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MtSpec {
    pub query: Option<String>,
    pub stopped: Option<bool>,
    pub compute_pool_id: Option<String>,
    pub principal: Option<String>,
    pub kafka_cluster_id: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MtStatus {
    pub phase: MtPhase,
    pub detail: Option<String>,
    pub creation_statement: Option<String>,
    pub version: Option<u32>,
    pub latest_version: Option<u32>,
}

/// `sql.v1.MaterializedTable`, the fields the action reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MaterializedTable {
    #[serde(deserialize_with = "null_default")]
    pub name: String,
    #[serde(deserialize_with = "null_default")]
    pub metadata: MtMetadata,
    #[serde(deserialize_with = "null_default")]
    pub spec: MtSpec,
    #[serde(deserialize_with = "null_default")]
    pub status: MtStatus,
}

impl MaterializedTable {
    pub fn phase(&self) -> &MtPhase {
        &self.status.phase
    }

    /// The version live now (1 after the create).
    pub fn version(&self) -> u32 {
        self.status.version.unwrap_or(0)
    }

    /// Settled on its latest version: no evolution accepted but not yet live
    /// (`latest_version` stays above `version` until the new query runs, §G.2), and no change
    /// on its way.
    pub fn is_settled(&self) -> bool {
        let latest = self.status.latest_version.unwrap_or(self.version());
        latest <= self.version() && !self.phase().is_changing()
    }
}

/// What a DELETE of a materialized table was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MtDelete {
    /// Accepted: the table goes (`DELETING`, then 404).
    Accepted,
    /// There was no such table (404).
    Gone,
    /// 409 while an operation is pending (§G.6): try again once it settles.
    Busy(String),
}

impl FlinkClient {
    fn materialized_url(&self, cluster: &str, name: &str) -> Url {
        let mut u = self.environment_url();
        if let Ok(mut segs) = u.path_segments_mut() {
            segs.extend(["databases", cluster, "materialized-tables", name]);
        }
        u
    }

    /// The materialized table `name` of the Kafka cluster (database) `cluster`, or `None` (404).
    pub async fn get_materialized(
        &self,
        cluster: &str,
        name: &str,
    ) -> Result<Option<MaterializedTable>, FlinkError> {
        let resp = self
            .http()
            .execute(HttpRequest::get(self.materialized_url(cluster, name)))
            .await?;
        match resp.status().as_u16() {
            404 => Ok(None),
            _ if resp.is_success() => Ok(Some(resp.json()?)),
            _ => Err(resp.into_error().into()),
        }
    }

    /// Ask the service to delete the materialized table: its query stops, its catalog entry
    /// and topic go (§G.7). A 409 is not an error: the table is busy with a change.
    pub async fn delete_materialized(
        &self,
        cluster: &str,
        name: &str,
    ) -> Result<MtDelete, FlinkError> {
        let resp = self
            .http()
            .execute(HttpRequest::delete(self.materialized_url(cluster, name)))
            .await?;
        match resp.status().as_u16() {
            404 => Ok(MtDelete::Gone),
            409 => Ok(MtDelete::Busy(
                resp.into_error()
                    .to_string()
                    .chars()
                    .take(500)
                    .collect::<String>(),
            )),
            _ if resp.is_success() => Ok(MtDelete::Accepted),
            _ => Err(resp.into_error().into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_parse_whatever_the_service_sends() {
        assert_eq!(MtPhase::parse("altering"), MtPhase::Altering);
        assert_eq!(MtPhase::parse(""), MtPhase::Missing);
        assert_eq!(
            MtPhase::parse("REFRESHING"),
            MtPhase::Unknown("REFRESHING".into())
        );
        assert!(MtPhase::Creating.is_changing());
        assert!(!MtPhase::Running.is_changing());
        assert!(MtPhase::Failing.has_failed());
    }

    #[test]
    fn settled_only_when_the_latest_version_is_live() {
        let mt: MaterializedTable = serde_json::from_value(serde_json::json!({
            "name": "t",
            "status": {"phase": "RUNNING", "version": 1, "latest_version": 2}
        }))
        .unwrap();
        assert!(!mt.is_settled(), "an accepted evolution is not live yet");
        let mt: MaterializedTable = serde_json::from_value(serde_json::json!({
            "name": "t",
            "status": {"phase": "RUNNING", "version": 2, "latest_version": 2},
            "unknown": {"kept": true}
        }))
        .unwrap();
        assert!(mt.is_settled());
        let mt: MaterializedTable =
            serde_json::from_value(serde_json::json!({"name": "t", "status": null})).unwrap();
        assert!(!mt.is_settled(), "no phase yet");
    }
}
