//! Runs a plan: independent steps concurrently (up to `concurrency`), each after the steps it
//! depends on; a failure blocks only what depends on it, a lost lease stops everything not yet
//! started. Each step writes its intent to the tracker, acts, waits for the result, and writes
//! the outcome.
//!
//! Before every change the executor checks again, on a fresh read, what the planner checked on
//! its snapshot (safety rule 1): a live statement is the one the record describes
//! ([`ownership::verify_statement`]), a table is the incarnation the app created and lives in a
//! cluster the run can check. And before every change it checks the lease (safety rule 4).
//!
//! A cancelled run (SIGINT / SIGTERM, [`crate::cancel`]) starts no more steps; steps in flight
//! go on for the grace, then their waits end, nothing more is changed, and each records where
//! its statement stands.

mod budget;
mod create;
mod materialized;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};

use super::Engine;
use crate::cancel::Signal;
use crate::confluent::flink::{
    self, DeleteAttempt, FlinkError, LabelsPatched, NewStatement, Phase, Statement, WaitOutcome,
};
use crate::confluent::watch::Change;
use crate::http::limit::Concurrency;
use crate::http::ApiError;
use crate::naming::{deployed_name, StatementIdentity};
use crate::ownership::{self, Expected, Shown, HIDDEN_LABEL, OWNER_LABEL};
use crate::plan::{Action, Definition, Plan, Step, TableTarget, Target};
use crate::report::{Kind, Removed, Status, StepError, StepReport, TableUse};
use crate::tracker::{Lease, Ownership, Record, State, TableOwnership};

/// The plan as a report: every step `planned` (or unchanged, or refused), nothing done.
pub fn planned(p: &Plan) -> Vec<StepReport> {
    p.steps
        .iter()
        .map(|s| {
            let status = match s.action {
                Action::Unchanged | Action::Skip => Status::Unchanged,
                Action::Refuse => Status::Refused,
                _ => Status::Planned,
            };
            base_report(s, status, &p.names)
        })
        .collect()
}

fn base_report(s: &Step, status: Status, shown: &crate::identity::Names) -> StepReport {
    let (kind, logical, tables) = match &s.target {
        Target::Statement { def, .. } => {
            // By display names, as the tables' own steps are: one table, one name.
            let names = |ts: &[flink_sql::TableRef]| {
                ts.iter().map(|t| shown.shown(t).to_string()).collect()
            };
            let tables = TableUse {
                creates: names(&def.creates),
                reads: names(&def.reads),
                writes: names(&def.writes),
            };
            (Kind::Statement, Some(def.logical.clone()), tables)
        }
        Target::Table(_) => (Kind::Table, None, TableUse::default()),
    };
    StepReport {
        stage: s.stage,
        action: s.action,
        kind,
        name: s.target.label(),
        logical_name: logical.filter(|l| *l != s.target.label()),
        status,
        reason: s.reason.clone(),
        phase_before: s.phase_before.clone(),
        phase_after: s.phase_before.clone(),
        duration_ms: 0,
        removed: Removed::default(),
        tables,
        error: None,
        retries: Vec::new(),
    }
}

/// What running a plan did.
#[derive(Debug)]
pub struct Execution {
    /// One report per step, in plan order.
    pub steps: Vec<StepReport>,
    /// Set when a step found the run's lease lost: from then on nothing was started or changed.
    pub lease_lost: Option<String>,
}

/// Run every step of `p` under `lease`.
pub async fn execute(
    engine: &Engine,
    p: &Plan,
    records: &BTreeMap<String, Record>,
    lease: &Lease,
    progress: crate::report::Progress<'_>,
) -> Execution {
    let ctx = Ctx::new(engine, p, records, lease, progress);
    let after: Vec<&BTreeSet<usize>> = p.steps.iter().map(|s| &s.after).collect();
    let steps = schedule(
        &after,
        // At `auto` every ready step starts: a step spends its time waiting on the service (a
        // delete's seconds), not holding a request, and the per-API limiters bound what it
        // asks. Pinned, the number bounds the steps too (the user asked for a gentle run).
        match engine.concurrency {
            Concurrency::Auto => usize::MAX,
            Concurrency::Fixed(n) => n.get(),
        },
        |i| {
            let step = &p.steps[i];
            let name = step.target.label();
            progress(crate::report::StepEvent::Started {
                stage: step.stage,
                action: step.action,
                name: &name,
            });
            ctx.run(step)
        },
        |r: &StepReport| matches!(r.status, Status::Failed | Status::Refused),
        || ctx.lease_lost().is_some() || engine.cancel.requested().is_some(),
        |i, result| {
            let report = match result {
                Ok(r) => r,
                Err(NotRun::Blocked(f)) => blocked(
                    &p.steps[i],
                    format!("not started: {} failed", p.steps[f].target.label()),
                    &p.names,
                ),
                Err(NotRun::Halted) => blocked(
                    &p.steps[i],
                    match (ctx.lease_lost(), engine.cancel.requested()) {
                        (None, Some(signal)) => {
                            format!("not started: the run was cancelled by {signal}")
                        }
                        _ => {
                            "not started: the run lost its lease, so it changes nothing more".into()
                        }
                    },
                    &p.names,
                ),
                Err(NotRun::Stuck) => blocked(
                    &p.steps[i],
                    "not started: its dependencies never finished".into(),
                    &p.names,
                ),
            };
            progress(crate::report::StepEvent::Finished(&report));
            report
        },
    )
    .await;
    Execution {
        steps,
        lease_lost: ctx.lease_lost(),
    }
}

fn blocked(s: &Step, message: String, names: &crate::identity::Names) -> StepReport {
    let mut r = base_report(s, Status::Blocked, names);
    r.error = Some(err(message));
    r
}

/// Why a job was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotRun {
    /// A job it depends on (directly or not) failed: this one.
    Blocked(usize),
    /// The run was halted before it started.
    Halted,
    /// Its dependencies can never finish (a cycle; the planner makes none).
    Stuck,
}

/// Runs jobs `0..after.len()`, job `i` once every job in `after[i]` has succeeded, at most
/// `limit` at once. A job whose dependency failed or was blocked is not run; once `halted`
/// says so, no job is started any more (those running finish). `finish` sees each job's
/// result as it comes and turns it into the value returned, in job order.
pub(crate) async fn schedule<T, R, Fut>(
    after: &[&BTreeSet<usize>],
    limit: usize,
    start: impl Fn(usize) -> Fut,
    failed: impl Fn(&T) -> bool,
    halted: impl Fn() -> bool,
    mut finish: impl FnMut(usize, Result<T, NotRun>) -> R,
) -> Vec<R>
where
    Fut: std::future::Future<Output = T>,
{
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        Waiting,
        Running,
        Ok,
        Failed,
    }
    let n = after.len();
    let mut state = vec![State::Waiting; n];
    let mut out: Vec<Option<R>> = (0..n).map(|_| None).collect();
    // Counts, not scans: a job's unfinished dependencies and who waits on it, so an ending
    // job costs what depends on it, not a pass over every job (quadratic in a large app).
    let mut unfinished: Vec<usize> = after.iter().map(|a| a.len()).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, deps) in after.iter().enumerate() {
        for &a in deps.iter() {
            if let Some(d) = dependents.get_mut(a) {
                d.push(i);
            }
        }
    }
    // Started in job order, as they become ready.
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| unfinished[i] == 0).collect();
    // One task polls every running job, so jobs can borrow from the caller.
    let mut running = FuturesUnordered::new();
    loop {
        if !halted() {
            while running.len() < limit {
                let Some(i) = ready.pop_first() else {
                    break;
                };
                state[i] = State::Running;
                let job = start(i);
                running.push(async move { (i, job.await) });
            }
        }
        let Some((i, result)) = running.next().await else {
            break;
        };
        if failed(&result) {
            state[i] = State::Failed;
            out[i] = Some(finish(i, Ok(result)));
            // Block what depends on the failure, transitively.
            let mut failures = vec![i];
            while let Some(f) = failures.pop() {
                for &d in &dependents[f] {
                    if state[d] == State::Waiting {
                        state[d] = State::Failed;
                        ready.remove(&d);
                        out[d] = Some(finish(d, Err(NotRun::Blocked(f))));
                        failures.push(d);
                    }
                }
            }
        } else {
            state[i] = State::Ok;
            out[i] = Some(finish(i, Ok(result)));
            for &d in &dependents[i] {
                unfinished[d] -= 1;
                if unfinished[d] == 0 && state[d] == State::Waiting {
                    ready.insert(d);
                }
            }
        }
    }
    let stopped = halted();
    for i in 0..n {
        if state[i] == State::Waiting {
            let why = if stopped {
                NotRun::Halted
            } else {
                NotRun::Stuck
            };
            out[i] = Some(finish(i, Err(why)));
        }
    }
    out.into_iter().flatten().collect()
}

/// Why a step did not finish.
enum StepFail {
    /// An API or tracker call failed, or the statement did not settle.
    Error(StepError),
    /// The run cannot prove the target is the app's: nothing was touched.
    Refused(String),
    /// The lease is lost: nothing more may be changed.
    LeaseLost(String),
    /// The run was cancelled and its grace is over: the step stopped waiting (or did not make
    /// its next change); the statement's phase then, when it was read.
    Cancelled {
        signal: Signal,
        phase: Option<Phase>,
    },
}

impl From<StepError> for StepFail {
    fn from(e: StepError) -> StepFail {
        StepFail::Error(e)
    }
}

type StepResult = Result<(), StepFail>;

/// One record's latest version, and the lock that orders its writes.
type Slot = Arc<tokio::sync::Mutex<Option<Record>>>;

/// What a record says identifies its statement (owned, to outlive the record's lock).
struct Identity {
    uid: Option<String>,
    sql: String,
}

/// Records by the tables and topics their evidence names: a superset (a name stays once added),
/// since the records themselves are what is checked.
#[derive(Default)]
struct Holders {
    by_table: HashMap<String, BTreeSet<String>>,
    by_topic: HashMap<String, BTreeSet<String>>,
}

impl Holders {
    fn add(&mut self, name: &str, rec: &Record) {
        for o in &rec.tables.ownership {
            self.by_table
                .entry(o.table.clone())
                .or_default()
                .insert(name.to_string());
            self.by_topic
                .entry(o.topic.clone())
                .or_default()
                .insert(name.to_string());
        }
    }

    fn of_table(&self, table: &str) -> Vec<String> {
        self.by_table
            .get(table)
            .map(|n| n.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn of_topic(&self, topic: &str) -> Vec<String> {
        self.by_topic
            .get(topic)
            .map(|n| n.iter().cloned().collect())
            .unwrap_or_default()
    }
}

struct Ctx<'a> {
    engine: &'a Engine,
    lease: &'a Lease,
    lost: Mutex<Option<String>>,
    /// The app's records as they stand now, one lock per statement: every write starts from the
    /// latest version, so concurrent steps never undo each other's changes.
    slots: Mutex<BTreeMap<String, Slot>>,
    /// Which records have held evidence for a table: a drop looks at those, not at every
    /// record of the app (a scan per drop is quadratic in a large app).
    holders: Mutex<Holders>,
    /// Statements whose records are removed once the statement is gone and the record holds no
    /// table evidence: pruned ones, and old versions a create of the same logical name replaces.
    forget: BTreeSet<String>,
    /// The run's display, told what a step waits on when it is worth saying.
    progress: crate::report::Progress<'a>,
    /// The names of the environment and its clusters (the records are in their identities).
    names: crate::identity::Names,
}

impl<'a> Ctx<'a> {
    fn new(
        engine: &'a Engine,
        p: &Plan,
        records: &BTreeMap<String, Record>,
        lease: &'a Lease,
        progress: crate::report::Progress<'a>,
    ) -> Ctx<'a> {
        // What the planner decided becomes of each removed statement's record.
        let forget = p
            .steps
            .iter()
            .filter(|s| s.record == crate::plan::RecordFate::Forget)
            .filter_map(|s| match &s.target {
                Target::Statement { def, .. } => Some(def.name.clone()),
                Target::Table(_) => None,
            })
            .collect();
        let slots = records
            .iter()
            .map(|(k, r)| {
                (
                    k.clone(),
                    Arc::new(tokio::sync::Mutex::new(Some(r.clone()))),
                )
            })
            .collect();
        let mut holders = Holders::default();
        for (name, rec) in records {
            holders.add(name, rec);
        }
        Ctx {
            engine,
            lease,
            lost: Mutex::new(None),
            slots: Mutex::new(slots),
            holders: Mutex::new(holders),
            forget,
            progress,
            names: p.names.clone(),
        }
    }

    fn lease_lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|l| l.clone())
    }

    async fn run(&self, s: &Step) -> StepReport {
        let start = Instant::now();
        let mut r = base_report(s, Status::Done, &self.names);
        let result = match (&s.action, &s.target) {
            (Action::Unchanged, Target::Statement { def, .. }) => {
                r.status = Status::Unchanged;
                self.confirm_unchanged(def).await
            }
            (Action::Unchanged | Action::Skip, _) => {
                r.status = Status::Unchanged;
                Ok(())
            }
            (Action::Refuse, _) => Err(StepFail::Refused(s.reason.clone())),
            (Action::Delete | Action::Prune, Target::Statement { def, .. }) => {
                self.delete(def, s.phase_before.is_some(), &mut r).await
            }
            (Action::Stop, Target::Statement { def, .. }) => {
                self.stop(def, s.phase_before.is_some(), &mut r).await
            }
            (
                Action::Create,
                Target::Statement {
                    def,
                    carry_over_from,
                    evolves_from: None,
                },
            ) => self.create(def, carry_over_from.as_deref(), &mut r).await,
            (Action::Resume, Target::Statement { def, .. }) => self.resume(def, &mut r).await,
            (
                Action::Evolve,
                Target::Statement {
                    def,
                    evolves_from: Some(from),
                    ..
                },
            ) => self.evolve(def, from, &mut r).await,
            (Action::DropTable, Target::Table(t)) => self.drop_table(t, &mut r).await,
            (Action::Release, Target::Table(t)) => self.release(t, &s.reason, &mut r).await,
            (a, t) => Err(err(format!("internal: {a:?} does not apply to {}", t.label())).into()),
        };
        match result {
            Ok(()) => {}
            Err(StepFail::Error(e)) => {
                r.status = Status::Failed;
                r.error = Some(e);
            }
            Err(StepFail::Refused(why)) => {
                r.status = Status::Refused;
                r.error = Some(err(why));
            }
            Err(StepFail::LeaseLost(why)) => {
                r.status = Status::Failed;
                r.error = Some(err(format!(
                    "stopped before its next change: the run lost its lease ({why})"
                )));
            }
            Err(StepFail::Cancelled { signal, phase }) => {
                let message = match &phase {
                    Some(p) => format!("cancelled by {signal} before it finished; it was {p}"),
                    None => format!("cancelled by {signal} before it finished"),
                };
                if let Target::Statement { def, .. } = &s.target {
                    self.note_cancelled(&def.name, phase.clone(), &message)
                        .await;
                }
                r.status = Status::Cancelled;
                r.phase_after = phase;
                r.error = Some(err(message));
            }
        }
        r.duration_ms = start.elapsed().as_millis() as u64;
        tracing::info!(
            step = %r.name, action = %r.action, status = ?r.status,
            phase_after = r.phase_after.as_ref().map_or("-", |p| p.as_str()),
            ms = r.duration_ms, "step finished"
        );
        r
    }

    fn timeout(&self) -> Duration {
        self.engine.timeout
    }

    // ---- the lease and the records --------------------------------------------------------

    /// Before every change: is the lease still ours? Once it is not, it never is again.
    fn guard(&self) -> StepResult {
        if let Some(why) = self.lease_lost() {
            return Err(StepFail::LeaseLost(why));
        }
        match self.lease.check() {
            Ok(()) => Ok(()),
            Err(e) => {
                let why = e.to_string();
                if let Ok(mut lost) = self.lost.lock() {
                    lost.get_or_insert_with(|| why.clone());
                }
                tracing::error!(error = %why, "the lease is lost: changing nothing more");
                Err(StepFail::LeaseLost(why))
            }
        }
    }

    /// Before every change to the cloud: the lease is ours, and the run is not past its grace
    /// after a cancellation.
    fn before_change(&self) -> StepResult {
        self.guard()?;
        match self.engine.cancel.grace_over() {
            Some(signal) => Err(StepFail::Cancelled {
                signal,
                phase: None,
            }),
            None => Ok(()),
        }
    }

    /// A wait on `name` that ends when the grace after a cancellation is over; the statement's
    /// phase then comes with the failure.
    async fn wait(
        &self,
        name: &str,
        wait: impl std::future::Future<Output = Result<WaitOutcome, FlinkError>>,
    ) -> Result<WaitOutcome, StepFail> {
        tokio::select! {
            done = wait => done.map_err(|e| flink_err(e).into()),
            signal = self.engine.cancel.until_grace_over() => {
                let phase = match self.engine.flink.get(name).await {
                    Ok(s) => s.map(|s| s.phase().clone()),
                    Err(_) => None,
                };
                Err(StepFail::Cancelled { signal, phase })
            }
        }
    }

    /// A wait (not on a statement) that ends when the grace after a cancellation is over.
    async fn unless_cancelled<T>(
        &self,
        wait: impl std::future::Future<Output = T>,
    ) -> Result<T, StepFail> {
        tokio::select! {
            done = wait => Ok(done),
            signal = self.engine.cancel.until_grace_over() => {
                Err(StepFail::Cancelled { signal, phase: None })
            }
        }
    }

    /// A cancelled step's record says where its statement stood (when it has a record).
    async fn note_cancelled(&self, name: &str, phase: Option<Phase>, message: &str) {
        let written = self
            .write_if_recorded(name, |rec| {
                rec.last_phase = phase;
                rec.detail = Some(message.to_string());
            })
            .await;
        if let Err(StepFail::Error(e)) = written {
            tracing::warn!(statement = name, error = %e.message, "could not record where the cancelled step stood");
        }
    }

    fn slot(&self, name: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        slots.entry(name.to_string()).or_default().clone()
    }

    async fn current(&self, name: &str) -> Option<Record> {
        self.slot(name).lock().await.clone()
    }

    /// Change the record of `name` (a new one from `base` if there is none) and write it; the
    /// run's copy changes only once the broker has it.
    async fn write(
        &self,
        name: &str,
        base: impl FnOnce() -> Record,
        change: impl FnOnce(&mut Record),
    ) -> StepResult {
        let slot = self.slot(name);
        let mut cur = slot.lock().await;
        let rec = cur.clone().unwrap_or_else(base);
        self.put(name, &mut cur, rec, change).await
    }

    /// [`Ctx::write`] for a record that exists; nothing when there is none.
    async fn write_if_recorded(&self, name: &str, change: impl FnOnce(&mut Record)) -> StepResult {
        let slot = self.slot(name);
        let mut cur = slot.lock().await;
        match cur.clone() {
            Some(rec) => self.put(name, &mut cur, rec, change).await,
            None => Ok(()),
        }
    }

    /// Change `rec`, write it, and make it the run's copy (`cur`, the slot held locked).
    async fn put(
        &self,
        name: &str,
        cur: &mut Option<Record>,
        mut rec: Record,
        change: impl FnOnce(&mut Record),
    ) -> StepResult {
        change(&mut rec);
        self.engine.stamp(&mut rec);
        self.guard()?;
        self.engine
            .tracker
            .put(&rec)
            .await
            .map_err(|e| err(format!("writing the tracker record of {name} failed: {e}")))?;
        self.holders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(name, &rec);
        *cur = Some(rec);
        Ok(())
    }

    /// Write the record of `def` in `state` (intent or outcome), with `change` applied last.
    async fn record(
        &self,
        def: &Definition,
        state: State,
        change: impl FnOnce(&mut Record),
    ) -> StepResult {
        let base = || {
            Record::new(
                &self.engine.app,
                &self.engine.environment_id,
                &def.name,
                &def.sql,
                State::Building,
            )
        };
        self.write(&def.name, base, |rec| {
            super::records::write_definition(rec, def);
            rec.definition_hash = def.name.rsplit('-').next().map(str::to_string);
            rec.state = state;
            rec.detail = None;
            change(rec);
        })
        .await
    }

    /// Remove the record of `name` (a tombstone).
    async fn forget(&self, name: &str) -> StepResult {
        let slot = self.slot(name);
        let mut cur = slot.lock().await;
        self.guard()?;
        self.engine
            .tracker
            .delete(&self.engine.environment_id, name)
            .await
            .map_err(|e| err(format!("removing the tracker record of {name} failed: {e}")))?;
        *cur = None;
        Ok(())
    }

    /// Whether the record of `name` goes once its statement is gone: our own DROP statements,
    /// pruned statements and replaced versions, unless it still holds a table's evidence.
    async fn forgettable(&self, name: &str) -> bool {
        self.current(name).await.is_some_and(|r| {
            (super::records::is_hidden(&r) || self.forget.contains(name)) && !r.holds_tables()
        })
    }

    // ---- statements -------------------------------------------------------------------------

    /// What the record (or, without one, the definition) says identifies the statement.
    async fn identity(&self, def: &Definition) -> Identity {
        match self.current(&def.name).await {
            Some(r) => Identity {
                uid: r.statement_uid,
                sql: r.sql,
            },
            None => Identity {
                uid: None,
                sql: def.sql.clone(),
            },
        }
    }

    fn verify(&self, id: &Identity, s: &Statement) -> Result<(), String> {
        let expected = Expected {
            app: &self.engine.app,
            uid: id.uid.as_deref(),
            sql: &id.sql,
        };
        ownership::verify_statement(&expected, &Shown::of(s))
            .map_err(|e| format!("not the app's statement: {e}"))
    }

    /// A fresh read of the statement, refused unless it is the one the record describes. A 403
    /// counts as "gone" for a statement the run's list did not show (`listed` false): the
    /// evidence [`flink::forbidden`] asks for besides the 403.
    async fn get_verified(
        &self,
        def: &Definition,
        listed: bool,
    ) -> Result<Option<Statement>, StepFail> {
        let live = match self.engine.flink.get(&def.name).await {
            Ok(live) => live,
            Err(e) if !listed && flink::forbidden(&e) => {
                tracing::info!(statement = %def.name, "403 for a statement the list does not show: gone");
                None
            }
            Err(e) => return Err(flink_err(e).into()),
        };
        if let Some(s) = &live {
            let id = self.identity(def).await;
            self.verify(&id, s).map_err(StepFail::Refused)?;
        }
        Ok(live)
    }

    /// An unchanged statement whose record a crash left unfinished (no uid, still `building`,
    /// tables not yet confirmed) is finished from what the service shows now; labels the
    /// definition gained since the statement was created are added to it.
    async fn confirm_unchanged(&self, def: &Definition) -> StepResult {
        let unfinished = self.current(&def.name).await.is_some_and(|r| {
            r.statement_uid.is_none()
                || r.state == State::Building
                || r.tables
                    .ownership
                    .iter()
                    .any(|o| o.status == Ownership::Pending)
        });
        if !unfinished && def.labels.is_empty() {
            return Ok(());
        }
        let Some(s) = self.get_verified(def, true).await? else {
            return Ok(());
        };
        let stale = def
            .labels
            .iter()
            .any(|(k, v)| s.metadata.labels.get(k) != Some(v));
        if stale {
            let uid = s.metadata.uid.clone().unwrap_or_default();
            self.before_change()?;
            // Labels are the user's annotations, not evidence: a service that does not take a
            // label change after create (§F.13) leaves the statement as it is, said in the log.
            match self
                .engine
                .flink
                .patch_labels(&def.name, &uid, &def.labels)
                .await
            {
                Ok(LabelsPatched::Applied) => {}
                Ok(LabelsPatched::Ignored) => {
                    tracing::warn!(statement = %def.name, "the service did not keep the new labels")
                }
                Ok(LabelsPatched::Refused(why)) => {
                    tracing::warn!(statement = %def.name, reason = %why, "the service refused the new labels")
                }
                Err(FlinkError::Refused { reason, .. }) => return Err(StepFail::Refused(reason)),
                Err(e) => return Err(change_err(e, "label", def).into()),
            }
        }
        let running = matches!(s.phase(), Phase::Running | Phase::Completed);
        if !(stale || unfinished && running) {
            return Ok(());
        }
        let claims = if running {
            self.confirmed_claims(def, &s).await?
        } else {
            Vec::new()
        };
        let labels = self.labels_of(def);
        let phase = Some(s.phase().clone());
        let state = match self.current(&def.name).await.map(|r| r.state) {
            Some(st) if !running => st,
            _ => State::Deployed,
        };
        self.record(def, state, |rec| {
            rec.statement_uid = s.metadata.uid.clone();
            rec.last_phase = phase;
            rec.labels = labels;
            claims.into_iter().for_each(|c| rec.set_ownership(c));
        })
        .await
    }

    /// The pending evidence of `def`'s tables, settled by what its statement `s` shows: a
    /// statement that completed (or runs) created the tables whose topics exist now; one that
    /// failed created nothing; any other phase settles nothing yet.
    async fn confirmed_claims(
        &self,
        def: &Definition,
        s: &Statement,
    ) -> Result<Vec<TableOwnership>, StepFail> {
        let pending: Vec<TableOwnership> = self
            .current(&def.name)
            .await
            .map(|r| r.tables.ownership)
            .unwrap_or_default()
            .into_iter()
            .filter(|o| o.status == Ownership::Pending)
            .collect();
        if pending.is_empty() {
            return Ok(pending);
        }
        let phase = s.phase();
        let created = match phase {
            Phase::Running | Phase::Completed | Phase::Degraded => true,
            Phase::Failed | Phase::Failing => false,
            _ => return Ok(Vec::new()),
        };
        let ids = if created {
            let topics: Vec<String> = pending.iter().map(|o| o.topic.clone()).collect();
            self.topic_ids(&topics).await?
        } else {
            BTreeMap::new()
        };
        Ok(pending
            .into_iter()
            .map(|mut o| {
                o.at = chrono::Utc::now();
                match ids.get(&o.topic) {
                    Some(id) if created => {
                        o.status = Ownership::Owned;
                        o.topic_id = id.clone();
                        o.statement_uid = s.metadata.uid.clone();
                        o.detail = Some(format!("created by {}", def.name));
                    }
                    _ if created => {
                        o.status = Ownership::NotCreated;
                        o.detail = Some(format!(
                            "its topic was not there when {} completed",
                            def.name
                        ));
                    }
                    _ => {
                        o.status = Ownership::NotCreated;
                        o.detail = Some(format!("{} ended {phase}", def.name));
                    }
                }
                o
            })
            .collect())
    }

    async fn delete(&self, def: &Definition, listed: bool, r: &mut StepReport) -> StepResult {
        let live = self.get_verified(def, listed).await?;
        // A create interrupted before it saw its statement complete: settle what it created
        // while the statement can still tell.
        let claims = match &live {
            Some(s) => self.confirmed_claims(def, s).await?,
            None => Vec::new(),
        };
        self.record(def, State::TearingDown, |rec| {
            claims.into_iter().for_each(|c| rec.set_ownership(c));
        })
        .await?;
        if live.is_some() {
            self.before_change()?;
            let id = self.identity(def).await;
            self.delete_statement(def, &id).await?;
            let gone = self
                .wait(
                    &def.name,
                    self.engine.watch.wait_gone(&def.name, self.timeout()),
                )
                .await?;
            if !gone.satisfied {
                r.phase_after = gone.last.as_ref().map(|s| s.phase().clone());
                return Err(err(format!(
                    "{} was still there {:?} after its deletion",
                    def.name,
                    self.timeout()
                ))
                .into());
            }
        }
        r.phase_after = None;
        if self.forgettable(&def.name).await {
            self.forget(&def.name).await
        } else {
            self.record(def, State::TornDown, |_| {}).await
        }
    }

    /// DELETE a statement the step has just read (and checked, with the lease, before this
    /// first attempt). Before each retry the same checks again, since a statement under the
    /// name may be another incarnation by then (the earlier attempt carried out, someone's new
    /// statement created): the lease is still the run's, and a fresh read shows the recorded
    /// statement — gone or `DELETING` means the earlier attempt did it, another one is refused
    /// and not deleted. A 403 is the answer of a pool-scoped role for a statement gone
    /// meanwhile ([`flink::forbidden`]) when a GET is 403 too, since the same key read it a
    /// moment ago; otherwise a permission problem, said as one.
    async fn delete_statement(&self, def: &Definition, id: &Identity) -> StepResult {
        let mut attempt = 0;
        // Whether an earlier attempt may have been carried out (its answer lost).
        let mut maybe_done = false;
        let answer = loop {
            attempt += 1;
            if attempt > 1 && self.gone_before_retry(def, id, maybe_done).await? {
                return Ok(());
            }
            match self.engine.flink.delete_attempt(&def.name, attempt).await {
                Ok(DeleteAttempt::Again {
                    pause,
                    error,
                    maybe_done: this_one,
                }) => {
                    tracing::debug!(statement = %def.name, attempt, error = %error, "DELETE to be sent again, once the statement is checked");
                    maybe_done |= this_one;
                    self.unless_cancelled(tokio::time::sleep(pause)).await?;
                }
                done => break done,
            }
        };
        match answer {
            Ok(_) => Ok(()),
            Err(e) if flink::forbidden(&e) => match self.engine.flink.get(&def.name).await {
                Ok(None) => Ok(()),
                Ok(Some(s)) if *s.phase() == Phase::Deleting => Ok(()),
                Err(again) if flink::forbidden(&again) => {
                    tracing::info!(statement = %def.name, "403 on DELETE and GET of a statement read a moment ago: gone");
                    Ok(())
                }
                _ => Err(change_err(e, "delete", def).into()),
            },
            Err(e) => Err(change_err(e, "delete", def).into()),
        }
    }

    /// The checks before a DELETE is sent again, as before the first: the lease is the run's,
    /// and a fresh read shows the statement `id` describes. `true`: it is gone, or `DELETING`
    /// (an earlier attempt did it; after one that may have been carried out, a 403 counts as
    /// gone, [`flink::forbidden`]'s evidence). Another statement under the name is refused.
    async fn gone_before_retry(
        &self,
        def: &Definition,
        id: &Identity,
        maybe_done: bool,
    ) -> Result<bool, StepFail> {
        self.before_change()?;
        let live = match self.engine.flink.get(&def.name).await {
            Ok(live) => live,
            Err(e) if maybe_done && flink::forbidden(&e) => None,
            Err(e) => return Err(flink_err(e).into()),
        };
        let Some(s) = live else {
            return Ok(true);
        };
        self.verify(id, &s).map_err(|why| {
            tracing::warn!(statement = %def.name, reason = %why, "another statement under the name before a retried DELETE: not deleted");
            StepFail::Refused(why)
        })?;
        Ok(*s.phase() == Phase::Deleting)
    }

    async fn stop(&self, def: &Definition, listed: bool, r: &mut StepReport) -> StepResult {
        if self.get_verified(def, listed).await?.is_none() {
            r.phase_after = None;
            return self.record(def, State::TornDown, |_| {}).await;
        }
        self.record(def, State::TearingDown, |_| {}).await?;
        let id = self.identity(def).await;
        self.before_change()?;
        match self
            .engine
            .flink
            .stop_checked(&def.name, &|s| self.verify(&id, s))
            .await
        {
            Ok(_) => {}
            Err(FlinkError::NotFound { .. }) => {
                r.phase_after = None;
                return self.record(def, State::TornDown, |_| {}).await;
            }
            Err(FlinkError::Refused { reason, .. }) => return Err(StepFail::Refused(reason)),
            Err(e) => return Err(change_err(e, "stop", def).into()),
        }
        // Done once it is seen STOPPED (or ended by itself): the accepted stop moves the phase
        // later, and the old phase showing meanwhile is not an answer (§F.1).
        let done = self
            .wait(
                &def.name,
                self.engine.watch.wait_until_of(
                    &def.name,
                    id.uid.as_deref(),
                    Change::Stopped,
                    |s| stopped_or_ended(s.phase()),
                    self.timeout(),
                ),
            )
            .await?;
        let phase = done.last.as_ref().map(|s| s.phase().clone());
        r.phase_after = phase.clone();
        if !done.satisfied && done.last.is_some() {
            return Err(err(format!(
                "{} did not stop within {:?}",
                def.name,
                self.timeout()
            ))
            .into());
        }
        self.record(def, State::Stopped, |rec| rec.last_phase = phase)
            .await
    }

    async fn resume(&self, def: &Definition, r: &mut StepReport) -> StepResult {
        if self.get_verified(def, true).await?.is_none() {
            // Purged since it stopped (terminal statements go after a while, §F.11; the list
            // lags and may still show it): built up again from its definition.
            r.reason = format!(
                "{}; it was purged since it stopped, so it is created again from its record",
                r.reason
            );
            return self.create(def, None, r).await;
        }
        self.record(def, State::Building, |_| {}).await?;
        let id = self.identity(def).await;
        self.before_change()?;
        match self
            .engine
            .flink
            // The definition's pool and principal: a stopped statement may move on resume.
            .resume_checked(
                &def.name,
                Some(def.principal.as_str()).filter(|p| !p.is_empty()),
                Some(def.compute_pool.as_str()).filter(|p| !p.is_empty()),
                &|s| self.verify(&id, s),
            )
            .await
        {
            Ok(_) => {}
            Err(FlinkError::Refused { reason, .. }) => return Err(StepFail::Refused(reason)),
            Err(e) => return Err(change_err(e, "resume", def).into()),
        }
        // Resumed once it is seen running (or failing): STOPPED showing after the accepted
        // resume is the old phase, not an outcome (§F.1).
        let done = self
            .wait(
                &def.name,
                self.engine.watch.wait_until_of(
                    &def.name,
                    id.uid.as_deref(),
                    Change::Resumed,
                    |s| resumed(s.phase()),
                    self.timeout(),
                ),
            )
            .await?;
        self.outcome(def, &done, r).await
    }

    // ---- tables -----------------------------------------------------------------------------

    async fn topic_ids(
        &self,
        topics: &[String],
    ) -> Result<BTreeMap<String, Option<String>>, StepFail> {
        let existing = self
            .engine
            .kafka
            .list_topics()
            .await
            .map_err(|e| err(e.to_string()))?;
        // Only names the full metadata shows are described: a request naming a topic must
        // never be what creates it.
        let names: Vec<String> = topics
            .iter()
            .filter(|t| existing.contains_key(*t))
            .cloned()
            .collect();
        Ok(self
            .engine
            .kafka
            .topic_ids(&names)
            .await
            .map_err(|e| err(e.to_string()))?)
    }

    /// The live incarnation of a topic: `None` when it does not exist, else its id (`None`
    /// inside when the cluster has no topic ids).
    async fn incarnation(&self, topic: &str) -> Result<Option<Option<String>>, StepFail> {
        Ok(self.topic_ids(&[topic.to_string()]).await?.remove(topic))
    }

    /// The evidence for `t` as it stands now (the creator's teardown step may have just
    /// settled it).
    async fn claim(&self, t: &TableTarget) -> Option<TableOwnership> {
        let key = t.table.to_string();
        self.current(&t.created_by)
            .await
            .map(|r| r.ownership_of())
            .and_then(|os| os.into_iter().find(|o| o.table == key))
    }

    /// End the app's ownership of `t`'s incarnations other than `live_id` (all of them when
    /// the topic is gone): every record of the app that holds one says so from now on, and a
    /// record kept only for its table's sake is removed.
    async fn end_ownership(
        &self,
        t: &TableTarget,
        live: Option<&Option<String>>,
        detail: &str,
    ) -> StepResult {
        let key = t.table.to_string();
        let names = self
            .holders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .of_table(&key);
        for name in names {
            let Some(rec) = self.current(&name).await else {
                continue;
            };
            let ends = |o: &TableOwnership| {
                o.status.is_held()
                    && match live {
                        None => true,
                        Some(id) => {
                            !ownership::same_incarnation(o.topic_id.as_deref(), id.as_deref())
                        }
                    }
            };
            let Some(held) = rec.ownership(&key).filter(|o| ends(o)).cloned() else {
                continue;
            };
            let mut ended = held;
            ended.status = match ended.status {
                Ownership::Pending => Ownership::NotCreated,
                _ => Ownership::Dropped,
            };
            ended.detail = Some(detail.to_string());
            ended.at = chrono::Utc::now();
            self.write(&name, || rec.clone(), |r| r.set_ownership(ended))
                .await?;
            let gone = rec.state == State::TornDown;
            if gone && self.forgettable(&name).await {
                self.forget(&name).await?;
            }
        }
        Ok(())
    }

    async fn release(&self, t: &TableTarget, reason: &str, r: &mut StepReport) -> StepResult {
        let live = self.incarnation(&t.topic).await?;
        self.end_ownership(t, live.as_ref(), reason).await?;
        r.phase_after = None;
        Ok(())
    }

    /// Drop a table the app owns: check the evidence and the incarnation again, `DROP TABLE IF
    /// EXISTS` as a hidden statement, wait, delete that statement, then verify the topic and
    /// both subjects are gone — deleting them directly (only the app's incarnation) if they are
    /// not. Ownership ends once the table is gone.
    async fn drop_table(&self, t: &TableTarget, r: &mut StepReport) -> StepResult {
        let Some(claim) = self.held_claim(t, r).await? else {
            return Ok(());
        };
        let Some(from) = self.verified_incarnation(t, &claim, r).await? else {
            return Ok(());
        };
        let topic_existed = from == DropFrom::Ours;
        let subjects = [format!("{}-key", t.topic), format!("{}-value", t.topic)];
        let existed_subjects = self.existing_subjects(&t.topic, &subjects).await?;
        // A materialized table goes through its resource whatever its topic: its query and
        // catalog entry are the table too, and `DROP TABLE` would drop nothing durable (§G.7).
        let drop_detail = if t.materialized {
            self.drop_materialized(t, r).await?
        } else if topic_existed {
            self.run_drop_statement(t, r).await?
        } else {
            None
        };
        let topic_gone = match (topic_existed, &drop_detail) {
            (false, _) => true,
            (true, None) => self
                .unless_cancelled(self.engine.kafka.wait_topic_gone(&t.topic, self.timeout()))
                .await?
                .is_ok(),
            (true, Some(_)) => self.incarnation(&t.topic).await?.is_none(),
        };
        let left_subjects = self.existing_subjects(&t.topic, &subjects).await?;
        if !topic_gone || !left_subjects.is_empty() {
            // A materialized table's subjects may survive its drop as a matter of course (§G.7).
            r.removed.deleted_directly = !topic_gone || !t.materialized;
            if !topic_gone && !self.delete_topic_directly(t, &claim, r).await? {
                return Ok(());
            }
            if let Some(sr) = &self.engine.registry {
                for s in &left_subjects {
                    self.before_change()?;
                    sr.delete_subject(s)
                        .await
                        .map_err(|e| err(format!("deleting subject {s}: {e}")))?;
                }
            }
            tracing::warn!(table = %t.table, reason = drop_detail.as_deref().unwrap_or("not gone in time"), "deleted the table's topic and subjects directly");
        }
        self.end_ownership(t, None, "dropped by the app").await?;
        r.removed.topic = topic_existed.then(|| t.topic.clone());
        r.removed.subjects = existed_subjects;
        r.phase_after = None;
        Ok(())
    }

    /// The evidence the app holds for the table, when it holds any: `None` (the step's report
    /// says why the table is kept) when it holds none or its record says the table is not the
    /// app's; refused when the cluster could not be checked.
    async fn held_claim(
        &self,
        t: &TableTarget,
        r: &mut StepReport,
    ) -> Result<Option<TableOwnership>, StepFail> {
        let Some(claim) = self.claim(t).await else {
            r.status = Status::Unchanged;
            r.reason = format!(
                "kept: the app holds no evidence that it created {}",
                t.table
            );
            return Ok(None);
        };
        match claim.status {
            Ownership::Owned | Ownership::Pending => Ok(Some(claim)),
            Ownership::Unverified => Err(StepFail::Refused(format!(
                "not verified: {}",
                claim
                    .detail
                    .as_deref()
                    .unwrap_or("its cluster could not be checked")
            ))),
            other => {
                r.status = Status::Unchanged;
                r.reason = format!(
                    "kept: not the app's ({})",
                    claim.detail.as_deref().unwrap_or(other.as_str())
                );
                Ok(None)
            }
        }
    }

    /// Where the drop starts from, checked on a fresh read: the topic gone already, or there as
    /// the very incarnation the app created. `None` (the report says why, the evidence ended)
    /// when the table is another incarnation or was never seen created; refused when the claim
    /// is in another cluster or cannot be proven.
    async fn verified_incarnation(
        &self,
        t: &TableTarget,
        claim: &TableOwnership,
        r: &mut StepReport,
    ) -> Result<Option<DropFrom>, StepFail> {
        self.engine
            .cluster
            .same_cluster(claim.cluster_id.as_deref())
            .map_err(|e| StepFail::Refused(format!("not verified: {e}")))?;
        let live = self.incarnation(&t.topic).await?;
        if claim.status == Ownership::Pending {
            // Its statement, which alone could confirm it, is gone (its teardown step settles
            // the evidence while it exists).
            if live.is_none() {
                self.end_ownership(t, None, "its topic is gone; the app never saw it created")
                    .await?;
                r.status = Status::Unchanged;
                r.reason = format!("{} is gone", t.table);
                return Ok(None);
            }
            return Err(StepFail::Refused(format!(
                "cannot prove the app created {}: the run that created it was interrupted before \
                 {} completed, and that statement is gone; drop it yourself if it is the app's",
                t.table, t.created_by
            )));
        }
        match live {
            None => Ok(Some(DropFrom::TopicGone)),
            Some(id) if ownership::same_incarnation(claim.topic_id.as_deref(), id.as_deref()) => {
                Ok(Some(DropFrom::Ours))
            }
            Some(id) => {
                let why = format!(
                    "spared: topic {} (id {}) is not the incarnation {} created (id {})",
                    t.topic,
                    id.as_deref().unwrap_or("?"),
                    t.created_by,
                    claim.topic_id.as_deref().unwrap_or("?")
                );
                self.end_ownership(t, Some(&id), &why).await?;
                r.status = Status::Unchanged;
                r.reason = why;
                Ok(None)
            }
        }
    }

    /// The fallback when the DROP statement left the topic: delete it directly, but only the
    /// incarnation the app created, checked again just before. `false` when the topic turned out
    /// to be another incarnation (spared; the report says so).
    async fn delete_topic_directly(
        &self,
        t: &TableTarget,
        claim: &TableOwnership,
        r: &mut StepReport,
    ) -> Result<bool, StepFail> {
        match self.incarnation(&t.topic).await? {
            Some(id) if ownership::same_incarnation(claim.topic_id.as_deref(), id.as_deref()) => {
                self.before_change()?;
                self.engine
                    .kafka
                    .delete_topic(&t.topic)
                    .await
                    .map_err(|e| err(e.to_string()))?;
                self.unless_cancelled(self.engine.kafka.wait_topic_gone(&t.topic, self.timeout()))
                    .await?
                    .map_err(|e| err(e.to_string()))?;
                Ok(true)
            }
            Some(other) => {
                let why = format!(
                    "spared: topic {} is another incarnation now (id {})",
                    t.topic,
                    other.as_deref().unwrap_or("?")
                );
                self.end_ownership(t, Some(&other), &why).await?;
                r.status = Status::Unchanged;
                r.reason = why;
                Ok(false)
            }
            None => Ok(true),
        }
    }

    /// `DROP TABLE IF EXISTS` as one of our hidden statements, tracked while it exists (a run
    /// killed meanwhile leaves a record; the next run deletes it and never builds it up again).
    /// Returns why the DROP did not complete, if it did not.
    async fn run_drop_statement(
        &self,
        t: &TableTarget,
        r: &mut StepReport,
    ) -> Result<Option<String>, StepFail> {
        let sql = format!("DROP TABLE IF EXISTS {}", t.table);
        let pool = self
            .engine
            .defaults
            .compute_pool
            .clone()
            .unwrap_or_default();
        let principal = self.engine.defaults.principal.clone().unwrap_or_default();
        let logical = format!("drop-{}", slug(&t.topic));
        let name = deployed_name(&StatementIdentity {
            app: &self.engine.app,
            name: &logical,
            sql: &sql,
            properties: &t.properties,
            compute_pool: &pool,
            principal: &principal,
        });
        let labels: BTreeMap<String, String> = [
            (OWNER_LABEL.to_string(), self.engine.app.clone()),
            (HIDDEN_LABEL.to_string(), "true".to_string()),
        ]
        .into();
        let drop_def = Definition {
            logical: logical.clone(),
            name: name.clone(),
            sql: sql.clone(),
            properties: t.properties.clone(),
            compute_pool: pool.clone(),
            principal: principal.clone(),
            labels: BTreeMap::new(),
            creates: Vec::new(),
            writes: Vec::new(),
            reads: Vec::new(),
            drops: Vec::new(),
            alters: Vec::new(),
            depends_on: Vec::new(),
            is_table_ddl: false,
            resumable: false,
            query_state: Vec::new(),
            keyed: Vec::new(),
            materialized: None,
        };
        let hidden = labels.clone();
        self.record(&drop_def, State::TearingDown, |rec| rec.labels = hidden)
            .await?;
        let new = NewStatement {
            name: name.clone(),
            sql,
            properties: t.properties.clone(),
            compute_pool_id: Some(pool).filter(|p| !p.is_empty()),
            principal: Some(principal).filter(|p| !p.is_empty()),
            labels,
        };
        let budget = budget::Budget::new(self.timeout());
        let created = self.create_when_free(&new, &budget, r).await?;
        let done = self
            .wait(
                &name,
                self.engine.watch.wait_until_of(
                    &name,
                    created.metadata.uid.as_deref(),
                    Change::Completed,
                    |s| s.phase().is_settled(),
                    self.timeout(),
                ),
            )
            .await?;
        let drop_detail = done
            .last
            .as_ref()
            .filter(|s| *s.phase() != Phase::Completed)
            .map(|s| {
                format!(
                    "DROP TABLE ended {}: {}",
                    s.phase(),
                    s.status.detail.clone().unwrap_or_default()
                )
            });
        // The DROP statement is bounded and done: delete it so it uses no quota.
        self.before_change()?;
        let id = Identity {
            uid: created.metadata.uid.clone(),
            sql: drop_def.sql.clone(),
        };
        self.delete_statement(&drop_def, &id).await?;
        self.wait(&name, self.engine.watch.wait_gone(&name, self.timeout()))
            .await?;
        self.forget(&name).await?;
        Ok(drop_detail)
    }

    async fn existing_subjects(
        &self,
        topic: &str,
        subjects: &[String],
    ) -> Result<Vec<String>, StepFail> {
        let Some(sr) = &self.engine.registry else {
            return Ok(Vec::new());
        };
        let listed = sr
            .list_subjects(Some(topic))
            .await
            .map_err(|e| err(format!("listing subjects: {e}")))?;
        Ok(subjects
            .iter()
            .filter(|s| listed.contains(s))
            .cloned()
            .collect())
    }
}

/// Where a table's drop starts from, once its evidence is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DropFrom {
    /// The topic is gone already: only its subjects may be left.
    TopicGone,
    /// The topic is the incarnation the app created.
    Ours,
}

fn stopped_or_ended(p: &Phase) -> bool {
    matches!(p, Phase::Stopped | Phase::Completed | Phase::Failed)
}

/// What a resumed statement may be seen as once the resume took effect.
fn resumed(p: &Phase) -> bool {
    matches!(
        p,
        Phase::Running | Phase::Completed | Phase::Degraded | Phase::Failed
    )
}

/// A topic name as a logical statement name: lower-case letters, digits and single dashes.
fn slug(topic: &str) -> String {
    let mut out = String::new();
    for c in topic.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_matches('-').to_string();
    if out.is_empty() {
        "table".into()
    } else {
        out
    }
}

fn err(message: String) -> StepError {
    StepError {
        message,
        detail: None,
        exceptions: Vec::new(),
    }
}

fn flink_err(e: FlinkError) -> StepError {
    err(e.to_string())
}

/// A Flink error on a change of `def`'s statement: a 403 is a permission problem, said as one.
fn change_err(e: FlinkError, verb: &str, def: &Definition) -> StepError {
    match &e {
        FlinkError::Api(ApiError::Status { status: 403, .. }) => {
            let principal = if def.principal.is_empty() {
                "its principal".to_string()
            } else {
                format!("principal {}", def.principal)
            };
            err(format!(
                "not permitted (HTTP 403): the Flink API key may not {verb} statement {}, which \
                 runs as {principal}; the key's principal needs FlinkAdmin, or FlinkDeveloper \
                 and the Assigner role on {principal}",
                def.name
            ))
        }
        _ => flink_err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::{schedule, slug, NotRun};
    use std::cell::Cell;
    use std::collections::BTreeSet;

    /// Runs jobs that succeed unless listed in `fail`, recording the order they start in and the
    /// most that ran at once. The run halts once a job listed in `halt_after` has finished.
    async fn run_halting(
        after: Vec<BTreeSet<usize>>,
        limit: usize,
        fail: &[usize],
        halt_after: &[usize],
    ) -> (Vec<Result<bool, NotRun>>, Vec<usize>, usize) {
        let refs: Vec<&BTreeSet<usize>> = after.iter().collect();
        let (now, most) = (Cell::new(0usize), Cell::new(0usize));
        let started = std::cell::RefCell::new(Vec::new());
        let finished = std::cell::RefCell::new(Vec::new());
        let results = schedule(
            &refs,
            limit,
            |i| {
                started.borrow_mut().push(i);
                now.set(now.get() + 1);
                most.set(most.get().max(now.get()));
                let (now, fails, finished) = (&now, fail.contains(&i), &finished);
                async move {
                    tokio::task::yield_now().await;
                    now.set(now.get() - 1);
                    finished.borrow_mut().push(i);
                    !fails
                }
            },
            |ok: &bool| !ok,
            || finished.borrow().iter().any(|f| halt_after.contains(f)),
            |_, r| r,
        )
        .await;
        (results, started.into_inner(), most.get())
    }

    async fn run(
        after: Vec<BTreeSet<usize>>,
        limit: usize,
        fail: &[usize],
    ) -> (Vec<Result<bool, NotRun>>, Vec<usize>, usize) {
        run_halting(after, limit, fail, &[]).await
    }

    fn deps(list: &[&[usize]]) -> Vec<BTreeSet<usize>> {
        list.iter().map(|d| d.iter().copied().collect()).collect()
    }

    #[tokio::test]
    async fn jobs_start_after_their_dependencies_and_never_beyond_the_limit() {
        // 0 ← 1 ← 2, and 3, 4, 5 independent.
        let (results, started, most) = run(deps(&[&[], &[0], &[1], &[], &[], &[]]), 2, &[]).await;
        assert!(results.iter().all(|r| *r == Ok(true)));
        let pos = |i| started.iter().position(|&s| s == i).unwrap();
        assert!(pos(0) < pos(1) && pos(1) < pos(2));
        assert_eq!(most, 2);
    }

    #[tokio::test]
    async fn a_failure_blocks_what_depends_on_it_transitively_and_nothing_else() {
        // 0 waits for 3, which waits for 2 (listed after it), which fails; 1 is independent.
        let (results, started, _) = run(deps(&[&[3], &[], &[], &[2]]), 8, &[2]).await;
        assert_eq!(results[2], Ok(false));
        assert_eq!(results[3], Err(NotRun::Blocked(2)));
        assert_eq!(results[0], Err(NotRun::Blocked(3)));
        assert_eq!(results[1], Ok(true));
        assert!(!started.contains(&0) && !started.contains(&3));
    }

    #[tokio::test]
    async fn a_job_with_two_dependencies_waits_for_both() {
        // A diamond: 0 ← 1, 0 ← 2, and 3 after 1 and 2; 2 waits for 4 too, the slowest.
        let (results, started, _) = run(deps(&[&[], &[0], &[0, 4], &[1, 2], &[]]), 8, &[]).await;
        assert!(results.iter().all(|r| *r == Ok(true)), "{results:?}");
        let pos = |i| started.iter().position(|&s| s == i).unwrap();
        assert!(
            pos(3) > pos(1) && pos(3) > pos(2) && pos(2) > pos(4),
            "{started:?}"
        );
        assert_eq!(started.len(), 5);
    }

    #[tokio::test]
    async fn a_cycle_is_reported_not_hung_on() {
        let (results, started, _) = run(deps(&[&[1], &[0], &[]]), 8, &[]).await;
        assert_eq!(results[0], Err(NotRun::Stuck));
        assert_eq!(results[1], Err(NotRun::Stuck));
        assert_eq!(results[2], Ok(true));
        assert_eq!(started, vec![2]);
    }

    #[tokio::test]
    async fn once_halted_nothing_more_starts_and_the_rest_is_reported_halted() {
        // A chain 0 ← 1 ← 2 and an independent 3 (limit 1, so 3 waits its turn): halting
        // after 0 leaves 1, 2 and 3 unstarted.
        let (results, started, _) = run_halting(deps(&[&[], &[0], &[1], &[]]), 1, &[], &[0]).await;
        assert_eq!(results[0], Ok(true));
        assert_eq!(started, vec![0]);
        for (i, r) in results.iter().enumerate().skip(1) {
            assert_eq!(*r, Err(NotRun::Halted), "job {i}");
        }
    }

    #[test]
    fn slugs_are_valid_logical_names() {
        assert_eq!(slug("flight_avro"), "flight-avro");
        assert_eq!(slug("My.Topic__x"), "my-topic-x");
        assert_eq!(slug("__"), "table");
        assert!(crate::naming::valid_logical_name(&slug("_a-b_")));
    }
}
