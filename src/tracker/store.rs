//! Reading and writing the tracker topic.
//!
//! Reading: a consumer with no consumer group (`fetch`) reads each partition from the beginning
//! to the end. The end is where librdkafka reports partition EOF (`enable.partition.eof`), taken
//! from the Fetch responses: tansu's ListOffsets "latest" under-reports when a batch holds more
//! than one record, so the watermarks it returns are only a lower bound the position must reach.
//! The reader keeps its positions, so a second read only fetches what was appended since.
//!
//! Writing: an idempotent producer with `acks=all`; a write returns after the delivery report.
//! Every write goes to partition 0, so all records of the topic have one total order (the lease
//! rule relies on it) whatever the topic's partition count.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

use super::fetch::{Event, Fetched, Fetcher};
use super::lease::{lease_key, LeaseRecord};
use super::record::{Record, LEASE_KEY_PREFIX};
use super::TrackerError;
use crate::confluent::kafka::{ClientRole, KafkaConfig, TracingContext};

/// The partition every write goes to.
pub const WRITE_PARTITION: i32 = 0;

/// What one key's latest value parsed to.
#[derive(Debug, Clone)]
pub enum Value {
    Record(Arc<Record>),
    Lease(LeaseRecord),
    /// A value that is not a valid record (corrupt, or not JSON): kept out of the snapshot,
    /// reported.
    Invalid(String),
}

/// The latest value of one key, and where it was read. Values are parsed once, when read, and
/// shared with every snapshot (`Arc`): a load costs one parsed copy of each record.
#[derive(Debug, Clone)]
pub struct Slot {
    pub partition: i32,
    pub offset: i64,
    /// The record's timestamp (ms), to order a key seen in two partitions.
    pub timestamp: Option<i64>,
    /// `None`: a tombstone.
    pub value: Option<Value>,
}

/// A consumer that remembers how far it read, and the latest value of every key.
pub struct Reader {
    fetcher: Fetcher,
    topic: String,
    state: ReadState,
}

/// What a reader has read so far.
#[derive(Default)]
pub struct ReadState {
    /// Next offset to read, per partition.
    positions: HashMap<i32, i64>,
    pub slots: HashMap<String, Slot>,
    pub messages_read: u64,
}

impl Reader {
    pub fn new(cfg: &KafkaConfig, topic: &str) -> Result<Reader, TrackerError> {
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
            state: ReadState::default(),
        })
    }

    /// Read every partition in `partitions` from where this reader stopped (the beginning, the
    /// first time) to its end. Blocking: call on the blocking pool.
    pub fn catch_up(&mut self, partitions: &[i32], timeout: Duration) -> Result<(), TrackerError> {
        let deadline = Instant::now() + timeout;
        for &p in partitions {
            self.fetcher
                .start(p, self.state.positions.get(&p).copied())
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
        let value = msg.payload.map(|bytes| parse_value(key, bytes));
        if let Some(existing) = self.slots.get(key) {
            // Within a partition the log order decides; across partitions (only when something
            // other than this tool wrote to another partition) the later timestamp does.
            if existing.partition != partition && timestamp < existing.timestamp {
                return;
            }
        }
        self.slots.insert(
            key.to_string(),
            Slot {
                partition,
                offset,
                timestamp,
                value,
            },
        );
    }
}

fn parse_value(key: &str, bytes: &[u8]) -> Value {
    if key.starts_with(LEASE_KEY_PREFIX) {
        match serde_json::from_slice::<LeaseRecord>(bytes) {
            Ok(l) if key != lease_key(&l.environment_id, &l.app, &l.run_id) => Value::Invalid(
                format!("a lease record of run `{}` under another key", l.run_id),
            ),
            Ok(l) => Value::Lease(l),
            Err(e) => Value::Invalid(format!("not a lease record: {e}")),
        }
    } else {
        // A record is only believed under its own key, and only when it is well formed: the
        // planner acts on what it reads.
        match serde_json::from_slice::<Record>(bytes) {
            Ok(r) if key != r.key() => {
                Value::Invalid(format!("a record of `{}` under another key", r.key()))
            }
            Ok(r) => match r.validate() {
                Ok(()) => Value::Record(Arc::new(r)),
                Err(e) => Value::Invalid(format!("an invalid tracker record: {e}")),
            },
            Err(e) => Value::Invalid(format!("not a tracker record: {e}")),
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
