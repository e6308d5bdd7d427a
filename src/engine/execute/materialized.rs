//! Materialized tables through what Confluent Cloud does to them (§G):
//!
//! - a create or an evolution is a statement (`CREATE OR ALTER MATERIALIZED TABLE`) that
//!   completes; the table's own phase and version then say when the query is live: the step
//!   waits until `version` reaches `latest_version` and the table runs;
//! - "currently being modified by statement …" (another change settling) is waited out: the
//!   failed statement is deleted (it holds the name) and the change submitted again;
//! - a create right after the table's drop meets its lingering catalog entry ("table already
//!   exists" while the topic is gone): waited out the same way;
//! - a drop goes through the resource's DELETE (a plain `DROP TABLE` is accepted and drops
//!   nothing durable), retried while it answers 409, then waited until the table is gone.
//!
//! Every wait is within the step's `timeout`, and each retry is in the step's report.

use std::time::Duration;

use flink_sql::TableRef;

use super::budget::Budget;
use super::{err, flink_err, Ctx, StepFail, StepResult};
use crate::confluent::flink::{NewStatement, Phase, WaitOutcome};
use crate::confluent::materialized::{MaterializedTable, MtDelete, MtPhase};
use crate::materialized::evolving_sql;
use crate::ownership;
use crate::plan::{Action, Definition, TableTarget};
use crate::report::{Retry, RetryCause, StepReport};
use crate::tracker::{Ownership, State};

/// The first pause before a change is tried again while the table is busy; it doubles, up to
/// Terraform's 5 s (§G.9).
const FIRST_BUSY_PAUSE: Duration = Duration::from_millis(500);
const MAX_BUSY_PAUSE: Duration = Duration::from_secs(5);
/// How often a table's phase is read while waiting; it doubles up to the second value.
const FIRST_POLL: Duration = Duration::from_millis(200);
const MAX_POLL: Duration = Duration::from_secs(2);

/// The failed statement's detail when the table was busy with another change (§G.6).
pub(super) fn being_modified(done: &WaitOutcome) -> Option<String> {
    failed_with(done, "currently being modified")
}

/// The failed statement's detail when a create met the table's catalog entry (§G.7): lingering
/// after a drop when its topic is gone, someone's table otherwise.
pub(super) fn already_exists(done: &WaitOutcome) -> Option<String> {
    failed_with(done, "already exists")
}

fn failed_with(done: &WaitOutcome, words: &str) -> Option<String> {
    let s = done.last.as_ref()?;
    let detail = s.status.detail.as_deref()?;
    (*s.phase() == Phase::Failed && detail.to_ascii_lowercase().contains(words))
        .then(|| detail.to_string())
}

/// What one read of the table decides while waiting on it.
enum Poll {
    Done,
    Wait(String),
    Fail(String),
}

impl Ctx<'_> {
    /// The Kafka cluster (the REST path's database) and the name of a materialized table.
    fn mt_address(&self, table: &TableRef) -> Result<String, StepFail> {
        self.engine
            .cluster
            .check(table)
            .map_err(|e| StepFail::Refused(format!("not verified: {}", e.0)))
    }

    /// Read the table until `until` is done with it, within `budget`. `Err` inside: why the
    /// wait ended without it (a failure, or the time up).
    async fn poll_materialized(
        &self,
        step: (Action, &str),
        table: &TableRef,
        budget: &Budget,
        until: impl Fn(Option<&MaterializedTable>) -> Poll,
    ) -> Result<Result<Option<MaterializedTable>, String>, StepFail> {
        let cluster = self.mt_address(table)?;
        let mut pause = FIRST_POLL;
        let mut said = String::new();
        loop {
            let mt = self
                .engine
                .flink
                .get_materialized(&cluster, &table.name)
                .await
                .map_err(flink_err)?;
            match until(mt.as_ref()) {
                Poll::Done => return Ok(Ok(mt)),
                Poll::Fail(why) => return Ok(Err(why)),
                Poll::Wait(note) => {
                    if !budget.allows(pause) {
                        return Ok(Err(format!(
                            "still waiting for {note} {:?} later",
                            self.timeout()
                        )));
                    }
                    if note != said {
                        self.say(step.0, step.1, &note);
                        said = note;
                    }
                    self.unless_cancelled(tokio::time::sleep(pause)).await?;
                    pause = (pause * 2).min(MAX_POLL);
                }
            }
        }
    }

    /// Wait until the table runs a version at least `min_version` with no newer one pending:
    /// the change the step made is live.
    pub(super) async fn materialized_live(
        &self,
        step: (Action, &str),
        table: &TableRef,
        min_version: u32,
        budget: &Budget,
    ) -> Result<Result<MaterializedTable, String>, StepFail> {
        let shown = self.names.shown(table).to_string();
        let until = |mt: Option<&MaterializedTable>| match mt {
            None => Poll::Wait(format!("materialized table {shown} to appear")),
            Some(mt) if mt.phase().has_failed() => Poll::Fail(format!(
                "materialized table {shown} is {}: {}",
                mt.phase(),
                mt.status.detail.as_deref().unwrap_or("no detail")
            )),
            Some(mt)
                if mt.version() >= min_version
                    && mt.is_settled()
                    && matches!(mt.phase(), MtPhase::Running | MtPhase::Degraded) =>
            {
                Poll::Done
            }
            Some(mt) => Poll::Wait(format!(
                "version {min_version} of materialized table {shown} to be live (version {}, \
                 latest {}, {})",
                mt.version(),
                mt.status.latest_version.unwrap_or(0),
                mt.phase()
            )),
        };
        Ok(self
            .poll_materialized(step, table, budget, until)
            .await?
            .and_then(|mt| mt.ok_or_else(|| "gone".to_string())))
    }

    /// Evolve the materialized table `def` declares from the version `from` deployed: check the
    /// evidence `from`'s record holds against the live topic, hand it to `def`'s record, submit
    /// `CREATE OR ALTER` (again while the table is busy), wait until the new version is live on
    /// the same topic, then delete `from`'s statement and forget its record.
    pub(super) async fn evolve(
        &self,
        def: &Definition,
        from: &str,
        r: &mut StepReport,
    ) -> StepResult {
        let budget = Budget::new(self.timeout());
        let Some(m) = &def.materialized else {
            return Err(err(format!(
                "internal: {} declares no materialized table",
                def.name
            ))
            .into());
        };
        let key = m.table.to_string();
        let shown = self.names.shown(&m.table).to_string();
        let old = self.current(from).await.ok_or_else(|| {
            StepFail::Refused(format!(
                "the record of {from}, which holds {shown}, is gone"
            ))
        })?;
        let claim = old
            .ownership(&key)
            .filter(|o| o.status == Ownership::Owned)
            .cloned()
            .ok_or_else(|| {
                StepFail::Refused(format!(
                    "{from}'s record holds no evidence that the app created {shown}"
                ))
            })?;
        let live = self.incarnation(&claim.topic).await?;
        let same = live.as_ref().is_some_and(|id| {
            ownership::same_incarnation(claim.topic_id.as_deref(), id.as_deref())
        });
        if !same {
            return Err(StepFail::Refused(format!(
                "not evolved: topic {} is not the incarnation {from} created (id {}, now {})",
                claim.topic,
                claim.topic_id.as_deref().unwrap_or("?"),
                live.flatten().as_deref().unwrap_or("none")
            )));
        }
        let step = (Action::Evolve, def.name.as_str());
        let cluster = self.mt_address(&m.table)?;
        let Some(before) = self
            .engine
            .flink
            .get_materialized(&cluster, &m.table.name)
            .await
            .map_err(flink_err)?
        else {
            return Err(err(format!(
                "{shown} cannot be evolved: the service has no materialized table of that name"
            ))
            .into());
        };
        // A change settling meanwhile (another's) is met as "being modified" and waited out by
        // submitting again; ours is live once a version above every one accepted so far is.
        let base = before
            .version()
            .max(before.status.latest_version.unwrap_or(0));
        // The record keeps the SQL submitted: the statement's own, which its checks compare.
        let own = Definition {
            sql: evolving_sql(&def.sql).unwrap_or_else(|| def.sql.clone()),
            ..def.clone()
        };
        let labels = self.labels_of(def);
        let handed = claim.clone();
        self.record(&own, State::Building, |rec| {
            rec.statement_uid = None;
            rec.labels = labels;
            rec.set_ownership(handed);
        })
        .await?;
        let done = self.submit_change(&own, Action::Evolve, &budget, r).await?;
        if done.last.as_ref().map(|s| s.phase()) != Some(&Phase::Completed) {
            return self.outcome(&own, &done, r).await;
        }
        let live_now = self
            .materialized_live(step, &m.table, base + 1, &budget)
            .await?;
        self.outcome(&own, &done, r).await?;
        let after = live_now
            .map_err(|why| err(format!("the evolution of {shown} did not go live: {why}")))?;
        let still = self.incarnation(&claim.topic).await?;
        if !still
            .as_ref()
            .is_some_and(|id| ownership::same_incarnation(claim.topic_id.as_deref(), id.as_deref()))
        {
            return Err(err(format!(
                "{shown} evolved to version {}, but its topic {} is not the one it wrote before",
                after.version(),
                claim.topic
            ))
            .into());
        }
        r.reason = format!(
            "{}; version {} → {}",
            r.reason,
            before.version(),
            after.version()
        );
        // The evidence is the new record's now: the old version's statement and record go.
        let old_def = crate::engine::records::from_record(&old, &self.names);
        let mut scratch = r.clone();
        self.delete(&old_def, true, &mut scratch).await?;
        self.forget(from).await
    }

    /// Submit `def`'s statement and wait until it settles, submitting it again while the table
    /// is busy with another change (its failed statement, which holds the name, is deleted
    /// first).
    async fn submit_change(
        &self,
        def: &Definition,
        action: Action,
        budget: &Budget,
        r: &mut StepReport,
    ) -> Result<WaitOutcome, StepFail> {
        let mut pause = FIRST_BUSY_PAUSE;
        loop {
            let new = NewStatement {
                name: def.name.clone(),
                sql: def.sql.clone(),
                properties: def.properties.clone(),
                compute_pool_id: Some(def.compute_pool.clone()).filter(|p| !p.is_empty()),
                principal: Some(def.principal.clone()).filter(|p| !p.is_empty()),
                labels: self.labels_of(def),
            };
            let created = self.create_when_free(&new, budget, r).await?;
            let uid = created.metadata.uid.clone();
            let done = self
                .wait_settled((action, &def.name), def, uid.as_deref(), budget)
                .await?;
            let Some(detail) = being_modified(&done) else {
                return Ok(done);
            };
            if !budget.allows(pause) {
                return Ok(done);
            }
            r.retries.push(Retry {
                cause: RetryCause::BeingModified,
                at_ms: budget.at_ms(),
                detail: Some(detail.clone()),
            });
            let note = format!(
                "try {} in {:.1} s: the materialized table is busy ({detail})",
                r.retries.len() + 1,
                pause.as_secs_f64()
            );
            self.say(action, &def.name, &note);
            self.delete_own(def, uid.as_deref(), budget).await?;
            self.unless_cancelled(tokio::time::sleep(pause)).await?;
            pause = (pause * 2).min(MAX_BUSY_PAUSE);
        }
    }

    /// Drop a materialized table through its resource: DELETE (again while it answers 409),
    /// then wait until it is gone. Returns why it is not gone, if it is not (the caller then
    /// deletes the topic directly, as after a DROP that did not complete).
    pub(super) async fn drop_materialized(
        &self,
        t: &TableTarget,
        r: &mut StepReport,
    ) -> Result<Option<String>, StepFail> {
        let budget = Budget::new(self.timeout());
        let cluster = self.mt_address(&t.table)?;
        let mut pause = FIRST_BUSY_PAUSE;
        loop {
            self.before_change()?;
            match self
                .engine
                .flink
                .delete_materialized(&cluster, &t.table.name)
                .await
                .map_err(flink_err)?
            {
                MtDelete::Accepted | MtDelete::Gone => break,
                MtDelete::Busy(why) if budget.allows(pause) => {
                    r.retries.push(Retry {
                        cause: RetryCause::BeingModified,
                        at_ms: budget.at_ms(),
                        detail: Some(why.clone()),
                    });
                    self.say(
                        Action::DropTable,
                        &t.shown,
                        &format!("the table to be free: its DELETE was answered 409 ({why})"),
                    );
                    self.unless_cancelled(tokio::time::sleep(pause)).await?;
                    pause = (pause * 2).min(MAX_BUSY_PAUSE);
                }
                MtDelete::Busy(why) => {
                    return Ok(Some(format!(
                        "its DELETE was still answered 409 after {:?} ({why})",
                        self.timeout()
                    )))
                }
            }
        }
        let shown = t.shown.clone();
        let gone = self
            .poll_materialized(
                (Action::DropTable, &t.shown),
                &t.table,
                &budget,
                |mt| match mt {
                    None => Poll::Done,
                    Some(mt) => Poll::Wait(format!(
                        "materialized table {shown} to be gone ({})",
                        mt.phase()
                    )),
                },
            )
            .await?;
        Ok(gone.err())
    }
}
