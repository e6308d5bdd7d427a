//! Kafka topic ids through librdkafka's DescribeTopics, which the `rdkafka` crate does not wrap.
//!
//! A topic id (Kafka's per-topic UUID, KIP-516) is what tells one incarnation of a table's topic
//! from the next of the same name: it is the ownership evidence the tracker keeps. With the
//! tracker's reader (`tracker/fetch.rs`) this is the project's `unsafe` code; it follows librdkafka's documented admin-API pattern (a private
//! queue, one request, one result event). Every object it creates is owned by a guard that
//! destroys it exactly once on every path, and every pointer librdkafka is given or returns is
//! checked for null before it is used: a null is an error, never a dereference.

use std::collections::BTreeMap;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::time::Duration;

use rdkafka::bindings as rd;

/// An object librdkafka created, destroyed with `destroy` when the guard goes.
struct Owned<T> {
    ptr: *mut T,
    destroy: unsafe extern "C" fn(*mut T),
}

impl<T> Owned<T> {
    /// `None` for a null pointer (librdkafka could not create the object).
    fn new(ptr: *mut T, destroy: unsafe extern "C" fn(*mut T)) -> Option<Owned<T>> {
        (!ptr.is_null()).then_some(Owned { ptr, destroy })
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` is non-null (checked in `new`), was created by librdkafka, is owned by
        // this guard alone and is destroyed here once, with its own destructor.
        unsafe { (self.destroy)(self.ptr) }
    }
}

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
    if rk.is_null() {
        return Err("no Kafka client handle for DescribeTopics".into());
    }
    let owned: Vec<CString> = names
        .iter()
        .map(|n| CString::new(n.as_str()).map_err(|_| format!("topic name `{n}` contains NUL")))
        .collect::<Result<_, _>>()?;
    let mut ptrs: Vec<*const c_char> = owned.iter().map(|c| c.as_ptr()).collect();
    let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    let failed = |what: &str| format!("librdkafka could not create {what} for DescribeTopics");

    // SAFETY: `rk` is a live client handle (non-null, checked above; the caller's client
    // outlives the call); `ptrs` points at `ptrs.len()` NUL-terminated names that outlive the
    // call (librdkafka copies them into the collection).
    let collection = Owned::new(
        unsafe { rd::rd_kafka_TopicCollection_of_topic_names(ptrs.as_mut_ptr(), ptrs.len()) },
        rd::rd_kafka_TopicCollection_destroy,
    )
    .ok_or_else(|| failed("the topic collection"))?;
    // SAFETY: `rk` is live (above); the operation is a valid enum value.
    let options = Owned::new(
        unsafe {
            rd::rd_kafka_AdminOptions_new(
                rk,
                rd::rd_kafka_admin_op_t::RD_KAFKA_ADMIN_OP_DESCRIBETOPICS,
            )
        },
        rd::rd_kafka_AdminOptions_destroy,
    )
    .ok_or_else(|| failed("the admin options"))?;
    let mut errstr = [0 as c_char; 256];
    // SAFETY: `options` is non-null and owned; `errstr` is a writable buffer of its length.
    let set = unsafe {
        rd::rd_kafka_AdminOptions_set_request_timeout(
            options.ptr,
            timeout_ms,
            errstr.as_mut_ptr(),
            errstr.len(),
        )
    };
    if set != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        // SAFETY: librdkafka wrote a NUL-terminated message into `errstr` (zeroed before).
        return Err(format!("DescribeTopics' timeout refused: {}", unsafe {
            text(errstr.as_ptr())
        }));
    }
    // SAFETY: `rk` is live (above).
    let queue = Owned::new(
        unsafe { rd::rd_kafka_queue_new(rk) },
        rd::rd_kafka_queue_destroy,
    )
    .ok_or_else(|| failed("a queue"))?;
    // SAFETY: every pointer is non-null and live for the call; librdkafka keeps no reference
    // to the collection or the options after it returns (it copies what it needs).
    unsafe { rd::rd_kafka_DescribeTopics(rk, collection.ptr, options.ptr, queue.ptr) };
    // The request times out on its own; the extra second only covers the result's delivery.
    // SAFETY: `queue` is non-null and owned.
    let event = Owned::new(
        unsafe { rd::rd_kafka_queue_poll(queue.ptr, timeout_ms.saturating_add(1000)) },
        rd::rd_kafka_event_destroy,
    )
    .ok_or("no answer to DescribeTopics")?;
    // SAFETY: `event` is non-null and owned; everything read from it below is copied before
    // the guard destroys it (its descriptions, names and ids belong to it).
    unsafe { read_result(event.ptr, &mut out)? };
    Ok(out)
}

/// The topics of a DescribeTopics result `event` into `out`.
///
/// # Safety
/// `event` must be a non-null event librdkafka returned, alive for the call.
unsafe fn read_result(
    event: *mut rd::rd_kafka_event_t,
    out: &mut BTreeMap<String, Option<String>>,
) -> Result<(), String> {
    let kind = rd::rd_kafka_event_type(event);
    if kind != rd::RD_KAFKA_EVENT_DESCRIBETOPICS_RESULT {
        return Err(format!(
            "DescribeTopics answered with an event of another type ({kind})"
        ));
    }
    let err = rd::rd_kafka_event_error(event);
    if err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Err(text(rd::rd_kafka_event_error_string(event)));
    }
    let res = rd::rd_kafka_event_DescribeTopics_result(event);
    if res.is_null() {
        return Err("DescribeTopics' event holds no result".into());
    }
    let mut count = 0usize;
    let topics = rd::rd_kafka_DescribeTopics_result_topics(res, &mut count);
    if count == 0 {
        return Ok(());
    }
    if topics.is_null() {
        return Err(format!(
            "DescribeTopics counts {count} topics but gives none"
        ));
    }
    for i in 0..count {
        // `topics` holds `count` pointers (librdkafka's contract), each checked before use.
        let t = *topics.add(i);
        if t.is_null() {
            return Err(format!("DescribeTopics' topic {i} is null"));
        }
        let error = rd::rd_kafka_TopicDescription_error(t);
        if !error.is_null()
            && rd::rd_kafka_error_code(error) != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
        {
            // Unknown topic (or not authorized to see it): not there for us.
            continue;
        }
        let name = rd::rd_kafka_TopicDescription_name(t);
        if name.is_null() {
            return Err(format!("DescribeTopics' topic {i} has no name"));
        }
        let id = rd::rd_kafka_TopicDescription_topic_id(t);
        let id = if id.is_null()
            || (rd::rd_kafka_Uuid_most_significant_bits(id) == 0
                && rd::rd_kafka_Uuid_least_significant_bits(id) == 0)
        {
            // A cluster without topic ids.
            None
        } else {
            let shown = rd::rd_kafka_Uuid_base64str(id);
            if shown.is_null() {
                return Err(format!(
                    "DescribeTopics' topic {i} has an id it cannot show"
                ));
            }
            Some(text(shown))
        };
        out.insert(text(name), id);
    }
    Ok(())
}

/// A C string librdkafka owns, copied; empty for null.
///
/// # Safety
/// `p` must be null or point at a NUL-terminated string alive for the call.
unsafe fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    CStr::from_ptr(p).to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_null_client_handle_is_an_error_not_a_dereference() {
        let e = describe(
            std::ptr::null_mut(),
            &["t".to_string()],
            Duration::from_secs(1),
        )
        .unwrap_err();
        assert!(e.contains("no Kafka client handle"), "{e}");
        // Nothing asked: nothing to describe, whatever the handle.
        assert!(describe(std::ptr::null_mut(), &[], Duration::from_secs(1))
            .unwrap()
            .is_empty());
    }
}
