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
//! Nor is the list quick in a large app: its pages come one after the other (a page's token is
//! in the page before), 30 of them at 3 000 statements, and a change shows only once the whole
//! list is read, a list lag later. So the watch also learns, per kind of [`Change`], how long
//! such a change takes in this run: while it does not know, it follows the longest-waiting
//! waiter of that kind with a GET every [`LEAD_PAUSE`]; once that GET sees the change, every
//! other waiter of the kind gets one GET when it has waited as long (a guess). A guess that
//! finds nothing changed costs one request; a kind whose guesses miss more than one time in
//! eight is left to the list for the rest of the run, so the requests stay near one GET per
//! wait whatever the service's timings.
//!
//! A wait for a statement to go counts a 403 on its GET as gone ([`super::flink::forbidden`]):
//! it waits only after the run's own delete, and under a compute-pool-scoped role that is what
//! the service answers for a statement that no longer exists.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::flink::{FlinkClient, FlinkError, ListFilter, Phase, Statement, WaitOutcome};

/// Between the starts of two lists (a list that takes longer is followed at once): a change
/// is seen within about one list's time.
pub const TICK: Duration = Duration::from_millis(100);
/// While the API throttles (a 429 within [`THROTTLE_MEMORY`]), the watch asks less: its lists
/// must not take the rate the steps' own requests need.
pub const THROTTLED_TICK: Duration = Duration::from_secs(1);
const THROTTLE_MEMORY: Duration = Duration::from_secs(10);
/// While every waiter has a guess to come, the list is only the fallback: it is read less.
const COVERED_TICK: Duration = Duration::from_secs(1);
/// How often the driver looks for GETs that are due (learned guesses, the lead).
const PROBE_TICK: Duration = Duration::from_millis(25);
/// Between two GETs of the waiter a kind of change is learnt from.
pub const LEAD_PAUSE: Duration = Duration::from_millis(100);
/// How long a waiter whose kind is being learnt leaves the GETs to the lead (then it is
/// followed as any other the list does not show).
const LEARNING: Duration = Duration::from_secs(2);
/// How long what a lead saw is believed: then a new lead checks it (the service may have
/// become faster or slower since).
const LEAD_REFRESH: Duration = Duration::from_secs(30);
/// Added to a learned duration: waits that started a moment apart for changes made a moment
/// apart should not miss by that moment.
const GUESS_SLACK: Duration = Duration::from_millis(25);
/// A statement listed DELETING this long is checked with a GET (then again after as long).
const LINGER: Duration = Duration::from_secs(4);
/// Backoff of the GETs following a statement the list does not show.
const FIRST_PROBE: Duration = Duration::from_millis(250);
const MAX_PROBE: Duration = Duration::from_secs(2);

/// The kind of change a wait expects: the watch learns how long each takes in a run, and one
/// kind's timing says nothing of another's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// A statement the run deleted, going.
    Deleted,
    /// A bounded statement the run created (a table's DDL, a DROP TABLE, a catalog query),
    /// completing.
    Completed,
    /// A job the run created, running.
    Started,
    /// A statement the run stopped, stopping.
    Stopped,
    /// A statement the run resumed, running again.
    Resumed,
    /// A replacement waiting to take its old statement's offsets over.
    HandedOver,
    /// Anything else: nothing is learnt from it.
    Other,
}

impl Change {
    fn learns(self) -> bool {
        self != Change::Other
    }
}

/// Why the driver sent a GET for a waiter, when it was sent for its timing (otherwise it
/// confirms what the list does not show, or shows DELETING for long).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// Following the waiter its kind's timing is learnt from.
    Lead,
    /// The waiter has waited as long as its kind's change took.
    Guess,
}

/// Where what a waiter sees came from: a GET's timing can be learnt from, the list's cannot
/// (it is seconds late).
#[derive(Debug, Clone, Copy)]
enum Via {
    List,
    Get { sent: Instant, probe: Option<Probe> },
}

/// What the driver last saw of a waiter's statement.
#[derive(Debug, Clone)]
enum Seen {
    Nothing,
    Live(Box<Statement>, Via),
    Gone(Via),
    Failed(FlinkError),
}

/// How long one kind of change took in this run, as its leads saw it. Only a lead's GETs,
/// sent every [`LEAD_PAUSE`] from the start of its wait, measure the change: a guess that
/// succeeds says only that the change took no longer than the guess plus its time in the
/// limiter's queue, and learning from that would let the guesses drift later.
#[derive(Debug, Default)]
struct Timing {
    learned: Option<(Duration, Instant)>,
    guesses: u64,
    misses: u64,
    /// Guesses missed too often: left to the list.
    unpredictable: bool,
}

impl Timing {
    fn guess(&self) -> Option<Duration> {
        if self.unpredictable {
            return None;
        }
        self.learned.map(|(d, _)| d + GUESS_SLACK)
    }

    /// Whether a waiter that started at `started` may lead at `now`: any, while nothing is learnt; once
    /// what was learnt is old, one that started since (a waiter that has waited long already is
    /// a slow one, and would teach its slowness).
    fn may_lead(&self, started: Instant, now: Instant) -> bool {
        if self.unpredictable {
            return false;
        }
        match self.learned {
            None => true,
            Some((_, at)) => {
                let expired = at + LEAD_REFRESH;
                now >= expired && started >= expired
            }
        }
    }

    fn learn(&mut self, took: Duration, now: Instant) {
        self.learned = Some((took, now));
    }

    fn missed(&mut self) {
        self.misses += 1;
        if self.misses * 8 > self.guesses + 8 {
            self.unpredictable = true;
        }
    }
}

/// What the watch did in a run, and what its waits took: in the run report, so a slow run
/// says where its time went.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchStats {
    /// Full lists of the app's statements (every page) and the time spent reading them.
    pub lists: u64,
    pub list_ms: u64,
    /// GETs by why they were sent.
    pub confirm_gets: u64,
    pub lead_gets: u64,
    pub guess_gets: u64,
    /// Guesses that found nothing changed yet.
    pub missed_guesses: u64,
    /// Per kind of change: the waits, their time, and what the run learnt.
    pub waits: Vec<WaitStats>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitStats {
    pub change: Change,
    pub waits: u64,
    /// Summed over the waits that ended with the change seen.
    pub waited_ms: u64,
    /// The time the change was last seen to take (by a lead's GETs), if it was learnt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned_ms: Option<u64>,
    #[serde(default)]
    pub unpredictable: bool,
}

#[derive(Debug, Default)]
struct Counters {
    lists: u64,
    list_time: Duration,
    confirm_gets: u64,
    lead_gets: u64,
    guess_gets: u64,
    missed_guesses: u64,
    /// Per kind: waits ended with the change seen, and their time.
    waits: BTreeMap<Change, (u64, Duration)>,
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
    /// The waiters of each name: an answer goes to them without a scan of every waiter.
    by_name: HashMap<String, Vec<u64>>,
    timings: HashMap<Change, Timing>,
    counters: Counters,
    next_id: u64,
    driving: bool,
}

struct Waiter {
    name: String,
    /// The statement's uid, when the waiter knows it: another uid under the name is not it.
    uid: Option<String>,
    change: Change,
    started: Instant,
    wants_gone: bool,
    tx: watch::Sender<Seen>,
    /// `(resource_version, phase)` last sent: only a change wakes the waiter.
    sent: Option<(Option<String>, Phase)>,
    deleting_since: Option<Instant>,
    /// When to GET the statement next (when the list does not settle it).
    next_probe: Option<Instant>,
    probe_pause: Duration,
    /// When to GET it next as its kind's lead.
    next_lead: Instant,
    /// Whether its guess was sent (one per wait).
    guessed: bool,
    /// Why the GET in flight was sent for it, if it was sent for it.
    asked: Option<Probe>,
}

/// A waiter's place in the watch; leaving it (the wait ended or was dropped) removes it.
struct Registration {
    inner: Arc<Inner>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut st = self.inner.lock();
        if let Some(w) = st.waiters.remove(&self.id) {
            if let Some(ids) = st.by_name.get_mut(&w.name) {
                ids.retain(|id| *id != self.id);
                if ids.is_empty() {
                    st.by_name.remove(&w.name);
                }
            }
        }
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
        self.wait_until_of(name, None, Change::Other, predicate, timeout)
            .await
    }

    /// [`StatementWatch::wait_until`] for the statement with `uid`, when it is known: another
    /// statement under the name (its old incarnation, still listed) counts as not shown, and
    /// once a GET shows another one, the statement waited for is gone. `predicate` sees every
    /// change the watch notices (a caller may report from it); `change` is the kind of change
    /// `predicate` waits for.
    pub async fn wait_until_of(
        &self,
        name: &str,
        uid: Option<&str>,
        change: Change,
        predicate: impl Fn(&Statement) -> bool,
        timeout: Duration,
    ) -> Result<WaitOutcome, FlinkError> {
        self.wait(name, uid, change, false, timeout, |s| match s {
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
        self.wait(name, None, Change::Deleted, true, timeout, |s| {
            s.is_none().then_some(true)
        })
        .await
    }

    /// What the watch did so far, and what its waits took.
    pub fn stats(&self) -> WatchStats {
        let st = self.inner.lock();
        let c = &st.counters;
        let mut kinds: Vec<Change> = c.waits.keys().chain(st.timings.keys()).copied().collect();
        kinds.sort();
        kinds.dedup();
        WatchStats {
            lists: c.lists,
            list_ms: millis(c.list_time),
            confirm_gets: c.confirm_gets,
            lead_gets: c.lead_gets,
            guess_gets: c.guess_gets,
            missed_guesses: c.missed_guesses,
            waits: kinds
                .into_iter()
                .map(|change| {
                    let (waits, waited) = c.waits.get(&change).copied().unwrap_or_default();
                    let timing = st.timings.get(&change);
                    WaitStats {
                        change,
                        waits,
                        waited_ms: millis(waited),
                        learned_ms: timing.and_then(|t| t.learned).map(|(d, _)| millis(d)),
                        unpredictable: timing.is_some_and(|t| t.unpredictable),
                    }
                })
                .collect(),
        }
    }

    /// `done` returns `Some(satisfied)` to end the wait.
    async fn wait(
        &self,
        name: &str,
        uid: Option<&str>,
        change: Change,
        wants_gone: bool,
        timeout: Duration,
        done: impl Fn(Option<&Statement>) -> Option<bool>,
    ) -> Result<WaitOutcome, FlinkError> {
        let started = Instant::now();
        let deadline = tokio::time::Instant::from(started + timeout);
        let (_registration, mut rx) = self.register(name, uid, change, wants_gone, started);
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
            let (verdict, via) = match seen {
                Seen::Nothing => (None, Via::List),
                Seen::Live(s, via) => {
                    let verdict = done(Some(&s));
                    last = Some(*s);
                    (verdict, via)
                }
                Seen::Gone(via) => {
                    last = None;
                    (done(None), via)
                }
                Seen::Failed(e) => return Err(e),
            };
            self.inner.lock().judged(change, started, verdict, via);
            if let Some(satisfied) = verdict {
                return Ok(outcome(last, satisfied));
            }
        }
    }

    fn register(
        &self,
        name: &str,
        uid: Option<&str>,
        change: Change,
        wants_gone: bool,
        started: Instant,
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
                change,
                started,
                wants_gone,
                tx,
                sent: None,
                deleting_since: None,
                next_probe: None,
                probe_pause: FIRST_PROBE,
                next_lead: started + LEAD_PAUSE,
                guessed: false,
                asked: None,
            },
        );
        st.by_name.entry(name.to_string()).or_default().push(id);
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

impl State {
    /// A waiter judged what it saw: a change a timed GET saw is learnt, a guess that saw
    /// nothing it waits for is a miss.
    fn judged(&mut self, change: Change, started: Instant, verdict: Option<bool>, via: Via) {
        if verdict == Some(true) {
            let entry = self.counters.waits.entry(change).or_default();
            entry.0 += 1;
            entry.1 += started.elapsed();
        }
        if !change.learns() {
            return;
        }
        match (verdict, via) {
            (
                Some(true),
                Via::Get {
                    sent,
                    probe: Some(Probe::Lead),
                },
            ) => self
                .timings
                .entry(change)
                .or_default()
                .learn(sent.saturating_duration_since(started), Instant::now()),
            (
                None,
                Via::Get {
                    probe: Some(Probe::Guess),
                    ..
                },
            ) => self.missed(change),
            _ => {}
        }
    }

    /// Whether every waiter has a guess to come (its GET is timed already).
    fn all_guessing(&self) -> bool {
        self.waiters.values().all(|w| {
            !w.guessed
                && self
                    .timings
                    .get(&w.change)
                    .is_some_and(|t| t.guess().is_some())
        })
    }

    fn missed(&mut self, change: Change) {
        self.counters.missed_guesses += 1;
        let timing = self.timings.entry(change).or_default();
        timing.missed();
        if timing.unpredictable {
            tracing::debug!(
                ?change,
                "guesses of this change missed too often; the list is watched instead"
            );
        }
    }

    /// The GETs due at `now` besides the list's confirmations: each kind's lead, and the
    /// guesses of the waiters that have waited as long as their kind's change took.
    fn timed_probes(&mut self, now: Instant, busy: &HashSet<String>) -> Vec<String> {
        let State {
            waiters,
            timings,
            counters,
            ..
        } = self;
        let mut leads: HashMap<Change, (Instant, u64)> = HashMap::new();
        let mut names = Vec::new();
        for (id, w) in waiters.iter_mut() {
            if !w.change.learns() {
                continue;
            }
            let timing = timings.entry(w.change).or_default();
            if timing.may_lead(w.started, now) {
                let lead = leads.entry(w.change).or_insert((w.started, *id));
                if (w.started, *id) < *lead {
                    *lead = (w.started, *id);
                }
            }
            let Some(guess) = timing.guess() else {
                continue;
            };
            if !w.guessed && now >= w.started + guess && !busy.contains(&w.name) {
                w.guessed = true;
                w.asked = Some(Probe::Guess);
                timing.guesses += 1;
                counters.guess_gets += 1;
                names.push(w.name.clone());
            }
        }
        for (_, id) in leads.into_values() {
            let Some(w) = waiters.get_mut(&id) else {
                continue;
            };
            if w.next_lead <= now && !busy.contains(&w.name) {
                w.next_lead = now + LEAD_PAUSE;
                w.asked = Some(Probe::Lead);
                counters.lead_gets += 1;
                names.push(w.name.clone());
            }
        }
        names.sort();
        names.dedup();
        names
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

type Listing = Pin<Box<dyn Future<Output = Result<Vec<Statement>, FlinkError>> + Send>>;
type Answer = (String, Instant, Result<Option<Statement>, FlinkError>);
type Getting = Pin<Box<dyn Future<Output = Answer> + Send>>;

/// The driver: one list per tick, and the GETs that are due, while anyone waits; it ends when
/// nobody does. The list's pages come one after the other and take long in a large app, so
/// GETs do not wait for a list to end, nor a list for a GET.
async fn drive(inner: Arc<Inner>) {
    let mut listing: Option<(Instant, Listing)> = None;
    let mut next_list = Instant::now();
    let mut getting: FuturesUnordered<Getting> = FuturesUnordered::new();
    let mut busy: HashSet<String> = HashSet::new();
    let mut confirm: Vec<String> = Vec::new();
    // The timed GETs are looked for once per PROBE_TICK, not on every answer: a wave of
    // answers would otherwise cost a pass over every waiter each.
    let mut timed_at: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let due = {
            let mut st = inner.lock();
            if st.waiters.is_empty() {
                st.driving = false;
                return;
            }
            let mut due = if timed_at.is_none_or(|t| now.duration_since(t) >= PROBE_TICK) {
                timed_at = Some(now);
                st.timed_probes(now, &busy)
            } else {
                Vec::new()
            };
            let mut queued: HashSet<String> = due.iter().cloned().collect();
            for name in confirm.drain(..) {
                if !busy.contains(&name) && queued.insert(name.clone()) {
                    st.counters.confirm_gets += 1;
                    due.push(name);
                }
            }
            due
        };
        for name in due {
            if !busy.insert(name.clone()) {
                continue;
            }
            let flink = inner.flink.clone();
            getting.push(Box::pin(async move {
                let asked = Instant::now();
                match flink.get_sent(&name).await {
                    Ok((answer, sent)) => (name, sent, Ok(answer)),
                    Err(e) => (name, asked, Err(e)),
                }
            }));
        }
        if listing.is_none() && now >= next_list {
            let tick = if inner.flink.limiter().throttled_within(THROTTLE_MEMORY) {
                THROTTLED_TICK
            } else if inner.lock().all_guessing() {
                COVERED_TICK
            } else {
                TICK
            };
            next_list = now + tick;
            let flink = inner.flink.clone();
            let filter = inner.filter.clone();
            listing = Some((
                now,
                Box::pin(async move { flink.list_as_listed(&filter).await }),
            ));
        }
        tokio::select! {
            listed = async {
                match listing.as_mut() {
                    Some((_, list)) => list.await,
                    None => std::future::pending().await,
                }
            } => {
                let started = listing.take().map(|(at, _)| at).unwrap_or(now);
                {
                    let mut st = inner.lock();
                    st.counters.lists += 1;
                    st.counters.list_time += started.elapsed();
                }
                match listed {
                    Ok(listed) => confirm.extend(judge(&inner, &listed, Instant::now())),
                    Err(FlinkError::Api(e)) if e.is_transient() => {
                        tracing::warn!(error = %e, "listing statements failed; still waiting");
                    }
                    Err(e) => {
                        // Nothing can be learnt any more (credentials, permissions): every
                        // wait ends with the error.
                        for w in inner.lock().waiters.values() {
                            w.tx.send_replace(Seen::Failed(e.clone()));
                        }
                    }
                }
            }
            Some((name, sent, answer)) = getting.next(), if !getting.is_empty() => {
                busy.remove(&name);
                answered(&inner, &name, sent, answer);
            }
            _ = tokio::time::sleep(PROBE_TICK) => {}
        }
    }
}

/// Wake the waiters whose statement the list shows changed; name those to confirm with a GET.
fn judge(inner: &Inner, listed: &[Statement], now: Instant) -> Vec<String> {
    let by_name: HashMap<&str, &Statement> = listed.iter().map(|s| (s.name.as_str(), s)).collect();
    let mut probes = Vec::new();
    let mut st = inner.lock();
    let State {
        waiters, timings, ..
    } = &mut *st;
    for w in waiters.values_mut() {
        // A waiter whose guess is yet to come needs no GET for not being listed: its guess is
        // that GET, at the time the change is due. Nor, for a while, one whose kind a lead is
        // learning (a wave of new statements, none listed yet, would each cost a GET).
        let timing = timings.get(&w.change);
        let guess_to_come = !w.guessed
            && timing.is_some_and(|t| {
                t.guess().is_some()
                    || (!t.unpredictable && now.duration_since(w.started) < LEARNING)
            });
        let due = !guess_to_come && w.next_probe.is_none_or(|t| t <= now);
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
                offer(w, s, Via::List);
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

/// Send the statement to the waiter when it differs from what it saw last; whether it did.
fn offer(w: &mut Waiter, s: &Statement, via: Via) -> bool {
    let version = (s.metadata.resource_version.clone(), s.phase().clone());
    if w.sent.as_ref() == Some(&version) {
        return false;
    }
    w.sent = Some(version);
    w.tx.send_replace(Seen::Live(Box::new(s.clone()), via));
    true
}

/// A GET's answer goes to every waiter of the name.
fn answered(
    inner: &Inner,
    name: &str,
    sent: Instant,
    answer: Result<Option<Statement>, FlinkError>,
) {
    let mut st = inner.lock();
    let ids = st.by_name.get(name).cloned().unwrap_or_default();
    let mut missed = Vec::new();
    for id in ids {
        let Some(w) = st.waiters.get_mut(&id) else {
            continue;
        };
        let probe = w.asked.take();
        let via = Via::Get { sent, probe };
        let gone = |w: &mut Waiter| {
            w.sent = None;
            w.tx.send_replace(Seen::Gone(via));
        };
        match &answer {
            // The name holds another statement now: the one waited for is gone.
            Ok(Some(s)) if w.uid.is_some() && s.metadata.uid != w.uid => gone(w),
            Ok(Some(s)) => {
                // A guess that finds what the waiter saw already is a miss; a change, the
                // waiter judges.
                if !offer(w, s, via) && probe == Some(Probe::Guess) {
                    missed.push(w.change);
                }
            }
            Ok(None) => gone(w),
            Err(e) if w.wants_gone && super::flink::forbidden(e) => gone(w),
            Err(FlinkError::Api(e)) if e.is_transient() => {
                tracing::warn!(statement = %name, error = %e, "checking a statement failed; still waiting");
                w.next_probe = None;
            }
            Err(e) => {
                w.tx.send_replace(Seen::Failed(e.clone()));
            }
        }
    }
    for change in missed {
        st.missed(change);
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
