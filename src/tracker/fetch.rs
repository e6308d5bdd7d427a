//! Reading partitions with no consumer group: librdkafka's simple consumer (`consume_start` /
//! `rd_kafka_consume` per message), which the `rdkafka` crate does not wrap.
//!
//! Why not the `rdkafka` consumer: its `assign()` needs a `group.id`, and with one librdkafka
//! looks up the group's coordinator (FindCoordinator) even when nothing subscribes or commits —
//! which a least-privilege API key without READ on a consumer group is refused. The tracker reads
//! every partition from a position it keeps itself, so it needs no group at all.
//!
//! Each call borrows messages only while the callback runs; every message, the topic handle and
//! the client are freed on every path.

use std::ffi::{CStr, CString};
use std::os::raw::c_int;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::client::Client;
use rdkafka::types::RDKafkaType;
use rdkafka::util::Timeout;
use rdkafka::ClientConfig;

use crate::confluent::kafka::TracingContext;

/// One message as read.
pub(crate) struct Fetched<'a> {
    pub partition: i32,
    pub offset: i64,
    /// Milliseconds since the epoch, when the message has a timestamp.
    pub timestamp: Option<i64>,
    pub key: Option<&'a [u8]>,
    /// `None`: a tombstone.
    pub payload: Option<&'a [u8]>,
}

/// What one read of a partition's queue yields.
pub(crate) enum Event<'a> {
    Message(Fetched<'a>),
    /// The partition's end, as the broker's Fetch response reported it.
    End,
}

/// A consumer of one topic's partitions, without a group.
pub(crate) struct Fetcher {
    client: Client<TracingContext>,
    topic: *mut rd::rd_kafka_topic_t,
}

// SAFETY: librdkafka's client and topic handles may be used from any thread; the tracker uses a
// Fetcher from one thread at a time (behind its reader's mutex).
unsafe impl Send for Fetcher {}

const BATCH: usize = 1_000;

impl Fetcher {
    pub fn new(config: &ClientConfig, topic: &str) -> Result<Fetcher, String> {
        let native = config.create_native_config().map_err(|e| e.to_string())?;
        let client = Client::new(
            config,
            native,
            RDKafkaType::RD_KAFKA_CONSUMER,
            TracingContext,
        )
        .map_err(|e| e.to_string())?;
        let name = CString::new(topic).map_err(|_| format!("topic `{topic}` contains NUL"))?;
        // SAFETY: the client is alive; a null conf takes the client's default topic settings.
        let handle = unsafe {
            rd::rd_kafka_topic_new(client.native_ptr(), name.as_ptr(), std::ptr::null_mut())
        };
        if handle.is_null() {
            return Err(format!("cannot open topic `{topic}`: {}", last_error()));
        }
        Ok(Fetcher {
            client,
            topic: handle,
        })
    }

    /// Start fetching `partition` at `offset` (`None`: its beginning).
    pub fn start(&self, partition: i32, offset: Option<i64>) -> Result<(), String> {
        let from = offset.unwrap_or(i64::from(rd::RD_KAFKA_OFFSET_BEGINNING));
        // SAFETY: the topic handle is alive for as long as `self`.
        if unsafe { rd::rd_kafka_consume_start(self.topic, partition, from) } == -1 {
            return Err(format!("starting partition {partition}: {}", last_error()));
        }
        Ok(())
    }

    /// Stop fetching `partition` (what was prefetched is dropped).
    pub fn stop(&self, partition: i32) {
        // SAFETY: as above; stopping a partition that was not started is harmless.
        unsafe { rd::rd_kafka_consume_stop(self.topic, partition) };
    }

    /// Hand what `partition`'s queue holds (waiting up to `timeout` for the first) to `f`, one
    /// event at a time, at most [`BATCH`]; returns how many there were.
    pub fn read(
        &self,
        partition: i32,
        timeout: Duration,
        mut f: impl FnMut(Event<'_>),
    ) -> Result<usize, String> {
        // Serve the client's own events (error and statistics callbacks).
        // SAFETY: the client is alive.
        unsafe { rd::rd_kafka_poll(self.client.native_ptr(), 0) };
        let mut wait = c_int::try_from(timeout.as_millis()).unwrap_or(c_int::MAX);
        let mut n = 0;
        // One message at a time: `consume_batch` would wait out the whole timeout for a full
        // batch; this waits only for the first, then takes what is queued.
        while n < BATCH {
            // SAFETY: the topic handle is alive; the message returned is ours until destroyed.
            let m = unsafe { rd::rd_kafka_consume(self.topic, partition, wait) };
            if m.is_null() {
                use rd::rd_kafka_resp_err_t::*;
                // SAFETY: thread-local state.
                return match unsafe { rd::rd_kafka_last_error() } {
                    RD_KAFKA_RESP_ERR_NO_ERROR | RD_KAFKA_RESP_ERR__TIMED_OUT => Ok(n),
                    _ => Err(format!("reading partition {partition}: {}", last_error())),
                };
            }
            wait = 0;
            n += 1;
            // SAFETY: a valid message, read, then destroyed once.
            let failure = unsafe {
                let msg = &*m;
                use rd::rd_kafka_resp_err_t::*;
                let failure = match msg.err {
                    RD_KAFKA_RESP_ERR_NO_ERROR => {
                        f(Event::Message(Fetched {
                            partition: msg.partition,
                            offset: msg.offset,
                            timestamp: timestamp(m),
                            key: bytes(msg.key, msg.key_len),
                            payload: bytes(msg.payload, msg.len),
                        }));
                        None
                    }
                    RD_KAFKA_RESP_ERR__PARTITION_EOF => {
                        f(Event::End);
                        None
                    }
                    _ => Some(text(rd::rd_kafka_message_errstr(m))),
                };
                rd::rd_kafka_message_destroy(m);
                failure
            };
            if let Some(e) = failure {
                return Err(format!("reading partition {partition}: {e}"));
            }
        }
        Ok(n)
    }

    /// The partition's low and high watermarks (ListOffsets).
    pub fn watermarks(&self, topic: &str, partition: i32) -> Result<(i64, i64), String> {
        self.client
            .fetch_watermarks(
                topic,
                partition,
                Timeout::After(crate::confluent::kafka::REQUEST_TIMEOUT),
            )
            .map_err(|e| e.to_string())
    }
}

impl Drop for Fetcher {
    fn drop(&mut self) {
        // SAFETY: created in `new`, destroyed once, before the client (a field dropped after).
        unsafe { rd::rd_kafka_topic_destroy(self.topic) };
    }
}

/// `ptr[..len]`, or `None` for a null pointer.
unsafe fn bytes<'a>(ptr: *mut std::os::raw::c_void, len: usize) -> Option<&'a [u8]> {
    (!ptr.is_null()).then(|| std::slice::from_raw_parts(ptr as *const u8, len))
}

unsafe fn timestamp(m: *const rd::rd_kafka_message_t) -> Option<i64> {
    let mut kind = rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    let ts = rd::rd_kafka_message_timestamp(m, &mut kind);
    (kind != rd::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts >= 0)
        .then_some(ts)
}

unsafe fn text(p: *const std::os::raw::c_char) -> String {
    if p.is_null() {
        return "unknown error".into();
    }
    CStr::from_ptr(p).to_string_lossy().into_owned()
}

/// The calling thread's last librdkafka error (set by the legacy calls that return -1).
fn last_error() -> String {
    // SAFETY: reads thread-local state; the string is static.
    unsafe { text(rd::rd_kafka_err2str(rd::rd_kafka_last_error())) }
}
