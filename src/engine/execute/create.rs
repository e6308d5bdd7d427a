//! Creating a statement until it runs, through what Confluent Cloud does to a create (the
//! reference, §F):
//!
//! - a name still held by a statement deleted moments ago (409 that no GET explains) is tried
//!   again with backoff; one being deleted is waited out;
//! - a table created right after its drop fails "… try again later": the run deletes its own
//!   FAILED statement (verified by uid and SQL: the name stays taken by it otherwise) and
//!   creates it again, with backoff;
//! - a statement waiting for room in a full compute pool says so while it waits, and when the
//!   step gives up it is deleted (so it does not start later unseen) and the error names the
//!   pool;
//! - what never clears by waiting (subjects that don't match, a table that exists) fails at
//!   once, saying what to do;
//! - a carry-over replacement stops the old statement only once it is accepted and waiting for
//!   it: a replacement that fails first leaves the old one running.
//!
//! Every try happens within the step's `timeout`, and each one is in the step's report.

use std::collections::BTreeMap;

use flink_sql::TableRef;
use std::sync::Mutex;
use std::time::Duration;

use super::budget::Budget;
use super::{err, flink_err, Ctx, Identity, StepFail, StepResult};
use crate::confluent::flink::{NewStatement, Phase, Statement, WaitOutcome};
use crate::confluent::watch::Change;
use crate::engine::snapshot::table_subjects;
use crate::ownership::{self, OWNER_LABEL};
use crate::plan::{Action, Definition};
use crate::report::{Retry, RetryCause, StepError, StepEvent, StepReport};
use crate::tracker::{Ownership, State, TableOwnership};

/// The first pause before a create is tried again after its table's recent drop; it doubles.
const FIRST_RECREATE_PAUSE: Duration = Duration::from_millis(500);
const MAX_RECREATE_PAUSE: Duration = Duration::from_secs(15);
/// The first pause before a create is tried again while its name is held; it doubles.
const FIRST_NAME_PAUSE: Duration = Duration::from_millis(200);
const MAX_NAME_PAUSE: Duration = Duration::from_secs(5);

/// The detail of a create the service asks to be tried again: the table was dropped moments
/// ago and is still in its catalog (§F.5).
fn asks_to_retry(done: &WaitOutcome) -> Option<String> {
    let s = done.last.as_ref()?;
    let detail = s.status.detail.as_deref()?;
    (*s.phase() == Phase::Failed && detail.to_ascii_lowercase().contains("try again later"))
        .then(|| detail.to_string())
}

/// What to do about a failure that never clears by waiting (§F.6, §F.7), from its detail.
fn never_clears(detail: &str) -> Option<&'static str> {
    let d = detail.to_ascii_lowercase();
    if d.contains("schema registry subject")
        && (d.contains("doesn't match") || d.contains("does not match"))
    {
        Some(
            "a Schema Registry subject of a table it creates is left over with another schema; \
             waiting does not clear it: delete the subject if nobody uses it, or give the table \
             another name",
        )
    } else if d.contains("already exists") {
        Some(
            "a table it creates already exists; waiting does not clear it: drop the table if it \
             is the app's, or use CREATE TABLE IF NOT EXISTS or another name",
        )
    } else {
        None
    }
}

/// A carry-over replacement the service accepted, waiting in PENDING for the statement whose
/// offsets it takes (`… pending until referenced statement … is stopped`, §A.11).
fn awaits_carry_over(s: &Statement) -> bool {
    *s.phase() == Phase::Pending
        && s.status.detail.as_deref().is_some_and(|d| {
            d.to_ascii_lowercase()
                .contains("until referenced statement")
        })
}

impl Ctx<'_> {
    /// The labels a statement of the app carries: the definition's, and the ownership label.
    pub(super) fn labels_of(&self, def: &Definition) -> BTreeMap<String, String> {
        let mut labels = def.labels.clone();
        labels.insert(OWNER_LABEL.to_string(), self.engine.app.clone());
        labels
    }

    /// Tell the display what the step `(action, name)` waits on now.
    pub(super) fn say(&self, action: Action, name: &str, note: &str) {
        (self.progress)(StepEvent::Waiting { action, name, note });
    }

    pub(super) async fn create(
        &self,
        def: &Definition,
        carry_over_from: Option<&str>,
        r: &mut StepReport,
    ) -> StepResult {
        let budget = Budget::new(self.timeout());
        let mut pause = FIRST_RECREATE_PAUSE;
        loop {
            // The evidence is gathered before each submission: a table whose topic is there
            // already is not the statement's to own, whatever the statement reports.
            let claims = self.precheck(def).await?;
            if let Some(found) = def.materialized.as_ref().and_then(|m| {
                let key = m.table.to_string();
                claims
                    .iter()
                    .find(|c| c.table == key && c.status == Ownership::Found)
            }) {
                // CREATE OR ALTER would evolve it; a plain create would fail on it.
                return Err(StepFail::Refused(format!(
                    "not created: materialized table {} exists and is not the app's ({})",
                    self.names.shown(
                        &TableRef::parse(&found.table)
                            .unwrap_or_else(|_| TableRef::new(&found.topic))
                    ),
                    found.detail.as_deref().unwrap_or("found")
                )));
            }
            let labels = self.labels_of(def);
            self.record(def, State::Building, |rec| {
                rec.statement_uid = None;
                rec.labels = labels;
                claims.into_iter().for_each(|c| rec.set_ownership(c));
            })
            .await?;
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
                labels: self.labels_of(def),
            };
            let created = self.create_when_free(&new, &budget, r).await?;
            let uid = created.metadata.uid.clone();
            if let Some(from) = carry_over_from {
                self.hand_over(def, uid.as_deref(), from, &budget, r)
                    .await?;
            }
            let done = self
                .wait_settled((Action::Create, &def.name), def, uid.as_deref(), &budget)
                .await?;
            let retry = match asks_to_retry(&done) {
                Some(detail) => Some((RetryCause::RecreateWindow, detail)),
                None => self.catalog_lingers(def, &done).await?,
            };
            if let Some((cause, detail)) = retry {
                if budget.allows(pause) {
                    r.retries.push(Retry {
                        cause,
                        at_ms: budget.at_ms(),
                        detail: Some(detail.clone()),
                    });
                    let note = format!(
                        "try {} in {:.1} s: its table was dropped moments ago ({detail})",
                        r.retries.len() + 1,
                        pause.as_secs_f64()
                    );
                    self.say(Action::Create, &def.name, &note);
                    // Its FAILED statement keeps the name (§F.4): it goes first.
                    self.delete_own(def, uid.as_deref(), &budget).await?;
                    self.unless_cancelled(tokio::time::sleep(pause)).await?;
                    pause = (pause * 2).min(MAX_RECREATE_PAUSE);
                    continue;
                }
            }
            let Some(m) = def
                .materialized
                .as_ref()
                .filter(|_| done.last.as_ref().map(|s| s.phase()) == Some(&Phase::Completed))
            else {
                return self.outcome(def, &done, r).await;
            };
            // Its statement completes once the table is accepted; the table's topic (which the
            // evidence is settled by) and query come with its first version.
            let live = self
                .materialized_live((Action::Create, &def.name), &m.table, 1, &budget)
                .await?;
            self.outcome(def, &done, r).await?;
            return live.map(|_| ()).map_err(|why| err(why).into());
        }
    }

    /// A materialized table's create that met the catalog entry of the table it dropped moments
    /// ago ("table already exists" while its topic is gone, §G.7): tried again. One whose
    /// topic is there exists for real: not tried again.
    async fn catalog_lingers(
        &self,
        def: &Definition,
        done: &WaitOutcome,
    ) -> Result<Option<(RetryCause, String)>, StepFail> {
        let (Some(m), Some(detail)) =
            (&def.materialized, super::materialized::already_exists(done))
        else {
            return Ok(None);
        };
        Ok(self
            .incarnation(&m.table.name)
            .await?
            .is_none()
            .then_some((RetryCause::CatalogLingers, detail)))
    }

    /// The evidence for each table `def` creates, read before its CREATE is submitted: a table
    /// in a cluster the run cannot check is `unverified`; one whose topic exists is `found`
    /// (unless it is the very incarnation this record already owns); otherwise `pending` —
    /// once its subjects are out of the way ([`Ctx::clear_subjects`]).
    async fn precheck(&self, def: &Definition) -> Result<Vec<TableOwnership>, StepFail> {
        if def.creates.is_empty() {
            return Ok(Vec::new());
        }
        let existing = self.current(&def.name).await;
        let topics = self
            .engine
            .kafka
            .list_topics()
            .await
            .map_err(|e| err(e.to_string()))?;
        let mut out = Vec::new();
        for t in &def.creates {
            let key = t.to_string();
            let cluster = match self.engine.cluster.check(t) {
                Ok(c) => c,
                Err(e) => {
                    out.push(
                        TableOwnership::new(&key, &t.name, Ownership::Unverified).with_detail(e.0),
                    );
                    continue;
                }
            };
            let mut o = if topics.contains_key(&t.name) {
                let live_id = self
                    .topic_ids(std::slice::from_ref(&t.name))
                    .await?
                    .remove(&t.name)
                    .flatten();
                let kept = existing
                    .as_ref()
                    .and_then(|r| r.ownership(&key))
                    .filter(|o| o.status == Ownership::Owned)
                    .filter(|o| {
                        ownership::same_incarnation(o.topic_id.as_deref(), live_id.as_deref())
                    });
                if let Some(kept) = kept {
                    out.push(kept.clone());
                    continue;
                }
                let mut o =
                    TableOwnership::new(&key, &t.name, Ownership::Found).with_detail(format!(
                        "its topic existed before {}'s CREATE: not the app's",
                        def.name
                    ));
                o.topic_id = live_id;
                o
            } else {
                self.clear_subjects(&t.name).await?;
                TableOwnership::new(&key, &t.name, Ownership::Pending)
            };
            o.cluster_id = Some(cluster);
            out.push(o);
        }
        Ok(out)
    }

    /// Before a table is created, its `-key`/`-value` subjects must not be there: a table over
    /// left-over subjects fails, and never by waiting (§F.6). The app's own — a drop of a
    /// table it holds evidence for that was cut short — are deleted; anyone else's stop the
    /// create, saying what to do.
    async fn clear_subjects(&self, topic: &str) -> StepResult {
        let Some(sr) = &self.engine.registry else {
            return Ok(());
        };
        let listed = sr
            .list_subjects(Some(topic))
            .await
            .map_err(|e| err(format!("listing subjects: {e}")))?;
        let left: Vec<String> = table_subjects(topic)
            .into_iter()
            .filter(|s| listed.contains(s))
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        if !self.holds_topic(topic).await {
            let found: Vec<&str> = left.iter().map(String::as_str).collect();
            return Err(err(crate::plan::subjects_message(&found)).into());
        }
        for s in &left {
            self.before_change()?;
            sr.delete_subject(s)
                .await
                .map_err(|e| err(format!("deleting the app's left-over subject {s}: {e}")))?;
        }
        tracing::info!(%topic, subjects = ?left, "deleted the app's left-over subjects before the create");
        Ok(())
    }

    /// Whether a record of the app holds evidence for the table whose topic is `topic`.
    async fn holds_topic(&self, topic: &str) -> bool {
        let names = self
            .holders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .of_topic(topic);
        for name in names {
            if let Some(rec) = self.current(&name).await {
                if rec
                    .tables
                    .ownership
                    .iter()
                    .any(|o| o.topic == topic && o.status.is_held())
                {
                    return true;
                }
            }
        }
        false
    }

    /// Create, waiting out an earlier statement of the same name that is still being deleted,
    /// and trying again with backoff while the name is still held by one gone moments ago.
    pub(super) async fn create_when_free(
        &self,
        new: &NewStatement,
        budget: &Budget,
        r: &mut StepReport,
    ) -> Result<Statement, StepFail> {
        let mut pause = FIRST_NAME_PAUSE;
        loop {
            self.before_change()?;
            match self.engine.flink.create(new).await {
                Ok(s) => return Ok(s),
                Err(crate::confluent::FlinkError::BeingDeleted { .. }) => {
                    let gone = self
                        .wait(
                            &new.name,
                            self.engine.watch.wait_gone(&new.name, budget.left()),
                        )
                        .await?;
                    if !gone.satisfied {
                        return Err(err(format!(
                            "{}: the statement of that name was still being deleted {:?} later",
                            new.name,
                            self.timeout()
                        ))
                        .into());
                    }
                }
                Err(crate::confluent::FlinkError::NameHeld { .. }) if budget.allows(pause) => {
                    r.retries.push(Retry {
                        cause: RetryCause::NameHeld,
                        at_ms: budget.at_ms(),
                        detail: None,
                    });
                    self.unless_cancelled(tokio::time::sleep(pause)).await?;
                    pause = (pause * 2).min(MAX_NAME_PAUSE);
                }
                Err(e) => return Err(flink_err(e).into()),
            }
        }
    }

    /// The carry-over hand-off (§A.11, §F.18): the old statement is stopped (not deleted) only
    /// once the new one is accepted and waiting for it. A new one that fails (or settles)
    /// before that leaves the old one running; the outcome says what happened.
    async fn hand_over(
        &self,
        def: &Definition,
        uid: Option<&str>,
        from: &str,
        budget: &Budget,
        r: &StepReport,
    ) -> StepResult {
        let seen = self
            .wait(
                &def.name,
                self.engine.watch.wait_until_of(
                    &def.name,
                    uid,
                    Change::HandedOver,
                    |s| awaits_carry_over(s) || s.phase().is_settled(),
                    budget.left(),
                ),
            )
            .await?;
        if !seen.last.as_ref().is_some_and(awaits_carry_over) {
            tracing::info!(statement = %def.name, old = from, "the replacement is not waiting for the old statement: the old one keeps running");
            return Ok(());
        }
        if let Some(old) = self.current(from).await {
            let old_def = crate::engine::records::from_record(&old, &self.names);
            let mut scratch = r.clone();
            self.stop(&old_def, true, &mut scratch).await?;
        }
        Ok(())
    }

    /// Wait until the statement settles (RUNNING, COMPLETED, FAILED, …), saying so while a full
    /// compute pool keeps it PENDING.
    pub(super) async fn wait_settled(
        &self,
        step: (Action, &str),
        def: &Definition,
        uid: Option<&str>,
        budget: &Budget,
    ) -> Result<WaitOutcome, StepFail> {
        let said: Mutex<Option<String>> = Mutex::new(None);
        let pool = || {
            Some(def.compute_pool.as_str())
                .filter(|p| !p.is_empty())
                .unwrap_or("its compute pool")
                .to_string()
        };
        let predicate = |s: &Statement| {
            let note = s.waits_for_pool().then(|| {
                format!(
                    "the statement to be running; compute pool {} has no room for it \
                     (scaling state POOL_EXHAUSTED)",
                    s.spec.compute_pool_id.clone().unwrap_or_else(pool)
                )
            });
            let mut last = said.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(note) = note.filter(|n| last.as_ref() != Some(n)) {
                self.say(step.0, step.1, &note);
                *last = Some(note);
            }
            s.phase().is_settled()
        };
        // A table's DDL completes at once; a job takes as long as its start.
        let change = if def.is_table_ddl {
            Change::Completed
        } else {
            Change::Started
        };
        self.wait(
            &def.name,
            self.engine
                .watch
                .wait_until_of(&def.name, uid, change, predicate, budget.left()),
        )
        .await
    }

    /// Delete the step's own statement (the one with `uid` and the definition's SQL) and wait
    /// until it is gone.
    pub(super) async fn delete_own(
        &self,
        def: &Definition,
        uid: Option<&str>,
        budget: &Budget,
    ) -> StepResult {
        let Some(s) = self.engine.flink.get(&def.name).await.map_err(flink_err)? else {
            return Ok(());
        };
        let id = Identity {
            uid: uid.map(str::to_string),
            sql: def.sql.clone(),
        };
        self.verify(&id, &s).map_err(StepFail::Refused)?;
        self.before_change()?;
        self.delete_statement(def, &id).await?;
        let gone = self
            .wait(
                &def.name,
                self.engine.watch.wait_gone(&def.name, budget.left()),
            )
            .await?;
        if gone.satisfied {
            Ok(())
        } else {
            Err(err(format!(
                "{} was still there {:?} after its deletion",
                def.name,
                self.timeout()
            ))
            .into())
        }
    }

    /// Record what the statement ended as — deployed with its uid and what it created, or
    /// failed with the service's detail and exceptions — and say so.
    pub(super) async fn outcome(
        &self,
        def: &Definition,
        done: &WaitOutcome,
        r: &mut StepReport,
    ) -> StepResult {
        let phase = done.last.as_ref().map(|s| s.phase().clone());
        r.phase_after = phase.clone();
        let claims = match &done.last {
            Some(s) => self.confirmed_claims(def, s).await?,
            None => Vec::new(),
        };
        let uid = done.last.as_ref().and_then(|s| s.metadata.uid.clone());
        if matches!(phase, Some(Phase::Running) | Some(Phase::Completed)) {
            return self
                .record(def, State::Deployed, |rec| {
                    rec.statement_uid = uid;
                    rec.last_phase = phase;
                    claims.into_iter().for_each(|c| rec.set_ownership(c));
                })
                .await;
        }
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
        let exhausted = done.last.as_ref().filter(|s| s.waits_for_pool());
        let message = match (&r.phase_after, done.satisfied, exhausted) {
            (_, false, Some(s)) => {
                let pool = s
                    .spec
                    .compute_pool_id
                    .clone()
                    .unwrap_or_else(|| def.compute_pool.clone());
                // Left PENDING, it would start later, unseen by any run: it goes (as
                // confluent-sql does, §F.17), and the next run creates it again.
                let id = Identity {
                    uid: s.metadata.uid.clone(),
                    sql: def.sql.clone(),
                };
                let deleted = match self.before_change() {
                    Ok(()) => self.delete_statement(def, &id).await.is_ok(),
                    Err(_) => false,
                };
                format!(
                    "{} stayed PENDING for {:?}: compute pool {pool} has no room for it (scaling \
                     state {}){}; free capacity in the pool (stop statements, or raise its max \
                     CFU) or give the step a longer timeout",
                    def.name,
                    self.timeout(),
                    s.scaling_state().unwrap_or("POOL_EXHAUSTED"),
                    if deleted {
                        "; it was deleted so that it does not start later unseen"
                    } else {
                        ""
                    }
                )
            }
            (Some(p), true, _) => match detail.as_deref().and_then(never_clears) {
                Some(what) => format!("{} is {p}: {what}", def.name),
                None if !r.retries.is_empty() && asks_to_retry(done).is_some() => format!(
                    "{} is {p}: its table was dropped moments ago, and the service still said \
                     to try again later after {} tries within {:?}; run the step again later",
                    def.name,
                    r.retries.len() + 1,
                    self.timeout()
                ),
                None => format!("{} is {p}", def.name),
            },
            (Some(p), false, _) => format!(
                "{} did not settle within {:?} (still {p})",
                def.name,
                self.timeout()
            ),
            (None, _, _) => format!("{} disappeared while starting", def.name),
        };
        let last_phase = r.phase_after.clone();
        let kept_detail = detail.clone();
        self.record(def, State::Failed, |rec| {
            rec.statement_uid = uid;
            rec.last_phase = last_phase;
            rec.detail = kept_detail;
            claims.into_iter().for_each(|c| rec.set_ownership(c));
        })
        .await?;
        Err(StepError {
            message,
            detail,
            exceptions,
        }
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn statement(phase: &str, detail: &str) -> Statement {
        serde_json::from_value(json!({
            "name": "s",
            "status": {"phase": phase, "detail": detail,
                       "scaling_status": {"scaling_state": "POOL_EXHAUSTED"}},
        }))
        .unwrap()
    }

    fn ended(phase: &str, detail: &str) -> WaitOutcome {
        WaitOutcome {
            last: Some(statement(phase, detail)),
            satisfied: true,
            waited: Duration::ZERO,
        }
    }

    #[test]
    fn only_the_recreate_window_is_retried() {
        let window = "The table 't' was found, but its Kafka topic does not exist; this may be \
                      due to delayed deletion or eventual consistency, so try again later";
        assert!(asks_to_retry(&ended("FAILED", window)).is_some());
        assert!(asks_to_retry(&ended("RUNNING", window)).is_none());
        assert!(asks_to_retry(&ended(
            "FAILED",
            "failed creating table: table already exists"
        ))
        .is_none());
    }

    #[test]
    fn failures_that_never_clear_say_what_to_do() {
        let subject = "Cannot create table because the Schema Registry subject 't-value' \
                       doesn't match the existing one.";
        assert!(never_clears(subject)
            .unwrap()
            .contains("delete the subject"));
        assert!(never_clears("failed creating table: table already exists")
            .unwrap()
            .contains("IF NOT EXISTS"));
        assert!(never_clears("SQL validation failed. Table 't' already exists.").is_some());
        assert!(never_clears("Table (or view) 'x' does not exist").is_none());
    }

    #[test]
    fn a_carry_over_replacement_waits_for_its_old_statement_by_the_services_detail() {
        let waiting = statement(
            "PENDING",
            "Statement is currently pending until referenced statement old is stopped. If old \
             is not stopped before 2026-01-01T06:00:00Z, this statement will fail.",
        );
        assert!(awaits_carry_over(&waiting));
        assert!(!awaits_carry_over(&statement("PENDING", "")));
        assert!(!awaits_carry_over(&statement(
            "FAILED",
            "until referenced statement"
        )));
        assert!(statement("PENDING", "").waits_for_pool());
    }
}
