//! Kafka topic ids through librdkafka's DescribeTopics, which the `rdkafka` crate does not wrap.
//!
//! A topic id (Kafka's per-topic UUID, KIP-516) is what tells one incarnation of a table's topic
//! from the next of the same name: it is the ownership evidence the tracker keeps. This is the
//! project's only `unsafe` code; it follows librdkafka's documented admin-API pattern (a private
//! queue, one request, one result event) and frees everything it allocates on every path.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::time::Duration;

use rdkafka::bindings as rd;

/// The ids of `names` as the cluster reports them: a name the cluster does not know is left
/// out; a topic of a cluster without topic ids maps to `None`. Blocking: call it on the blocking
/// pool.
pub(crate) fn describe(
    rk: *mut rd::rd_kafka_t,
    names: &[String],
    timeout: Duration,
) -> Result<BTreeMap<String, Option<String>>, String> {
    let mut out = BTreeMap::new();
    if names.is_empty() {
        return Ok(out);
    }
    let owned: Vec<CString> = names
        .iter()
        .map(|n| CString::new(n.as_str()).map_err(|_| format!("topic name `{n}` contains NUL")))
        .collect::<Result<_, _>>()?;
    let mut ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    // SAFETY: every pointer passed to librdkafka is valid for the call (the names outlive it);
    // each object created here is destroyed exactly once below, and the result event owns the
    // descriptions read from it until it is destroyed, after their contents are copied.
    unsafe {
        let collection = rd::rd_kafka_TopicCollection_of_topic_names(ptrs.as_mut_ptr(), ptrs.len());
        let options = rd::rd_kafka_AdminOptions_new(
            rk,
            rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS,
        );
        let mut errstr = [0 as c_char; 256];
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options,
            timeout_ms,
            errstr.as_mut_ptr(),
            errstr.len(),
        );
        let queue = rd::rd_kafka_queue_new(rk);
        rd::rd_kafka_DescribeTopics(rk, collection, options, queue);
        // The request times out on its own; the extra second only covers the result's delivery.
        let event = rd::rd_kafka_queue_poll(queue, timeout_ms.saturating_add(1000));
        let result = if event.is_null() {
            Err("no answer to DescribeTopics".to_string())
        } else {
            let err = rd::rd_kafka_event_error(event);
            if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                Err(text(rd::rd_kafka_event_error_string(event)))
            } else {
                let res = rd::rd_kafka_event_DescribeTopics_result(event);
                let mut count = 0usize;
                let topics = rd::rd_kafka_DescribeTopics_result_topics(res, &mut count);
                for i in 0..count {
                    let t = *topics.add(i);
                    let name = text(rd::rd_kafka_TopicDescription_name(t));
                    let error = rd::rd_kafka_TopicDescription_error(t);
                    if !error.is_null()
                        && rd::rd_kafka_error_code(error)
                            != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
                    {
                        // Unknown topic (or not authorized to see it): not there for us.
                        continue;
                    }
                    let id = rd::rd_kafka_TopicDescription_topic_id(t);
                    let id = (!id.is_null()
                        && (rd::rd_kafka_Uuid_most_significant_bits(id) != 0
                            || rd::rd_kafka_Uuid_least_significant_bits(id) != 0))
                        .then(|| text(rd::rd_kafka_Uuid_base64str(id)));
                    out.insert(name, id);
                }
                Ok(())
            }
        };
        if !event.is_null() {
            rd::rd_kafka_event_destroy(event);
        }
        rd::rd_kafka_queue_destroy(queue);
        rd::rd_kafka_AdminOptions_destroy(options);
        rd::rd_kafka_TopicCollection_destroy(collection);
        result?;
    }
    Ok(out)
}

/// A C string librdkafka owns, copied.
unsafe fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    CStr::from_ptr(p).to_string_lossy().into_owned()
}
