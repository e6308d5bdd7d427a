//! The tracker's format on the topic, in one place: the keys (a statement record's, a lease's,
//! and the classifier that reads what a key is), the lease's value, and the partition every
//! write goes to. The statement record's value is [`super::record::Record`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The partition every write goes to.
pub const WRITE_PARTITION: i32 = 0;

/// Lease records live under this key prefix; statement records never do (an environment id is
/// never `lease`).
pub const LEASE_KEY_PREFIX: &str = "lease/";

/// The tracker key of a statement record.
pub fn record_key(environment_id: &str, statement_name: &str) -> String {
    format!("{environment_id}/{statement_name}")
}

/// `lease/<environment_id>/<app>/`: the keys of one app's leases.
pub fn lease_prefix(environment_id: &str, app: &str) -> String {
    format!("{LEASE_KEY_PREFIX}{environment_id}/{app}/")
}

pub fn lease_key(environment_id: &str, app: &str, run_id: &str) -> String {
    format!("{}{run_id}", lease_prefix(environment_id, app))
}

/// The format version of lease records this build writes (independent of statement records).
pub const LEASE_VERSION: u32 = 1;

/// The value of a lease key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub version: u32,
    pub app: String,
    pub environment_id: String,
    /// Unique per process: the lease's identity.
    pub run_id: String,
    /// Who holds it, for humans: GitHub repository and run, or host and pid.
    pub holder: String,
    /// When the run first asked for the lease.
    pub acquired_at: DateTime<Utc>,
    /// After this instant the lease no longer counts (unless renewed before).
    pub expires_at: DateTime<Utc>,
    /// On renewals: the offset of the run's first lease record (its place in the queue).
    #[serde(default)]
    pub first_offset: Option<i64>,
    #[serde(default)]
    pub renewed_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// What a key says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key<'a> {
    /// `<environment_id>/<statement_name>`.
    Record { environment_id: &'a str },
    /// `lease/<environment_id>/<app>/<run_id>`.
    Lease {
        environment_id: &'a str,
        app: &'a str,
    },
    /// Neither: no writer of this tool writes it.
    Other,
}

impl<'a> Key<'a> {
    pub(crate) fn parse(key: &'a str) -> Key<'a> {
        if let Some(rest) = key.strip_prefix(LEASE_KEY_PREFIX) {
            let mut parts = rest.splitn(3, '/');
            return match (parts.next(), parts.next(), parts.next()) {
                (Some(environment_id), Some(app), Some(_)) => Key::Lease {
                    environment_id,
                    app,
                },
                _ => Key::Other,
            };
        }
        match key.split_once('/') {
            Some((environment_id, _)) => Key::Record { environment_id },
            None => Key::Other,
        }
    }
}
