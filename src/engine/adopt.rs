//! `adopt`: record live statements as the app's — their SQL, properties, pool, principal, uid
//! and tables — so teardown and buildup handle them like any other, even for Table API apps that
//! create their statements themselves. A statement is selected by its name (exact or
//! `prefix*`), or by what it is: one that creates or writes a table a table selector names
//! (the plugin names its `create_table` statement itself, so a user cannot guess that name).
//! What changed nothing — the plugin's dry runs and catalog queries, other read-only statements
//! that ended — is never adopted; it is listed in the report as left alone.
//!
//! What an adopted statement created is judged by its SQL and its phase: a `CREATE TABLE` (or
//! `CREATE TABLE AS`) without `IF NOT EXISTS` that completed (or runs) fails when its table
//! exists, so it created it; one with `IF NOT EXISTS` may have found it, so the app does not own
//! that table.

use std::time::Instant;

use flink_sql::{Analysis, StatementKind, TableRef};

use super::{records, Engine, EngineError};
use crate::confluent::flink::{FlinkError, LabelsPatched, ListFilter, Phase, Statement};
use crate::identity::Names;
use crate::ownership::OWNER_LABEL;
use crate::plan::{Action, Stage};
use crate::report::{Kind, Removed, Status, StepError, StepReport};
use crate::tracker::{Lease, Ownership, Record, Scope, State, TableOwnership};

/// What `adopt` takes: statement names or `prefix*` patterns, and table names or `prefix*`
/// patterns (a statement that creates or writes such a table). A table selector without a
/// catalog and database matches the table's name in any; a qualified one, that table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub statements: Vec<String>,
    pub tables: Vec<String>,
}

/// Does `name` match one of the selectors (`exact` or `prefix*`)?
pub fn selected(selectors: &[String], name: &str) -> bool {
    selectors.iter().any(|s| match s.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == s,
    })
}

/// Why a statement that matched is left alone, when it is: it changed nothing.
fn left_alone(s: &Statement, a: Option<&Analysis>) -> Option<&'static str> {
    if s.spec.properties.get("sql.dry-run").map(String::as_str) == Some("true") {
        return Some("a dry run (sql.dry-run): it validated the SQL and changed nothing");
    }
    let a = a?;
    if a.reads
        .iter()
        .any(|t| t.database.as_deref() == Some("INFORMATION_SCHEMA"))
    {
        return Some("a catalog query (it read INFORMATION_SCHEMA and changed nothing)");
    }
    let read_only = a.creates.is_empty() && a.writes.is_empty() && a.drops.is_empty();
    let ended = matches!(s.phase(), Phase::Completed | Phase::Failed);
    (read_only && ended && !matches!(a.kind, StatementKind::AlterTable | StatementKind::Other))
        .then_some("a read-only statement that ended: it changed nothing")
}

/// Whether the statement creates or writes a table the table selectors name.
fn writes_selected(
    selectors: &[String],
    a: &Analysis,
    props: &std::collections::BTreeMap<String, String>,
    names: &Names,
) -> bool {
    let written = a.creates.iter().map(|c| &c.table).chain(&a.writes);
    written.map(|t| records::resolve(t, props, names)).any(|t| {
        selectors
            .iter()
            .any(|sel| match TableRef::parse(sel.trim_end_matches('*')) {
                Ok(want) if want.database.is_some() => {
                    let want = names.canonical(&want);
                    let same_place = want.catalog.is_none() || want.catalog == t.catalog;
                    same_place
                        && want.database == t.database
                        && selected(
                            &[sel.rsplit('.').next().unwrap_or(sel).to_string()],
                            &t.name,
                        )
                }
                _ => selected(std::slice::from_ref(sel), &t.name),
            })
    })
}

pub async fn adopt(
    engine: &Engine,
    selection: &Selection,
    protect: &[glob::Pattern],
    lease: &Lease,
    progress: crate::report::Progress<'_>,
) -> Result<Vec<StepReport>, EngineError> {
    let live = engine.flink.list(&ListFilter::default()).await?;
    let analysed: Vec<(&Statement, Option<Analysis>)> = live
        .iter()
        .map(|s| (s, flink_sql::analyze(s.sql()).ok()))
        .collect();
    // The names, when a statement that may be selected spells a catalog or database the run
    // does not know: table selectors and evidence compare identities.
    // (Every statement may be selected by the tables it writes; else only those named.)
    let spellings: Vec<(Option<&str>, Option<&str>)> = analysed
        .iter()
        .filter(|(s, _)| !selection.tables.is_empty() || selected(&selection.statements, &s.name))
        .filter_map(|(s, a)| a.as_ref().map(|a| (s, a)))
        .flat_map(|(s, a)| {
            let tables = a.creates.iter().map(|c| &c.table).chain(&a.writes);
            crate::identity::spellings(tables, &s.spec.properties)
        })
        .collect();
    // The protect patterns' too: they are checked against what is adopted.
    let places = crate::plan::protect::places(protect);
    let spellings = spellings
        .into_iter()
        .chain(places.iter().map(|(c, d)| (c.as_deref(), d.as_deref())));
    let lookup = engine.names.need_lookup(spellings);
    let names = engine.names(lookup).await;
    let matched: Vec<(&Statement, Option<&Analysis>)> = analysed
        .iter()
        .filter(|(s, a)| {
            selected(&selection.statements, &s.name)
                || a.as_ref().is_some_and(|a| {
                    writes_selected(&selection.tables, a, &s.spec.properties, &names)
                })
        })
        .map(|(s, a)| (*s, a.as_ref()))
        .collect();
    let mut reports = Vec::new();
    for (s, why) in matched
        .iter()
        .filter_map(|(s, a)| left_alone(s, *a).map(|why| (s, why)))
    {
        let mut report = adopt_report(s);
        report.action = Action::Skip;
        report.status = Status::Unchanged;
        report.reason = format!("left alone: {why}");
        progress(crate::report::StepEvent::Finished(&report));
        reports.push(report);
    }
    // Only the run's records are parsed; another app's in this environment are known by app.
    // What the steps need of them is taken now: a snapshot held while the tracker reads on (the
    // lease's renewals) would make that read copy the tracker's table.
    let chosen: Vec<(&Statement, Option<Record>, Option<String>)> = {
        let tracked = engine
            .tracker
            .load(&Scope::app(&engine.environment_id, &engine.app))
            .await?;
        matched
            .iter()
            .filter(|(s, a)| left_alone(s, *a).is_none())
            .map(|(s, _)| {
                let env = &engine.environment_id;
                let existing = tracked.get(env, &s.name).cloned().map(|mut r| {
                    records::normalize(&mut r, &names);
                    r
                });
                let recorded_app = tracked.app_of(env, &s.name).map(str::to_string);
                (*s, existing, recorded_app)
            })
            .collect()
    };
    // Before anything is recorded or labelled: a statement that changes a protected table is
    // never the app's to tear down and build up again.
    let adopted: Vec<_> = chosen
        .iter()
        .filter(|(s, _, recorded)| refusal(engine, s, recorded.as_deref()).is_none())
        .map(|(s, ..)| records::from_statement(s, &names))
        .collect();
    crate::plan::protect::check_all(&adopted, &names, protect).map_err(super::protect_refused)?;
    for (s, existing, recorded_app) in chosen {
        if engine.cancel.requested().is_some() {
            break;
        }
        let start = Instant::now();
        let mut report = adopt_report(s);
        let result = match refusal(engine, s, recorded_app.as_deref()) {
            Some(why) => {
                report.status = Status::Refused;
                Err(why)
            }
            None => adopt_one(engine, s, existing.as_ref(), lease, &names).await,
        };
        if let Ok(Some(unlabelled)) = &result {
            report.reason = format!(
                "{}; {unlabelled}: its uid, recorded now, is the evidence that it is the app's",
                report.reason
            );
        }
        if let Err(message) = result {
            if report.status != Status::Refused {
                report.status = Status::Failed;
            }
            report.error = Some(StepError {
                message,
                detail: None,
                exceptions: Vec::new(),
            });
        }
        report.duration_ms = start.elapsed().as_millis() as u64;
        progress(crate::report::StepEvent::Finished(&report));
        reports.push(report);
    }
    Ok(reports)
}

/// Why `s` is not adopted, if it is not: another app's in the tracker, or by its label.
fn refusal(engine: &Engine, s: &Statement, recorded_app: Option<&str>) -> Option<String> {
    let owner = s.metadata.labels.get(OWNER_LABEL);
    match (recorded_app, owner) {
        (Some(app), _) if app != engine.app => Some(format!(
            "{} belongs to app '{app}' in the tracker; not adopted",
            s.name
        )),
        (_, Some(other)) if *other != engine.app => Some(format!(
            "{} is labelled as app '{other}''s ({OWNER_LABEL}); not adopted",
            s.name
        )),
        _ => None,
    }
}

/// The step of one matched statement, before anything is done.
fn adopt_report(s: &Statement) -> StepReport {
    StepReport {
        stage: Stage::Buildup,
        action: Action::Adopt,
        kind: Kind::Statement,
        name: s.name.clone(),
        logical_name: None,
        status: Status::Done,
        reason: "matched by the adopt input".into(),
        phase_before: Some(s.phase().clone()),
        phase_after: Some(s.phase().clone()),
        duration_ms: 0,
        removed: Removed::default(),
        tables: Default::default(),
        error: None,
        retries: Vec::new(),
    }
}

/// Record the statement with its evidence — its uid, which the app holds from now on — and
/// label it as the app's where the service takes a label after create (whether it does is
/// undocumented, §F.13: what a read shows after the patch is what is recorded). Returns what
/// became of the label, when it was asked for and not kept.
async fn adopt_one(
    engine: &Engine,
    s: &Statement,
    existing: Option<&Record>,
    lease: &Lease,
    names: &Names,
) -> Result<Option<String>, String> {
    let lost = |e: crate::tracker::TrackerError| format!("not adopted: {e}");
    let uid = s
        .metadata
        .uid
        .clone()
        .ok_or_else(|| format!("{} has no metadata.uid; not adopted", s.name))?;
    let mut labels = s.metadata.labels.clone();
    let mut unlabelled = None;
    if s.metadata.labels.get(OWNER_LABEL) != Some(&engine.app) {
        lease.check().map_err(lost)?;
        let ours = [(OWNER_LABEL.to_string(), engine.app.clone())].into();
        match engine.flink.patch_labels(&s.name, &uid, &ours).await {
            Ok(LabelsPatched::Applied) => {
                labels.insert(OWNER_LABEL.to_string(), engine.app.clone());
            }
            Ok(LabelsPatched::Ignored) => {
                unlabelled = Some("the service did not keep the app's label".to_string())
            }
            Ok(LabelsPatched::Refused(why)) => {
                unlabelled = Some(format!("the service refused the app's label ({why})"))
            }
            Err(FlinkError::Refused { reason, .. }) => {
                return Err(format!("{} changed while it was adopted: {reason}", s.name))
            }
            Err(e) => return Err(format!("labelling {} failed: {e}", s.name)),
        }
    }
    let mut rec = record_of(engine, s, existing, names);
    rec.statement_uid = Some(uid.clone());
    rec.labels = labels;
    for o in evidence(engine, s, &uid, existing, names).await? {
        rec.set_ownership(o);
    }
    engine.stamp(&mut rec);
    lease.check().map_err(lost)?;
    engine
        .tracker
        .put(&rec)
        .await
        .map(|_| unlabelled)
        .map_err(|e| format!("writing the tracker record of {} failed: {e}", s.name))
}

/// What the adopted statement created, as far as its SQL and phase prove it.
async fn evidence(
    engine: &Engine,
    s: &Statement,
    uid: &str,
    existing: Option<&Record>,
    names: &Names,
) -> Result<Vec<TableOwnership>, String> {
    let Ok(a) = flink_sql::analyze(s.sql()) else {
        return Ok(Vec::new());
    };
    if a.creates.is_empty() {
        return Ok(Vec::new());
    }
    let props = &s.spec.properties;
    let completed = match a.kind {
        StatementKind::CreateTable => *s.phase() == Phase::Completed,
        _ => matches!(
            s.phase(),
            Phase::Running | Phase::Completed | Phase::Degraded
        ),
    };
    let topics = engine
        .kafka
        .list_topics()
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    for c in &a.creates {
        let t = records::resolve(&c.table, props, names);
        let key = t.to_string();
        let cluster = match engine.cluster.check(&t) {
            Ok(cluster) => cluster,
            Err(e) => {
                out.push(
                    TableOwnership::new(&key, &t.name, Ownership::Unverified).with_detail(e.0),
                );
                continue;
            }
        };
        let live_id = if topics.contains_key(&t.name) {
            engine
                .kafka
                .topic_ids(std::slice::from_ref(&t.name))
                .await
                .map_err(|e| e.to_string())?
                .remove(&t.name)
        } else {
            None
        };
        // Re-adopting keeps what the app already owns of this very incarnation.
        let kept = existing
            .and_then(|r| r.ownership(&key))
            .filter(|o| o.status == Ownership::Owned)
            .filter(|o| {
                live_id.as_ref().is_some_and(|id| {
                    crate::ownership::same_incarnation(o.topic_id.as_deref(), id.as_deref())
                })
            });
        if let Some(kept) = kept {
            out.push(kept.clone());
            continue;
        }
        let mut o = match (&live_id, completed, c.if_not_exists) {
            (None, _, _) => TableOwnership::new(&key, &t.name, Ownership::NotCreated)
                .with_detail(format!("its topic does not exist (adopted {} is {})", s.name, s.phase())),
            (Some(_), false, _) => TableOwnership::new(&key, &t.name, Ownership::NotCreated)
                .with_detail(format!("adopted {} is {}: it never completed", s.name, s.phase())),
            (Some(_), true, true) => TableOwnership::new(&key, &t.name, Ownership::Found)
                .with_detail(format!(
                    "adopted {} says IF NOT EXISTS: it may have found the table, so the app does not own it",
                    s.name
                )),
            (Some(id), true, false) => {
                let mut o = TableOwnership::new(&key, &t.name, Ownership::Owned)
                    .with_detail(format!("created by adopted {}", s.name));
                o.topic_id = id.clone();
                o.statement_uid = Some(uid.to_string());
                o
            }
        };
        if o.topic_id.is_none() {
            o.topic_id = live_id.flatten();
        }
        o.cluster_id = Some(cluster);
        out.push(o);
    }
    Ok(out)
}

/// The record of an adopted statement: its definition as the service shows it, the ownership
/// evidence an earlier record held kept.
fn record_of(engine: &Engine, s: &Statement, existing: Option<&Record>, names: &Names) -> Record {
    let mut def = records::from_statement(s, names);
    // Re-adopting a statement the app deployed keeps the manifest's name for it.
    if let Some(logical) = existing.and_then(|r| r.logical_name.clone()) {
        def.logical = logical;
    }
    let mut rec = match existing {
        Some(r) => r.clone(),
        None => Record::new(
            &engine.app,
            &engine.environment_id,
            &s.name,
            &def.sql,
            State::Adopted,
        ),
    };
    records::write_definition(&mut rec, &def);
    rec.state = State::Adopted;
    rec.last_phase = Some(s.phase().clone());
    rec
}

#[cfg(test)]
mod tests {
    use super::selected;

    #[test]
    fn selectors_match_exact_names_and_prefixes() {
        let sel = vec!["combined-flight-data-*".to_string(), "exact".to_string()];
        assert!(selected(&sel, "combined-flight-data-1234"));
        assert!(selected(&sel, "exact"));
        assert!(!selected(&sel, "combined-flight-data"));
        assert!(!selected(&sel, "exactly"));
        assert!(!selected(&sel, "combined-flight"));
    }
}
