//! The snapshot a plan is made from: what the app wants (the manifest, else the tracker's
//! definitions), the tracker's records for the app, the live statements and the topics.

use std::collections::{BTreeMap, BTreeSet};

use flink_sql::TableRef;

use super::records::{from_record, is_hidden, normalize, record_spellings, resolved_tables, Shape};
use super::trust::{self, Trust};
use super::{Engine, EngineError};
use crate::confluent::flink::{ListFilter, Statement};
use crate::identity::Names;
use crate::manifest::Manifest;
use crate::naming::{deployed_name, StatementIdentity};
use crate::ownership::OWNER_LABEL;
use crate::plan::{self, Claim, Definition, Live, Tracked};
use crate::tracker::{Record, Scope, State, TableOwnership};

/// One look at the app, taken before a run plans: what the planner reads, the tracker records it
/// was made from (which the executor starts from), and what the tracker holds that the app did
/// not sign.
pub struct Snapshot {
    pub plan: plan::Snapshot,
    /// The app's records by statement name, as the snapshot read them (normalised).
    pub records: BTreeMap<String, Record>,
    pub trust: Trust,
}

/// Take the [`Snapshot`].
pub async fn take(
    engine: &Engine,
    manifest: Option<&Manifest>,
    protect: &[glob::Pattern],
) -> Result<Snapshot, EngineError> {
    // Three independent reads at once: the tracker, the statements, the topics.
    let scope = Scope::app(&engine.environment_id, &engine.app);
    let filter = ListFilter::default();
    let (loaded, listed, topics) = tokio::join!(
        engine.tracker.load(&scope),
        engine.flink.list(&filter),
        engine.kafka.list_topics()
    );
    // The tracker's snapshot is dropped here: held, it would make the lease's next read copy
    // the tracker's table.
    let loaded = loaded?;
    let listed = listed?;
    let mut records: BTreeMap<String, Record> = loaded
        .records
        .values()
        .map(|r| (r.statement_name.clone(), (**r).clone()))
        .collect();
    // What the app cannot prove it wrote is left out, unless its statement confirms it.
    let trust = trust::assess(engine, &loaded, &listed, &mut records).await;
    drop(loaded);
    // One identity per table: the names are learnt when a spelling needs them.
    let wanted = |names: &Names| match manifest {
        Some(m) => from_manifest(m, engine, names),
        None => latest_per_logical(&records, names),
    };
    let mut desired = wanted(&engine.names);
    let spelled: Vec<(Option<String>, Option<String>)> = desired
        .iter()
        .flat_map(|d| d.creates.iter().chain(&d.reads).chain(&d.writes))
        .map(|t| (t.catalog.clone(), t.database.clone()))
        .chain(records.values().flat_map(record_spellings))
        // A `protect` pattern is a spelling too: by ids, it must match a table named by names.
        .chain(crate::plan::protect::places(protect))
        .collect();
    let lookup = engine
        .names
        .need_lookup(spelled.iter().map(|(c, d)| (c.as_deref(), d.as_deref())));
    let names = engine.names(lookup).await;
    if lookup {
        desired = wanted(&names);
    }
    records.values_mut().for_each(|r| normalize(r, &names));
    let tracked: Vec<Tracked> = records.values().map(|r| tracked_of(r, &names)).collect();
    let live = listed
        .into_iter()
        .map(|s| (s.name.clone(), live_of(&s)))
        .collect();
    let topics: BTreeSet<String> = topics?.into_keys().collect();
    // The ids of the topics the app claims (and that exist): what tells an incarnation apart.
    let claimed: BTreeSet<String> = tracked
        .iter()
        .flat_map(|t| t.claims.iter())
        .filter(|c| c.ownership.is_held() && topics.contains(&c.topic))
        .map(|c| c.topic.clone())
        .collect();
    let claimed: Vec<String> = claimed.into_iter().collect();
    let subjects_left = subjects_left(engine, &tracked, &topics).await?;
    let foreign_subjects = foreign_subjects(engine, &desired, &tracked, &topics).await?;
    let topic_ids = engine
        .kafka
        .topic_ids(&claimed)
        .await?
        .into_iter()
        .filter_map(|(topic, id)| id.map(|id| (topic, id)))
        .collect();
    Ok(Snapshot {
        plan: plan::Snapshot {
            app: engine.app.clone(),
            desired,
            tracked,
            live,
            topics,
            topic_ids,
            subjects_left,
            cluster: engine.cluster.clone(),
            foreign_subjects,
            names,
        },
        records,
        trust,
    })
}

/// The subjects still registered for topics the app holds evidence for but that are gone: one
/// registry call per such topic (usually none).
async fn subjects_left(
    engine: &Engine,
    tracked: &[Tracked],
    topics: &BTreeSet<String>,
) -> Result<BTreeMap<String, Vec<String>>, EngineError> {
    let Some(sr) = &engine.registry else {
        return Ok(BTreeMap::new());
    };
    let gone: BTreeSet<&str> = tracked
        .iter()
        .flat_map(|t| t.claims.iter())
        .filter(|c| c.ownership.is_held() && !topics.contains(&c.topic))
        .map(|c| c.topic.as_str())
        .collect();
    let mut left = BTreeMap::new();
    for topic in gone {
        let names = table_subjects(topic);
        let listed = sr.list_subjects(Some(topic)).await?;
        let ours: Vec<String> = names.into_iter().filter(|n| listed.contains(n)).collect();
        if !ours.is_empty() {
            left.insert(topic.to_string(), ours);
        }
    }
    Ok(left)
}

/// The subjects registered for tables the app wants to create that do not exist and that the
/// app holds no evidence for (someone else's, §F.6), by topic: one registry call, only when
/// there is such a table.
async fn foreign_subjects(
    engine: &Engine,
    desired: &[Definition],
    tracked: &[Tracked],
    topics: &BTreeSet<String>,
) -> Result<BTreeMap<String, Vec<String>>, EngineError> {
    let Some(sr) = &engine.registry else {
        return Ok(BTreeMap::new());
    };
    let held: BTreeSet<&str> = tracked
        .iter()
        .flat_map(|t| t.claims.iter())
        .filter(|c| c.ownership.is_held())
        .map(|c| c.topic.as_str())
        .collect();
    let new: BTreeSet<&str> = desired
        .iter()
        .flat_map(|d| d.creates.iter())
        .map(|t| t.name.as_str())
        .filter(|t| !topics.contains(*t) && !held.contains(t))
        .collect();
    if new.is_empty() {
        return Ok(BTreeMap::new());
    }
    let listed: BTreeSet<String> = sr.list_subjects(None).await?.into_iter().collect();
    Ok(new
        .into_iter()
        .filter_map(|topic| {
            let found: Vec<String> = table_subjects(topic)
                .into_iter()
                .filter(|s| listed.contains(s))
                .collect();
            (!found.is_empty()).then(|| (topic.to_string(), found))
        })
        .collect())
}

/// The subjects of a table's topic under TopicNameStrategy.
pub fn table_subjects(topic: &str) -> [String; 2] {
    [format!("{topic}-key"), format!("{topic}-value")]
}

/// A live statement as the planner sees it.
pub fn live_of(s: &Statement) -> Live {
    Live {
        name: s.name.clone(),
        phase: s.phase().clone(),
        uid: s.metadata.uid.clone(),
        owner: s.metadata.labels.get(OWNER_LABEL).cloned(),
        sql: s.sql().to_string(),
    }
}

/// A record as the planner sees it: its definition, its statement's uid and its evidence.
pub fn tracked_of(r: &Record, names: &Names) -> Tracked {
    let def = from_record(r, names);
    // A claim holds only for a table the record's SQL creates, on that table's own topic.
    let claims = r
        .ownership_of()
        .iter()
        .filter_map(claim_of)
        .filter(|c| def.creates.contains(&c.table) && c.topic == c.table.name)
        .collect();
    Tracked {
        def,
        torn_down: r.state == State::TornDown,
        uid: r.statement_uid.clone(),
        claims,
        hidden: is_hidden(r),
    }
}

/// One table's evidence as the planner sees it (a table name that does not parse is dropped
/// from the plan: it could not be dropped by name anyway).
fn claim_of(o: &TableOwnership) -> Option<Claim> {
    Some(Claim {
        table: TableRef::parse(&o.table).ok()?,
        topic: o.topic.clone(),
        ownership: o.status.clone(),
        cluster_id: o.cluster_id.clone(),
        topic_id: o.topic_id.clone(),
        detail: o.detail.clone(),
    })
}

/// The manifest's statements with their deployed names.
pub fn from_manifest(m: &Manifest, engine: &Engine, names: &Names) -> Vec<Definition> {
    let pool = m
        .compute_pool
        .clone()
        .or_else(|| engine.defaults.compute_pool.clone())
        .unwrap_or_default();
    let principal = m
        .principal
        .clone()
        .or_else(|| engine.defaults.principal.clone())
        .unwrap_or_default();
    m.statements
        .iter()
        .map(|s| {
            let pool = s.compute_pool.clone().unwrap_or_else(|| pool.clone());
            let principal = s.principal.clone().unwrap_or_else(|| principal.clone());
            let mut properties = m.properties_of(s);
            // A statement pinned to its deployed name (exported) is deployed exactly as written:
            // no defaults are added to it.
            let defaults = [
                ("sql.current-catalog", &engine.defaults.catalog),
                ("sql.current-database", &engine.defaults.database),
            ];
            for (key, default) in defaults.iter().filter(|_| s.statement_name.is_none()) {
                if let Some(v) = default {
                    properties.entry((*key).into()).or_insert_with(|| v.clone());
                }
            }
            let tables = resolved_tables(&s.analysis, &properties, names);
            // A materialized table's name follows its definition, not its text: an edit that
            // changes nothing of the table (layout, START_MODE) keeps it.
            let identity_sql = tables
                .materialized
                .as_ref()
                .map_or_else(|| s.sql.clone(), |m| m.fingerprint());
            let name = s.statement_name.clone().unwrap_or_else(|| {
                deployed_name(&StatementIdentity {
                    app: &m.app,
                    name: &s.name,
                    sql: &identity_sql,
                    properties: &properties,
                    compute_pool: &pool,
                    principal: &principal,
                })
            });
            let shape = Shape::of(&s.analysis);
            Definition {
                logical: s.name.clone(),
                name,
                sql: s.sql.clone(),
                properties,
                compute_pool: pool,
                principal,
                labels: s.labels.clone(),
                creates: tables.creates,
                writes: tables.writes,
                reads: tables.reads,
                drops: tables.drops,
                alters: tables.alters,
                depends_on: s.depends_on.clone(),
                is_table_ddl: shape.is_table_ddl,
                resumable: shape.resumable,
                query_state: shape.query_state,
                keyed: tables.keyed,
                materialized: tables.materialized,
            }
        })
        .collect()
}

/// Without a manifest the app wants what the tracker last deployed: per logical name, the most
/// recently written record (an older version left behind by a crash is not wanted twice).
fn latest_per_logical(records: &BTreeMap<String, Record>, names: &Names) -> Vec<Definition> {
    super::records::latest_per_logical(records.values())
        .values()
        .map(|r| from_record(r, names))
        .collect()
}
