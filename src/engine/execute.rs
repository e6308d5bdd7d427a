//! Runs a plan: independent steps concurrently (up to `concurrency`), each after the steps it
//! depends on; a failure blocks only what depends on it. Each step writes its intent to the
//! tracker, acts, waits for the result, and writes the outcome.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};

use super::{Engine, HIDDEN_LABEL, MANAGED_LABEL};
use crate::confluent::flink::{FlinkError, NewStatement, Phase, Statement};
use crate::naming::{deployed_name, StatementIdentity};
use crate::plan::{Action, Definition, Plan, Stage, Step, TableTarget, Target};
use crate::report::{Kind, Removed, Status, StepError, StepReport};
use crate::tracker::{Record, State};

/// The plan as a report: every step `planned` (or unchanged), nothing done.
pub fn planned(p: &Plan) -> Vec<StepReport> {
    p.steps
        .iter()
        .map(|s| {
            let status = match s.action {
                Action::Unchanged | Action::Skip => Status::Unchanged,
                _ => Status::Planned,
            };
            base_report(s, status)
        })
        .collect()
}

fn base_report(s: &Step, status: Status) -> StepReport {
    let (kind, logical) = match &s.target {
        Target::Statement { def, .. } => (Kind::Statement, Some(def.logical.clone())),
        Target::Table(_) => (Kind::Table, None),
    };
    StepReport {
        stage: match s.stage {
            Stage::Teardown => "teardown".into(),
            Stage::Buildup => "buildup".into(),
        },
        action: action_name(s.action).into(),
        kind,
        name: s.target.label(),
        logical_name: logical.filter(|l| *l != s.target.label()),
        status,
        reason: s.reason.clone(),
        phase_before: s.phase_before.clone(),
        phase_after: s.phase_before.clone(),
        duration_ms: 0,
        removed: Removed::default(),
        error: None,
    }
}

pub fn action_name(a: Action) -> &'static str {
    match a {
        Action::Delete => "delete",
        Action::Stop => "stop",
        Action::Prune => "prune",
        Action::DropTable => "drop_table",
        Action::Create => "create",
        Action::Resume => "resume",
        Action::Unchanged => "unchanged",
        Action::Skip => "skip",
    }
}

/// Run every step of `p`; the reports come back in plan order.
pub async fn execute(
    engine: &Engine,
    p: &Plan,
    records: &BTreeMap<String, Record>,
    progress: &(dyn Fn(&StepReport) + Sync),
) -> Vec<StepReport> {
    let ctx = Ctx::new(engine, p, records);
    let after: Vec<&BTreeSet<usize>> = p.steps.iter().map(|s| &s.after).collect();
    schedule(
        &after,
        engine.concurrency.max(1),
        |i| ctx.run(&p.steps[i]),
        |r: &StepReport| r.status == Status::Failed,
        |i, result| {
            let report = match result {
                Ok(r) => r,
                Err(NotRun::Blocked(f)) => blocked(
                    &p.steps[i],
                    format!("not started: {} failed", p.steps[f].target.label()),
                ),
                Err(NotRun::Stuck) => blocked(
                    &p.steps[i],
                    "not started: its dependencies never finished".into(),
                ),
            };
            progress(&report);
            report
        },
    )
    .await
}

fn blocked(s: &Step, message: String) -> StepReport {
    let mut r = base_report(s, Status::Blocked);
    r.error = Some(StepError {
        message,
        detail: None,
        exceptions: Vec::new(),
    });
    r
}

/// Why a job was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NotRun {
    /// A job it depends on (directly or not) failed: this one.
    Blocked(usize),
    /// Its dependencies can never finish (a cycle; the planner makes none).
    Stuck,
}

/// Runs jobs `0..after.len()`, job `i` once every job in `after[i]` has succeeded, at most
/// `limit` at once. A job whose dependency failed or was blocked is not run. `finish` sees each
/// job's result as it comes and turns it into the value returned, in job order.
pub(crate) async fn schedule<T, R, Fut>(
    after: &[&BTreeSet<usize>],
    limit: usize,
    start: impl Fn(usize) -> Fut,
    failed: impl Fn(&T) -> bool,
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
    // One task polls every running job, so jobs can borrow from the caller.
    let mut running = FuturesUnordered::new();
    loop {
        // Block what depends on a failure, transitively: a job may be listed before what it
        // waits for, so repeat until nothing changes.
        let mut blocked_more = true;
        while blocked_more {
            blocked_more = false;
            for i in 0..n {
                if state[i] != State::Waiting {
                    continue;
                }
                if let Some(&f) = after[i].iter().find(|&&a| state[a] == State::Failed) {
                    state[i] = State::Failed;
                    out[i] = Some(finish(i, Err(NotRun::Blocked(f))));
                    blocked_more = true;
                }
            }
        }
        for i in 0..n {
            if state[i] == State::Waiting
                && running.len() < limit
                && after[i].iter().all(|&a| state[a] == State::Ok)
            {
                state[i] = State::Running;
                let job = start(i);
                running.push(async move { (i, job.await) });
            }
        }
        let Some((i, result)) = running.next().await else {
            break;
        };
        state[i] = if failed(&result) {
            State::Failed
        } else {
            State::Ok
        };
        out[i] = Some(finish(i, Ok(result)));
    }
    for i in 0..n {
        if state[i] == State::Waiting {
            out[i] = Some(finish(i, Err(NotRun::Stuck)));
        }
    }
    out.into_iter().flatten().collect()
}

struct Ctx<'a> {
    engine: &'a Engine,
    records: &'a BTreeMap<String, Record>,
    /// Statements that a create of the same logical name under another name replaces: their
    /// records are removed once they are deleted.
    superseded: BTreeSet<String>,
}

impl<'a> Ctx<'a> {
    fn new(engine: &'a Engine, p: &Plan, records: &'a BTreeMap<String, Record>) -> Ctx<'a> {
        let created: BTreeMap<&str, &str> = p
            .steps
            .iter()
            .filter(|s| s.action == Action::Create)
            .filter_map(|s| match &s.target {
                Target::Statement { def, .. } => Some((def.logical.as_str(), def.name.as_str())),
                _ => None,
            })
            .collect();
        let superseded = p
            .steps
            .iter()
            .filter_map(|s| match (&s.action, &s.target) {
                (Action::Delete, Target::Statement { def, .. })
                    if created
                        .get(def.logical.as_str())
                        .is_some_and(|n| *n != def.name) =>
                {
                    Some(def.name.clone())
                }
                _ => None,
            })
            .collect();
        Ctx {
            engine,
            records,
            superseded,
        }
    }

    async fn run(&self, s: &Step) -> StepReport {
        let start = Instant::now();
        let mut r = base_report(s, Status::Done);
        let result = match (&s.action, &s.target) {
            (Action::Unchanged | Action::Skip, _) => {
                r.status = Status::Unchanged;
                Ok(())
            }
            (Action::Delete | Action::Prune, Target::Statement { def, .. }) => {
                self.delete(def, s.action, &mut r).await
            }
            (Action::Stop, Target::Statement { def, .. }) => self.stop(def, &mut r).await,
            (
                Action::Create,
                Target::Statement {
                    def,
                    carry_over_from,
                },
            ) => self.create(def, carry_over_from.as_deref(), &mut r).await,
            (Action::Resume, Target::Statement { def, .. }) => self.resume(def, &mut r).await,
            (Action::DropTable, Target::Table(t)) => self.drop_table(t, &mut r).await,
            (a, t) => Err(StepError {
                message: format!("internal: {a:?} does not apply to {}", t.label()),
                detail: None,
                exceptions: Vec::new(),
            }),
        };
        if let Err(e) = result {
            r.status = Status::Failed;
            r.error = Some(e);
        }
        r.duration_ms = start.elapsed().as_millis() as u64;
        tracing::info!(
            step = %r.name, action = %r.action, status = ?r.status,
            phase_after = r.phase_after.as_deref().unwrap_or("-"),
            ms = r.duration_ms, "step finished"
        );
        r
    }

    fn timeout(&self) -> Duration {
        self.engine.timeout
    }

    /// The record of one of our hidden DROP TABLE statements.
    async fn record_with_labels(
        &self,
        def: &Definition,
        state: State,
        labels: &BTreeMap<String, String>,
    ) -> Result<(), StepError> {
        let mut rec = self.record_of(def, state, None, None);
        rec.labels = labels.clone();
        self.put(&rec, &def.name).await
    }

    /// Write a record for `def` in `state` (intent or outcome).
    async fn record(
        &self,
        def: &Definition,
        state: State,
        phase: Option<String>,
        detail: Option<String>,
    ) -> Result<(), StepError> {
        let rec = self.record_of(def, state, phase, detail);
        self.put(&rec, &def.name).await
    }

    async fn put(&self, rec: &Record, name: &str) -> Result<(), StepError> {
        self.engine
            .tracker
            .put(rec)
            .await
            .map(|_| ())
            .map_err(|e| err(format!("writing the tracker record of {name} failed: {e}")))
    }

    fn record_of(
        &self,
        def: &Definition,
        state: State,
        phase: Option<String>,
        detail: Option<String>,
    ) -> Record {
        let mut rec = self.engine.record_base(self.records, &def.name, &def.sql);
        rec.logical_name = (def.logical != def.name).then(|| def.logical.clone());
        rec.sql = def.sql.clone();
        rec.properties = def.properties.clone();
        rec.compute_pool_id = Some(def.compute_pool.clone()).filter(|p| !p.is_empty());
        rec.principal = Some(def.principal.clone()).filter(|p| !p.is_empty());
        rec.tables = super::snapshot::tables_of(def);
        rec.definition_hash = def.name.rsplit('-').next().map(str::to_string);
        rec.state = state;
        if phase.is_some() {
            rec.last_phase = phase;
        }
        rec.detail = detail;
        rec
    }

    async fn forget(&self, name: &str) -> Result<(), StepError> {
        self.engine
            .tracker
            .delete(&self.engine.environment_id, name)
            .await
            .map(|_| ())
            .map_err(|e| err(format!("removing the tracker record of {name} failed: {e}")))
    }

    async fn delete(
        &self,
        def: &Definition,
        action: Action,
        r: &mut StepReport,
    ) -> Result<(), StepError> {
        self.record(def, State::TearingDown, None, None).await?;
        self.engine
            .flink
            .delete(&def.name)
            .await
            .map_err(flink_err)?;
        let gone = self
            .engine
            .flink
            .wait_gone(&def.name, self.timeout())
            .await
            .map_err(flink_err)?;
        if !gone.satisfied {
            r.phase_after = gone.last.as_ref().map(|s| s.phase().to_string());
            return Err(err(format!(
                "{} was still there {:?} after its deletion",
                def.name,
                self.timeout()
            )));
        }
        r.phase_after = None;
        let hidden = self
            .records
            .get(&def.name)
            .is_some_and(|r| r.labels.get(HIDDEN_LABEL).map(String::as_str) == Some("true"));
        if action == Action::Prune || hidden || self.superseded.contains(&def.name) {
            self.forget(&def.name).await
        } else {
            self.record(def, State::TornDown, None, None).await
        }
    }

    async fn stop(&self, def: &Definition, r: &mut StepReport) -> Result<(), StepError> {
        self.record(def, State::TearingDown, None, None).await?;
        match self.engine.flink.stop(&def.name).await {
            Ok(_) => {}
            Err(FlinkError::NotFound { .. }) => {
                r.phase_after = None;
                return self.record(def, State::TornDown, None, None).await;
            }
            Err(e) => return Err(flink_err(e)),
        }
        let done = self
            .engine
            .flink
            .wait_until(&def.name, |s| stopped_or_ended(s.phase()), self.timeout())
            .await
            .map_err(flink_err)?;
        let phase = done.last.as_ref().map(|s| s.phase().to_string());
        r.phase_after = phase.clone();
        if !done.satisfied && done.last.is_some() {
            return Err(err(format!(
                "{} did not stop within {:?}",
                def.name,
                self.timeout()
            )));
        }
        self.record(def, State::Stopped, phase, None).await
    }

    async fn resume(&self, def: &Definition, r: &mut StepReport) -> Result<(), StepError> {
        self.record(def, State::Building, None, None).await?;
        self.engine
            .flink
            .resume(&def.name, None, None)
            .await
            .map_err(flink_err)?;
        self.settle(def, r).await
    }

    async fn create(
        &self,
        def: &Definition,
        carry_over_from: Option<&str>,
        r: &mut StepReport,
    ) -> Result<(), StepError> {
        self.record(def, State::Building, None, None).await?;
        let mut properties = def.properties.clone();
        if let Some(from) = carry_over_from {
            properties.insert("sql.tables.initial-offset-from".into(), from.into());
        }
        let new = NewStatement {
            name: def.name.clone(),
            sql: def.sql.clone(),
            properties,
            compute_pool_id: Some(def.compute_pool.clone()).filter(|p| !p.is_empty()),
            principal: Some(def.principal.clone()).filter(|p| !p.is_empty()),
            labels: [(MANAGED_LABEL.to_string(), "true".to_string())].into(),
        };
        self.create_when_free(&new).await?;
        if let Some(from) = carry_over_from {
            // The replacement waits in PENDING until the old statement is stopped.
            if let Some(old) = self.records.get(from) {
                let old_def = super::snapshot::from_record(old);
                let mut scratch = r.clone();
                self.stop(&old_def, &mut scratch).await?;
            }
        }
        self.settle(def, r).await
    }

    /// Create, waiting out an earlier statement of the same name that is still being deleted.
    async fn create_when_free(&self, new: &NewStatement) -> Result<Statement, StepError> {
        match self.engine.flink.create(new).await {
            Err(FlinkError::BeingDeleted { .. }) => {
                self.engine
                    .flink
                    .wait_gone(&new.name, self.timeout())
                    .await
                    .map_err(flink_err)?;
                self.engine.flink.create(new).await.map_err(flink_err)
            }
            other => other.map_err(flink_err),
        }
    }

    /// Wait until the statement runs (or completes); record the outcome, with the failure's
    /// detail and exceptions when it fails.
    async fn settle(&self, def: &Definition, r: &mut StepReport) -> Result<(), StepError> {
        let done = self
            .engine
            .flink
            .wait_until(&def.name, |s| settled(s.phase()), self.timeout())
            .await
            .map_err(flink_err)?;
        let phase = done.last.as_ref().map(|s| s.phase().clone());
        r.phase_after = phase.as_ref().map(ToString::to_string);
        match phase {
            Some(Phase::Running) | Some(Phase::Completed) => {
                self.record(def, State::Deployed, r.phase_after.clone(), None)
                    .await
            }
            _ => {
                let detail = done
                    .last
                    .as_ref()
                    .and_then(|s| s.status.detail.clone())
                    .filter(|d| !d.is_empty());
                let exceptions = self
                    .engine
                    .flink
                    .exceptions(&def.name)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|e| {
                        format!(
                            "{}: {}",
                            e.name.unwrap_or_default(),
                            e.message.unwrap_or_default()
                        )
                    })
                    .collect();
                let message = match (&r.phase_after, done.satisfied) {
                    (Some(p), true) => format!("{} is {p}", def.name),
                    (Some(p), false) => format!(
                        "{} did not settle within {:?} (still {p})",
                        def.name,
                        self.timeout()
                    ),
                    (None, _) => format!("{} disappeared while starting", def.name),
                };
                self.record(def, State::Failed, r.phase_after.clone(), detail.clone())
                    .await?;
                Err(StepError {
                    message,
                    detail,
                    exceptions,
                })
            }
        }
    }

    /// `DROP TABLE IF EXISTS` as a hidden statement, wait, delete that statement, then verify the
    /// topic and both subjects are gone — deleting them directly if they are not.
    async fn drop_table(&self, t: &TableTarget, r: &mut StepReport) -> Result<(), StepError> {
        let subjects = [format!("{}-key", t.topic), format!("{}-value", t.topic)];
        let existed_topic = self
            .engine
            .kafka
            .topic_exists(&t.topic)
            .await
            .map_err(|e| err(e.to_string()))?;
        let existed_subjects = self.existing_subjects(&t.topic, &subjects).await?;

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
            (MANAGED_LABEL.to_string(), "true".to_string()),
            (HIDDEN_LABEL.to_string(), "true".to_string()),
        ]
        .into();
        // The DROP statement is tracked like any other, so a run killed while it exists leaves
        // a record, and the next run deletes it (buildup never recreates a hidden record).
        let drop_def = Definition {
            logical: logical.clone(),
            name: name.clone(),
            sql: sql.clone(),
            properties: t.properties.clone(),
            compute_pool: pool.clone(),
            principal: principal.clone(),
            creates: Vec::new(),
            writes: Vec::new(),
            reads: Vec::new(),
            depends_on: Vec::new(),
            is_table_ddl: false,
        };
        self.record_with_labels(&drop_def, State::TearingDown, &labels)
            .await?;
        let new = NewStatement {
            name: name.clone(),
            sql,
            properties: t.properties.clone(),
            compute_pool_id: Some(pool).filter(|p| !p.is_empty()),
            principal: Some(principal).filter(|p| !p.is_empty()),
            labels,
        };
        self.create_when_free(&new).await?;
        let done = self
            .engine
            .flink
            .wait_until(&name, |s| settled(s.phase()), self.timeout())
            .await
            .map_err(flink_err)?;
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
        self.engine.flink.delete(&name).await.map_err(flink_err)?;
        self.engine
            .flink
            .wait_gone(&name, self.timeout())
            .await
            .map_err(flink_err)?;
        self.forget(&name).await?;

        let topic_gone = match drop_detail {
            None => self
                .engine
                .kafka
                .wait_topic_gone(&t.topic, self.timeout())
                .await
                .is_ok(),
            Some(_) => !self
                .engine
                .kafka
                .topic_exists(&t.topic)
                .await
                .map_err(|e| err(e.to_string()))?,
        };
        let left_subjects = self.existing_subjects(&t.topic, &subjects).await?;
        if !topic_gone || !left_subjects.is_empty() {
            r.removed.deleted_directly = true;
            if !topic_gone {
                self.engine
                    .kafka
                    .delete_topic(&t.topic)
                    .await
                    .map_err(|e| err(e.to_string()))?;
                self.engine
                    .kafka
                    .wait_topic_gone(&t.topic, self.timeout())
                    .await
                    .map_err(|e| err(e.to_string()))?;
            }
            if let Some(sr) = &self.engine.registry {
                for s in &left_subjects {
                    sr.delete_subject(s)
                        .await
                        .map_err(|e| err(format!("deleting subject {s}: {e}")))?;
                }
            }
            tracing::warn!(table = %t.table, reason = drop_detail.as_deref().unwrap_or("not gone in time"), "deleted the table's topic and subjects directly");
        }
        r.removed.topic = existed_topic.then(|| t.topic.clone());
        r.removed.subjects = existed_subjects;
        r.phase_after = None;
        Ok(())
    }

    async fn existing_subjects(
        &self,
        topic: &str,
        subjects: &[String],
    ) -> Result<Vec<String>, StepError> {
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

fn settled(p: &Phase) -> bool {
    matches!(
        p,
        Phase::Running | Phase::Completed | Phase::Failed | Phase::Stopped | Phase::Degraded
    )
}

fn stopped_or_ended(p: &Phase) -> bool {
    matches!(p, Phase::Stopped | Phase::Completed | Phase::Failed)
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

#[cfg(test)]
mod tests {
    use super::{schedule, slug, NotRun};
    use std::cell::Cell;
    use std::collections::BTreeSet;

    /// Runs jobs that succeed unless listed in `fail`, recording the order they start in and the
    /// most that ran at once.
    async fn run(
        after: Vec<BTreeSet<usize>>,
        limit: usize,
        fail: &[usize],
    ) -> (Vec<Result<bool, NotRun>>, Vec<usize>, usize) {
        let refs: Vec<&BTreeSet<usize>> = after.iter().collect();
        let (now, most) = (Cell::new(0usize), Cell::new(0usize));
        let started = std::cell::RefCell::new(Vec::new());
        let results = schedule(
            &refs,
            limit,
            |i| {
                started.borrow_mut().push(i);
                now.set(now.get() + 1);
                most.set(most.get().max(now.get()));
                let (now, fails) = (&now, fail.contains(&i));
                async move {
                    tokio::task::yield_now().await;
                    now.set(now.get() - 1);
                    !fails
                }
            },
            |ok: &bool| !ok,
            |_, r| r,
        )
        .await;
        (results, started.into_inner(), most.get())
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
    async fn a_cycle_is_reported_not_hung_on() {
        let (results, started, _) = run(deps(&[&[1], &[0], &[]]), 8, &[]).await;
        assert_eq!(results[0], Err(NotRun::Stuck));
        assert_eq!(results[1], Err(NotRun::Stuck));
        assert_eq!(results[2], Ok(true));
        assert_eq!(started, vec![2]);
    }

    #[test]
    fn slugs_are_valid_logical_names() {
        assert_eq!(slug("flight_avro"), "flight-avro");
        assert_eq!(slug("My.Topic__x"), "my-topic-x");
        assert_eq!(slug("__"), "table");
        assert!(crate::naming::valid_logical_name(&slug("_a-b_")));
    }
}
