//! One watch for all waits: steps waiting for their statements to settle or go are served by a
//! single driver that lists the app's statements (label selector, every page) once per tick and
//! wakes the waiters whose statement changed, instead of a GET per statement per poll.
//!
//! The list is not the last word: it lags the service by seconds, both ways (§F.9). A statement
//! missing from it is confirmed with one GET before it counts as gone (a statement the selector
//! does not match — an adopted one the service would not label —, or one created after the
//! page was read, is then followed by GETs with backoff), one it keeps showing as DELETING for
//! long is checked with a GET now and then, since a deleted statement may linger in the list
//! after it is gone, and a wait that knows its statement's uid takes a listed statement of
//! another uid (the name's old incarnation, still listed) for "not shown".
//!
//! A wait for a statement to go counts a 403 on its GET as gone ([`super::flink::forbidden`]):
//! it waits only after the run's own delete, and under a compute-pool-scoped role that is what
//! the service answers for a statement that no longer exists.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::flink::{FlinkClient, FlinkError, ListFilter, Phase, Statement, WaitOutcome};

/// Between the starts of two lists (a list that takes longer is followed at once): a change
/// is seen within about one list's time.
pub const TICK: Duration = Duration::from_millis(100);
/// While the API throttles (a 429 within [`THROTTLE_MEMORY`]), the watch asks less: its lists
/// must not take the rate the steps' own requests need.
pub const THROTTLED_TICK: Duration = Duration::from_secs(1);
const THROTTLE_MEMORY: Duration = Duration::from_secs(10);
/// A statement listed DELETING this long is checked with a GET (then again after as long).
const LINGER: Duration = Duration::from_secs(4);
/// Backoff of the GETs following a statement the list does not show.
const FIRST_PROBE: Duration = Duration::from_millis(250);
const MAX_PROBE: Duration = Duration::from_secs(2);

/// What the driver last saw of a waiter's statement.
#[derive(Debug, Clone)]
enum Seen {
    Nothing,
    Live(Box<Statement>),
    Gone,
    Failed(FlinkError),
}

/// The watch for one run's statements: cheap to clone, every clone the same watch.
#[derive(Clone)]
pub struct StatementWatch {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StatementWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StatementWatch({:?})", self.inner.filter.label_selector)
    }
}

struct Inner {
    flink: FlinkClient,
    filter: ListFilter,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    waiters: BTreeMap<u64, Waiter>,
    next_id: u64,
    driving: bool,
}

struct Waiter {
    name: String,
    /// The statement's uid, when the waiter knows it: another uid under the name is not it.
    uid: Option<String>,
    wants_gone: bool,
    tx: watch::Sender<Seen>,
    /// `(resource_version, phase)` last sent: only a change wakes the waiter.
    sent: Option<(Option<String>, Phase)>,
    deleting_since: Option<Instant>,
    /// When to GET the statement next (when the list does not settle it).
    next_probe: Option<Instant>,
    probe_pause: Duration,
}

/// A waiter's place in the watch; leaving it (the wait ended or was dropped) removes it.
struct Registration {
    inner: Arc<Inner>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.inner.lock().waiters.remove(&self.id);
    }
}

impl Inner {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A poisoned lock only means a panic mid-update; the waiters are still valid.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl StatementWatch {
    /// A watch over the statements `filter` lists (the app's: its owner label).
    pub fn new(flink: FlinkClient, filter: ListFilter) -> StatementWatch {
        StatementWatch {
            inner: Arc::new(Inner {
                flink,
                filter,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// Wait until `predicate` holds for the statement, it is gone (the wait ends unsatisfied,
    /// as it can no longer hold), or `timeout` passes.
    pub async fn wait_until(
        &self,
        name: &str,
        predicate: impl Fn(&Statement) -> bool,
        timeout: Duration,
    ) -> Result<WaitOutcome, FlinkError> {
        self.wait_until_of(name, None, predicate, timeout).await
    }

    /// [`StatementWatch::wait_until`] for the statement with `uid`, when it is known: another
    /// statement under the name (its old incarnation, still listed) counts as not shown, and
    /// once a GET shows another one, the statement waited for is gone. `predicate` sees every
    /// change the watch notices (a caller may report from it).
    pub async fn wait_until_of(
        &self,
        name: &str,
        uid: Option<&str>,
        predicate: impl Fn(&Statement) -> bool,
        timeout: Duration,
    ) -> Result<WaitOutcome, FlinkError> {
        self.wait(name, uid, false, timeout, |s| match s {
            Some(s) => predicate(s).then_some(true),
            None => Some(false),
        })
        .await
    }

    /// Wait until the statement is gone (its GET answers 404, or 403: see the module's notes)
    /// or `timeout` passes. Only after the caller's own delete.
    pub async fn wait_gone(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<WaitOutcome, FlinkError> {
        self.wait(name, None, true, timeout, |s| s.is_none().then_some(true))
            .await
    }

    /// `done` returns `Some(satisfied)` to end the wait.
    async fn wait(
        &self,
        name: &str,
        uid: Option<&str>,
        wants_gone: bool,
        timeout: Duration,
        done: impl Fn(Option<&Statement>) -> Option<bool>,
    ) -> Result<WaitOutcome, FlinkError> {
        let started = Instant::now();
        let deadline = tokio::time::Instant::from(started + timeout);
        let (_registration, mut rx) = self.register(name, uid, wants_gone);
        let mut last: Option<Statement> = None;
        let outcome = |last, satisfied| WaitOutcome {
            last,
            satisfied,
            waited: started.elapsed(),
        };
        loop {
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        // The sender lives in the waiter's entry until the registration is
                        // dropped: it cannot close first. Treat it as the end of the wait.
                        return Ok(outcome(last, false));
                    }
                }
                _ = tokio::time::sleep_until(deadline) => return Ok(outcome(last, false)),
            }
            let seen = rx.borrow_and_update().clone();
            let verdict = match seen {
                Seen::Nothing => None,
                Seen::Live(s) => {
                    let verdict = done(Some(&s));
                    last = Some(*s);
                    verdict
                }
                Seen::Gone => {
                    last = None;
                    done(None)
                }
                Seen::Failed(e) => return Err(e),
            };
            if let Some(satisfied) = verdict {
                return Ok(outcome(last, satisfied));
            }
        }
    }

    fn register(
        &self,
        name: &str,
        uid: Option<&str>,
        wants_gone: bool,
    ) -> (Registration, watch::Receiver<Seen>) {
        let (tx, rx) = watch::channel(Seen::Nothing);
        let mut st = self.inner.lock();
        let id = st.next_id;
        st.next_id += 1;
        st.waiters.insert(
            id,
            Waiter {
                name: name.to_string(),
                uid: uid.map(str::to_string),
                wants_gone,
                tx,
                sent: None,
                deleting_since: None,
                next_probe: None,
                probe_pause: FIRST_PROBE,
            },
        );
        if !st.driving {
            st.driving = true;
            tokio::spawn(drive(self.inner.clone()));
        }
        let registration = Registration {
            inner: self.inner.clone(),
            id,
        };
        (registration, rx)
    }
}

/// The driver: one list per tick while anyone waits; it ends when nobody does.
async fn drive(inner: Arc<Inner>) {
    loop {
        let tick_started = tokio::time::Instant::now();
        {
            let mut st = inner.lock();
            if st.waiters.is_empty() {
                st.driving = false;
                return;
            }
        }
        match inner.flink.list_as_listed(&inner.filter).await {
            Ok(listed) => {
                let probes = judge(&inner, &listed, Instant::now());
                probe(&inner, probes).await;
            }
            Err(FlinkError::Api(e)) if e.is_transient() => {
                tracing::warn!(error = %e, "listing statements failed; still waiting");
            }
            Err(e) => {
                // Nothing can be learnt any more (credentials, permissions): every wait ends
                // with the error.
                for w in inner.lock().waiters.values() {
                    w.tx.send_replace(Seen::Failed(e.clone()));
                }
            }
        }
        let tick = if inner.flink.limiter().throttled_within(THROTTLE_MEMORY) {
            THROTTLED_TICK
        } else {
            TICK
        };
        tokio::time::sleep_until(tick_started + tick).await;
    }
}

/// Wake the waiters whose statement the list shows changed; name those to confirm with a GET.
fn judge(inner: &Inner, listed: &[Statement], now: Instant) -> Vec<String> {
    let by_name: HashMap<&str, &Statement> = listed.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut probes = Vec::new();
    let mut st = inner.lock();
    for w in st.waiters.values_mut() {
        let due = w.next_probe.is_none_or(|t| t <= now);
        // Another incarnation under the name (the old one, still listed) is not shown.
        let listed = by_name
            .get(w.name.as_str())
            .filter(|s| w.uid.is_none() || s.metadata.uid == w.uid);
        match listed {
            Some(s) => {
                if w.wants_gone && *s.phase() == Phase::Deleting {
                    let since = *w.deleting_since.get_or_insert(now);
                    // Lingering in the list, perhaps after it is gone: the GET tells.
                    if now.duration_since(since) >= LINGER && due {
                        w.next_probe = Some(now + LINGER);
                        probes.push(w.name.clone());
                    }
                } else {
                    w.deleting_since = None;
                }
                offer(w, s);
            }
            None if due => {
                w.next_probe = Some(now + w.probe_pause);
                w.probe_pause = (w.probe_pause * 2).min(MAX_PROBE);
                probes.push(w.name.clone());
            }
            None => {}
        }
    }
    probes.sort();
    probes.dedup();
    probes
}

/// Send the statement to the waiter when it differs from what it saw last.
fn offer(w: &mut Waiter, s: &Statement) {
    let version = (s.metadata.resource_version.clone(), s.phase().clone());
    if w.sent.as_ref() != Some(&version) {
        w.sent = Some(version);
        w.tx.send_replace(Seen::Live(Box::new(s.clone())));
    }
}

/// One GET per named statement; the answers go to every waiter of that name.
async fn probe(inner: &Inner, names: Vec<String>) {
    // Most ticks have nothing to confirm: no index to build then.
    if names.is_empty() {
        return;
    }
    let answers = futures::future::join_all(names.iter().map(|n| inner.flink.get(n))).await;
    let mut st = inner.lock();
    // By name once: a scan of every waiter per answer is quadratic in a large app.
    let mut by_name: HashMap<String, Vec<u64>> = HashMap::new();
    for (id, w) in &st.waiters {
        by_name.entry(w.name.clone()).or_default().push(*id);
    }
    for (name, answer) in names.iter().zip(answers) {
        let ids = by_name.get(name).map(Vec::as_slice).unwrap_or_default();
        for id in ids {
            let Some(w) = st.waiters.get_mut(id) else {
                continue;
            };
            match &answer {
                // The name holds another statement now: the one waited for is gone.
                Ok(Some(s)) if w.uid.is_some() && s.metadata.uid != w.uid => {
                    w.sent = None;
                    w.tx.send_replace(Seen::Gone);
                }
                Ok(Some(s)) => offer(w, s),
                Ok(None) => {
                    w.sent = None;
                    w.tx.send_replace(Seen::Gone);
                }
                Err(e) if w.wants_gone && super::flink::forbidden(e) => {
                    w.sent = None;
                    w.tx.send_replace(Seen::Gone);
                }
                Err(FlinkError::Api(e)) if e.is_transient() => {
                    tracing::warn!(statement = %name, error = %e, "checking a statement failed; still waiting");
                    w.next_probe = None;
                }
                Err(e) => {
                    w.tx.send_replace(Seen::Failed(e.clone()));
                }
            }
        }
    }
}
/// Here rather than in `flink`: the watch is built on the client, not the client on the watch.
impl FlinkClient {
    /// A watch of its own over every statement of the environment, for a caller outside a
    /// run (a run shares one watch of the app's statements among all its waits:
    /// `Engine::watch`).
    pub fn watch(&self) -> StatementWatch {
        StatementWatch::new(self.clone(), ListFilter::default())
    }
}
