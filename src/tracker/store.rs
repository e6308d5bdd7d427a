//! Reading and writing the tracker topic.
//!
//! Reading: a consumer assigned to every partition (no consumer group) reads from the beginning
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

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use rdkafka::util::Timeout;

use super::lease::{lease_key, LeaseRecord};
use super::record::{Record, LEASE_KEY_PREFIX};
use super::TrackerError;
use crate::confluent::kafka::{ClientRole, KafkaConfig, TracingContext, REQUEST_TIMEOUT};

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
    consumer: BaseConsumer<TracingContext>,
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
        // librdkafka wants a group for assign(); it never joins it nor commits (assign only).
        cc.set("group.id", "ccaf-housekeeping-tracker-reader")
            .set("enable.partition.eof", "true")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
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
        let consumer: BaseConsumer<TracingContext> = cc
            .create_with_context(TracingContext)
            .map_err(|e| TrackerError::Kafka {
                context: "creating the tracker's consumer".into(),
                reason: e.to_string(),
            })?;
        Ok(Reader {
            consumer,
            topic: topic.to_string(),
            state: ReadState::default(),
        })
    }

    /// Read every partition in `partitions` from where this reader stopped (the beginning, the
    /// first time) to its end. Blocking: call on the blocking pool.
    pub fn catch_up(&mut self, partitions: &[i32], timeout: Duration) -> Result<(), TrackerError> {
        if partitions.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let mut tpl = TopicPartitionList::new();
        for &p in partitions {
            let offset = match self.state.positions.get(&p) {
                Some(&o) => Offset::Offset(o),
                None => Offset::Beginning,
            };
            tpl.add_partition_offset(&self.topic, p, offset)
                .map_err(|e| self.kafka_err("assigning partitions", e))?;
        }
        // A fresh assignment restarts fetching and re-arms librdkafka's EOF signal.
        self.consumer
            .assign(&tpl)
            .map_err(|e| self.kafka_err("assigning partitions", e))?;
        let mut pending: Vec<i32> = partitions.to_vec();
        loop {
            while !pending.is_empty() {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(TrackerError::Timeout {
                        what: format!(
                            "reading tracker topic `{}` to its end (partitions {:?} did not reach it)",
                            self.topic, pending
                        ),
                        after: timeout,
                    });
                }
                match self.consumer.poll(left.min(Duration::from_millis(500))) {
                    None => {}
                    Some(Ok(msg)) if msg.topic() == self.topic => self.state.apply(&msg),
                    Some(Ok(_)) => {}
                    Some(Err(RdKafkaError::PartitionEOF(p))) => pending.retain(|&q| q != p),
                    Some(Err(e)) => return Err(self.kafka_err("reading the tracker topic", e)),
                }
            }
            // Safety net: the position must have reached at least the (possibly low) watermark.
            let mut behind = Vec::new();
            for &p in partitions {
                let (_, high) = self
                    .consumer
                    .fetch_watermarks(&self.topic, p, Timeout::After(REQUEST_TIMEOUT))
                    .map_err(|e| self.kafka_err("reading watermarks", e))?;
                let pos = self.state.positions.get(&p).copied().unwrap_or(0);
                if pos < high {
                    tracing::debug!(
                        partition = p,
                        position = pos,
                        high,
                        "EOF before the watermark; reading on"
                    );
                    behind.push(p);
                }
            }
            if behind.is_empty() {
                break;
            }
            pending = behind;
        }
        // Keep the assignment: librdkafka may pre-fetch, but the next catch_up re-assigns from
        // our own positions.
        Ok(())
    }

    pub fn state(&self) -> &ReadState {
        &self.state
    }

    fn kafka_err(&self, context: &str, e: RdKafkaError) -> TrackerError {
        TrackerError::Kafka {
            context: format!("{context} (topic `{}`)", self.topic),
            reason: e.to_string(),
        }
    }
}

impl ReadState {
    fn apply<M: Message>(&mut self, msg: &M) {
        let partition = msg.partition();
        let offset = msg.offset();
        let next = self.positions.entry(partition).or_insert(0);
        if offset < *next {
            // Delivered twice (re-assignment raced a pre-fetch): already applied.
            return;
        }
        *next = offset + 1;
        self.messages_read += 1;
        let Some(key) = msg.key().and_then(|k| std::str::from_utf8(k).ok()) else {
            tracing::warn!(
                partition,
                offset,
                "tracker message without a UTF-8 key; skipped"
            );
            return;
        };
        let timestamp = msg.timestamp().to_millis();
        let value = msg.payload().map(|bytes| parse_value(key, bytes));
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
