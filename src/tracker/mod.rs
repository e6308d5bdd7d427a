//! The tracker: what this tool deployed, kept in one compacted Kafka topic.
//!
//! Key `<environment_id>/<statement_name>` → a JSON [`Record`]; a delete is a tombstone. Leases
//! (one run per app and environment) live in the same topic under `lease/…` keys, see
//! [`lease`]. The format is a public contract: `docs/tracker-format.md`.
//!
//! A load reads the whole topic but parses fully only the records of its [`Scope`]: a run's
//! loads cost memory in proportion to its own app, not to the topic.

pub mod auth;
mod fetch;
pub mod format;
pub mod lease;
pub mod record;
mod scope;
mod store;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

pub use auth::{KeySource, TrackerKey};
pub use lease::{Lease, LeaseEntry, LeaseRecord, LeaseRequest};
pub use record::{Ownership, Provenance, Record, State, TableOwnership, Tables, RECORD_VERSION};
pub use scope::Scope;
pub use store::Delivery;

use crate::confluent::kafka::{CreateOutcome, KafkaAdmin, KafkaConfig, KafkaError};
use crate::input::validate_topic;
pub use format::record_key;
use format::Key;
use store::{Reader, Slot, Value};

/// The topic's name unless the `tracker-topic` input says otherwise.
pub const DEFAULT_TOPIC: &str = "ccaf-housekeeping-tracker";

#[derive(Debug, thiserror::Error)]
pub enum TrackerError {
    #[error("tracker topic `{0}` is not a valid topic name")]
    InvalidTopic(String),
    #[error(
        "the tracker topic `{topic}` does not exist and could not be created ({reason}); \
         create it (cleanup.policy=compact) or name another with the tracker-topic input"
    )]
    CreateTopic { topic: String, reason: String },
    #[error(transparent)]
    Admin(#[from] KafkaError),
    #[error("{context}: {reason}")]
    Kafka { context: String, reason: String },
    #[error("writing `{key}` to the tracker topic `{topic}` failed: {reason}")]
    Write {
        topic: String,
        key: String,
        reason: String,
    },
    #[error("timed out after {after:?} {what}")]
    Timeout { what: String, after: Duration },
    #[error("invalid tracker record: {0}")]
    InvalidRecord(String),
    #[error("invalid lease request: {0}")]
    InvalidLease(String),
    #[error(
        "app `{app}` in environment `{environment_id}` is locked by another run: holder {holder}, \
         run id {run_id}, lease expires at {} (waited {waited:?})",
        expires_at.to_rfc3339()
    )]
    LeaseHeld {
        app: String,
        environment_id: String,
        holder: String,
        run_id: String,
        expires_at: DateTime<Utc>,
        waited: Duration,
    },
    #[error("lost the lease of run {run_id}: {reason}")]
    LeaseLost { run_id: String, reason: String },
}

/// A value of the topic that did not parse: left out of the snapshot, reported.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidEntry {
    pub key: String,
    pub partition: i32,
    pub offset: i64,
    pub reason: String,
}

/// A value of the scope the app cannot prove it wrote: never acted on, reported.
#[derive(Debug, Clone)]
pub struct UnverifiedEntry {
    pub key: String,
    pub partition: i32,
    pub offset: i64,
    pub reason: String,
    /// The record it holds, when it parses as one of the scope's app.
    pub record: Option<Arc<Record>>,
}

/// A write under one of the scope's keys that did not replace the value the app signed there
/// (an overwrite, a tombstone): reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedWrite {
    pub key: String,
    pub offset: i64,
    pub reason: String,
}

/// Every key's latest value as the reader parsed it (see [`store::Slot`]).
type Table = HashMap<Arc<str>, Slot>;

/// The topic's content as far as a load's [`Scope`] reads it: the latest value of every key.
///
/// A snapshot shares the reader's table (a load copies neither records nor keys); a read while
/// one is held copies the table once, so hold snapshots briefly.
#[derive(Clone)]
pub struct Snapshot {
    /// What was loaded.
    pub scope: Scope,
    /// The scope's statement records by key (`<environment_id>/<statement_name>`), shared with
    /// the tracker's reader.
    pub records: BTreeMap<String, Arc<Record>>,
    /// The scope's lease records by key (`lease/<environment_id>/<app>/<run_id>`).
    pub leases: BTreeMap<String, LeaseEntry>,
    /// The scope's values that are not valid records: those of its environment whose app could
    /// not be read, and its app's. Invalid values elsewhere are not parsed, so not seen.
    pub invalid: Vec<InvalidEntry>,
    /// The scope's values that the app cannot prove it wrote (forged, or written before
    /// records were signed).
    pub unverified: Vec<UnverifiedEntry>,
    /// Writes under the scope's keys that the app's signed values withstood.
    pub rejected: Vec<RejectedWrite>,
    /// Keys whose latest value is outside the scope: read (for the log order) but not parsed.
    pub unread: usize,
    /// Where other apps' records are looked up.
    table: Arc<Table>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("scope", &self.scope)
            .field("records", &self.records)
            .field("leases", &self.leases)
            .field("invalid", &self.invalid)
            .field("unverified", &self.unverified)
            .field("rejected", &self.rejected)
            .field("unread", &self.unread)
            .field("keys", &self.table.len())
            .finish()
    }
}

impl Snapshot {
    /// The snapshot of `scope` from a table read for `read`, a scope that covers it.
    fn of(table: &Arc<Table>, read: &Scope, scope: Scope) -> Snapshot {
        let mut snap = Snapshot {
            scope,
            records: BTreeMap::new(),
            leases: BTreeMap::new(),
            invalid: Vec::new(),
            unverified: Vec::new(),
            rejected: Vec::new(),
            unread: 0,
            table: table.clone(),
        };
        // Read for this very scope, another app's record is of the scope's environment.
        let exact = *read == snap.scope;
        for (key, slot) in table.iter() {
            match &slot.value {
                None => {}
                // Most keys of a large topic: passed over without looking at the key.
                Some(Value::Unread) => snap.unread += 1,
                Some(Value::OtherApp(_)) if exact => {}
                Some(value) => snap.add(key, slot, value),
            }
        }
        snap.invalid.sort_by(|a, b| a.key.cmp(&b.key));
        snap.unverified.sort_by(|a, b| a.key.cmp(&b.key));
        snap.rejected.sort_by(|a, b| a.key.cmp(&b.key));
        snap
    }

    /// The scope's record of a statement.
    pub fn get(&self, environment_id: &str, statement_name: &str) -> Option<&Record> {
        self.records
            .get(&record_key(environment_id, statement_name))
            .map(|r| &**r)
    }

    /// The app a statement's record belongs to, whichever app that is, when the statement is in
    /// the scope's environment (`None`: no record, or outside the scope's environment).
    pub fn app_of(&self, environment_id: &str, statement_name: &str) -> Option<&str> {
        if !self.scope.has_environment(environment_id) {
            return None;
        }
        let key = record_key(environment_id, statement_name);
        match self.table.get(key.as_str())?.value.as_ref()? {
            Value::Record(r) => Some(&r.app),
            Value::OtherApp(app) => Some(app),
            _ => None,
        }
    }

    /// The records of the scope's environment that belong to another app, as (key, app), in no
    /// particular order: only their app was read.
    pub fn other_apps(&self) -> impl Iterator<Item = (&str, &str)> {
        self.table.iter().filter_map(|(key, slot)| {
            let app = match slot.value.as_ref()? {
                Value::OtherApp(app) => &**app,
                Value::Record(r) => r.app.as_str(),
                _ => return None,
            };
            let in_environment = match Key::parse(key) {
                Key::Record { environment_id } => self.scope.has_environment(environment_id),
                _ => false,
            };
            (in_environment && !self.scope.has_app(app)).then_some((&**key, app))
        })
    }

    /// Records of one environment (all when `None`) and one app (all when `None`), by key,
    /// among the scope's.
    pub fn list(&self, environment_id: Option<&str>, app: Option<&str>) -> Vec<&Record> {
        self.records
            .values()
            .map(|r| &**r)
            .filter(|r| environment_id.is_none_or(|e| r.environment_id == e))
            .filter(|r| app.is_none_or(|a| r.app == a))
            .collect()
    }

    /// The lease entries of one app (one per run key).
    pub fn leases_of(&self, environment_id: &str, app: &str) -> Vec<&LeaseEntry> {
        let prefix = lease::lease_prefix(environment_id, app);
        self.leases
            .range(prefix.clone()..)
            .take_while(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v)
            .collect()
    }

    /// Take in one key's latest value, if it is the scope's.
    fn add(&mut self, key: &str, slot: &Slot, value: &Value) {
        let (in_environment, in_app) = match Key::parse(key) {
            Key::Record { environment_id } => (self.scope.has_environment(environment_id), None),
            Key::Lease {
                environment_id,
                app,
            } => (
                self.scope.has_environment(environment_id),
                Some(self.scope.has_app(app)),
            ),
            Key::Other => (self.scope.environment_id().is_none(), None),
        };
        let ours = match value {
            Value::Record(r) => in_environment && self.scope.has_app(&r.app),
            Value::Lease(_) => in_environment && in_app == Some(true),
            _ => false,
        };
        if let Some(rejected) = slot.rejected.as_ref().filter(|_| ours) {
            self.rejected.push(RejectedWrite {
                key: key.to_string(),
                offset: rejected.offset,
                reason: rejected.reason.to_string(),
            });
        }
        match value {
            Value::Record(r) if in_environment && self.scope.has_app(&r.app) => {
                self.records.insert(key.to_string(), r.clone());
            }
            Value::Unverified(u)
                if in_environment
                    && in_app != Some(false)
                    && u.record.as_ref().is_none_or(|r| self.scope.has_app(&r.app)) =>
            {
                self.unverified.push(UnverifiedEntry {
                    key: key.to_string(),
                    partition: slot.partition,
                    offset: slot.offset,
                    reason: u.reason.to_string(),
                    record: u.record.clone(),
                })
            }
            // Another app's: looked up in the table when asked.
            Value::Record(_) | Value::OtherApp(_) if in_environment => {}
            Value::Lease(l) if in_environment && in_app == Some(true) => {
                self.leases
                    .insert(key.to_string(), LeaseEntry::of(key, slot, l));
            }
            // An invalid value of the environment whose app is unknown may be the scope's app's:
            // reported. (An invalid lease is under its own app's key.)
            Value::Invalid(reason) if in_environment && in_app != Some(false) => {
                self.invalid.push(InvalidEntry {
                    key: key.to_string(),
                    partition: slot.partition,
                    offset: slot.offset,
                    reason: reason.to_string(),
                })
            }
            _ => self.unread += 1,
        }
    }
}

struct Inner {
    /// What every value written is signed with.
    key: Arc<TrackerKey>,
    topic: String,
    admin: KafkaAdmin,
    producer: store::Producer,
    reader: Arc<Mutex<Reader>>,
    topic_ready: OnceCell<()>,
    load_timeout: Duration,
    writes: Mutex<WriteStats>,
}

/// The tracker's writes in a run (records, leases, removals) and the time spent waiting for
/// their acknowledgements: in the run report, so a slow run says where its time went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WriteStats {
    /// Values written (a batch counts each of its values).
    pub values: u64,
    /// Writes (a batch is one) and the time they took, summed.
    pub writes: u64,
    pub write_ms: u64,
}

/// A handle on the tracker topic. Cheap to clone.
#[derive(Clone)]
pub struct Tracker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("topic", &self.inner.topic)
            .finish()
    }
}

impl Tracker {
    /// The default time a load may take before it fails.
    pub const DEFAULT_LOAD_TIMEOUT: Duration = Duration::from_secs(120);

    /// Connects lazily: creating the clients fails only on a bad configuration. The topic is
    /// created on the first write (or [`Tracker::ensure_topic`]); reads of a missing topic see
    /// an empty tracker.
    ///
    /// Every value is signed with `key` when written and believed when read only if one of its
    /// keys verifies it (see [`auth`]).
    pub async fn open(
        kafka: &KafkaConfig,
        topic: &str,
        key: TrackerKey,
    ) -> Result<Tracker, TrackerError> {
        validate_topic(topic).map_err(|_| TrackerError::InvalidTopic(topic.to_string()))?;
        let admin = KafkaAdmin::connect(kafka)?;
        let producer = store::producer(kafka)?;
        let key = Arc::new(key);
        let reader = Reader::new(kafka, topic, key.clone())?;
        Ok(Tracker {
            inner: Arc::new(Inner {
                key,
                topic: topic.to_string(),
                admin,
                producer,
                reader: Arc::new(Mutex::new(reader)),
                topic_ready: OnceCell::new(),
                load_timeout: Self::DEFAULT_LOAD_TIMEOUT,
                writes: Mutex::new(WriteStats::default()),
            }),
        })
    }

    pub fn topic(&self) -> &str {
        &self.inner.topic
    }

    /// The writes so far.
    pub fn write_stats(&self) -> WriteStats {
        *self.inner.writes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Count a write of `values` values and the time it took.
    async fn timed<T>(&self, values: usize, write: impl std::future::Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let out = write.await;
        let mut w = self.inner.writes.lock().unwrap_or_else(|p| p.into_inner());
        w.values += values as u64;
        w.writes += 1;
        w.write_ms += u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        out
    }

    /// Where the key the tracker signs with came from.
    pub fn key_source(&self) -> KeySource {
        self.inner.key.source
    }

    pub fn admin(&self) -> &KafkaAdmin {
        &self.inner.admin
    }

    /// Create the topic if it is missing: one partition, `cleanup.policy=compact`.
    pub async fn ensure_topic(&self) -> Result<(), TrackerError> {
        self.inner
            .topic_ready
            .get_or_try_init(|| async {
                let topic = &self.inner.topic;
                if self.inner.admin.topic_exists(topic).await? {
                    return Ok(());
                }
                let outcome = self
                    .inner
                    .admin
                    .create_topic(topic, 1, &[("cleanup.policy", "compact")])
                    .await
                    .map_err(|e| TrackerError::CreateTopic {
                        topic: topic.clone(),
                        reason: match e {
                            KafkaError::CreateTopic { reason, .. } => reason,
                            other => other.to_string(),
                        },
                    })?;
                if outcome == CreateOutcome::Created {
                    tracing::info!(topic = %topic, "created the tracker topic");
                }
                Ok(())
            })
            .await
            .map(|_| ())
    }

    /// Read the topic to its end and return the latest value of every key of `scope` (see
    /// [`Snapshot`] for what it holds of the rest). Later loads of the same scope, or a narrower
    /// one, through this tracker read only what was appended since.
    pub async fn load(&self, scope: &Scope) -> Result<Snapshot, TrackerError> {
        let scope = scope.clone();
        self.with_caught_up_reader(scope.clone(), move |reader| {
            let state = reader.state();
            let read = state.scope().cloned().unwrap_or_else(|| scope.clone());
            let snap = Snapshot::of(&state.slots, &read, scope);
            for bad in &snap.invalid {
                tracing::warn!(key = %bad.key, offset = bad.offset, reason = %bad.reason, "skipped an unreadable tracker value");
            }
            for u in &snap.unverified {
                tracing::warn!(key = %u.key, offset = u.offset, reason = %u.reason, "a tracker value the app cannot prove it wrote: not acted on");
            }
            for r in &snap.rejected {
                tracing::warn!(key = %r.key, offset = r.offset, reason = %r.reason, "a write under the app's key that its own value withstood");
            }
            snap
        })
        .await
    }

    /// The lease entries of one app, read to the end of the topic.
    pub async fn lease_entries(
        &self,
        environment_id: &str,
        app: &str,
    ) -> Result<Vec<LeaseEntry>, TrackerError> {
        let prefix = lease::lease_prefix(environment_id, app);
        self.with_caught_up_reader(Scope::app(environment_id, app), move |reader| {
            reader
                .state()
                .slots
                .iter()
                .filter(|(k, _)| k.starts_with(&prefix))
                .filter_map(|(k, slot)| match &slot.value {
                    Some(Value::Lease(l)) => Some(LeaseEntry::of(k, slot, l)),
                    _ => None,
                })
                .collect()
        })
        .await
    }

    /// Catch the reader up with the topic's end, then look at it.
    async fn with_caught_up_reader<T, F>(&self, scope: Scope, f: F) -> Result<T, TrackerError>
    where
        F: FnOnce(&Reader) -> T + Send + 'static,
        T: Send + 'static,
    {
        let partitions = match self.inner.admin.describe_topic(&self.inner.topic).await? {
            Some(info) => info.partitions,
            // No topic, no records: reading never creates it.
            None => Vec::new(),
        };
        let reader = self.inner.reader.clone();
        let timeout = self.inner.load_timeout;
        tokio::task::spawn_blocking(move || {
            let mut reader = reader.lock().map_err(|_| TrackerError::Kafka {
                context: "reading the tracker topic".into(),
                reason: "an earlier read panicked".into(),
            })?;
            reader.catch_up(&partitions, &scope, timeout)?;
            Ok(f(&reader))
        })
        .await
        .map_err(|e| TrackerError::Kafka {
            context: "reading the tracker topic".into(),
            reason: e.to_string(),
        })?
    }

    /// The record of one statement, whichever app's it is.
    pub async fn get(
        &self,
        environment_id: &str,
        statement_name: &str,
    ) -> Result<Option<Record>, TrackerError> {
        let key = record_key(environment_id, statement_name);
        let scope = Scope::new(Some(environment_id), None);
        self.with_caught_up_reader(scope, move |reader| {
            match reader
                .state()
                .slots
                .get(key.as_str())
                .and_then(|s| s.value.as_ref())
            {
                Some(Value::Record(r)) => Some((**r).clone()),
                _ => None,
            }
        })
        .await
    }

    /// The values of one environment (all when `None`) and app (all when `None`) that the app
    /// cannot prove it wrote, for people to review (`track list`, `track get`).
    pub async fn unverified(
        &self,
        environment_id: Option<&str>,
        app: Option<&str>,
    ) -> Result<Vec<UnverifiedEntry>, TrackerError> {
        Ok(self
            .load(&Scope::new(environment_id, app))
            .await?
            .unverified)
    }

    /// Records of one environment (all when `None`) and one app (all when `None`), by key.
    pub async fn list(
        &self,
        environment_id: Option<&str>,
        app: Option<&str>,
    ) -> Result<Vec<Record>, TrackerError> {
        let snap = self.load(&Scope::new(environment_id, app)).await?;
        Ok(snap
            .list(environment_id, app)
            .into_iter()
            .cloned()
            .collect())
    }

    /// Write a record; returns once the broker acknowledged it.
    pub async fn put(&self, record: &Record) -> Result<Delivery, TrackerError> {
        record.validate().map_err(TrackerError::InvalidRecord)?;
        let payload =
            serde_json::to_vec(record).map_err(|e| TrackerError::InvalidRecord(e.to_string()))?;
        let payload = self.inner.key.sign(&record.key(), &payload);
        self.ensure_topic().await?;
        let d = self
            .timed(
                1,
                store::write(
                    &self.inner.producer,
                    &self.inner.topic,
                    &record.key(),
                    Some(&payload),
                ),
            )
            .await?;
        tracing::debug!(key = %record.key(), state = %record.state, offset = d.offset, "tracker record written");
        Ok(d)
    }

    /// Write many records (batched); returns once every one is acknowledged.
    pub async fn put_all(&self, records: &[Record]) -> Result<Vec<Delivery>, TrackerError> {
        let mut items = Vec::with_capacity(records.len());
        for r in records {
            r.validate()
                .map_err(|e| TrackerError::InvalidRecord(format!("{}: {e}", r.key())))?;
            let payload =
                serde_json::to_vec(r).map_err(|e| TrackerError::InvalidRecord(e.to_string()))?;
            let key = r.key();
            let payload = self.inner.key.sign(&key, &payload);
            items.push((key, Some(payload)));
        }
        self.ensure_topic().await?;
        self.timed(
            items.len(),
            store::write_all(&self.inner.producer, &self.inner.topic, &items),
        )
        .await
    }

    /// Remove a record. Deleting a key that has no record is not an error.
    pub async fn delete(
        &self,
        environment_id: &str,
        statement_name: &str,
    ) -> Result<Delivery, TrackerError> {
        self.remove(&record_key(environment_id, statement_name))
            .await
    }

    pub(crate) async fn write_lease(
        &self,
        key: &str,
        record: &LeaseRecord,
    ) -> Result<Delivery, TrackerError> {
        let payload =
            serde_json::to_vec(record).map_err(|e| TrackerError::InvalidLease(e.to_string()))?;
        let payload = self.inner.key.sign(key, &payload);
        self.ensure_topic().await?;
        self.timed(
            1,
            store::write(&self.inner.producer, &self.inner.topic, key, Some(&payload)),
        )
        .await
    }

    /// Remove a key: the app's signed removal marker, then the tombstone that lets compaction
    /// forget the key (a tombstone alone would be someone else's, see [`auth`]). Returns where
    /// the tombstone landed.
    pub(crate) async fn remove(&self, key: &str) -> Result<Delivery, TrackerError> {
        let marker = self.inner.key.sign(key, &auth::removal(key));
        self.ensure_topic().await?;
        let items = [(key.to_string(), Some(marker)), (key.to_string(), None)];
        let done = self
            .timed(
                items.len(),
                store::write_all(&self.inner.producer, &self.inner.topic, &items),
            )
            .await?;
        done.last().copied().ok_or_else(|| TrackerError::Write {
            topic: self.inner.topic.clone(),
            key: key.to_string(),
            reason: "no delivery report".into(),
        })
    }
}
