//! The planner: one pure function from what the app wants, what the tracker says was deployed
//! and what is live, to an ordered plan of steps with the reason for each. It does no I/O, so
//! every ordering and ownership rule is tested here without a server.
//!
//! Ownership (safety rule 1) is decided here, once: a step only ever targets a statement recorded
//! in the tracker for this app (or one the app wants to create) that the live service shows as
//! the app's ([`crate::ownership::verify_statement`]), and a table only while a record of the app
//! holds evidence that one of its statements created the incarnation that exists, in a cluster
//! the run can check, and no `protect` pattern matches it. Whatever fails those checks is refused
//! (reported, never touched). The executor checks the same rules again on fresh reads.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use flink_sql::TableRef;
use serde::{Deserialize, Serialize};

use crate::command::spelled;
pub use crate::command::Goal;
use crate::confluent::flink::Phase;

use crate::deps::{self, Graph};

pub mod protect;
use crate::identity::Names;
use crate::ownership::{self, ClusterScope, Expected, Shown};
use crate::tracker::Ownership;

/// A statement as the app wants it, or as the tracker says it was deployed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    /// The manifest's name for it (an adopted statement's logical name is its own name).
    pub logical: String,
    /// The deployed statement name.
    pub name: String,
    pub sql: String,
    pub properties: BTreeMap<String, String>,
    pub compute_pool: String,
    pub principal: String,
    /// Labels besides the app's ownership label (set at create, kept up to date after).
    pub labels: BTreeMap<String, String>,
    /// Tables, resolved against the statement's catalog and database.
    pub creates: Vec<TableRef>,
    pub writes: Vec<TableRef>,
    pub reads: Vec<TableRef>,
    /// Tables its SQL drops (`DROP TABLE`) and alters (`ALTER TABLE`), resolved: with `creates`
    /// and `writes`, what [`protect`] keeps the app's SQL from changing.
    pub drops: Vec<TableRef>,
    pub alters: Vec<TableRef>,
    /// Logical names this statement explicitly depends on.
    pub depends_on: Vec<String>,
    /// True for `CREATE TABLE` (not CTAS): a DDL statement that completes and runs nothing.
    pub is_table_ddl: bool,
    /// `INSERT INTO`, CTAS or `EXECUTE STATEMENT SET`: the only statements the service resumes
    /// once stopped (§F.11).
    pub resumable: bool,
    /// What in its query keeps Flink state (empty: none); see [`state_reasons`].
    pub query_state: Vec<flink_sql::Stateful>,
    /// Tables it creates with a primary key: a statement that writes one is an upsert sink.
    pub keyed: Vec<TableRef>,
    /// The materialized table it declares (`CREATE [OR ALTER] MATERIALIZED TABLE`): its
    /// statement completes, and the table's query runs until the table is dropped.
    pub materialized: Option<crate::materialized::Shape>,
}

impl Definition {
    /// A statement that declares a table and completes: `CREATE TABLE`, or a materialized
    /// table's statement. Its work is the table: while the table is there, it has nothing to
    /// do.
    pub fn declares_table(&self) -> bool {
        self.is_table_ddl || self.materialized.is_some()
    }

    /// The definition as its deployed name is derived from: a materialized table's
    /// [fingerprint](crate::materialized::Shape::fingerprint), the SQL of any other statement.
    pub fn identity_sql(&self) -> String {
        match &self.materialized {
            Some(m) => m.fingerprint(),
            None => self.sql.trim().to_string(),
        }
    }
}

/// Why a statement keeps state: its offsets cannot be carried over to a replacement (the
/// service refuses carry-over for stateful statements, §F.11), and a replacement starts
/// without it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateReason {
    /// A stateful part of its query (aggregation, join, window, OVER, …).
    Query(flink_sql::Stateful),
    /// It writes a table with a primary key, as an upsert.
    UpsertSink(TableRef),
}

impl fmt::Display for StateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateReason::Query(s) => f.write_str(s.description()),
            StateReason::UpsertSink(t) => write!(f, "an upsert sink ({t} has a primary key)"),
        }
    }
}

/// Why `d` keeps state: its query's stateful parts, and every table it writes that a statement
/// of the snapshot creates with a primary key. (A keyed table the app does not create is not
/// known here.)
pub fn state_reasons(snap: &Snapshot, d: &Definition) -> Vec<StateReason> {
    let mut out: Vec<StateReason> = d
        .query_state
        .iter()
        .copied()
        .map(StateReason::Query)
        .collect();
    let keyed: BTreeSet<&TableRef> = snap
        .desired
        .iter()
        .chain(snap.tracked.iter().map(|t| &t.def))
        .flat_map(|def| def.keyed.iter())
        .collect();
    for w in &d.writes {
        if keyed.contains(w) {
            out.push(StateReason::UpsertSink(w.clone()));
        }
    }
    out
}

fn said(reasons: &[StateReason]) -> String {
    reasons
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A tracker record of the app, as the planner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracked {
    pub def: Definition,
    /// The record says the statement was torn down (deleted) already.
    pub torn_down: bool,
    /// The statement's `metadata.uid` as recorded (`None`: never seen by the run that made it).
    pub uid: Option<String>,
    /// The record's evidence for each table the statement's SQL creates.
    pub claims: Vec<Claim>,
    /// One of the tool's own DROP TABLE statements (left by a run killed while it existed).
    pub hidden: bool,
}

/// What a record holds about one table its statement's SQL creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub table: TableRef,
    pub topic: String,
    pub ownership: Ownership,
    /// The Kafka cluster the topic was checked in.
    pub cluster_id: Option<String>,
    /// The topic's id when the app's statement created it.
    pub topic_id: Option<String>,
    pub detail: Option<String>,
}

/// A statement as the Flink API shows it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    pub name: String,
    pub phase: Phase,
    pub uid: Option<String>,
    /// The value of its ownership label ([`ownership::OWNER_LABEL`]).
    pub owner: Option<String>,
    pub sql: String,
}

/// Everything the planner looks at.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub app: String,
    /// What the app wants: the manifest, or else the tracker's definitions.
    pub desired: Vec<Definition>,
    /// The tracker's records for this app and environment.
    pub tracked: Vec<Tracked>,
    /// Live statements by name (at least every tracked and desired name that exists).
    pub live: BTreeMap<String, Live>,
    /// Topics that exist in the cluster (to leave an unchanged table's DDL alone).
    pub topics: BTreeSet<String>,
    /// The ids of the topics the app's records claim, where the cluster has topic ids.
    pub topic_ids: BTreeMap<String, String>,
    /// Subjects still registered for topics the app's records claim but that are gone (a run
    /// killed between deleting a topic and its subjects leaves them), by topic.
    pub subjects_left: BTreeMap<String, Vec<String>>,
    /// The Kafka cluster the run can check tables in.
    pub cluster: ClusterScope,
    /// Subjects (`<topic>-key`, `<topic>-value`) registered for tables the app wants to create,
    /// whose topics do not exist and for which the app holds no evidence: someone else's, by
    /// topic. A table created over them fails, or writes into another's subject.
    pub foreign_subjects: BTreeMap<String, Vec<String>>,
    /// The names of the environment and its clusters: how tables are shown to people.
    pub names: Names,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub drop_tables: bool,
    pub stop_only: bool,
    pub carry_over_offsets: bool,
    pub protect: Vec<glob::Pattern>,
}

impl Options {
    fn protected(&self, name: &str) -> Option<&glob::Pattern> {
        protect::statement(&self.protect, name)
    }
}

/// The two stages of a run: everything torn down first, then everything built up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Teardown,
    Buildup,
}

spelled!(Stage {
    Teardown => "teardown",
    Buildup => "buildup",
});

/// What a step does to its statement or table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Delete a statement and wait until it is gone.
    Delete,
    /// Stop a statement (`stop-only`) and wait until it is STOPPED.
    Stop,
    /// Delete a statement the app no longer wants, and forget it.
    Prune,
    /// Drop a table the app created: topic and subjects.
    DropTable,
    /// Create a statement and wait until it runs (or completes).
    Create,
    /// Resume a stopped statement.
    Resume,
    /// Evolve a materialized table in place (`CREATE OR ALTER MATERIALIZED TABLE`): the same
    /// topic, a new version of its query, which starts from its `START_MODE` without the old
    /// query's state.
    Evolve,
    /// Nothing to do: the statement is as wanted.
    Unchanged,
    /// Not touched, and said so: a protected statement or table.
    Skip,
    /// Not touched because the run cannot prove it is the app's: a live statement that is not
    /// the one the record describes, a table in a cluster the run cannot check. A failure.
    Refuse,
    /// End the app's ownership of a table whose incarnation is gone or replaced: the tracker
    /// says so from now on; nothing in the cluster is touched.
    Release,
    /// Record a live statement as the app's (the `adopt` command; never planned).
    Adopt,
}

spelled!(Action {
    Delete => "delete",
    Stop => "stop",
    Prune => "prune",
    DropTable => "drop_table",
    Create => "create",
    Resume => "resume",
    Evolve => "evolve",
    Unchanged => "unchanged",
    Skip => "skip",
    Refuse => "refuse",
    Release => "release",
    Adopt => "adopt",
});

impl Action {
    /// A statement torn down: deleted, stopped or pruned.
    pub fn tears_down(self) -> bool {
        matches!(self, Action::Delete | Action::Stop | Action::Prune)
    }

    /// A statement built up: created, resumed or evolved.
    pub fn builds_up(self) -> bool {
        matches!(self, Action::Create | Action::Resume | Action::Evolve)
    }

    /// A step that changes nothing in the cloud (it may still fail, as a refusal does).
    pub fn leaves_alone(self) -> bool {
        matches!(
            self,
            Action::Unchanged | Action::Skip | Action::Refuse | Action::Release
        )
    }
}

/// A table a step drops (or skips, refuses, releases).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableTarget {
    pub table: TableRef,
    pub topic: String,
    /// The statement of the app that created it (whose record holds the evidence).
    pub created_by: String,
    /// `sql.current-catalog` / `sql.current-database` of that statement, for the DROP.
    pub properties: BTreeMap<String, String>,
    /// The table as people know it (display names, [`Names::shown`]): its step's name.
    pub shown: String,
    /// A materialized table: dropped as one (its query with it), never by `DROP TABLE`, which
    /// the service accepts for one and drops nothing durable (§G.7).
    pub materialized: bool,
}

// A plan has a step per statement and table, a few hundred at most: boxing the larger variant
// would buy nothing but indirection at every use.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Statement {
        def: Definition,
        /// With `carry-over-offsets`: the statement the new one takes its offsets from (and
        /// which is stopped, not deleted).
        carry_over_from: Option<String>,
        /// For [`Action::Evolve`]: the app's statement whose record holds the materialized
        /// table's evidence now (the version evolved from), handed to the new one.
        evolves_from: Option<String>,
    },
    Table(TableTarget),
}

impl Target {
    pub fn label(&self) -> String {
        match self {
            Target::Statement { def, .. } => def.name.clone(),
            Target::Table(t) => t.shown.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: usize,
    pub stage: Stage,
    pub action: Action,
    pub target: Target,
    pub reason: String,
    /// Steps that must have succeeded before this one starts.
    pub after: BTreeSet<usize>,
    /// The live phase when planned (`None`: not live).
    pub phase_before: Option<Phase>,
    /// What becomes of the statement's tracker record once the step has removed it: the
    /// planner decides, the executor carries it out.
    pub record: RecordFate,
}

/// What becomes of a torn-down statement's tracker record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecordFate {
    /// Kept, marked torn down: what a later buildup builds up again.
    #[default]
    Keep,
    /// Removed once the statement is gone, unless it still holds a table's evidence: a pruned
    /// statement, or a version replaced by one under another name.
    Forget,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Things the report should say that are not steps (e.g. a table left in place).
    pub notes: Vec<String>,
    /// The names of the environment and its clusters, as the snapshot knew them: how the
    /// plan's tables are shown.
    pub names: Names,
}

impl Plan {
    /// True when no step changes anything.
    pub fn is_noop(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s.action, Action::Unchanged | Action::Skip))
    }

    fn push(
        &mut self,
        stage: Stage,
        action: Action,
        target: Target,
        reason: impl Into<String>,
        phase_before: Option<Phase>,
    ) -> usize {
        let id = self.steps.len();
        self.steps.push(Step {
            id,
            stage,
            action,
            target,
            reason: reason.into(),
            after: BTreeSet::new(),
            phase_before,
            record: RecordFate::Keep,
        });
        id
    }

    fn after(&mut self, step: usize, before: usize) {
        if step != before {
            self.steps[step].after.insert(before);
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.steps {
            write!(
                f,
                "{:>3}. {:<9} {:<10} {}",
                s.id + 1,
                s.stage.as_str(),
                s.action.as_str(),
                s.target.label()
            )?;
            if !s.after.is_empty() {
                let after: Vec<String> = s.after.iter().map(|a| (a + 1).to_string()).collect();
                write!(f, "  (after {})", after.join(", "))?;
            }
            writeln!(f, "\n     {}", s.reason)?;
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}

/// The plan for `goal`.
pub fn plan(goal: Goal, snap: &Snapshot, opts: &Options) -> Plan {
    let mut p = Plan {
        names: snap.names.clone(),
        ..Plan::default()
    };
    match goal {
        Goal::Teardown => {
            let defs = active_tracked(snap, opts, &mut p);
            teardown_all(&mut p, snap, opts, &defs, "teardown of the app");
        }
        Goal::Rebuild => {
            // A full reset deletes: stopped statements would keep their names taken.
            let opts = &Options {
                stop_only: false,
                carry_over_offsets: false,
                ..opts.clone()
            };
            let defs = active_tracked(snap, opts, &mut p);
            let why = "rebuild: teardown of everything the app has";
            let torn = teardown_all(&mut p, snap, opts, &defs, why);
            let mut created = BTreeMap::new();
            let order = desired_order(snap, &mut p);
            for i in order {
                let d = &snap.desired[i];
                if let Some(pat) = opts.protected(&d.name) {
                    skip_protected(&mut p, d, snap, pat);
                    continue;
                }
                let in_the_way =
                    subjects_in_the_way(snap, d).or_else(|| foreign_materialized(snap, d));
                let (action, why) = match in_the_way {
                    Some(refused) => (Action::Refuse, refused),
                    None => (Action::Create, "rebuild: build up from scratch".to_string()),
                };
                let id = p.push(
                    Stage::Buildup,
                    action,
                    Target::Statement {
                        def: d.clone(),
                        carry_over_from: None,
                        evolves_from: None,
                    },
                    why,
                    // Whatever runs under this name now is torn down first.
                    live_phase(snap, &d.name).filter(|_| !defs.iter().any(|t| t.name == d.name)),
                );
                // Only what it depends on: a failed teardown elsewhere leaves it be.
                for &t in &torn {
                    if rebuild_waits_for(d, &p.steps[t].target) {
                        p.after(id, t);
                    }
                }
                // A refused one stays in the graph: what depends on it is blocked by it.
                created.insert(i, id);
            }
            wire_creates(&mut p, snap, &created);
        }
        Goal::Buildup => converge(&mut p, snap, opts),
    }
    note_uncheckable_creates(&mut p, snap);
    settle_record_fates(&mut p);
    p
}

/// The records the executor forgets once their statements are gone: pruned statements, and
/// versions deleted for a new version under another name (what the tracker would otherwise
/// offer to build up again).
fn settle_record_fates(p: &mut Plan) {
    let created: BTreeMap<String, String> = p
        .steps
        .iter()
        .filter(|s| s.action == Action::Create)
        .filter_map(|s| match &s.target {
            Target::Statement { def, .. } => Some((def.logical.clone(), def.name.clone())),
            _ => None,
        })
        .collect();
    for s in &mut p.steps {
        let Target::Statement { def, .. } = &s.target else {
            continue;
        };
        let replaced = || created.get(&def.logical).is_some_and(|n| *n != def.name);
        if s.action == Action::Prune || (s.action == Action::Delete && replaced()) {
            s.record = RecordFate::Forget;
        }
    }
}

/// Whether building `d` up in a rebuild must wait for the teardown step on `torn`: the
/// statement under its name or logical name, a statement that shares a table with it where
/// either of them writes (two writers, or a reader of a table being replaced), a table it uses
/// being dropped. Any other teardown step may fail without holding `d` back.
fn rebuild_waits_for(d: &Definition, torn: &Target) -> bool {
    let uses = |def: &Definition, topic: &str| {
        def.creates
            .iter()
            .chain(&def.writes)
            .chain(&def.reads)
            .any(|t| t.name == topic)
    };
    let writes = |def: &Definition, topic: &str| {
        def.creates
            .iter()
            .chain(&def.writes)
            .any(|t| t.name == topic)
    };
    match torn {
        Target::Statement { def: old, .. } => {
            old.name == d.name
                || old.logical == d.logical
                || old
                    .creates
                    .iter()
                    .chain(&old.writes)
                    .chain(&old.reads)
                    .any(|t| (writes(d, &t.name) || writes(old, &t.name)) && uses(d, &t.name))
        }
        Target::Table(t) => uses(d, &t.topic),
    }
}

/// Whether the tracked statement of `d`'s name was deployed from another definition: only
/// possible under a name the manifest pins (a derived name changes with the definition).
fn redefined(snap: &Snapshot, d: &Definition) -> bool {
    tracked(snap, &d.name).is_some_and(|t| {
        let o = &t.def;
        let set = |a: &str, b: &str| !a.is_empty() && !b.is_empty() && a != b;
        o.identity_sql() != d.identity_sql()
            || o.properties != d.properties
            || set(&o.compute_pool, &d.compute_pool)
            || set(&o.principal, &d.principal)
    })
}

/// The first table a table's DDL creates whose topic is gone, in the cluster the run can check
/// (a table elsewhere cannot be seen, so it is never taken for gone).
fn tables_gone<'a>(snap: &Snapshot, d: &'a Definition) -> Option<&'a TableRef> {
    d.declares_table()
        .then(|| {
            d.creates
                .iter()
                .find(|t| snap.cluster.check(t).is_ok() && !snap.topics.contains(&t.name))
        })
        .flatten()
}

/// Why creating `d` would meet subjects that are not the app's, if it would: the tables it
/// creates whose `-key`/`-value` subjects someone else left (§F.6: the create fails, and never
/// by waiting).
fn subjects_in_the_way(snap: &Snapshot, d: &Definition) -> Option<String> {
    let found: Vec<&str> = d
        .creates
        .iter()
        .filter(|t| !snap.topics.contains(&t.name))
        .flat_map(|t| snap.foreign_subjects.get(&t.name).into_iter().flatten())
        .map(String::as_str)
        .collect();
    (!found.is_empty()).then(|| subjects_message(&found))
}

/// Why a create does not go ahead over subjects that are not the app's, and what to do.
pub fn subjects_message(found: &[&str]) -> String {
    format!(
        "not created: Schema Registry subject{} {} already exist{} for a table it creates, and \
         the app holds no evidence that they are its own; a table created over them fails \
         (\"doesn't match the existing one\") or writes into someone else's subject. Delete \
         them if nobody uses them, or give the table another name",
        if found.len() == 1 { "" } else { "s" },
        found.join(", "),
        if found.len() == 1 { "s" } else { "" },
    )
}

fn live_phase(snap: &Snapshot, name: &str) -> Option<Phase> {
    snap.live.get(name).map(|l| l.phase.clone())
}

fn tracked<'a>(snap: &'a Snapshot, name: &str) -> Option<&'a Tracked> {
    snap.tracked.iter().find(|t| t.def.name == name)
}

/// Why the live statement named like `d` must not be touched, if it must not: it is not the one
/// the app's record describes (or, unrecorded, not the app's definition).
fn refusal(snap: &Snapshot, d: &Definition) -> Option<String> {
    let live = snap.live.get(&d.name)?;
    let rec = tracked(snap, &d.name);
    let expected = Expected {
        app: &snap.app,
        uid: rec.and_then(|t| t.uid.as_deref()),
        sql: rec.map_or(d.sql.as_str(), |t| t.def.sql.as_str()),
    };
    let shown = Shown {
        uid: live.uid.as_deref(),
        owner: live.owner.as_deref(),
        sql: &live.sql,
    };
    ownership::verify_statement(&expected, &shown)
        .err()
        .map(|e| format!("not the app's statement: {e}"))
}

fn skip_protected(p: &mut Plan, d: &Definition, snap: &Snapshot, pat: &glob::Pattern) {
    p.push(
        Stage::Teardown,
        Action::Skip,
        Target::Statement {
            def: d.clone(),
            carry_over_from: None,
            evolves_from: None,
        },
        format!("protected by pattern '{}'", pat.as_str()),
        live_phase(snap, &d.name),
    );
}

/// Tracked statements that may still exist: not torn down, or torn down but live again.
fn active_tracked<'a>(snap: &'a Snapshot, opts: &Options, p: &mut Plan) -> Vec<&'a Definition> {
    let mut out = Vec::new();
    for t in &snap.tracked {
        if t.torn_down && !snap.live.contains_key(&t.def.name) {
            continue;
        }
        if let Some(pat) = opts.protected(&t.def.name) {
            skip_protected(p, &t.def, snap, pat);
            continue;
        }
        out.push(&t.def);
    }
    out
}

/// A buildup that creates a table in a cluster the run cannot check says so up front: the app
/// will never be able to drop that table.
fn note_uncheckable_creates(p: &mut Plan, snap: &Snapshot) {
    let mut notes = Vec::new();
    for s in &p.steps {
        if let (Action::Create, Target::Statement { def, .. }) = (s.action, &s.target) {
            for t in &def.creates {
                if let Err(e) = snap.cluster.check(t) {
                    notes.push(format!(
                        "table {t} cannot be checked ({e}): the app will never drop it"
                    ));
                }
            }
        }
    }
    notes.dedup();
    p.notes.extend(notes);
}

/// Tear down everything the app has (`defs`, and the tables of what it tore down before), each
/// statement deleted for the same reason.
fn teardown_all(
    p: &mut Plan,
    snap: &Snapshot,
    opts: &Options,
    defs: &[&Definition],
    why: &str,
) -> Vec<usize> {
    let reason = |_: &Definition| (Action::Delete, why.to_string());
    teardown(
        p,
        snap,
        opts,
        &TeardownOf {
            defs,
            leftovers: true,
            keep: &BTreeSet::new(),
            reason: &reason,
        },
    )
}

/// What a teardown works on: the app's statements to tear down, whether tables of statements
/// torn down earlier are dropped too (`leftovers`), the tables to keep, and each statement's
/// action and reason.
struct TeardownOf<'a> {
    defs: &'a [&'a Definition],
    /// Also end the tables whose evidence the app's torn-down records still hold (a full
    /// teardown or rebuild): a run killed between a statement's deletion and its table's drop
    /// leaves exactly that.
    leftovers: bool,
    keep: &'a BTreeSet<TableRef>,
    reason: &'a dyn Fn(&Definition) -> (Action, String),
}

/// Teardown steps for `of.defs` (readers before what they read) and for the tables the app holds
/// evidence it created; returns the ids of every step planned.
fn teardown(p: &mut Plan, snap: &Snapshot, opts: &Options, of: &TeardownOf<'_>) -> Vec<usize> {
    let ids = teardown_statements(p, snap, opts, of);
    let mut all = ids.clone();
    if !opts.drop_tables || opts.stop_only {
        if opts.stop_only && opts.drop_tables && of.defs.iter().any(|d| !d.creates.is_empty()) {
            p.notes
                .push("stop-only: tables are kept, since stopped statements still use them".into());
        }
        for m in of.defs.iter().filter_map(|d| d.materialized.as_ref()) {
            p.notes.push(format!(
                "materialized table {} is kept, and its query with it: its query is part of the \
                 table, and tables are kept (drop-tables off, or stop-only)",
                snap.names.shown(&m.table)
            ));
        }
        return all;
    }
    all.extend(teardown_tables(p, snap, opts, of, &ids));
    all
}

/// One step per statement, ordered in reverse of the buildup order: what uses a thing goes
/// before the thing. A statement the run cannot prove is the app's is refused.
fn teardown_statements(
    p: &mut Plan,
    snap: &Snapshot,
    opts: &Options,
    of: &TeardownOf<'_>,
) -> Vec<usize> {
    let graph = lenient_graph(of.defs, p);
    let mut ids = Vec::with_capacity(of.defs.len());
    for d in of.defs {
        let (action, why) = match refusal(snap, d) {
            Some(refused) => (Action::Refuse, refused),
            None => match (of.reason)(d) {
                (Action::Delete, why) if opts.stop_only => (Action::Stop, why),
                other => other,
            },
        };
        ids.push(p.push(
            Stage::Teardown,
            action,
            Target::Statement {
                def: (*d).clone(),
                carry_over_from: None,
                evolves_from: None,
            },
            why,
            live_phase(snap, &d.name),
        ));
    }
    for i in 0..of.defs.len() {
        for (j, _) in graph.successors(i) {
            p.after(ids[i], ids[j]);
        }
    }
    ids
}

/// One step per table a record of these statements (or, with `leftovers`, of statements torn
/// down before) holds evidence for, after every statement that uses the table. `ids` are the
/// statements' steps, in the order of `of.defs`.
fn teardown_tables(
    p: &mut Plan,
    snap: &Snapshot,
    opts: &Options,
    of: &TeardownOf<'_>,
    ids: &[usize],
) -> Vec<usize> {
    let defs = of.defs;
    let in_plan: BTreeSet<&str> = defs.iter().map(|d| d.name.as_str()).collect();
    let leftovers = snap
        .tracked
        .iter()
        .filter(|t| of.leftovers && t.torn_down && !snap.live.contains_key(&t.def.name))
        .filter(|t| !in_plan.contains(t.def.name.as_str()))
        .filter(|t| opts.protected(&t.def.name).is_none())
        .map(|t| (None, &t.def));
    let creators = defs
        .iter()
        .enumerate()
        .map(|(i, d)| (Some(i), *d))
        .chain(leftovers);
    // Held evidence first, so a table two records name is decided by the one that holds it.
    let mut claims: Vec<(Option<usize>, &Definition, &Claim)> = creators
        .flat_map(|(i, d)| {
            tracked(snap, &d.name)
                .into_iter()
                .flat_map(|t| t.claims.iter())
                .map(move |c| (i, d, c))
        })
        .collect();
    claims.sort_by_key(|(_, _, c)| !c.ownership.is_held());
    // A DROP statement a killed run left must be gone before the table is dropped again: the
    // new DROP would have its name.
    let hidden: Vec<usize> = defs
        .iter()
        .enumerate()
        .filter(|(_, d)| tracked(snap, &d.name).is_some_and(|t| t.hidden))
        .map(|(i, _)| ids[i])
        .collect();
    let mut planned = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, d, c) in claims {
        let t = &c.table;
        if of.keep.contains(t) || !seen.insert(t.clone()) {
            continue;
        }
        let target = Target::Table(TableTarget {
            table: t.clone(),
            topic: c.topic.clone(),
            created_by: d.name.clone(),
            properties: catalog_properties(d),
            shown: snap.names.shown(t).to_string(),
            materialized: d.materialized.as_ref().is_some_and(|m| &m.table == t),
        });
        let exists = snap.topics.contains(&c.topic);
        let (action, why) = match &c.ownership {
            Ownership::Owned | Ownership::Pending | Ownership::Unverified => {
                table_verdict(snap, opts, c, d, exists, i.is_some())
            }
            Ownership::Found | Ownership::NotCreated => {
                if i.is_some() && exists {
                    p.notes.push(format!(
                        "table {t} is kept: it is not the app's ({})",
                        c.detail.as_deref().unwrap_or(c.ownership.as_str())
                    ));
                }
                continue;
            }
            Ownership::Dropped | Ownership::Other(_) => continue,
        };
        let id = p.push(Stage::Teardown, action, target, why, None);
        if let Some(i) = i {
            p.after(id, ids[i]);
        }
        for &h in &hidden {
            p.after(id, h);
        }
        if action == Action::DropTable {
            for (j, other) in defs.iter().enumerate() {
                if other.reads.contains(t) || other.writes.contains(t) || other.creates.contains(t)
                {
                    p.after(id, ids[j]);
                }
            }
        }
        planned.push(id);
    }
    order_materialized_drops(p, &planned, snap);
    planned
}

/// A materialized table's query reads its sources: one that reads another materialized table
/// of the app is dropped first (consumers first, §G.7), as a statement that reads a table is
/// deleted before the table's drop.
fn order_materialized_drops(p: &mut Plan, planned: &[usize], snap: &Snapshot) {
    let drops: Vec<(usize, TableRef, Vec<TableRef>)> = planned
        .iter()
        .filter(|&&id| p.steps[id].action == Action::DropTable)
        .filter_map(|&id| match &p.steps[id].target {
            Target::Table(t) if t.materialized => {
                let reads = snap
                    .tracked
                    .iter()
                    .map(|tr| &tr.def)
                    .chain(&snap.desired)
                    .filter(|d| d.name == t.created_by)
                    .flat_map(|d| d.reads.clone())
                    .collect();
                Some((id, t.table.clone(), reads))
            }
            _ => None,
        })
        .collect();
    for (id, table, _) in &drops {
        for (reader, _, reads) in &drops {
            if reads.contains(table) {
                p.after(*id, *reader);
            }
        }
    }
}

/// What to do with a table the app may own: drop it, release it (its incarnation is gone or
/// replaced), refuse it (it cannot be checked), skip it (protected).
fn table_verdict(
    snap: &Snapshot,
    opts: &Options,
    c: &Claim,
    creator: &Definition,
    exists: bool,
    torn_down_now: bool,
) -> (Action, String) {
    let t = &c.table;
    if let Some(pat) = protect::table(&opts.protect, t, &snap.names) {
        return (
            Action::Skip,
            format!("protected by pattern '{}'", pat.as_str()),
        );
    }
    if c.ownership == Ownership::Unverified {
        let why = c
            .detail
            .as_deref()
            .unwrap_or("its cluster could not be checked");
        return (Action::Refuse, format!("not verified: {why}"));
    }
    if let Err(e) = snap.cluster.same_cluster(c.cluster_id.as_deref()) {
        return (Action::Refuse, format!("not verified: {e}"));
    }
    let live_id = snap.topic_ids.get(&c.topic).map(String::as_str);
    // (A pending claim has no id yet: its statement settles it, or the drop is refused.)
    if exists && c.ownership == Ownership::Owned && c.topic_id.is_none() && live_id.is_some() {
        return (
            Action::Release,
            format!(
                "spared: {} recorded no topic id for {}, so nothing proves the topic there (id {}) \
                 is the incarnation it created",
                creator.name,
                c.topic,
                live_id.unwrap_or("?")
            ),
        );
    }
    let pending = c.ownership == Ownership::Pending;
    if exists && !pending && !ownership::same_incarnation(c.topic_id.as_deref(), live_id) {
        return (
            Action::Release,
            format!(
                "spared: topic {} is another incarnation (id {}) than the one {} created (id {})",
                c.topic,
                live_id.unwrap_or("?"),
                creator.name,
                c.topic_id.as_deref().unwrap_or("?")
            ),
        );
    }
    if !exists && !torn_down_now {
        // The topic went, its subjects did not: the drop was cut short; finish it.
        return match snap.subjects_left.get(&c.topic).filter(|s| !s.is_empty()) {
            Some(left) => (
                Action::DropTable,
                format!(
                    "its topic is gone but subjects {} are left: finishing the drop",
                    left.join(", ")
                ),
            ),
            None => (
                Action::Release,
                format!("already gone: the app's ownership of {t} ends"),
            ),
        };
    }
    let why = match c.ownership {
        Ownership::Pending => format!(
            "created by {} (to be confirmed: the run that created it was interrupted)",
            creator.name
        ),
        _ => format!("created by {}", creator.name),
    };
    (Action::DropTable, why)
}

fn catalog_properties(d: &Definition) -> BTreeMap<String, String> {
    d.properties
        .iter()
        .filter(|(k, _)| {
            k.as_str() == "sql.current-catalog" || k.as_str() == "sql.current-database"
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A graph over definitions that tolerates what tracker records may hold: dependencies on
/// statements outside the set are ignored, and a cycle falls back to the listed order.
fn lenient_graph(defs: &[&Definition], p: &mut Plan) -> Graph {
    let names: BTreeSet<&str> = defs.iter().map(|d| d.logical.as_str()).collect();
    let nodes: Vec<deps::Node> = defs
        .iter()
        .map(|d| deps::Node {
            name: d.logical.clone(),
            creates: d.creates.clone(),
            writes: d.writes.clone(),
            reads: d.reads.clone(),
            depends_on: d
                .depends_on
                .iter()
                .filter(|n| names.contains(n.as_str()))
                .cloned()
                .collect(),
        })
        .collect();
    match Graph::build(&nodes) {
        Ok(g) => g,
        Err(e) => {
            p.notes
                .push(format!("ordering falls back to the listed order: {e}"));
            let plain: Vec<deps::Node> = nodes
                .into_iter()
                .map(|n| deps::Node {
                    name: n.name,
                    ..Default::default()
                })
                .collect();
            Graph::build(&plain).unwrap_or_default()
        }
    }
}

/// The desired statements in buildup order.
fn desired_order(snap: &Snapshot, p: &mut Plan) -> Vec<usize> {
    let refs: Vec<&Definition> = snap.desired.iter().collect();
    let g = lenient_graph(&refs, p);
    g.topological()
        .unwrap_or_else(|_| (0..snap.desired.len()).collect())
}

/// Creates wait for the creates of what they depend on.
fn wire_creates(p: &mut Plan, snap: &Snapshot, created: &BTreeMap<usize, usize>) {
    let refs: Vec<&Definition> = snap.desired.iter().collect();
    let mut scratch = Plan::default();
    let g = lenient_graph(&refs, &mut scratch);
    for (&i, &step) in created {
        for before in g.predecessors(i) {
            if let Some(&b) = created.get(&before) {
                p.after(step, b);
            }
        }
    }
}

/// Live phases of a wanted statement that leave it as it is.
const SETTLED_OK: [Phase; 3] = [Phase::Running, Phase::Completed, Phase::Pending];

/// What `buildup` does with a wanted statement that has no older version to replace.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Unchanged,
    Resume,
    /// Create; `true` when a statement of the same name must be deleted first.
    Create(bool),
}

/// What `buildup` decided about the app before any step is planned: the first three phases of
/// [`converge`], read by the last two.
struct Verdicts<'a> {
    /// Older versions of each wanted statement (by index into `desired`), still there.
    old_of: BTreeMap<usize, Vec<&'a Tracked>>,
    /// Tracked statements no longer wanted, still there.
    pruned: Vec<&'a Tracked>,
    fate: Vec<Fate>,
    /// The reason of each wanted statement's step.
    why: Vec<String>,
    /// Tables dropped and created again: a changed statement creates them (and, transitively,
    /// tables created by statements that are recreated because they use one).
    recreated: BTreeSet<TableRef>,
    /// Wanted statements left alone because a `protect` pattern matches them or the version
    /// they replace.
    protected: BTreeSet<usize>,
    /// Wanted statements not deployed because the version they replace is protected, with why.
    kept_old: BTreeMap<usize, String>,
    /// Wanted statements that cannot be created (subjects in the way), with why: refused, and
    /// what they would replace is left running.
    held_back: BTreeMap<usize, String>,
    /// Wanted materialized tables evolved in place from an older version of the app's.
    evolved: BTreeMap<usize, Evolution<'a>>,
}

/// A materialized table evolved in place: the version it evolves from, and what changed.
struct Evolution<'a> {
    from: &'a Tracked,
    parts: Vec<crate::materialized::Part>,
}

/// `buildup`: create what is missing, replace what changed, prune what is no longer wanted,
/// leave the rest alone. In five phases: classify the tracked statements, decide each wanted
/// statement's fate, propagate recreated tables to their users, then plan the teardown steps
/// and the buildup steps.
fn converge(p: &mut Plan, snap: &Snapshot, opts: &Options) {
    let (old_of, pruned) = classify(snap);
    let (fate, why) = fates(snap, &old_of);
    let mut v = Verdicts {
        old_of,
        pruned,
        fate,
        why,
        recreated: BTreeSet::new(),
        protected: BTreeSet::new(),
        kept_old: BTreeMap::new(),
        held_back: BTreeMap::new(),
        evolved: BTreeMap::new(),
    };
    decide_evolutions(snap, &mut v);
    keep_protected_old_versions(p, snap, opts, &mut v);
    propagate_recreated(snap, &mut v);
    for (i, d) in snap.desired.iter().enumerate() {
        let creates = (matches!(v.fate[i], Fate::Create(_)) || v.old_of.contains_key(&i))
            && !v.evolved.contains_key(&i);
        let in_the_way = creates
            .then(|| subjects_in_the_way(snap, d).or_else(|| foreign_materialized(snap, d)))
            .flatten();
        if let Some(why) = in_the_way {
            v.held_back.insert(i, why);
        }
    }
    for (i, d) in snap.desired.iter().enumerate() {
        if (v.fate[i] != Fate::Unchanged || v.old_of.contains_key(&i)) && !v.protected.contains(&i)
        {
            if let Some(pat) = opts.protected(&d.name) {
                skip_protected(p, d, snap, pat);
                v.protected.insert(i);
            }
        }
    }
    let (torn, carry_from) = converge_teardown(p, snap, opts, &v);
    converge_buildup(p, snap, opts, &v, &torn, &carry_from);
}

/// The version a buildup would replace is protected like any other statement — by its name, or
/// by a table its SQL drops, alters, creates or writes ([`protect::touches`]) — and so kept (a
/// Skip, as a teardown skips it). Its replacement is then not deployed either: two versions of
/// the statement would run at once, writing the same tables twice.
fn keep_protected_old_versions(
    p: &mut Plan,
    snap: &Snapshot,
    opts: &Options,
    v: &mut Verdicts<'_>,
) {
    if opts.protect.is_empty() {
        return;
    }
    for (i, d) in snap.desired.iter().enumerate() {
        // Older versions under other names, and the one under its pinned name that was deployed
        // from another definition.
        let mut olds: Vec<&Definition> = v
            .old_of
            .get(&i)
            .into_iter()
            .flatten()
            .map(|t| &t.def)
            .collect();
        if v.fate[i] == Fate::Create(true) && redefined(snap, d) {
            olds.extend(tracked(snap, &d.name).map(|t| &t.def));
        }
        let kept: Vec<(&Definition, String)> = olds
            .iter()
            .filter_map(|o| protected_why(snap, opts, o).map(|why| (*o, why)))
            .collect();
        if kept.is_empty() {
            continue;
        }
        let kept_names = kept
            .iter()
            .map(|(o, _)| o.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        // One step per statement: the one under the wanted name is said by the buildup's Skip.
        for o in olds.iter().filter(|o| o.name != d.name) {
            let why = match kept.iter().find(|(k, _)| k.name == o.name) {
                Some((_, why)) => format!("replaced by {}, but kept: {why}", d.name),
                None => format!("kept with {kept_names}, which is protected"),
            };
            let target = Target::Statement {
                def: (*o).clone(),
                carry_over_from: None,
                evolves_from: None,
            };
            p.push(
                Stage::Teardown,
                Action::Skip,
                target,
                why,
                live_phase(snap, &o.name),
            );
        }
        let whys = kept
            .iter()
            .map(|(_, why)| why.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        v.kept_old.insert(
            i,
            format!(
                "not deployed: the version it replaces ({kept_names}) is protected ({whys}) and \
                 kept, and two versions of the statement would run at once, writing the same \
                 tables twice"
            ),
        );
        v.protected.insert(i);
    }
}

/// Why `d` is protected, if it is: by its name, or by a table its SQL changes.
fn protected_why(snap: &Snapshot, opts: &Options, d: &Definition) -> Option<String> {
    if let Some(pat) = opts.protected(&d.name) {
        return Some(format!("protected by pattern '{}'", pat.as_str()));
    }
    protect::touches(&opts.protect, d, &snap.names).map(|hit| hit.said(&snap.names))
}

/// Tracked statements that are not wanted under their name but are still there: older versions
/// of a wanted statement (same logical name), and statements no longer wanted at all.
#[allow(clippy::type_complexity)]
fn classify(snap: &Snapshot) -> (BTreeMap<usize, Vec<&Tracked>>, Vec<&Tracked>) {
    let desired_names: BTreeSet<&str> = snap.desired.iter().map(|d| d.name.as_str()).collect();
    let desired_logical: BTreeMap<&str, usize> = snap
        .desired
        .iter()
        .enumerate()
        .map(|(i, d)| (d.logical.as_str(), i))
        .collect();
    let mut old_of: BTreeMap<usize, Vec<&Tracked>> = BTreeMap::new();
    let mut pruned: Vec<&Tracked> = Vec::new();
    for t in &snap.tracked {
        if desired_names.contains(t.def.name.as_str()) {
            continue;
        }
        let still_there = !t.torn_down || snap.live.contains_key(&t.def.name);
        if !still_there {
            continue;
        }
        match desired_logical.get(t.def.logical.as_str()) {
            Some(&i) => old_of.entry(i).or_default().push(t),
            None => pruned.push(t),
        }
    }
    (old_of, pruned)
}

/// Each wanted statement's fate from its live phase, and the reason its step will give.
fn fates(snap: &Snapshot, old_of: &BTreeMap<usize, Vec<&Tracked>>) -> (Vec<Fate>, Vec<String>) {
    let tracked_names: BTreeSet<&str> = snap.tracked.iter().map(|t| t.def.name.as_str()).collect();
    let fate: Vec<Fate> = snap
        .desired
        .iter()
        .map(|d| match snap.live.get(&d.name).map(|l| &l.phase) {
            // A name the manifest pins stays when the definition changes: the change makes a
            // new statement under the same name.
            Some(_) if redefined(snap, d) => Fate::Create(true),
            // A table's DDL that completed, whose table is gone since (deleted under it, or the
            // statement purged while the list still shows it), runs again.
            Some(Phase::Completed) if d.declares_table() && tables_gone(snap, d).is_some() => {
                Fate::Create(true)
            }
            Some(ph) if SETTLED_OK.contains(ph) => Fate::Unchanged,
            Some(Phase::Stopped) if d.resumable => Fate::Resume,
            Some(_) => Fate::Create(true),
            // A table's DDL we ran before, whose table is still there, has nothing to do.
            None if d.declares_table()
                && tracked_names.contains(d.name.as_str())
                && d.creates.iter().all(|t| snap.topics.contains(&t.name)) =>
            {
                Fate::Unchanged
            }
            None => Fate::Create(false),
        })
        .collect();
    let why = snap
        .desired
        .iter()
        .enumerate()
        .map(|(i, d)| match (fate[i], old_of.get(&i)) {
            (_, Some(olds)) => format!(
                "definition changed: replaces {}",
                olds.iter()
                    .map(|o| o.def.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            (Fate::Unchanged, None) => match live_phase(snap, &d.name) {
                Some(ph) => format!("unchanged and {ph}"),
                None => "unchanged; its table exists".into(),
            },
            (Fate::Resume, None) => "stopped: resume it".into(),
            (Fate::Create(true), None) if redefined(snap, d) => {
                "definition changed under its pinned name: create it again".into()
            }
            (Fate::Create(true), None) if tables_gone(snap, d).is_some() => format!(
                "its table {} is gone: create it again",
                tables_gone(snap, d)
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
            (Fate::Create(true), None) if live_phase(snap, &d.name) == Some(Phase::Stopped) => {
                "stopped, and only INSERT INTO, CTAS and EXECUTE STATEMENT SET can be resumed: \
                 create it again"
                    .into()
            }
            (Fate::Create(true), None) => format!(
                "live as {}: create it again",
                live_phase(snap, &d.name).unwrap_or_default()
            ),
            (Fate::Create(false), None) => "not deployed".into(),
        })
        .collect();
    (fate, why)
}

/// A changed statement that creates a table recreates it; whatever uses the table is deleted
/// before the drop and created again after (transitively). Only a table the app owns is
/// recreated; one it merely found stays as it is.
fn propagate_recreated(snap: &Snapshot, v: &mut Verdicts<'_>) {
    for (&i, olds) in &v.old_of {
        // A kept old version keeps its tables; an evolved one keeps its topic.
        if v.protected.contains(&i) || v.evolved.contains_key(&i) {
            continue;
        }
        let owned = olds
            .iter()
            .flat_map(|o| o.claims.iter())
            .filter(|c| c.ownership.is_held())
            .map(|c| &c.table);
        for t in owned {
            if snap.desired[i].creates.contains(t) {
                v.recreated.insert(t.clone());
            }
        }
    }
    loop {
        let mut grew = false;
        for (i, d) in snap.desired.iter().enumerate() {
            let uses = v
                .recreated
                .iter()
                .find(|t| d.reads.contains(t) || d.writes.contains(t))
                .cloned();
            if let Some(t) = uses {
                if !d.creates.contains(&t) && matches!(v.fate[i], Fate::Unchanged | Fate::Resume) {
                    v.fate[i] = Fate::Create(snap.live.contains_key(&d.name));
                    v.why[i] = format!("uses table {t}, which is recreated");
                    v.recreated.extend(d.creates.iter().cloned());
                    grew = true;
                }
            }
        }
        if !grew {
            break;
        }
    }
}

/// For each wanted materialized table that replaces an older version of the app's: evolve it in
/// place when the app holds the evidence for the incarnation that is there and the service
/// allows the change in place; otherwise (a change it refuses in place) the normal replacement
/// drops and creates it, and the reason says why.
fn decide_evolutions<'a>(snap: &Snapshot, v: &mut Verdicts<'a>) {
    use crate::materialized::{change, Change};
    for (&i, olds) in &v.old_of {
        let d = &snap.desired[i];
        let Some(new) = &d.materialized else {
            continue;
        };
        for old in olds {
            let Some(was) = old
                .def
                .materialized
                .as_ref()
                .filter(|m| m.table == new.table)
            else {
                continue;
            };
            let Some(claim) = old
                .claims
                .iter()
                .find(|c| c.table == new.table && c.ownership == Ownership::Owned)
            else {
                continue;
            };
            let live_id = snap.topic_ids.get(&claim.topic).map(String::as_str);
            if !snap.topics.contains(&claim.topic)
                || !ownership::same_incarnation(claim.topic_id.as_deref(), live_id)
            {
                continue;
            }
            match change(was, new) {
                Change::Replace(why) => {
                    v.why[i] = format!("{}; {why}: dropped and created again", v.why[i]);
                }
                Change::Same => {
                    // Only its pool, principal or properties changed: an evolution under them.
                    v.evolved.insert(
                        i,
                        Evolution {
                            from: old,
                            parts: Vec::new(),
                        },
                    );
                }
                Change::Evolve(parts) => {
                    v.evolved.insert(i, Evolution { from: old, parts });
                }
            }
            break;
        }
    }
}

/// Why a materialized table the app wants to create is not created, if it is not: its table
/// exists and no record of the app holds the evidence for it. `CREATE OR ALTER` would evolve
/// someone else's table (and a plain create fails on it).
fn foreign_materialized(snap: &Snapshot, d: &Definition) -> Option<String> {
    let m = d.materialized.as_ref()?;
    let topic = &m.table.name;
    if !snap.topics.contains(topic) {
        return None;
    }
    let live_id = snap.topic_ids.get(topic).map(String::as_str);
    let held = snap.tracked.iter().flat_map(|t| &t.claims).any(|c| {
        c.table == m.table
            && c.ownership.is_held()
            && ownership::same_incarnation(c.topic_id.as_deref(), live_id)
    });
    (!held).then(|| {
        format!(
            "not created: table {} exists and the app holds no evidence that it created it; \
             CREATE OR ALTER MATERIALIZED TABLE would evolve someone else's table. Drop it if it \
             is the app's, or give the table another name",
            snap.names.shown(&m.table)
        )
    })
}

/// The plan's words for an evolution: what changed, where the new query starts, and what
/// happens to the old query's state.
fn evolve_reason(snap: &Snapshot, d: &Definition, e: &Evolution<'_>) -> String {
    let Some(m) = &d.materialized else {
        return String::new();
    };
    let what = if e.parts.is_empty() {
        "its compute pool, principal or properties changed".to_string()
    } else {
        let parts: Vec<&str> = e.parts.iter().map(|p| p.as_str()).collect();
        format!("its {} changed", parts.join(", "))
    };
    let start = match &m.start_mode {
        Some(s) => format!("starts {s}"),
        None => format!(
            "starts {} (the service's default: the definition names no START_MODE)",
            crate::materialized::SERVICE_DEFAULT_START
        ),
    };
    let resumes = m
        .start_mode
        .as_ref()
        .unwrap_or(&crate::materialized::SERVICE_DEFAULT_START)
        .resumes();
    let state = state_reasons(snap, d);
    let state_said = if state.is_empty() {
        String::new()
    } else if resumes {
        format!(
            "; its query keeps state ({}): the state is discarded, and a RESUME_* start \
             continues from the old query's offsets without it, so its results undercount",
            said(&state)
        )
    } else {
        format!(
            "; its query keeps state ({}): the state is discarded and rebuilt from where the \
             new query starts",
            said(&state)
        )
    };
    format!(
        "{what}: evolved in place from {} (same topic, a new version); the new query {start}{state_said}",
        e.from.def.name
    )
}

/// The teardown stage of `buildup`: old versions (unless their offsets carry over), same-name
/// redeploys, statements that use recreated tables, and pruned ones; then the recreated tables
/// and the tables of pruned statements no wanted statement uses. Returns the steps planned and,
/// per wanted statement, the old version whose offsets it takes over.
fn converge_teardown<'a>(
    p: &mut Plan,
    snap: &Snapshot,
    opts: &Options,
    v: &Verdicts<'a>,
) -> (Vec<usize>, BTreeMap<usize, &'a Tracked>) {
    let carry = |i: usize, old: &Tracked| {
        opts.carry_over_offsets
            // The service refuses carry-over for a stateful statement, after the old one would
            // have been stopped: an outage (§F.11). It starts anew instead.
            && state_reasons(snap, &snap.desired[i]).is_empty()
            && !snap.desired[i].declares_table()
            && snap.desired[i].creates.is_empty()
            && !v
                .recreated
                .iter()
                .any(|t| old.def.reads.contains(t) || old.def.writes.contains(t))
            && snap
                .live
                .get(&old.def.name)
                .is_some_and(|l| l.phase == Phase::Running)
    };
    let mut carry_from: BTreeMap<usize, &'a Tracked> = BTreeMap::new();
    let mut to_delete: Vec<(&Definition, String)> = Vec::new();
    for (&i, olds) in &v.old_of {
        if v.protected.contains(&i) || v.held_back.contains_key(&i) {
            continue;
        }
        for old in olds {
            if v.evolved
                .get(&i)
                .is_some_and(|e| e.from.def.name == old.def.name)
            {
                // Its statement goes once the evolution is live: the evolve step hands its
                // evidence over first.
                continue;
            }
            if !carry_from.contains_key(&i) && carry(i, old) {
                carry_from.insert(i, old);
            } else {
                to_delete.push((&old.def, format!("replaced by {}", snap.desired[i].name)));
            }
        }
    }
    for (i, d) in snap.desired.iter().enumerate() {
        if v.fate[i] == Fate::Create(true)
            && !v.protected.contains(&i)
            && !v.held_back.contains_key(&i)
        {
            to_delete.push((d, v.why[i].clone()));
        }
    }
    let mut prune_defs: Vec<&Definition> = Vec::new();
    for t in &v.pruned {
        if let Some(pat) = opts.protected(&t.def.name) {
            skip_protected(p, &t.def, snap, pat);
        } else {
            prune_defs.push(&t.def);
        }
    }
    // Dropped here: recreated tables, and tables of pruned statements no wanted statement uses.
    let wanted_tables: BTreeSet<&TableRef> = snap
        .desired
        .iter()
        .flat_map(|d| d.creates.iter().chain(&d.reads).chain(&d.writes))
        .collect();
    let mut drop: BTreeSet<TableRef> = v.recreated.clone();
    for t in prune_defs.iter().flat_map(|d| d.creates.iter()) {
        if !wanted_tables.contains(t) {
            drop.insert(t.clone());
        } else if !v.recreated.contains(t) {
            p.notes.push(format!(
                "table {t} is kept: a wanted statement still uses it"
            ));
        }
    }
    let mut defs: Vec<&Definition> = to_delete.iter().map(|(d, _)| *d).collect();
    defs.extend(prune_defs.iter().copied());
    let keep: BTreeSet<TableRef> = defs
        .iter()
        .flat_map(|d| d.creates.iter())
        .filter(|t| !drop.contains(*t))
        .cloned()
        .collect();
    let reasons: BTreeMap<&str, String> = to_delete
        .iter()
        .map(|(d, r)| (d.name.as_str(), r.clone()))
        .collect();
    let reason = |d: &Definition| match reasons.get(d.name.as_str()) {
        Some(r) => (Action::Delete, r.clone()),
        None => (
            Action::Prune,
            "no longer in the app's definitions".to_string(),
        ),
    };
    let torn = teardown(
        p,
        snap,
        opts,
        &TeardownOf {
            defs: &defs,
            leftovers: false,
            keep: &keep,
            reason: &reason,
        },
    );
    (torn, carry_from)
}

/// The buildup stage of `buildup`, in dependency order: each wanted statement created, resumed,
/// left unchanged or refused; a create or resume after whatever torn-down step it replaces or
/// whose table it uses.
fn converge_buildup(
    p: &mut Plan,
    snap: &Snapshot,
    opts: &Options,
    v: &Verdicts<'_>,
    torn: &[usize],
    carry_from: &BTreeMap<usize, &Tracked>,
) {
    let order = desired_order(snap, p);
    let mut created = BTreeMap::new();
    for i in order {
        let d = &snap.desired[i];
        if v.protected.contains(&i) {
            if let Some(why) = v.kept_old.get(&i) {
                let target = Target::Statement {
                    def: d.clone(),
                    carry_over_from: None,
                    evolves_from: None,
                };
                let phase = live_phase(snap, &d.name);
                p.push(Stage::Buildup, Action::Skip, target, why.clone(), phase);
            }
            continue;
        }
        let replaces_old = v.old_of.contains_key(&i);
        // A live statement under the wanted name that is not the app's is neither left as
        // "unchanged" nor resumed: the name is someone else's.
        let refused = matches!(v.fate[i], Fate::Unchanged | Fate::Resume)
            .then(|| refusal(snap, d))
            .flatten();
        if let Some(e) = v.evolved.get(&i).filter(|_| !v.held_back.contains_key(&i)) {
            let id = p.push(
                Stage::Buildup,
                Action::Evolve,
                Target::Statement {
                    def: d.clone(),
                    carry_over_from: None,
                    evolves_from: Some(e.from.def.name.clone()),
                },
                evolve_reason(snap, d, e),
                live_phase(snap, &e.from.def.name),
            );
            for &t in torn {
                if let Target::Statement { def, .. } = &p.steps[t].target {
                    if def.logical == d.logical || def.name == d.name {
                        p.after(id, t);
                    }
                }
            }
            created.insert(i, id);
            continue;
        }
        let (action, carry_over_from) = match v.fate[i] {
            _ if refused.is_some() => (Action::Refuse, None),
            Fate::Unchanged if !replaces_old => (Action::Unchanged, None),
            Fate::Resume if !replaces_old => (Action::Resume, None),
            _ => (
                Action::Create,
                carry_from.get(&i).map(|o| o.def.name.clone()),
            ),
        };
        let (action, refused) = match (action, refused, v.held_back.get(&i)) {
            (Action::Create, None, Some(why)) => {
                let kept = if replaces_old {
                    "; what it replaces is left as it is"
                } else {
                    ""
                };
                (Action::Refuse, Some(format!("{why}{kept}")))
            }
            (action, refused, _) => (action, refused),
        };
        let state = state_reasons(snap, d);
        let reason = match (&carry_over_from, refused) {
            (_, Some(r)) => r,
            (Some(from), None) => format!("{}; offsets carried over from {from}", v.why[i]),
            (None, None) if replaces_old && !state.is_empty() => {
                let declined = if opts.carry_over_offsets {
                    "offsets not carried over: "
                } else {
                    ""
                };
                format!(
                    "{}; {declined}it keeps state ({}), so the replacement starts anew and the \
                     old version's state is not carried over",
                    v.why[i],
                    said(&state)
                )
            }
            (None, None) => v.why[i].clone(),
        };
        let id = p.push(
            Stage::Buildup,
            action,
            Target::Statement {
                def: d.clone(),
                carry_over_from,
                evolves_from: None,
            },
            reason,
            live_phase(snap, &d.name).filter(|_| v.fate[i] != Fate::Create(true)),
        );
        if action == Action::Refuse {
            // What depends on it is blocked by its refusal.
            created.insert(i, id);
        }
        if matches!(action, Action::Create | Action::Resume) {
            // After anything torn down that it replaces or whose table it uses.
            for &t in torn {
                let step = &p.steps[t];
                let related = match &step.target {
                    Target::Statement { def, .. } => def.logical == d.logical || def.name == d.name,
                    Target::Table(tt) => {
                        d.creates.contains(&tt.table)
                            || d.reads.contains(&tt.table)
                            || d.writes.contains(&tt.table)
                    }
                };
                if related {
                    p.after(id, t);
                }
            }
            created.insert(i, id);
        }
    }
    wire_creates(p, snap, &created);
}

#[cfg(test)]
mod tests;
