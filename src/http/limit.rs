//! How many requests each API gets at once: one [`Limiter`] per API (Flink statements, Schema
//! Registry, Kafka admin), shared by every step of a run, counting what it lets through.
//!
//! With `concurrency: auto` the limit adapts as TCP's congestion window does: it starts at
//! [`AUTO_START`], doubles per round trip while every answer comes back well (slow start), then
//! grows by one per round trip; it halves on a `429` (and every request of the API waits out the
//! `Retry-After`), and shrinks by a quarter on a 5xx, a timeout, or a round trip more than twice
//! the fastest seen. At most one decrease per round trip: a burst of 429s answering requests sent
//! together is one signal, not twenty. A pinned number is a fixed limit.

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// Where an `auto` limit starts: the old fixed default.
pub const AUTO_START: usize = 8;
/// The most an `auto` limit grows to.
pub const AUTO_MAX: usize = 256;
/// A recent round trip (short average) slower than this many times the long average (plus
/// [`RTT_SLACK`]) is congestion.
const RTT_RATIO: f64 = 2.0;
const RTT_SLACK: Duration = Duration::from_millis(50);

/// The `concurrency` input: adapt, or a pinned number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Concurrency {
    #[default]
    Auto,
    Fixed(NonZeroUsize),
}

impl Concurrency {
    /// A pinned limit of `n` (at least 1).
    pub fn fixed(n: usize) -> Concurrency {
        Concurrency::Fixed(NonZeroUsize::new(n.max(1)).unwrap_or(NonZeroUsize::MIN))
    }
}

impl FromStr for Concurrency {
    type Err = String;

    fn from_str(s: &str) -> Result<Concurrency, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("auto") {
            return Ok(Concurrency::Auto);
        }
        match s.parse::<usize>() {
            Ok(n) if (1..=AUTO_MAX).contains(&n) => Ok(Concurrency::fixed(n)),
            _ => Err(format!(
                "must be `auto` or a whole number from 1 to {AUTO_MAX}"
            )),
        }
    }
}

impl fmt::Display for Concurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Concurrency::Auto => f.write_str("auto"),
            Concurrency::Fixed(n) => write!(f, "{n}"),
        }
    }
}

impl Serialize for Concurrency {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Concurrency {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Concurrency, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The APIs a run talks to, each with its own limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    Flink,
    SchemaRegistry,
    KafkaAdmin,
}

impl Api {
    pub const ALL: [Api; 3] = [Api::Flink, Api::SchemaRegistry, Api::KafkaAdmin];

    /// The name people read.
    pub fn title(self) -> &'static str {
        match self {
            Api::Flink => "Flink statements",
            Api::SchemaRegistry => "Schema Registry",
            Api::KafkaAdmin => "Kafka admin",
        }
    }
}

impl fmt::Display for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.title())
    }
}

/// What one API was asked, and how far its limit went: in the run report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUsage {
    pub api: Api,
    pub concurrency: Concurrency,
    /// Requests sent (retries included).
    pub requests: u64,
    /// Of those, answered 429.
    pub throttled: u64,
    /// Of those, answered with a 5xx, timed out or broke.
    pub failed: u64,
    /// The highest limit reached.
    pub limit_reached: usize,
    /// The limit when the report was made.
    pub limit_now: usize,
    /// The most requests that were in flight at once.
    pub peak_in_flight: usize,
    /// Summed over the requests: the time each waited for room under the limit (or for a
    /// `Retry-After` pause to end), and the time each took once sent.
    #[serde(default)]
    pub queued_ms: u64,
    #[serde(default)]
    pub in_request_ms: u64,
}

impl fmt::Display for ApiUsage {
    /// `Flink statements: 612 requests (3 throttled), concurrency auto reached 64`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} requests", self.api, self.requests)?;
        match (self.throttled, self.failed) {
            (0, 0) => {}
            (t, 0) => write!(f, " ({t} throttled)")?,
            (0, e) => write!(f, " ({e} failed)")?,
            (t, e) => write!(f, " ({t} throttled, {e} failed)")?,
        }
        match self.concurrency {
            Concurrency::Auto => write!(f, ", concurrency auto reached {}", self.limit_reached),
            Concurrency::Fixed(n) => write!(f, ", concurrency {n}"),
        }
    }
}

/// How a request the limiter let through ended: what the limit learns from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answered {
    /// An answer that says nothing about load (a success, a 404, a 409…).
    Fine,
    /// 429: the service refuses more; wait `retry_after` when it says so.
    Throttled(Option<Duration>),
    /// A 5xx, a timeout or a broken connection.
    Failed,
}

/// One API's limit on requests in flight: cheap to clone, every clone the same limiter.
#[derive(Clone)]
pub struct Limiter {
    inner: Arc<Inner>,
}

struct Inner {
    api: Api,
    setting: Concurrency,
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug)]
struct State {
    limit: f64,
    /// Below it the limit doubles per round trip; at or above, it grows by one.
    threshold: f64,
    in_flight: usize,
    paused_until: Option<Instant>,
    last_decrease: Option<Instant>,
    last_throttled: Option<Instant>,
    /// When the limit was last what held a request back (full, or someone waiting).
    full_at: Option<Instant>,
    /// Round trips of fine answers: exponential averages over the last few and the last many
    /// (requests differ: a list page is slower than a GET, so a minimum would mislead).
    recent: Option<Duration>,
    long: Option<Duration>,
    usage: ApiUsage,
    queued: Duration,
    in_request: Duration,
}

impl fmt::Debug for Limiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Limiter({}, {})", self.inner.api, self.inner.setting)
    }
}

impl Limiter {
    pub fn new(api: Api, setting: Concurrency) -> Limiter {
        Limiter {
            inner: Arc::new(Inner {
                api,
                setting,
                state: Mutex::new(State::new(api, setting)),
                changed: Notify::new(),
            }),
        }
    }

    pub fn api(&self) -> Api {
        self.inner.api
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic mid-update; the counters are still usable.
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait for room under the limit (and for a `Retry-After` pause to end), then count the
    /// request as sent. The permit gives the room back when it is finished or dropped.
    pub async fn acquire(&self) -> Permit {
        let asked = Instant::now();
        loop {
            let changed = self.inner.changed.notified();
            tokio::pin!(changed);
            // Registered before the check, so a release between the check and the wait wakes us.
            changed.as_mut().enable();
            let taken = {
                let mut st = self.lock();
                let taken = st.try_take(Instant::now());
                if let Ok(sent) = taken {
                    st.queued += sent.saturating_duration_since(asked);
                }
                taken
            };
            let pause = match taken {
                Ok(sent) => {
                    return Permit {
                        limiter: self.clone(),
                        sent,
                        finished: false,
                    }
                }
                Err(pause) => pause,
            };
            match pause {
                Some(until) => tokio::time::sleep_until(until).await,
                None => changed.await,
            }
        }
    }

    /// Whether the API answered 429 within the last `window`: a caller with optional requests
    /// (the watch's lists) asks less often then.
    pub fn throttled_within(&self, window: Duration) -> bool {
        self.lock()
            .last_throttled
            .is_some_and(|t| t.elapsed() < window)
    }

    /// What the API was asked so far, and the limits reached.
    pub fn usage(&self) -> ApiUsage {
        let st = self.lock();
        let mut u = st.usage.clone();
        u.limit_now = st.allowed();
        u.queued_ms = millis(st.queued);
        u.in_request_ms = millis(st.in_request);
        u
    }

    fn finish(&self, sent: Instant, answered: Answered) {
        let auto = self.inner.setting == Concurrency::Auto;
        self.lock().give_back(Instant::now(), sent, answered, auto);
        self.inner.changed.notify_waiters();
    }
}

impl State {
    fn new(api: Api, setting: Concurrency) -> State {
        let start = match setting {
            Concurrency::Auto => AUTO_START,
            Concurrency::Fixed(n) => n.get(),
        };
        State {
            limit: start as f64,
            threshold: AUTO_MAX as f64,
            in_flight: 0,
            paused_until: None,
            last_decrease: None,
            last_throttled: None,
            full_at: None,
            recent: None,
            long: None,
            usage: ApiUsage {
                api,
                concurrency: setting,
                requests: 0,
                throttled: 0,
                failed: 0,
                limit_reached: start,
                limit_now: start,
                peak_in_flight: 0,
                queued_ms: 0,
                in_request_ms: 0,
            },
            queued: Duration::ZERO,
            in_request: Duration::ZERO,
        }
    }

    /// Room for one request at `now`: `Ok(now)`, or `Err` with the end of a `Retry-After`
    /// pause to sleep until (`None`: wait for room).
    fn try_take(&mut self, now: Instant) -> Result<Instant, Option<Instant>> {
        if let Some(until) = self.paused_until.filter(|&until| until > now) {
            return Err(Some(until));
        }
        if self.in_flight >= self.allowed() {
            self.full_at = Some(now);
            return Err(None);
        }
        self.in_flight += 1;
        self.usage.requests += 1;
        self.usage.peak_in_flight = self.usage.peak_in_flight.max(self.in_flight);
        if self.in_flight >= self.allowed() {
            self.full_at = Some(now);
        }
        Ok(now)
    }

    /// A request sent at `sent` was answered at `now`.
    fn give_back(&mut self, now: Instant, sent: Instant, answered: Answered, auto: bool) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.in_request += now.saturating_duration_since(sent);
        match answered {
            Answered::Throttled(_) => {
                self.usage.throttled += 1;
                self.last_throttled = Some(now);
            }
            Answered::Failed => self.usage.failed += 1,
            Answered::Fine => {}
        }
        if auto {
            self.learn(now, sent, answered);
        } else if let Answered::Throttled(Some(wait)) = answered {
            // A pinned limit still honours the service's request to wait.
            self.pause(now + wait);
        }
    }

    fn allowed(&self) -> usize {
        (self.limit.floor() as usize).clamp(1, AUTO_MAX)
    }

    fn pause(&mut self, until: Instant) {
        if self.paused_until.is_none_or(|p| p < until) {
            self.paused_until = Some(until);
        }
    }

    /// The AIMD rule of the module documentation.
    fn learn(&mut self, now: Instant, sent: Instant, answered: Answered) {
        let rtt = now.duration_since(sent);
        let window = self.recent.unwrap_or(rtt).max(Duration::from_millis(20));
        let may_decrease = self
            .last_decrease
            .is_none_or(|t| now.duration_since(t) >= window);
        let mut slow = false;
        if answered == Answered::Fine {
            let ewma = |avg: Option<Duration>, weight: f64| match avg {
                None => rtt,
                Some(a) => a.mul_f64(1.0 - weight) + rtt.mul_f64(weight),
            };
            self.recent = Some(ewma(self.recent, 0.2));
            self.long = Some(ewma(self.long, 0.02));
            if let (Some(recent), Some(long)) = (self.recent, self.long) {
                slow = recent > long.mul_f64(RTT_RATIO) + RTT_SLACK;
            }
        }
        let factor = match answered {
            Answered::Throttled(wait) => {
                if let Some(wait) = wait {
                    self.pause(now + wait);
                }
                Some(0.5)
            }
            Answered::Failed => Some(0.75),
            Answered::Fine if slow => Some(0.75),
            Answered::Fine => None,
        };
        match factor {
            Some(f) if may_decrease => {
                self.limit = (self.limit * f).max(1.0);
                self.threshold = self.limit;
                self.last_decrease = Some(now);
                tracing::debug!(limit = self.allowed(), ?answered, slow, "concurrency down");
            }
            Some(_) => {}
            // Grow only when the limit held requests back while this one was out: a limit
            // nobody reaches proves nothing about the service.
            None if self.full_at.is_some_and(|t| t >= sent) => {
                self.limit = if self.limit < self.threshold {
                    self.limit + 1.0
                } else {
                    self.limit + 1.0 / self.limit
                }
                .min(AUTO_MAX as f64);
            }
            None => {}
        }
        self.usage.limit_reached = self.usage.limit_reached.max(self.allowed());
    }
}

/// Room for one request under its API's limit.
pub struct Permit {
    limiter: Limiter,
    sent: Instant,
    finished: bool,
}

impl Permit {
    /// When the room was given: when the request left, past the limiter's queue.
    pub fn sent(&self) -> Instant {
        self.sent
    }

    /// The request's answer: give the room back and teach the limit.
    pub fn finish(mut self, answered: Answered) {
        self.finished = true;
        self.limiter.finish(self.sent, answered);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        // Dropped unfinished (the caller's future was cancelled): no answer to learn from.
        if !self.finished {
            let mut st = self.limiter.lock();
            st.in_flight = st.in_flight.saturating_sub(1);
            drop(st);
            self.limiter.inner.changed.notify_waiters();
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_reads_auto_or_a_number() {
        assert_eq!("auto".parse(), Ok(Concurrency::Auto));
        assert_eq!(" AUTO ".parse(), Ok(Concurrency::Auto));
        assert_eq!("12".parse(), Ok(Concurrency::fixed(12)));
        for bad in ["0", "-1", "many", "", "257", "1.5"] {
            assert!(bad.parse::<Concurrency>().is_err(), "{bad}");
        }
        assert_eq!(Concurrency::fixed(3).to_string(), "3");
        assert_eq!(serde_json::to_value(Concurrency::Auto).unwrap(), "auto");
    }

    /// A limiter's state on a virtual clock: rounds of requests sent together, answered together.
    struct Clock {
        st: State,
        auto: bool,
        now: Instant,
    }

    impl Clock {
        fn new(setting: Concurrency) -> Clock {
            Clock {
                st: State::new(Api::Flink, setting),
                auto: setting == Concurrency::Auto,
                now: Instant::now(),
            }
        }

        /// Try to send `n` requests now; answer those let through `answered` after `rtt`.
        fn round(&mut self, n: usize, rtt: Duration, answered: Answered) -> usize {
            let sent: Vec<Instant> = (0..n)
                .filter_map(|_| self.st.try_take(self.now).ok())
                .collect();
            self.now += rtt;
            for at in &sent {
                self.st.give_back(self.now, *at, answered, self.auto);
            }
            sent.len()
        }

        fn limit(&self) -> usize {
            self.st.allowed()
        }
    }

    #[test]
    fn auto_grows_while_answers_are_fine_halves_on_429_and_grows_again() {
        let mut c = Clock::new(Concurrency::Auto);
        let rtt = Duration::from_millis(100);
        assert_eq!(c.limit(), AUTO_START);
        for _ in 0..3 {
            c.round(1000, rtt, Answered::Fine);
        }
        // Slow start: doubled per round trip.
        assert_eq!(c.limit(), AUTO_START * 8);
        let sent = c.round(1000, rtt, Answered::Throttled(Some(Duration::from_secs(1))));
        assert_eq!(c.limit(), AUTO_START * 4, "one halving per round trip");
        assert_eq!(c.st.usage.throttled, sent as u64);
        // The Retry-After holds every request of the API until it is over.
        assert_eq!(c.round(10, rtt, Answered::Fine), 0);
        c.now += Duration::from_millis(900);
        assert_eq!(c.round(10, rtt, Answered::Fine), 10);
        // Past slow start: about one more per round trip.
        for _ in 0..4 {
            c.round(1000, rtt, Answered::Fine);
        }
        let grown = c.limit();
        assert!(
            grown > AUTO_START * 4 && grown <= AUTO_START * 4 + 4,
            "{grown}"
        );
        assert_eq!(c.st.usage.limit_reached, AUTO_START * 8);
    }

    #[test]
    fn server_errors_and_slow_answers_shrink_the_limit() {
        let mut c = Clock::new(Concurrency::Auto);
        let rtt = Duration::from_millis(100);
        for _ in 0..20 {
            c.round(16, rtt, Answered::Fine);
        }
        // Once past what is asked (16 filled a limit of 16), the limit stops growing.
        assert_eq!(c.limit(), 32);
        c.round(100, rtt, Answered::Failed);
        assert_eq!(c.limit(), 24, "a quarter less, once per round trip");
        assert_eq!(c.st.usage.failed, 32);
        for _ in 0..3 {
            c.round(100, Duration::from_millis(600), Answered::Fine);
        }
        assert!(c.limit() < 24, "{:?}", c.st.usage);
    }

    #[test]
    fn a_limit_nobody_reaches_does_not_grow_and_a_pinned_one_never_moves() {
        let mut c = Clock::new(Concurrency::Auto);
        for _ in 0..10 {
            c.round(1, Duration::from_millis(10), Answered::Fine);
        }
        assert_eq!(c.limit(), AUTO_START);
        let mut pinned = Clock::new(Concurrency::fixed(3));
        pinned.round(10, Duration::from_millis(10), Answered::Fine);
        pinned.round(10, Duration::from_millis(10), Answered::Throttled(None));
        let u = &pinned.st.usage;
        assert_eq!(
            (pinned.limit(), u.limit_reached, u.peak_in_flight),
            (3, 3, 3)
        );
        assert_eq!((u.requests, u.throttled), (6, 3));
    }

    #[test]
    fn a_dropped_permit_gives_its_room_back() {
        use futures::FutureExt as _;
        let l = Limiter::new(Api::Flink, Concurrency::fixed(1));
        let p = l.acquire().now_or_never().expect("room");
        assert!(l.acquire().now_or_never().is_none(), "the limit is 1");
        drop(p);
        l.acquire()
            .now_or_never()
            .expect("room after the drop")
            .finish(Answered::Fine);
        assert_eq!(l.usage().requests, 2);
    }
}
