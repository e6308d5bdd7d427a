//! What the run believes of the tracker, and what it does about the rest.
//!
//! The tracker topic is shared: anyone who may write to it can write anything under any key.
//! The tracker believes only values the app signed (`tracker::auth`); this module decides what
//! the run does with everything else, so that a writer who is not the app can at worst make it
//! stop and say so:
//!
//! - A record the app cannot prove it wrote is never acted on and is reported — except a record
//!   written before records were signed whose statement confirms it: the live statement under
//!   its name carries the app's label, the record's uid and the record's SQL. That one is taken
//!   over (believed, and written again signed by a run that changes things), its tables' claims
//!   kept only where its SQL could not have found the table (`IF NOT EXISTS` gives the claim up).
//! - A write that tried to replace or remove a signed value is reported; the signed value stands.
//! - A live statement carrying the app's label that the tracker has no believed record of is
//!   *untracked*: reported with what to do (`adopt` it), and a run that changes things ends with
//!   exit 1, since the run could not do its whole job.

use std::collections::BTreeMap;

use crate::confluent::flink::{Phase, Statement};
use crate::ownership::{HIDDEN_LABEL, OWNER_LABEL};
use crate::report::{Untracked, Untrusted};
use crate::tracker::{Ownership, Record};

use super::Engine;

/// What the run made of the tracker's values it could not believe.
#[derive(Debug, Default)]
pub struct Trust {
    pub untrusted: Vec<Untrusted>,
    pub untracked: Vec<Untracked>,
    /// Records written before signing, confirmed by their statements: to be written again,
    /// signed, by a run that changes things.
    pub taken_over: Vec<Record>,
    /// Other apps whose records the tracker topic holds in this environment: others can write
    /// it.
    pub shared_with: Vec<String>,
    pub topic: String,
}

impl Trust {
    /// The report's notes for people: one line each.
    pub fn notes(&self) -> Vec<String> {
        let mut notes: Vec<String> = self
            .untrusted
            .iter()
            .map(|u| {
                format!(
                    "tracker value `{}` (offset {}) is not the app's: {}; it was not acted on",
                    u.key, u.offset, u.reason
                )
            })
            .collect();
        notes.extend(self.taken_over.iter().map(|r| {
            format!(
                "the record of {} was written before records were signed; its statement confirms it (label, uid, SQL): taken over",
                r.statement_name
            )
        }));
        if !self.shared_with.is_empty() {
            notes.push(format!(
                "the tracker topic `{}` also holds the records of {} other app(s) ({}): whoever \
                 may write it can write under any key; the app believes only what it signed, but \
                 a topic of its own (input tracker-topic) with prefixed ACLs keeps others out \
                 (docs/ownership.md)",
                self.topic,
                self.shared_with.len(),
                self.shared_with
                    .iter()
                    .take(5)
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        notes.extend(self.untracked.iter().map(|u| {
            format!(
                "statement {} carries the app's label but the tracker has no record of it the app wrote: {}",
                u.name, u.hint
            )
        }));
        notes
    }
}

/// Decide on the tracker's unbelieved values: take over what the live statements confirm (into
/// `records`), report the rest; then find the app's labelled statements it has no record of.
pub async fn assess(
    engine: &Engine,
    loaded: &crate::tracker::Snapshot,
    live: &[Statement],
    records: &mut BTreeMap<String, Record>,
) -> Trust {
    let mut trust = Trust {
        topic: engine.tracker.topic().to_string(),
        ..Trust::default()
    };
    let others: std::collections::BTreeSet<&str> =
        loaded.other_apps().map(|(_, app)| app).collect();
    trust.shared_with = others.into_iter().map(str::to_string).collect();
    if !trust.shared_with.is_empty() {
        tracing::warn!(topic = %trust.topic, others = ?trust.shared_with, "other apps write the tracker topic too");
    }
    let by_name: BTreeMap<&str, &Statement> = live.iter().map(|s| (s.name.as_str(), s)).collect();
    for u in &loaded.unverified {
        let confirmed = u
            .record
            .as_deref()
            .filter(|r| r.app == engine.app && !records.contains_key(&r.statement_name))
            .and_then(|r| {
                let s = by_name.get(r.statement_name.as_str())?;
                confirms(s, r, &engine.app).then(|| taken_over(r))
            });
        match confirmed {
            Some(r) => {
                records.insert(r.statement_name.clone(), r.clone());
                trust.taken_over.push(r);
            }
            None => trust.untrusted.push(Untrusted {
                key: u.key.clone(),
                offset: u.offset,
                reason: u.reason.clone(),
            }),
        }
    }
    trust
        .untrusted
        .extend(loaded.rejected.iter().map(|r| Untrusted {
            key: r.key.clone(),
            offset: r.offset,
            reason: format!("{}; the app's own value stands", r.reason),
        }));
    for s in live {
        let labelled = s.metadata.labels.get(OWNER_LABEL) == Some(&engine.app);
        let hidden = s.metadata.labels.contains_key(HIDDEN_LABEL);
        if !labelled || hidden || records.contains_key(&s.name) || *s.phase() == Phase::Deleting {
            continue;
        }
        // The list lags (a statement deleted moments ago may still be listed): only one that
        // a read shows, not being deleted, counts.
        match engine.flink.get(&s.name).await {
            Ok(Some(now)) if *now.phase() != Phase::Deleting => {
                trust.untracked.push(Untracked {
                    name: s.name.clone(),
                    phase: now.phase().clone(),
                    hint: format!(
                        "it is not torn down or rebuilt; if it is the app's, adopt it (command \
                         `adopt`, input `adopt: {}`)",
                        s.name
                    ),
                });
            }
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(statement = %s.name, error = %e, "could not read a labelled statement the tracker does not know")
            }
        }
    }
    trust
}

/// Whether the live statement confirms a record written before signing: the app's label (set
/// at create: another team's statement does not carry it), the recorded uid, the recorded SQL.
fn confirms(s: &Statement, r: &Record, app: &str) -> bool {
    s.metadata.labels.get(OWNER_LABEL).map(String::as_str) == Some(app)
        && r.statement_uid.is_some()
        && s.metadata.uid == r.statement_uid
        && s.sql() == r.sql
}

/// A confirmed record as the run takes it over: a claim on a table its SQL creates only if it
/// does not exist gives no proof the statement created it (the unsigned record may say so
/// wrongly), so it is given up.
fn taken_over(r: &Record) -> Record {
    let mut r = r.clone();
    let found_maybe: Vec<String> = flink_sql::analyze(&r.sql)
        .map(|a| {
            a.creates
                .iter()
                .filter(|c| c.if_not_exists)
                .map(|c| c.table.name.clone())
                .collect()
        })
        .unwrap_or_default();
    for o in &mut r.tables.ownership {
        if o.status.is_held() && found_maybe.contains(&o.topic) {
            o.status = Ownership::NotCreated;
            o.detail = Some(
                "taken over from a record written before signing: with IF NOT EXISTS the \
                 statement may have found the table"
                    .into(),
            );
        }
    }
    r
}
