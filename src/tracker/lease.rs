//! One run per app and environment (safety rule 4), with leases in the tracker topic.
//!
//! Each run appends a lease record under its own key `lease/<environment_id>/<app>/<run_id>`
//! (to partition 0, like every write), then reads the topic to its end. Among the runs whose
//! latest lease record is unexpired, the one whose *first* lease record comes first in the log
//! holds the lease; the others wait in that order. A run's renewals carry the offset of its first
//! record (`first_offset`), so its place survives log compaction. Release is a tombstone on the
//! run's key; a holder that died stops blocking when its lease expires.
//!
//! Per-run keys (rather than one key per app) keep compaction from dropping an earlier run's
//! lease in favour of a later one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use super::format::WRITE_PARTITION;
pub use super::format::{lease_key, lease_prefix, LeaseRecord, LEASE_VERSION};
use super::{Tracker, TrackerError};
use crate::input::{validate_app, validate_id};

/// A signed lease record as read, with where it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaseEntry {
    pub key: String,
    pub record: LeaseRecord,
    pub partition: i32,
    pub offset: i64,
    /// The run's place in the queue: where the reader first saw the run's lease (see
    /// `store::SeenLease`).
    pub position: i64,
    /// When the reader read this value.
    pub seen_at: DateTime<Utc>,
}

impl LeaseEntry {
    pub(crate) fn of(key: &str, slot: &super::store::Slot, l: &super::store::SeenLease) -> Self {
        LeaseEntry {
            key: key.to_string(),
            record: l.record.clone(),
            partition: slot.partition,
            offset: slot.offset,
            position: l.first_offset,
            seen_at: l.seen_at,
        }
    }

    /// The run's place in the queue.
    pub fn position(&self) -> i64 {
        self.position
    }

    /// When the lease ends: what it says, but at most `ttl` after the reader saw it, so a
    /// lease that claims a far expiry locks nobody out for longer than a ttl past its last
    /// write (every run of an app uses the tool's ttl).
    pub fn expires_at(&self, ttl: Duration) -> DateTime<Utc> {
        let cap = chrono::Duration::from_std(ttl)
            .ok()
            .and_then(|ttl| self.seen_at.checked_add_signed(ttl))
            .unwrap_or(self.record.expires_at);
        self.record.expires_at.min(cap)
    }
}

/// Who holds the lease at `now`: the unexpired entry that comes first in the log. Entries are
/// one app's signed ones (one per run key, the latest value of each); `ttl` caps how long one
/// counts after it was seen.
pub fn resolve<'a>(
    entries: impl IntoIterator<Item = &'a LeaseEntry>,
    now: DateTime<Utc>,
    ttl: Duration,
) -> Option<&'a LeaseEntry> {
    entries
        .into_iter()
        // The tool writes every lease to one partition: one total order. Anything elsewhere
        // is not a place in the queue.
        .filter(|e| e.partition == WRITE_PARTITION)
        .filter(|e| e.expires_at(ttl) > now)
        .min_by_key(|e| (e.position(), e.offset))
}

/// What a run asks for.
#[derive(Debug, Clone)]
pub struct LeaseRequest {
    pub environment_id: String,
    pub app: String,
    pub run_id: String,
    pub holder: String,
    /// How long the lease lasts without renewal; the holder renews every third of it.
    pub ttl: Duration,
    /// How long to wait for another run's lease before failing with `LeaseHeld`.
    pub wait: Duration,
}

impl LeaseRequest {
    pub const DEFAULT_TTL: Duration = Duration::from_secs(120);
    pub const DEFAULT_WAIT: Duration = Duration::from_secs(600);

    pub fn new(environment_id: &str, app: &str, run_id: &str, holder: &str) -> LeaseRequest {
        LeaseRequest {
            environment_id: environment_id.to_string(),
            app: app.to_string(),
            run_id: run_id.to_string(),
            holder: holder.to_string(),
            ttl: Self::DEFAULT_TTL,
            wait: Self::DEFAULT_WAIT,
        }
    }

    fn validate(&self) -> Result<(), TrackerError> {
        let bad = |m: String| TrackerError::InvalidLease(m);
        validate_app(&self.app).map_err(|e| bad(format!("app {e}")))?;
        validate_id(&self.environment_id).map_err(|e| bad(format!("environment id {e}")))?;
        validate_id(&self.run_id).map_err(|e| bad(format!("run id {e}")))?;
        if self.ttl < Duration::from_millis(100) {
            return Err(bad("the lease ttl must be at least 100 ms".into()));
        }
        Ok(())
    }
}

/// A run id nobody else has: the GitHub run (id, attempt) when there is one, plus randomness
/// (two jobs of one workflow run share the run id).
pub fn new_run_id(github_run: Option<(&str, &str)>) -> String {
    let n: u32 = rand::rng().random();
    match github_run {
        Some((id, attempt)) if validate_id(id).is_ok() && validate_id(attempt).is_ok() => {
            format!("gh-{id}-{attempt}-{n:08x}")
        }
        _ => format!("local-{n:08x}"),
    }
}

/// A description of this process for the `holder` field: the GitHub repository, run and job
/// when there are, else the host and the process.
pub fn holder(github: Option<(&str, &str, Option<&str>)>, host: Option<&str>) -> String {
    if let Some((repo, run, job)) = github {
        return format!("github:{repo} run {run} job {}", job.unwrap_or_default())
            .trim_end()
            .to_string();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| host.map(str::to_string))
        .unwrap_or_else(|| "unknown-host".into());
    format!("{host}/pid {}", std::process::id())
}

#[derive(Debug)]
struct Shared {
    expires_at: DateTime<Utc>,
    /// Set when a renewal found the lease gone.
    lost: Option<String>,
}

/// A held lease. Renewed in the background while held; [`Lease::release`] it at the end of the
/// run, on every path. Dropping it unreleased leaves it to expire.
pub struct Lease {
    tracker: Tracker,
    key: String,
    record: LeaseRecord,
    first_offset: i64,
    shared: Arc<Mutex<Shared>>,
    renewer: Option<tokio::task::JoinHandle<()>>,
    released: bool,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("key", &self.key)
            .field("run_id", &self.record.run_id)
            .field("first_offset", &self.first_offset)
            .finish()
    }
}

impl Lease {
    pub fn run_id(&self) -> &str {
        &self.record.run_id
    }

    pub fn holder(&self) -> &str {
        &self.record.holder
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.shared
            .lock()
            .map(|s| s.expires_at)
            .unwrap_or(self.record.expires_at)
    }

    /// `Err(LeaseLost)` if a renewal found that the lease is no longer ours (it expired and
    /// another run took it): check before each mutation.
    pub fn check(&self) -> Result<(), TrackerError> {
        let shared = self.shared.lock().map_err(|_| TrackerError::LeaseLost {
            run_id: self.record.run_id.clone(),
            reason: "the renewal task panicked".into(),
        })?;
        if let Some(reason) = &shared.lost {
            return Err(TrackerError::LeaseLost {
                run_id: self.record.run_id.clone(),
                reason: reason.clone(),
            });
        }
        if shared.expires_at <= Utc::now() {
            return Err(TrackerError::LeaseLost {
                run_id: self.record.run_id.clone(),
                reason: format!("it expired at {}", shared.expires_at.to_rfc3339()),
            });
        }
        Ok(())
    }

    /// Extend the lease by its ttl now (the background task does this every third of the ttl).
    pub async fn renew(&self) -> Result<(), TrackerError> {
        renew_once(
            &self.tracker,
            &self.key,
            &self.record,
            self.first_offset,
            &self.shared,
        )
        .await
    }

    /// Append the release (a tombstone on the run's key) and wait for its acknowledgement.
    pub async fn release(mut self) -> Result<(), TrackerError> {
        if let Some(r) = self.renewer.take() {
            r.abort();
            // Wait until the task is gone: a renewal queued after our tombstone would bring the
            // lease back until it expired.
            let _ = r.await;
        }
        self.released = true;
        self.tracker.remove(&self.key).await?;
        tracing::info!(app = %self.record.app, run_id = %self.record.run_id, "released the lease");
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(r) = self.renewer.take() {
            r.abort();
        }
        if !self.released {
            tracing::warn!(
                app = %self.record.app,
                run_id = %self.record.run_id,
                expires_at = %self.expires_at().to_rfc3339(),
                "lease dropped without release; it blocks others until it expires"
            );
        }
    }
}

async fn renew_once(
    tracker: &Tracker,
    key: &str,
    record: &LeaseRecord,
    first_offset: i64,
    shared: &Mutex<Shared>,
) -> Result<(), TrackerError> {
    let lost = |reason: String| TrackerError::LeaseLost {
        run_id: record.run_id.clone(),
        reason,
    };
    let now = Utc::now();
    let current = shared
        .lock()
        .map_err(|_| lost("lease state poisoned".into()))?
        .expires_at;
    if current <= now {
        // Too late: another run may already hold it. Never extend an expired lease.
        let reason = format!(
            "it expired at {} before it was renewed",
            current.to_rfc3339()
        );
        if let Ok(mut s) = shared.lock() {
            s.lost = Some(reason.clone());
        }
        return Err(lost(reason));
    }
    let ttl = record.expires_at - record.acquired_at;
    let mut renewal = record.clone();
    renewal.first_offset = Some(first_offset);
    renewal.renewed_at = Some(now);
    renewal.expires_at = now + ttl;
    tracker.write_lease(key, &renewal).await?;
    if let Ok(mut s) = shared.lock() {
        s.expires_at = renewal.expires_at;
    }
    // Still ours?
    let entries = tracker
        .lease_entries(&record.environment_id, &record.app)
        .await?;
    let winner = resolve(&entries, Utc::now(), ttl.to_std().unwrap_or_default());
    if winner.map(|w| w.record.run_id.as_str()) != Some(record.run_id.as_str()) {
        let reason = match winner {
            Some(w) => format!("run {} ({}) holds it now", w.record.run_id, w.record.holder),
            None => "its record is gone".to_string(),
        };
        if let Ok(mut s) = shared.lock() {
            s.lost = Some(reason.clone());
        }
        return Err(lost(reason));
    }
    tracing::debug!(run_id = %record.run_id, expires_at = %renewal.expires_at.to_rfc3339(), "renewed the lease");
    Ok(())
}

impl Tracker {
    /// Take the app's lease in the environment, waiting up to `req.wait` for the runs ahead.
    /// Fails with [`TrackerError::LeaseHeld`] naming the holder when the wait runs out.
    pub async fn acquire_lease(&self, req: &LeaseRequest) -> Result<Lease, TrackerError> {
        req.validate()?;
        self.ensure_topic().await?;
        let key = lease_key(&req.environment_id, &req.app, &req.run_id);
        match self.acquire_inner(req, &key).await {
            Ok(lease) => Ok(lease),
            Err(e) => {
                // Whatever failed after we asked, leave the queue (best effort: the record
                // would expire anyway).
                if !matches!(e, TrackerError::LeaseHeld { .. }) {
                    if let Err(w) = self.remove(&key).await {
                        tracing::warn!(error = %w, key, "could not withdraw the lease request");
                    }
                }
                Err(e)
            }
        }
    }

    /// [`Tracker::acquire_lease`], unless `stop` resolves first (a cancelled run): the run's
    /// request then leaves the queue at once — nobody waits out its ttl — and `stop`'s value
    /// comes back as `Ok(Err(_))`.
    pub async fn acquire_lease_unless<T>(
        &self,
        req: &LeaseRequest,
        stop: impl std::future::Future<Output = T>,
    ) -> Result<Result<Lease, T>, TrackerError> {
        let key = lease_key(&req.environment_id, &req.app, &req.run_id);
        tokio::select! {
            r = self.acquire_lease(req) => r.map(Ok),
            v = stop => {
                // Granted or still queued, the tombstone on our key ends it.
                if let Err(w) = self.remove(&key).await {
                    tracing::warn!(error = %w, key, "could not withdraw the lease request");
                }
                Ok(Err(v))
            }
        }
    }

    async fn acquire_inner(&self, req: &LeaseRequest, key: &str) -> Result<Lease, TrackerError> {
        let key = key.to_string();
        let ttl = chrono::Duration::from_std(req.ttl)
            .map_err(|_| TrackerError::InvalidLease("the lease ttl is too long".into()))?;
        let start = tokio::time::Instant::now();
        let deadline = start + req.wait;
        let mut pause = Duration::from_millis(50);
        let mut attempt: Option<(LeaseRecord, i64)> = None;
        // The holder last logged, so a long wait logs each holder once.
        let mut reported: Option<String> = None;
        loop {
            // (Re)append our lease when we have none in the log.
            let (record, first_offset) = match attempt.take() {
                Some(a) => a,
                None => self.ask_for_lease(req, &key, ttl).await?,
            };
            let entries = self.lease_entries(&req.environment_id, &req.app).await?;
            let now = Utc::now();
            let ours_live = entries
                .iter()
                .any(|e| e.record.run_id == req.run_id && e.expires_at(req.ttl) > now);
            let winner = resolve(&entries, now, req.ttl).cloned();
            if let Some(w) = winner.as_ref().filter(|w| w.record.run_id == req.run_id) {
                tracing::info!(
                    app = %req.app,
                    run_id = %req.run_id,
                    waited_ms = start.elapsed().as_millis() as u64,
                    "holding the lease"
                );
                return Ok(self.lease_granted(req, key, record, first_offset, w.record.expires_at));
            }
            if tokio::time::Instant::now() >= deadline {
                // Leave the queue: our waiting lease must not block whoever comes next.
                self.remove(&key).await?;
                return Err(not_granted(req, winner, start.elapsed()));
            }
            if let Some(w) = winner
                .as_ref()
                .filter(|w| reported.as_ref() != Some(&w.record.run_id))
            {
                reported = Some(w.record.run_id.clone());
                tracing::info!(
                    app = %req.app,
                    holder = %w.record.holder,
                    holder_run_id = %w.record.run_id,
                    expires_at = %w.record.expires_at.to_rfc3339(),
                    "another run holds the lease; waiting"
                );
            }
            if ours_live {
                let record = self
                    .keep_place(&key, record, first_offset, now, ttl)
                    .await?;
                attempt = Some((record, first_offset));
            }
            let jitter = rand::rng().random_range(0..=pause.as_millis() as u64 / 2);
            let sleep = (pause + Duration::from_millis(jitter))
                .min(deadline.saturating_duration_since(tokio::time::Instant::now()));
            tokio::time::sleep(sleep).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Append a new lease record of this run: its place in the queue is its offset.
    async fn ask_for_lease(
        &self,
        req: &LeaseRequest,
        key: &str,
        ttl: chrono::Duration,
    ) -> Result<(LeaseRecord, i64), TrackerError> {
        let now = Utc::now();
        let record = LeaseRecord {
            version: LEASE_VERSION,
            app: req.app.clone(),
            environment_id: req.environment_id.clone(),
            run_id: req.run_id.clone(),
            holder: req.holder.clone(),
            acquired_at: now,
            expires_at: now + ttl,
            first_offset: None,
            renewed_at: None,
            extra: serde_json::Map::new(),
        };
        let d = self.write_lease(key, &record).await?;
        tracing::debug!(app = %req.app, run_id = %req.run_id, offset = d.offset, "asked for the lease");
        Ok((record, d.offset))
    }

    /// The lease this run now holds, renewed in the background from here on.
    fn lease_granted(
        &self,
        req: &LeaseRequest,
        key: String,
        record: LeaseRecord,
        first_offset: i64,
        expires_at: DateTime<Utc>,
    ) -> Lease {
        let shared = Arc::new(Mutex::new(Shared {
            expires_at,
            lost: None,
        }));
        let renewer = spawn_renewer(
            self.clone(),
            key.clone(),
            record.clone(),
            first_offset,
            shared.clone(),
            req.ttl,
        );
        Lease {
            tracker: self.clone(),
            key,
            record,
            first_offset,
            shared,
            renewer: Some(renewer),
            released: false,
        }
    }

    /// Keep a waiting lease's place in the queue: renew it before it runs out.
    async fn keep_place(
        &self,
        key: &str,
        mut record: LeaseRecord,
        first_offset: i64,
        now: DateTime<Utc>,
        ttl: chrono::Duration,
    ) -> Result<LeaseRecord, TrackerError> {
        if record.expires_at - now < ttl / 2 {
            let mut renewal = record.clone();
            renewal.first_offset = Some(first_offset);
            renewal.renewed_at = Some(now);
            renewal.expires_at = now + ttl;
            self.write_lease(key, &renewal).await?;
            record.expires_at = renewal.expires_at;
        }
        Ok(record)
    }
}

/// Why the lease was not granted within the wait: who holds it, or that our own request never
/// became visible.
fn not_granted(req: &LeaseRequest, winner: Option<LeaseEntry>, waited: Duration) -> TrackerError {
    match winner {
        Some(w) => TrackerError::LeaseHeld {
            app: req.app.clone(),
            environment_id: req.environment_id.clone(),
            holder: w.record.holder,
            run_id: w.record.run_id,
            expires_at: w.record.expires_at,
            waited,
        },
        None => TrackerError::Timeout {
            what: format!(
                "the lease of app `{}` (our lease record never became visible)",
                req.app
            ),
            after: waited,
        },
    }
}

fn spawn_renewer(
    tracker: Tracker,
    key: String,
    record: LeaseRecord,
    first_offset: i64,
    shared: Arc<Mutex<Shared>>,
    ttl: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = ttl / 3;
        loop {
            tokio::time::sleep(every).await;
            match renew_once(&tracker, &key, &record, first_offset, &shared).await {
                Ok(()) => {}
                Err(e @ TrackerError::LeaseLost { .. }) => {
                    tracing::error!(error = %e, "lost the lease");
                    return;
                }
                // A failed write: try again at the next tick, while the lease still runs.
                Err(e) => tracing::warn!(error = %e, "renewing the lease failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(run: &str, offset: i64, position: i64, expires_in_s: i64) -> LeaseEntry {
        let now = Utc::now();
        LeaseEntry {
            key: lease_key("env-1", "app", run),
            record: LeaseRecord {
                version: 1,
                app: "app".into(),
                environment_id: "env-1".into(),
                run_id: run.into(),
                holder: format!("holder of {run}"),
                acquired_at: now,
                expires_at: now + chrono::Duration::seconds(expires_in_s),
                // What a record claims is not its place: the reader's `position` is.
                first_offset: Some(0),
                renewed_at: None,
                extra: Default::default(),
            },
            partition: 0,
            offset,
            position,
            seen_at: now,
        }
    }

    const TTL: Duration = Duration::from_secs(120);

    #[test]
    fn earliest_unexpired_wins_and_renewals_keep_their_place() {
        let now = Utc::now();
        let a = entry("a", 10, 10, 60);
        let b = entry("b", 11, 11, 60);
        assert_eq!(resolve([&b, &a], now, TTL).unwrap().record.run_id, "a");
        // a renewed at offset 12: still first, by where it was first seen.
        let a2 = entry("a", 12, 10, 60);
        assert_eq!(resolve([&a2, &b], now, TTL).unwrap().record.run_id, "a");
        // a expired: b is next.
        let a3 = entry("a", 10, 10, -1);
        assert_eq!(resolve([&a3, &b], now, TTL).unwrap().record.run_id, "b");
        assert!(resolve([&a3], now, TTL).is_none());
    }

    #[test]
    fn a_far_expiry_counts_a_ttl_from_when_it_was_seen_and_other_partitions_not_at_all() {
        let now = Utc::now();
        let far = entry("far", 1, 1, 365 * 24 * 3600);
        let b = entry("b", 2, 2, 60);
        assert_eq!(resolve([&far, &b], now, TTL).unwrap().record.run_id, "far");
        let later = now + chrono::Duration::seconds(121);
        assert!(far.expires_at(TTL) < later);
        assert!(resolve([&far], later, TTL).is_none());
        let mut elsewhere = entry("elsewhere", 0, 0, 60);
        elsewhere.partition = 3;
        assert_eq!(
            resolve([&elsewhere, &b], now, TTL).unwrap().record.run_id,
            "b"
        );
        assert!(resolve([&elsewhere], now, TTL).is_none());
    }
}
