//! Reading and writing the tracker topic.
//!
//! Reading: a consumer with no consumer group (`fetch`) reads each partition from the beginning
//! to the end. The end is where librdkafka reports partition EOF (`enable.partition.eof`), taken
//! from the Fetch responses: tansu's ListOffsets "latest" under-reports when a batch holds more
//! than one record, so the watermarks it returns are only a lower bound the position must reach.
//! The reader keeps its positions, so a second read only fetches what was appended since.
//! Values are parsed only as far as the reader's [`Scope`] needs, straight from librdkafka's
//! buffers: what is outside it is kept as a key and an offset, its payload never copied.
//!
//! Writing: an idempotent producer with `acks=all`; a write returns after the delivery report.
//! Every write goes to partition 0, so all records of the topic have one total order (the lease
//! rule relies on it) whatever the topic's partition count.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use serde::de::{Error as _, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use chrono::{DateTime, Utc};

use super::auth::{is_removal, TrackerKey, Verified};
use super::fetch::{Event, Fetched, Fetcher};
use super::format::{lease_key, LeaseRecord};
use super::format::{record_key, LEASE_KEY_PREFIX, WRITE_PARTITION};
use super::record::Record;
use super::scope::{Place, Scope};
use super::TrackerError;
use crate::confluent::kafka::{ClientRole, KafkaConfig, TracingContext};
use crate::input::validate_app;

/// At most this many keys are made room for before a first read (≈ 10 MiB of table).
const RESERVE_CAP: usize = 1 << 17;

/// What one key's latest value parsed to, as far as the reader's [`Scope`] parses it.
#[derive(Debug, Clone)]
pub enum Value {
    /// A record of the scope, parsed fully, signed by the app.
    Record(Arc<Record>),
    /// A record of the scope's environment that belongs to another app: only its identity was
    /// read (the app, and that it is under its own key).
    OtherApp(Arc<str>),
    /// A lease of the scope, signed by the app, with where the reader first saw its run.
    Lease(Box<SeenLease>),
    /// A value of the scope that is not a valid record (corrupt, or not JSON): kept out of the
    /// snapshot, reported.
    Invalid(Box<str>),
    /// A value of the scope that the app cannot prove it wrote (no MAC, or one its keys do not
    /// verify): never acted on, reported; a record's content is kept for the takeover of records
    /// written before signing (`engine::snapshot`).
    Unverified(Box<Unverified>),
    /// Outside the scope: neither parsed nor held.
    Unread,
}

/// A value the app cannot prove it wrote.
#[derive(Debug, Clone)]
pub struct Unverified {
    /// The record it holds, when it parses as one (a lease's is not kept).
    pub record: Option<Arc<Record>>,
    pub reason: Box<str>,
}

/// A signed lease as the reader saw it.
#[derive(Debug, Clone)]
pub struct SeenLease {
    pub record: LeaseRecord,
    /// The run's place in the queue: the offset at which the reader first saw the run's lease,
    /// whatever the record says (a renewal's own `first_offset` counts only when the reader
    /// never saw the run's first record: compacted away, it can only be earlier).
    pub first_offset: i64,
    /// When the reader read this value (its expiry counts at most a ttl from then).
    pub seen_at: DateTime<Utc>,
}

/// A write under a key whose value the app signed that the reader did not let replace it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub offset: i64,
    pub reason: Box<str>,
}

/// The latest value of one key, and where it was read. Values are parsed once, when read, and
/// shared with every snapshot (`Arc`): a load costs one parsed copy of each record of its scope.
#[derive(Debug, Clone)]
pub struct Slot {
    pub partition: i32,
    pub offset: i64,
    /// The record's timestamp (ms), to order a key seen in two partitions.
    pub timestamp: Option<i64>,
    /// `None`: a tombstone.
    pub value: Option<Value>,
    /// The latest write that tried to replace or remove the signed value it holds.
    pub rejected: Option<Box<Rejected>>,
}

/// A consumer that remembers how far it read, and the latest value of every key.
pub struct Reader {
    fetcher: Fetcher,
    topic: String,
    state: ReadState,
}

/// What a reader has read so far.
pub struct ReadState {
    /// What values are verified with.
    key: Arc<TrackerKey>,
    /// What the values were parsed for; `None` until the first read.
    scope: Option<Scope>,
    /// Next offset to read, per partition.
    positions: HashMap<i32, i64>,
    /// The latest value of every key read, shared with the snapshots (copied on the next write
    /// only while one is held). A key is held once.
    pub slots: Arc<HashMap<Arc<str>, Slot>>,
    /// Other apps' names, one copy each however many records name them.
    apps: HashSet<Arc<str>>,
    pub messages_read: u64,
}

impl ReadState {
    fn new(key: Arc<TrackerKey>) -> ReadState {
        ReadState {
            key,
            scope: None,
            positions: HashMap::new(),
            slots: Arc::default(),
            apps: HashSet::new(),
            messages_read: 0,
        }
    }
}

impl Reader {
    pub fn new(
        cfg: &KafkaConfig,
        topic: &str,
        key: Arc<TrackerKey>,
    ) -> Result<Reader, TrackerError> {
        let mut cc = cfg.client_config(ClientRole::Consumer);
        // No `group.id`: the reader keeps its own positions (see `fetch`), so a key needs no
        // consumer-group permission to read the tracker.
        cc.set("enable.partition.eof", "true")
            // No transactions are used, and tansu does not report a last stable offset.
            .set("isolation.level", "read_uncommitted")
            .set("auto.offset.reset", "earliest")
            // Large fetches (loading is a bulk read), but a bounded prefetch queue: it counts in
            // the load's peak memory.
            .set("fetch.max.bytes", "8388608")
            .set("max.partition.fetch.bytes", "4194304")
            .set("queued.max.messages.kbytes", "16384")
            // When that queue is full, fetch again as soon as it drains (the default waits 1 s,
            // which made a 100 000-record load 6× slower).
            .set("fetch.queue.backoff.ms", "5")
            .set("fetch.wait.max.ms", "10");
        let fetcher = Fetcher::new(&cc, topic).map_err(|reason| TrackerError::Kafka {
            context: "creating the tracker's consumer".into(),
            reason,
        })?;
        Ok(Reader {
            fetcher,
            topic: topic.to_string(),
            state: ReadState::new(key),
        })
    }

    /// Read every partition in `partitions` from where this reader stopped (the beginning, the
    /// first time) to its end, parsing what `scope` needs. Blocking: call on the blocking pool.
    ///
    /// A scope the reader's does not cover starts it again from the beginning with a scope that
    /// covers both (values outside the old scope were not kept): once per widening, and never in
    /// a run, whose loads all share the run's scope.
    pub fn catch_up(
        &mut self,
        partitions: &[i32],
        scope: &Scope,
        timeout: Duration,
    ) -> Result<(), TrackerError> {
        match &self.state.scope {
            Some(read) if read.covers(scope) => {}
            Some(read) => {
                let wider = read.union(scope);
                tracing::debug!(from = %read, to = %wider, "widening the tracker's scope: reading again");
                self.state = ReadState {
                    scope: Some(wider),
                    ..ReadState::new(self.state.key.clone())
                };
            }
            None => self.state.scope = Some(scope.clone()),
        }
        let deadline = Instant::now() + timeout;
        for &p in partitions {
            let from = self.state.positions.get(&p).copied();
            if from.is_none() {
                // A first read is the bulk of a load: room for its keys at once spares the
                // table's regrowth (time, and the old and new tables side by side at the peak).
                // Capped: an uncompacted log holds many messages per key. Only a help: a topic
                // the client has no metadata for yet is read without it.
                if let Ok((low, high)) = self.fetcher.watermarks(&self.topic, p) {
                    let expected = usize::try_from(high - low).unwrap_or(0);
                    Arc::make_mut(&mut self.state.slots).reserve(expected.min(RESERVE_CAP));
                }
            }
            self.fetcher
                .start(p, from)
                .map_err(|e| self.kafka_err("reading the tracker topic", e))?;
            let read = self.read_partition(p, deadline);
            // Whatever was prefetched beyond the end is dropped: the next catch-up starts
            // again from our own position.
            self.fetcher.stop(p);
            read?;
        }
        Ok(())
    }

    /// Read one started partition to its end: the end the broker's Fetch responses report
    /// (librdkafka's partition EOF), and at least the ListOffsets high watermark, as a safety
    /// net.
    fn read_partition(&mut self, p: i32, deadline: Instant) -> Result<(), TrackerError> {
        loop {
            let mut at_end = false;
            while !at_end {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(TrackerError::Timeout {
                        what: format!(
                            "reading tracker topic `{}` to its end (partition {p} did not reach it)",
                            self.topic
                        ),
                        after: deadline.saturating_duration_since(Instant::now()),
                    });
                }
                let state = &mut self.state;
                self.fetcher
                    .read(
                        p,
                        left.min(Duration::from_millis(500)),
                        |event| match event {
                            Event::Message(m) => state.apply(&m),
                            Event::End => at_end = true,
                        },
                    )
                    .map_err(|e| self.kafka_err("reading the tracker topic", e))?;
            }
            let (_, high) = self
                .fetcher
                .watermarks(&self.topic, p)
                .map_err(|e| self.kafka_err("reading watermarks", e))?;
            let pos = self.state.positions.get(&p).copied().unwrap_or(0);
            if pos >= high {
                return Ok(());
            }
            tracing::debug!(
                partition = p,
                position = pos,
                high,
                "end before the watermark; reading on"
            );
        }
    }

    pub fn state(&self) -> &ReadState {
        &self.state
    }

    fn kafka_err(&self, context: &str, reason: String) -> TrackerError {
        TrackerError::Kafka {
            context: format!("{context} (topic `{}`)", self.topic),
            reason,
        }
    }
}

impl ReadState {
    /// What the values were parsed for (`None` before the first read).
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    fn apply(&mut self, msg: &Fetched<'_>) {
        let partition = msg.partition;
        let offset = msg.offset;
        let next = self.positions.entry(partition).or_insert(0);
        if offset < *next {
            // Delivered twice: already applied.
            return;
        }
        *next = offset + 1;
        self.messages_read += 1;
        let Some(key) = msg.key.and_then(|k| std::str::from_utf8(k).ok()) else {
            tracing::warn!(
                partition,
                offset,
                "tracker message without a UTF-8 key; skipped"
            );
            return;
        };
        let timestamp = msg.timestamp;
        let parsed = msg.payload.map(|bytes| match self.parse(key, bytes) {
            Parsed::Value(Value::Lease(mut l)) => {
                l.first_offset = first_place(&l.record, offset);
                Parsed::Value(Value::Lease(l))
            }
            other => other,
        });
        let slots = Arc::make_mut(&mut self.slots);
        // One hash per message: most keys of a compacted topic are new to the reader.
        match slots.entry(Arc::from(key)) {
            Entry::Occupied(mut existing) => {
                let existing = existing.get_mut();
                let signed_before = existing.partition == WRITE_PARTITION
                    && matches!(existing.value, Some(Value::Record(_) | Value::Lease(_)));
                let value = match parsed {
                    Some(Parsed::Value(Value::Lease(mut l))) => {
                        // The same run's lease again: its place is where it was first seen.
                        if let Some(Value::Lease(prev)) = &existing.value {
                            if prev.record.run_id == l.record.run_id {
                                l.first_offset = prev.first_offset;
                            }
                        }
                        Some(Value::Lease(l))
                    }
                    Some(Parsed::Value(v)) => Some(v),
                    Some(Parsed::Removed) => None,
                    None => {
                        if signed_before {
                            // A tombstone the app did not announce: someone else's.
                            existing.rejected = Some(Box::new(Rejected {
                                offset,
                                reason: "a tombstone the app did not write".into(),
                            }));
                            return;
                        }
                        None
                    }
                };
                let signed = partition == WRITE_PARTITION
                    && matches!(value, None | Some(Value::Record(_) | Value::Lease(_)));
                if signed_before && !signed {
                    // What the app signed is not replaced by what it cannot prove it wrote.
                    existing.rejected = Some(Box::new(Rejected {
                        offset,
                        reason: rejected_reason(value.as_ref(), partition),
                    }));
                    return;
                }
                // Within a partition the log order decides; across partitions (only when
                // something other than this tool wrote to another partition) the later
                // timestamp does. The key's first copy stays: snapshots share it.
                if existing.partition == partition || timestamp >= existing.timestamp {
                    *existing = Slot {
                        partition,
                        offset,
                        timestamp,
                        value,
                        rejected: None,
                    };
                }
            }
            Entry::Vacant(v) => {
                let value = match parsed {
                    Some(Parsed::Value(v)) => Some(v),
                    Some(Parsed::Removed) | None => None,
                };
                v.insert(Slot {
                    partition,
                    offset,
                    timestamp,
                    value,
                    rejected: None,
                });
            }
        }
    }

    /// Parse a value as far as the scope needs: the payload is borrowed from librdkafka's
    /// message, so what is not parsed here is never copied. Only values of the scope are
    /// verified: another app's are its runs' to check.
    fn parse(&mut self, key: &str, bytes: &[u8]) -> Parsed {
        let place = match &self.scope {
            Some(scope) => scope.place(key),
            None => Place::In,
        };
        let parsed = match place {
            Place::Out => Value::Unread,
            Place::In => return parse_value(key, bytes, &self.key),
            Place::AppUnknown => match identify(key, bytes) {
                Ok(app) if self.scope.as_ref().is_some_and(|s| s.has_app(&app)) => {
                    return parse_value(key, bytes, &self.key)
                }
                Ok(app) => Value::OtherApp(self.intern(&app)),
                // A signed removal marker of the app's is not a record: it says so itself.
                Err(_) if matches!(self.key.verify(key, bytes), Verified::Signed(v) if is_removal(key, &v)) => {
                    return Parsed::Removed
                }
                Err(reason) => Value::Invalid(reason.into()),
            },
        };
        Parsed::Value(parsed)
    }

    fn intern(&mut self, app: &str) -> Arc<str> {
        if let Some(known) = self.apps.get(app) {
            return known.clone();
        }
        let app: Arc<str> = Arc::from(app);
        self.apps.insert(app.clone());
        app
    }
}

/// The app of a statement record, believed like a whole record is: under its own key and well
/// named. The rest of another app's record is that app's runs' to check.
fn identify<'a>(key: &str, bytes: &'a [u8]) -> Result<Cow<'a, str>, String> {
    let id = match identity_as_written(bytes) {
        Some(id) => id,
        None => read_identity(bytes)?,
    };
    let own = key
        .strip_prefix(&*id.environment_id)
        .and_then(|name| name.strip_prefix('/'))
        == Some(&*id.statement_name);
    if !own {
        let own = record_key(&id.environment_id, &id.statement_name);
        return Err(format!("a record of `{own}` under another key"));
    }
    validate_app(&id.app).map_err(|e| format!("an invalid tracker record: `app`: {e}"))?;
    Ok(id.app)
}

/// The identity as this tool writes it, without a JSON parser: `{"version":N,"app":"…",
/// "statement_name":"…","environment_id":"…"` first (the record's field order), no whitespace,
/// no escapes. `None` for anything else, which [`read_identity`] reads.
fn identity_as_written(bytes: &[u8]) -> Option<Identity<'_>> {
    let rest = bytes.strip_prefix(b"{\"version\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    let rest = rest.get(digits..).filter(|_| digits > 0)?;
    let (app, rest) = plain_string(rest.strip_prefix(b",\"app\":\"")?)?;
    let (name, rest) = plain_string(rest.strip_prefix(b",\"statement_name\":\"")?)?;
    let (env, rest) = plain_string(rest.strip_prefix(b",\"environment_id\":\"")?)?;
    matches!(rest.first(), Some(b',' | b'}')).then(|| Identity {
        app: app.into(),
        environment_id: env.into(),
        statement_name: name.into(),
    })
}

/// A JSON string's content up to its closing quote, when it holds no escape or control
/// character, and what follows the quote.
fn plain_string(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let end = bytes
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    if bytes[end] != b'"' {
        return None;
    }
    Some((std::str::from_utf8(&bytes[..end]).ok()?, &bytes[end + 1..]))
}

/// The identity of a record laid out any way: read with serde_json up to the three fields.
fn read_identity(bytes: &[u8]) -> Result<Identity<'_>, String> {
    let mut found = Found::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let read = serde::Deserializer::deserialize_map(&mut de, IdentityVisitor(&mut found));
    // Stopping early is an error to serde_json: what was found is what counts.
    match (found.app, found.environment_id, found.statement_name) {
        (Some(app), Some(environment_id), Some(statement_name)) => Ok(Identity {
            app,
            environment_id,
            statement_name,
        }),
        _ => Err(match read {
            Err(e) => format!("not a tracker record: {e}"),
            Ok(()) => {
                "not a tracker record: `app`, `environment_id` or `statement_name` is missing"
                    .to_string()
            }
        }),
    }
}

/// The fields that say whose a statement record is, borrowed from the payload where they have
/// no escapes.
#[derive(Debug, PartialEq)]
struct Identity<'a> {
    app: Cow<'a, str>,
    environment_id: Cow<'a, str>,
    statement_name: Cow<'a, str>,
}

/// The identity's fields found so far.
#[derive(Default)]
struct Found<'a> {
    app: Option<Cow<'a, str>>,
    environment_id: Option<Cow<'a, str>>,
    statement_name: Option<Cow<'a, str>>,
}

/// Reads a record's fields until it has its identity, then stops: writers put those fields
/// first, so the rest of another app's record (its SQL, tables, provenance) is not even scanned.
struct IdentityVisitor<'s, 'a>(&'s mut Found<'a>);

impl<'a> Visitor<'a> for IdentityVisitor<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a tracker record (a JSON object)")
    }

    fn visit_map<M: MapAccess<'a>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(field) = map.next_key::<IdentityField>()? {
            let slot = match field {
                IdentityField::App => &mut self.0.app,
                IdentityField::EnvironmentId => &mut self.0.environment_id,
                IdentityField::StatementName => &mut self.0.statement_name,
                IdentityField::Other => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value::<BorrowedStr<'a>>()?.0);
            let id = &self.0;
            if id.app.is_some() && id.environment_id.is_some() && id.statement_name.is_some() {
                return Err(M::Error::custom("identity read"));
            }
        }
        Ok(())
    }
}

enum IdentityField {
    App,
    EnvironmentId,
    StatementName,
    Other,
}

impl<'de> Deserialize<'de> for IdentityField {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct FieldVisitor;
        impl Visitor<'_> for FieldVisitor {
            type Value = IdentityField;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IdentityField, E> {
                Ok(match v {
                    "app" => IdentityField::App,
                    "environment_id" => IdentityField::EnvironmentId,
                    "statement_name" => IdentityField::StatementName,
                    _ => IdentityField::Other,
                })
            }
        }
        d.deserialize_identifier(FieldVisitor)
    }
}

/// A string value, borrowed when the payload holds it without escapes.
struct BorrowedStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for BorrowedStr<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StrVisitor;
        impl<'de> Visitor<'de> for StrVisitor {
            type Value = BorrowedStr<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(BorrowedStr(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(StrVisitor)
    }
}

/// Where a run's lease first seen at `offset` stands in the queue: there, unless it is a
/// renewal whose run's first record the reader never saw (compacted away), which names an
/// earlier place itself.
fn first_place(l: &LeaseRecord, offset: i64) -> i64 {
    match (l.renewed_at, l.first_offset) {
        (Some(_), Some(claimed)) if claimed < offset => claimed,
        _ => offset,
    }
}

/// A value as read: a value, or the app's signed removal of the key.
enum Parsed {
    Value(Value),
    Removed,
}

fn rejected_reason(value: Option<&Value>, partition: i32) -> Box<str> {
    match value {
        _ if partition != WRITE_PARTITION => {
            format!("a value in partition {partition}, where the app never writes").into()
        }
        Some(Value::Unverified(u)) => u.reason.clone(),
        Some(Value::Invalid(reason)) => reason.clone(),
        Some(Value::OtherApp(app)) => format!("a record of app `{app}` under the app's key").into(),
        _ => "a value the app did not write".into(),
    }
}

/// Verify a value of the scope and parse it. A value that is not signed by the app is parsed
/// still (a record is kept for the takeover of records written before signing) but never
/// believed.
fn parse_value(key: &str, bytes: &[u8], auth: &TrackerKey) -> Parsed {
    let (bytes, unverified): (Cow<'_, [u8]>, Option<&str>) = match auth.verify(key, bytes) {
        Verified::Signed(v) if is_removal(key, &v) => return Parsed::Removed,
        Verified::Signed(v) => (v, None),
        Verified::BadMac(v) => (
            v,
            Some("its MAC does not verify with the app's tracker key"),
        ),
        Verified::Unsigned => (
            Cow::Borrowed(bytes),
            Some("it is not signed with the app's tracker key"),
        ),
    };
    let value = parse_unsigned(key, &bytes);
    Parsed::Value(match (value, unverified) {
        (v, None) => v,
        (Value::Record(r), Some(why)) => Value::Unverified(Box::new(Unverified {
            record: Some(r),
            reason: why.into(),
        })),
        (Value::Lease(l), Some(why)) => Value::Unverified(Box::new(Unverified {
            record: None,
            reason: format!("a lease of run `{}`: {why}", l.record.run_id).into(),
        })),
        (other, Some(_)) => other,
    })
}

fn parse_unsigned(key: &str, bytes: &[u8]) -> Value {
    if key.starts_with(LEASE_KEY_PREFIX) {
        match serde_json::from_slice::<LeaseRecord>(bytes) {
            Ok(l) if key != lease_key(&l.environment_id, &l.app, &l.run_id) => Value::Invalid(
                format!("a lease record of run `{}` under another key", l.run_id).into(),
            ),
            // Where it was seen is filled in by the reader: the offset is the slot's.
            Ok(l) => Value::Lease(Box::new(SeenLease {
                first_offset: i64::MAX,
                seen_at: Utc::now(),
                record: l,
            })),
            Err(e) => Value::Invalid(format!("not a lease record: {e}").into()),
        }
    } else {
        // A record is only believed under its own key, and only when it is well formed: the
        // planner acts on what it reads.
        match serde_json::from_slice::<Record>(bytes) {
            Ok(r) if key != r.key() => {
                Value::Invalid(format!("a record of `{}` under another key", r.key()).into())
            }
            Ok(r) => match r.validate() {
                Ok(()) => Value::Record(Arc::new(r)),
                Err(e) => Value::Invalid(format!("an invalid tracker record: {e}").into()),
            },
            Err(e) => Value::Invalid(format!("not a tracker record: {e}").into()),
        }
    }
}

pub type Producer = FutureProducer<TracingContext>;

/// Where a write landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub partition: i32,
    pub offset: i64,
}

/// How long librdkafka may try to deliver one write (retries included).
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);

pub fn producer(cfg: &KafkaConfig) -> Result<Producer, TrackerError> {
    let mut pc = cfg.client_config(ClientRole::Producer);
    pc.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set(
            "delivery.timeout.ms",
            DELIVERY_TIMEOUT.as_millis().to_string(),
        )
        .set("queue.buffering.max.messages", "200000");
    pc.create_with_context(TracingContext)
        .map_err(|e| TrackerError::Kafka {
            context: "creating the tracker's producer".into(),
            reason: e.to_string(),
        })
}

/// Write one value (`None`: a tombstone) and wait for its delivery report.
pub async fn write(
    producer: &Producer,
    topic: &str,
    key: &str,
    payload: Option<&[u8]>,
) -> Result<Delivery, TrackerError> {
    let mut record = FutureRecord::<str, [u8]>::to(topic)
        .key(key)
        .partition(WRITE_PARTITION);
    if let Some(p) = payload {
        record = record.payload(p);
    }
    match producer
        .send(record, Timeout::After(DELIVERY_TIMEOUT))
        .await
    {
        Ok(d) => Ok(Delivery {
            partition: d.partition,
            offset: d.offset,
        }),
        Err((e, _)) => Err(TrackerError::Write {
            topic: topic.to_string(),
            key: key.to_string(),
            reason: e.to_string(),
        }),
    }
}

/// Write many values: all are queued (batched by the producer), then every delivery report is
/// awaited. Returns when all are acknowledged, or with the first failure.
pub async fn write_all(
    producer: &Producer,
    topic: &str,
    items: &[(String, Option<Vec<u8>>)],
) -> Result<Vec<Delivery>, TrackerError> {
    let mut pending = std::collections::VecDeque::new();
    let mut done = Vec::with_capacity(items.len());
    for (key, payload) in items {
        loop {
            let mut record = FutureRecord::<str, [u8]>::to(topic)
                .key(key.as_str())
                .partition(WRITE_PARTITION);
            if let Some(p) = payload {
                record = record.payload(p.as_slice());
            }
            match producer.send_result(record) {
                Ok(future) => {
                    pending.push_back((key.as_str(), future));
                    break;
                }
                Err((
                    RdKafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    _,
                )) => {
                    // The local queue is full: wait for the oldest write before queueing more.
                    let Some((k, f)) = pending.pop_front() else {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    };
                    done.push(await_delivery(topic, k, f).await?);
                }
                Err((e, _)) => {
                    return Err(TrackerError::Write {
                        topic: topic.to_string(),
                        key: key.clone(),
                        reason: e.to_string(),
                    })
                }
            }
        }
    }
    while let Some((k, f)) = pending.pop_front() {
        done.push(await_delivery(topic, k, f).await?);
    }
    Ok(done)
}

async fn await_delivery(
    topic: &str,
    key: &str,
    future: rdkafka::producer::DeliveryFuture,
) -> Result<Delivery, TrackerError> {
    let fail = |reason: String| TrackerError::Write {
        topic: topic.to_string(),
        key: key.to_string(),
        reason,
    };
    match future.await {
        Ok(Ok(d)) => Ok(Delivery {
            partition: d.partition,
            offset: d.offset,
        }),
        Ok(Err((e, _))) => Err(fail(e.to_string())),
        Err(_) => Err(fail("the producer was dropped before delivery".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(state: &mut ReadState, offset: i64, key: &str, payload: &[u8]) {
        write(state, offset, key, Some(payload));
    }

    fn write(state: &mut ReadState, offset: i64, key: &str, payload: Option<&[u8]>) {
        state.apply(&Fetched {
            partition: 0,
            offset,
            timestamp: None,
            key: Some(key.as_bytes()),
            payload,
        });
    }

    fn test_key() -> TrackerKey {
        TrackerKey::parse(
            &crate::secret::Secret::new("test-key-0123456789abcdef0123456789"),
            super::super::KeySource::Input,
        )
        .unwrap()
    }

    /// A record as the app writes it: signed.
    fn json(r: &Record) -> Vec<u8> {
        test_key().sign(&r.key(), &serde_json::to_vec(r).unwrap())
    }

    fn state_for(scope: Scope) -> ReadState {
        ReadState {
            scope: Some(scope),
            ..ReadState::new(Arc::new(test_key()))
        }
    }

    #[test]
    fn values_are_parsed_as_far_as_the_scope_needs() {
        let mut state = state_for(Scope::app("env-1", "mine"));
        let mine = Record::new(
            "mine",
            "env-1",
            "mine-a",
            "SELECT 1",
            super::super::State::Deployed,
        );
        let theirs: Vec<Record> = ["theirs-a", "theirs-b"]
            .iter()
            .map(|n| {
                Record::new(
                    "theirs",
                    "env-1",
                    *n,
                    "SELECT 1",
                    super::super::State::Deployed,
                )
            })
            .collect();
        let away = Record::new(
            "mine",
            "env-2",
            "mine-a",
            "SELECT 1",
            super::super::State::Deployed,
        );
        apply(&mut state, 0, &mine.key(), &json(&mine));
        apply(&mut state, 1, &theirs[0].key(), &json(&theirs[0]));
        apply(&mut state, 2, &theirs[1].key(), &json(&theirs[1]));
        apply(&mut state, 3, &away.key(), &json(&away));
        apply(&mut state, 4, "env-2/garbage", b"{not json");
        apply(&mut state, 5, "env-1/garbage", b"{not json");
        let value = |key: &str| state.slots[key].value.clone().unwrap();
        assert!(matches!(value(&mine.key()), Value::Record(r) if *r == mine));
        let (Value::OtherApp(a), Value::OtherApp(b)) =
            (value(&theirs[0].key()), value(&theirs[1].key()))
        else {
            panic!("another app's records are known by app");
        };
        assert_eq!(&*a, "theirs");
        assert!(Arc::ptr_eq(&a, &b), "one copy of an app's name");
        assert!(matches!(value(&away.key()), Value::Unread));
        assert!(matches!(value("env-2/garbage"), Value::Unread));
        assert!(matches!(value("env-1/garbage"), Value::Invalid(_)));
        assert_eq!(state.slots["env-2/garbage"].offset, 4, "its offset is kept");
    }

    fn mine(name: &str) -> Record {
        Record::new(
            "mine",
            "env-1",
            name,
            "SELECT 1",
            super::super::State::Deployed,
        )
    }

    #[test]
    fn what_the_app_did_not_sign_is_never_believed() {
        let mut state = state_for(Scope::app("env-1", "mine"));
        let legacy = mine("legacy");
        let unsigned = serde_json::to_vec(&legacy).unwrap();
        apply(&mut state, 0, &legacy.key(), &unsigned);
        let other_key = TrackerKey::parse(
            &crate::secret::Secret::new("another-key-0123456789abcdef012345"),
            super::super::KeySource::Input,
        )
        .unwrap();
        let forged = mine("forged");
        apply(
            &mut state,
            1,
            &forged.key(),
            &other_key.sign(&forged.key(), &serde_json::to_vec(&forged).unwrap()),
        );
        // A signed value copied under another key.
        let copied = mine("copied");
        apply(&mut state, 2, &copied.key(), &json(&mine("elsewhere")));
        let value = |key: &str| state.slots[key].value.clone().unwrap();
        let Value::Unverified(u) = value(&legacy.key()) else {
            panic!("an unsigned record is not believed");
        };
        assert_eq!(u.record.as_deref(), Some(&legacy), "kept for the takeover");
        assert!(u.reason.contains("not signed"), "{}", u.reason);
        let Value::Unverified(u) = value(&forged.key()) else {
            panic!("a record signed with another key is not believed");
        };
        assert!(u.reason.contains("does not verify"), "{}", u.reason);
        assert!(matches!(
            value(&copied.key()),
            Value::Unverified(_) | Value::Invalid(_)
        ));
    }

    #[test]
    fn a_signed_value_withstands_overwrites_and_tombstones_it_did_not_announce() {
        let mut state = state_for(Scope::app("env-1", "mine"));
        let ours = mine("ours");
        apply(&mut state, 0, &ours.key(), &json(&ours));
        let mut forged = ours.clone();
        forged.sql = "DROP TABLE victim".into();
        apply(
            &mut state,
            1,
            &ours.key(),
            &serde_json::to_vec(&forged).unwrap(),
        );
        let slot = &state.slots[ours.key().as_str()];
        assert!(matches!(&slot.value, Some(Value::Record(r)) if **r == ours));
        assert_eq!(slot.rejected.as_ref().unwrap().offset, 1);
        write(&mut state, 2, &ours.key(), None);
        let slot = &state.slots[ours.key().as_str()];
        assert!(matches!(&slot.value, Some(Value::Record(r)) if **r == ours));
        assert!(slot.rejected.as_ref().unwrap().reason.contains("tombstone"));
        // The app's own removal: its signed marker, then the tombstone.
        let marker = test_key().sign(&ours.key(), &super::super::auth::removal(&ours.key()));
        apply(&mut state, 3, &ours.key(), &marker);
        write(&mut state, 4, &ours.key(), None);
        assert!(state.slots[ours.key().as_str()].value.is_none());
        // A newer signed value replaces an older one, and clears what was rejected.
        let mut newer = ours.clone();
        newer.sql = "SELECT 2".into();
        apply(&mut state, 5, &ours.key(), &json(&ours));
        apply(&mut state, 6, &ours.key(), &json(&newer));
        let slot = &state.slots[ours.key().as_str()];
        assert!(matches!(&slot.value, Some(Value::Record(r)) if **r == newer));
        assert!(slot.rejected.is_none());
    }

    #[test]
    fn a_leases_place_is_where_the_reader_first_saw_it() {
        let mut state = state_for(Scope::app("env-1", "mine"));
        let key = lease_key("env-1", "mine", "run-a");
        let now = Utc::now();
        let mut lease = LeaseRecord {
            version: 1,
            app: "mine".into(),
            environment_id: "env-1".into(),
            run_id: "run-a".into(),
            holder: "h".into(),
            acquired_at: now,
            expires_at: now + chrono::Duration::seconds(60),
            first_offset: None,
            renewed_at: None,
            extra: Default::default(),
        };
        let signed = |l: &LeaseRecord| test_key().sign(&key, &serde_json::to_vec(l).unwrap());
        apply(&mut state, 7, &key, &signed(&lease));
        lease.renewed_at = Some(now);
        // A renewal that claims an earlier place than the reader saw: the reader's stands.
        lease.first_offset = Some(1);
        apply(&mut state, 9, &key, &signed(&lease));
        let Some(Value::Lease(l)) = &state.slots[key.as_str()].value else {
            panic!("a signed lease is a lease");
        };
        assert_eq!((l.first_offset, state.slots[key.as_str()].offset), (7, 9));
        // A reader that never saw the run's first record (compacted away) takes the claim.
        let mut fresh = state_for(Scope::app("env-1", "mine"));
        apply(&mut fresh, 9, &key, &signed(&lease));
        let Some(Value::Lease(l)) = &fresh.slots[key.as_str()].value else {
            panic!("a signed lease is a lease");
        };
        assert_eq!(l.first_offset, 1);
        // Unsigned: not a lease at all.
        let mut other = state_for(Scope::app("env-1", "mine"));
        apply(&mut other, 0, &key, &serde_json::to_vec(&lease).unwrap());
        assert!(matches!(
            other.slots[key.as_str()].value,
            Some(Value::Unverified(_))
        ));
    }

    #[test]
    fn an_identity_reads_the_same_however_it_is_laid_out() {
        let r = Record::new(
            "mine",
            "env-1",
            "mine-a",
            "SELECT 1",
            super::super::State::Deployed,
        );
        let written = json(&r);
        let id = Identity {
            app: "mine".into(),
            environment_id: "env-1".into(),
            statement_name: "mine-a".into(),
        };
        assert_eq!(
            identity_as_written(&written),
            Some(id),
            "as this tool writes it"
        );
        assert_eq!(identity_as_written(&written), read_identity(&written).ok());
        // Laid out otherwise (another writer): read with the parser, same answer.
        for text in [
            r#"{"app":"mine","sql":"x","environment_id":"env-1","statement_name":"mine-a"}"#,
            r#"{ "version": 2, "app": "mine", "statement_name": "mine-a", "environment_id": "env-1" }"#,
            r#"{"version":2,"app":"mi\u006ee","statement_name":"mine-a","environment_id":"env-1"}"#,
        ] {
            assert_eq!(identity_as_written(text.as_bytes()), None, "{text}");
            assert_eq!(
                identify("env-1/mine-a", text.as_bytes()).unwrap(),
                "mine",
                "{text}"
            );
        }
        for (text, why) in [
            ("{not json", "not a tracker record"),
            ("[1]", "not a tracker record"),
            (r#"{"version":2,"app":"mine"}"#, "missing"),
            (
                r#"{"version":2,"app":null,"statement_name":"mine-a","environment_id":"env-1"}"#,
                "not a tracker record",
            ),
            (
                r#"{"version":2,"app":"Mine","statement_name":"mine-a","environment_id":"env-1"}"#,
                "`app`",
            ),
            (
                r#"{"version":2,"app":"mine","statement_name":"mine-b","environment_id":"env-1"}"#,
                "another key",
            ),
        ] {
            let e = identify("env-1/mine-a", text.as_bytes()).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
        }
    }
}
