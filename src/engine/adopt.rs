//! `adopt`: record live statements (by exact name or `prefix*`) as the app's — their SQL,
//! properties, pool, principal and tables — so teardown and buildup handle them like any other,
//! even for Table API apps that create their statements themselves.

use std::time::Instant;

use flink_sql::StatementKind;

use super::{Engine, EngineError};
use crate::confluent::flink::{ListFilter, Statement};
use crate::plan::Definition;
use crate::report::{Kind, Removed, Status, StepError, StepReport};
use crate::tracker::{Record, State};

/// Does `name` match one of the selectors (`exact` or `prefix*`)?
pub fn selected(selectors: &[String], name: &str) -> bool {
    selectors.iter().any(|s| match s.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == s,
    })
}

pub async fn adopt(
    engine: &Engine,
    selectors: &[String],
    progress: &(dyn Fn(&StepReport) + Sync),
) -> Result<Vec<StepReport>, EngineError> {
    let live = engine.flink.list(&ListFilter::default()).await?;
    let tracked = engine.tracker.load().await?;
    let mut reports = Vec::new();
    for s in live.iter().filter(|s| selected(selectors, &s.name)) {
        let start = Instant::now();
        let existing = tracked.get(&engine.environment_id, &s.name);
        let mut report = StepReport {
            stage: "buildup".into(),
            action: "adopt".into(),
            kind: Kind::Statement,
            name: s.name.clone(),
            logical_name: None,
            status: Status::Done,
            reason: "matched by the adopt input".into(),
            phase_before: Some(s.phase().to_string()),
            phase_after: Some(s.phase().to_string()),
            duration_ms: 0,
            removed: Removed::default(),
            error: None,
        };
        match existing {
            Some(r) if r.app != engine.app => {
                report.status = Status::Failed;
                report.error = Some(StepError {
                    message: format!(
                        "{} belongs to app '{}' in the tracker; not adopted",
                        s.name, r.app
                    ),
                    detail: None,
                    exceptions: Vec::new(),
                });
            }
            _ => {
                let rec = record_of(engine, s, existing);
                if let Err(e) = engine.tracker.put(&rec).await {
                    report.status = Status::Failed;
                    report.error = Some(StepError {
                        message: format!("writing the tracker record of {} failed: {e}", s.name),
                        detail: None,
                        exceptions: Vec::new(),
                    });
                }
            }
        }
        report.duration_ms = start.elapsed().as_millis() as u64;
        progress(&report);
        reports.push(report);
    }
    Ok(reports)
}

fn record_of(engine: &Engine, s: &Statement, existing: Option<&Record>) -> Record {
    let sql = s.sql().to_string();
    let properties = s.spec.properties.clone();
    let (creates, writes, reads, is_table_ddl) = match flink_sql::analyze(&sql) {
        Ok(a) => {
            let cat = properties.get("sql.current-catalog").map(String::as_str);
            let db = properties.get("sql.current-database").map(String::as_str);
            let r = |t: &flink_sql::TableRef| t.resolve(cat, db);
            (
                a.creates.iter().map(|c| r(&c.table)).collect(),
                a.writes.iter().map(r).collect(),
                a.reads.iter().map(r).collect(),
                a.kind == StatementKind::CreateTable,
            )
        }
        // SQL we cannot read is still adopted; it just has no tables to order or drop.
        Err(_) => (Vec::new(), Vec::new(), Vec::new(), false),
    };
    let def = Definition {
        logical: s.name.clone(),
        name: s.name.clone(),
        sql: sql.clone(),
        properties: properties.clone(),
        compute_pool: s.spec.compute_pool_id.clone().unwrap_or_default(),
        principal: s.spec.principal.clone().unwrap_or_default(),
        creates,
        writes,
        reads,
        depends_on: Vec::new(),
        is_table_ddl,
    };
    let mut rec = match existing {
        Some(r) => r.clone(),
        None => Record::new(
            &engine.app,
            &engine.environment_id,
            &s.name,
            &sql,
            State::Adopted,
        ),
    };
    rec.provenance = crate::tracker::Provenance {
        at: chrono::Utc::now(),
        extra: rec.provenance.extra.clone(),
        ..engine.provenance.clone()
    };
    rec.sql = sql;
    rec.properties = properties;
    rec.compute_pool_id = s.spec.compute_pool_id.clone();
    rec.principal = s.spec.principal.clone();
    rec.tables = super::snapshot::tables_of(&def);
    rec.state = State::Adopted;
    rec.last_phase = Some(s.phase().to_string());
    rec.labels = s.metadata.labels.clone();
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
        assert!(!selected(&sel, "exactly"));
        assert!(!selected(&sel, "combined-flight"));
    }
}
