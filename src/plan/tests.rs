use super::*;

fn t(name: &str) -> TableRef {
    TableRef::new(name)
}

fn def(
    logical: &str,
    version: &str,
    creates: &[&str],
    writes: &[&str],
    reads: &[&str],
) -> Definition {
    Definition {
        logical: logical.into(),
        name: format!("app-{logical}-{version}"),
        sql: format!("-- {logical} {version}"),
        properties: BTreeMap::from([
            ("sql.current-catalog".to_string(), "env".to_string()),
            ("sql.current-database".to_string(), "cluster".to_string()),
        ]),
        compute_pool: "lfcp-1".into(),
        principal: "sa-1".into(),
        labels: BTreeMap::new(),
        creates: creates.iter().map(|n| t(n)).collect(),
        writes: writes.iter().map(|n| t(n)).collect(),
        reads: reads.iter().map(|n| t(n)).collect(),
        drops: vec![],
        alters: vec![],
        depends_on: vec![],
        is_table_ddl: !creates.is_empty() && writes.is_empty(),
        resumable: !writes.is_empty(),
        query_state: vec![],
        keyed: vec![],
        materialized: None,
    }
}

/// src-ddl and sink-ddl create tables; job reads src and writes sink; report reads sink.
fn app(v: &str) -> Vec<Definition> {
    vec![
        def("report", v, &[], &[], &["sink"]),
        def("job", v, &[], &["sink"], &["src"]),
        def("sink-ddl", v, &["sink"], &[], &[]),
        def("src-ddl", v, &["src"], &[], &[]),
    ]
}

/// A statement of the app as the service shows it: labelled as the app's, with the uid the
/// record has (`uid-<name>`).
fn live_as(d: &Definition, phase: &str) -> Live {
    Live {
        name: d.name.clone(),
        phase: phase.into(),
        uid: Some(format!("uid-{}", d.name)),
        owner: Some("app".into()),
        sql: d.sql.clone(),
    }
}

fn live(defs: &[Definition]) -> BTreeMap<String, Live> {
    defs.iter()
        .map(|d| {
            let phase = if d.is_table_ddl {
                "COMPLETED"
            } else {
                "RUNNING"
            };
            (d.name.clone(), live_as(d, phase))
        })
        .collect()
}

const CLUSTER: &str = "lkc-1";

/// Evidence that the app's statement created `table` in the run's cluster, as topic `id-<name>`.
fn owned(table: &str) -> Claim {
    Claim {
        table: t(table),
        topic: table.into(),
        ownership: Ownership::Owned,
        cluster_id: Some(CLUSTER.into()),
        topic_id: Some(format!("id-{table}")),
        detail: None,
    }
}

fn claim(table: &str, ownership: Ownership) -> Claim {
    Claim {
        ownership,
        ..owned(table)
    }
}

/// A record of `d`: torn down or not, with the uid its live statement has and evidence that it
/// created each of its tables.
fn tracked_as(d: &Definition, torn_down: bool) -> Tracked {
    Tracked {
        def: d.clone(),
        torn_down,
        uid: Some(format!("uid-{}", d.name)),
        claims: d.creates.iter().map(|c| owned(&c.name)).collect(),
        hidden: false,
    }
}

fn deployed(defs: &[Definition]) -> Snapshot {
    Snapshot {
        app: "app".into(),
        desired: defs.to_vec(),
        tracked: defs.iter().map(|d| tracked_as(d, false)).collect(),
        live: live(defs),
        topics: ["sink".to_string(), "src".to_string()].into(),
        topic_ids: [
            ("sink".to_string(), "id-sink".to_string()),
            ("src".to_string(), "id-src".to_string()),
        ]
        .into(),
        subjects_left: BTreeMap::new(),
        cluster: ClusterScope {
            connected: Some(CLUSTER.into()),
            names: BTreeMap::new(),
        },
        foreign_subjects: BTreeMap::new(),
        names: Names::default(),
    }
}

fn opts() -> Options {
    Options {
        drop_tables: true,
        ..Default::default()
    }
}

fn step<'a>(p: &'a Plan, action: Action, label: &str) -> &'a Step {
    p.steps
        .iter()
        .find(|s| s.action == action && s.target.label() == label)
        .unwrap_or_else(|| panic!("no {action:?} step for {label} in\n{p}"))
}

#[test]
fn teardown_goes_readers_writers_ddl_then_tables() {
    let snap = deployed(&app("v1"));
    let p = plan(Goal::Teardown, &snap, &opts());
    let report = step(&p, Action::Delete, "app-report-v1").id;
    let job = step(&p, Action::Delete, "app-job-v1").id;
    let sink_ddl = step(&p, Action::Delete, "app-sink-ddl-v1");
    let src_ddl = step(&p, Action::Delete, "app-src-ddl-v1");
    assert!(
        step(&p, Action::Delete, "app-job-v1")
            .after
            .contains(&report),
        "{p}"
    );
    assert!(
        sink_ddl.after.contains(&job) && sink_ddl.after.contains(&report),
        "{p}"
    );
    assert!(src_ddl.after.contains(&job), "{p}");
    let drop_sink = step(&p, Action::DropTable, "sink");
    assert!(
        drop_sink
            .after
            .is_superset(&[report, job, sink_ddl.id].into()),
        "{p}"
    );
    let drop_src = step(&p, Action::DropTable, "src");
    assert!(drop_src.after.is_superset(&[job, src_ddl.id].into()), "{p}");
    assert_eq!(p.steps.len(), 6, "{p}");
    assert!(p.steps.iter().all(|s| s.stage == Stage::Teardown));
    assert_eq!(
        step(&p, Action::Delete, "app-job-v1")
            .phase_before
            .as_ref()
            .map(|p| p.as_str()),
        Some("RUNNING")
    );
    match &drop_sink.target {
        Target::Table(tt) => {
            assert_eq!(tt.created_by, "app-sink-ddl-v1");
            assert_eq!(tt.topic, "sink");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn only_the_apps_tracked_statements_are_touched() {
    let mut snap = deployed(&app("v1"));
    snap.live.insert(
        "other-app-job".into(),
        Live {
            name: "other-app-job".into(),
            phase: "RUNNING".into(),
            uid: Some("uid-other".into()),
            owner: Some("other".into()),
            sql: "INSERT INTO t SELECT * FROM s".into(),
        },
    );
    for cmd in [Goal::Teardown, Goal::Buildup, Goal::Rebuild] {
        let p = plan(cmd, &snap, &opts());
        assert!(
            p.steps.iter().all(|s| s.target.label() != "other-app-job"),
            "{cmd}: {p}"
        );
    }
}

#[test]
fn torn_down_records_are_skipped_unless_live_again_and_protect_wins() {
    let defs = app("v1");
    let mut snap = deployed(&defs);
    snap.tracked[0].torn_down = true; // report: torn down and gone
    snap.live.remove("app-report-v1");
    snap.tracked[1].torn_down = true; // job: torn down but live again (crash mid-run)
    let o = Options {
        protect: vec![glob::Pattern::new("src*").unwrap()],
        ..opts()
    };
    let p = plan(Goal::Teardown, &snap, &o);
    assert!(
        p.steps.iter().all(|s| s.target.label() != "app-report-v1"),
        "{p}"
    );
    step(&p, Action::Delete, "app-job-v1");
    let skip = step(&p, Action::Skip, "src");
    assert!(skip.reason.contains("src*"));
    assert!(p
        .steps
        .iter()
        .all(|s| !(s.action == Action::DropTable && s.target.label() == "src")));
    step(&p, Action::DropTable, "sink");

    let o = Options {
        protect: vec![glob::Pattern::new("app-job-*").unwrap()],
        ..opts()
    };
    let p = plan(Goal::Teardown, &snap, &o);
    step(&p, Action::Skip, "app-job-v1");
    assert!(p
        .steps
        .iter()
        .all(|s| !(s.action == Action::Delete && s.target.label() == "app-job-v1")));
}

#[test]
fn stop_only_stops_and_keeps_tables() {
    let snap = deployed(&app("v1"));
    let o = Options {
        stop_only: true,
        ..opts()
    };
    let p = plan(Goal::Teardown, &snap, &o);
    assert!(p.steps.iter().all(|s| s.action == Action::Stop), "{p}");
    assert_eq!(p.steps.len(), 4);
    assert!(p.notes.iter().any(|n| n.contains("tables are kept")));
}

#[test]
fn drop_tables_false_keeps_every_table() {
    let snap = deployed(&app("v1"));
    let o = Options {
        drop_tables: false,
        ..opts()
    };
    let p = plan(Goal::Teardown, &snap, &o);
    assert!(p.steps.iter().all(|s| s.action == Action::Delete), "{p}");
}

#[test]
fn buildup_of_an_unchanged_running_app_is_a_noop() {
    let snap = deployed(&app("v1"));
    let p = plan(Goal::Buildup, &snap, &opts());
    assert!(p.is_noop(), "{p}");
    assert_eq!(p.steps.len(), 4);
    assert!(p.steps.iter().all(|s| s.action == Action::Unchanged));
}

#[test]
fn buildup_from_nothing_creates_in_dependency_order() {
    let mut snap = deployed(&app("v1"));
    snap.tracked.clear();
    snap.live.clear();
    snap.topics.clear();
    let p = plan(Goal::Buildup, &snap, &opts());
    assert!(p.steps.iter().all(|s| s.action == Action::Create), "{p}");
    let id = |n: &str| step(&p, Action::Create, n).id;
    let job = step(&p, Action::Create, "app-job-v1");
    assert!(
        job.after.contains(&id("app-src-ddl-v1")) && job.after.contains(&id("app-sink-ddl-v1")),
        "{p}"
    );
    assert!(
        step(&p, Action::Create, "app-report-v1")
            .after
            .contains(&id("app-job-v1")),
        "{p}"
    );
    // Sources first in the listing too.
    let pos = |n: &str| p.steps.iter().position(|s| s.target.label() == n).unwrap();
    assert!(pos("app-sink-ddl-v1") < pos("app-job-v1") && pos("app-job-v1") < pos("app-report-v1"));
}

#[test]
fn buildup_replaces_exactly_the_changed_statement() {
    let old = app("v1");
    let mut snap = deployed(&old);
    snap.desired[1] = def("job", "v2", &[], &["sink"], &["src"]);
    let p = plan(Goal::Buildup, &snap, &opts());
    let del = step(&p, Action::Delete, "app-job-v1");
    assert!(del.reason.contains("replaced by app-job-v2"), "{p}");
    let create = step(&p, Action::Create, "app-job-v2");
    assert!(create.after.contains(&del.id), "{p}");
    assert!(create.reason.contains("definition changed"), "{p}");
    for n in ["app-report-v1", "app-sink-ddl-v1", "app-src-ddl-v1"] {
        step(&p, Action::Unchanged, n);
    }
    assert!(p.steps.iter().all(|s| s.action != Action::DropTable), "{p}");
    assert_eq!(p.steps.len(), 5, "{p}");
    // The replaced version's record goes once its statement is gone; a rebuild's stay.
    assert_eq!(del.record, RecordFate::Forget, "{p}");
    assert_eq!(create.record, RecordFate::Keep);
    let rebuilt = plan(Goal::Rebuild, &deployed(&old), &opts());
    assert!(
        rebuilt.steps.iter().all(|s| s.record == RecordFate::Keep),
        "{rebuilt}"
    );
    let mut pruned = deployed(&old);
    pruned.desired.remove(0);
    let p = plan(Goal::Buildup, &pruned, &opts());
    assert_eq!(
        step(&p, Action::Prune, "app-report-v1").record,
        RecordFate::Forget
    );
}

#[test]
fn carry_over_creates_the_replacement_from_the_old_offsets_without_deleting_it() {
    let mut snap = deployed(&app("v1"));
    snap.desired[1] = def("job", "v2", &[], &["sink"], &["src"]);
    let o = Options {
        carry_over_offsets: true,
        ..opts()
    };
    let p = plan(Goal::Buildup, &snap, &o);
    assert!(
        p.steps.iter().all(|s| s.target.label() != "app-job-v1"),
        "{p}"
    );
    let create = step(&p, Action::Create, "app-job-v2");
    match &create.target {
        Target::Statement {
            carry_over_from, ..
        } => {
            assert_eq!(carry_over_from.as_deref(), Some("app-job-v1"))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_stateful_replacement_never_carries_offsets_over_and_says_its_state_is_lost() {
    let o = Options {
        carry_over_offsets: true,
        ..opts()
    };
    // Its query aggregates.
    let mut snap = deployed(&app("v1"));
    snap.desired[1] = Definition {
        query_state: vec![flink_sql::Stateful::Aggregation],
        ..def("job", "v2", &[], &["sink"], &["src"])
    };
    let p = plan(Goal::Buildup, &snap, &o);
    let create = step(&p, Action::Create, "app-job-v2");
    assert!(
        matches!(
            &create.target,
            Target::Statement {
                carry_over_from: None,
                evolves_from: None,
                ..
            }
        ),
        "{p}"
    );
    assert!(create.reason.contains("offsets not carried over"), "{p}");
    assert!(create.reason.contains("aggregation"), "{p}");
    assert!(create.reason.contains("state is not carried over"), "{p}");
    // The old one is deleted before, not stopped for a hand-off.
    let del = step(&p, Action::Delete, "app-job-v1").id;
    assert!(create.after.contains(&del), "{p}");
    // Without carry-over asked for, the plan still says the state is lost.
    let p = plan(Goal::Buildup, &snap, &opts());
    let create = step(&p, Action::Create, "app-job-v2");
    assert!(!create.reason.contains("offsets not carried over"), "{p}");
    assert!(create.reason.contains("state is not carried over"), "{p}");

    // An upsert sink: the table it writes has a primary key (the app's own DDL says so).
    let mut snap = deployed(&app("v1"));
    snap.desired[2].keyed = vec![t("sink")];
    snap.desired[1] = def("job", "v2", &[], &["sink"], &["src"]);
    let p = plan(Goal::Buildup, &snap, &o);
    let create = step(&p, Action::Create, "app-job-v2");
    assert!(create.reason.contains("upsert sink"), "{p}");
    assert!(
        matches!(
            &create.target,
            Target::Statement {
                carry_over_from: None,
                evolves_from: None,
                ..
            }
        ),
        "{p}"
    );
    assert_eq!(
        state_reasons(&snap, &snap.desired[1]),
        vec![StateReason::UpsertSink(t("sink"))]
    );
}

#[test]
fn someone_elses_subjects_refuse_the_create_and_keep_what_it_would_replace() {
    // The sink is gone, and someone else's subject sits under its name.
    let mut snap = deployed(&app("v1"));
    snap.topics.remove("sink");
    snap.live.remove("app-sink-ddl-v1");
    snap.tracked[2].claims.clear();
    snap.foreign_subjects = [("sink".to_string(), vec!["sink-value".to_string()])].into();
    let p = plan(Goal::Buildup, &snap, &opts());
    let refused = step(&p, Action::Refuse, "app-sink-ddl-v1");
    assert!(refused.reason.contains("sink-value"), "{p}");
    // What writes the sink waits on it (and is blocked by its refusal when run).
    let job = &p
        .steps
        .iter()
        .find(|s| s.target.label() == "app-job-v1")
        .unwrap();
    assert!(
        job.action != Action::Create || job.after.contains(&refused.id),
        "{p}"
    );
    // A changed version held back: the old one is not torn down.
    let mut snap = deployed(&app("v1"));
    snap.desired[2] = def("sink-ddl", "v2", &["other"], &[], &[]);
    snap.foreign_subjects = [("other".to_string(), vec!["other-key".to_string()])].into();
    let p = plan(Goal::Buildup, &snap, &opts());
    let refused = step(&p, Action::Refuse, "app-sink-ddl-v2");
    assert!(refused.reason.contains("left as it is"), "{p}");
    assert!(
        p.steps
            .iter()
            .all(|s| !(s.target.label() == "app-sink-ddl-v1" && s.action.tears_down())),
        "{p}"
    );
    // In a rebuild the create is refused too; the teardown goes on.
    let mut snap = deployed(&app("v1"));
    snap.foreign_subjects = [("other".to_string(), vec!["other-value".to_string()])].into();
    snap.desired[2] = def("sink-ddl", "v1", &["other"], &[], &[]);
    let p = plan(Goal::Rebuild, &snap, &opts());
    step(&p, Action::Refuse, "app-sink-ddl-v1");
}

#[test]
fn a_changed_table_is_recreated_with_everything_that_uses_it() {
    let mut snap = deployed(&app("v1"));
    snap.desired[2] = def("sink-ddl", "v2", &["sink"], &[], &[]);
    let p = plan(Goal::Buildup, &snap, &opts());
    let drop = step(&p, Action::DropTable, "sink");
    let del_job = step(&p, Action::Delete, "app-job-v1").id;
    let del_report = step(&p, Action::Delete, "app-report-v1").id;
    let del_ddl = step(&p, Action::Delete, "app-sink-ddl-v1").id;
    assert!(
        drop.after
            .is_superset(&[del_job, del_report, del_ddl].into()),
        "{p}"
    );
    let create_ddl = step(&p, Action::Create, "app-sink-ddl-v2");
    assert!(create_ddl.after.contains(&drop.id), "{p}");
    let create_job = step(&p, Action::Create, "app-job-v1");
    assert!(create_job.reason.contains("uses table sink"), "{p}");
    assert!(
        create_job.after.contains(&create_ddl.id) && create_job.after.contains(&drop.id),
        "{p}"
    );
    let create_report = step(&p, Action::Create, "app-report-v1");
    assert!(create_report.after.contains(&create_job.id), "{p}");
    step(&p, Action::Unchanged, "app-src-ddl-v1");
    assert!(p
        .steps
        .iter()
        .all(|s| !(s.action == Action::DropTable && s.target.label() == "src")));
}

#[test]
fn statements_removed_from_the_app_are_pruned_with_their_unused_tables() {
    let mut snap = deployed(&app("v1"));
    // The report and the sink's DDL leave the app; the job still writes the sink.
    snap.desired
        .retain(|d| d.logical != "report" && d.logical != "sink-ddl");
    let p = plan(Goal::Buildup, &snap, &opts());
    step(&p, Action::Prune, "app-report-v1");
    step(&p, Action::Prune, "app-sink-ddl-v1");
    assert!(p.steps.iter().all(|s| s.action != Action::DropTable), "{p}");
    assert!(
        p.notes.iter().any(|n| n.contains("table sink is kept")),
        "{p}"
    );

    // Without the job nothing uses the sink: it goes too.
    snap.desired.retain(|d| d.logical != "job");
    let p = plan(Goal::Buildup, &snap, &opts());
    let drop = step(&p, Action::DropTable, "sink");
    assert!(
        drop.after
            .contains(&step(&p, Action::Prune, "app-job-v1").id),
        "{p}"
    );
    step(&p, Action::Unchanged, "app-src-ddl-v1");
}

#[test]
fn failed_and_stopped_statements_are_redeployed_or_resumed() {
    let mut snap = deployed(&app("v1"));
    snap.live.get_mut("app-job-v1").unwrap().phase = "FAILED".into();
    snap.live.get_mut("app-report-v1").unwrap().phase = "STOPPED".into();
    let p = plan(Goal::Buildup, &snap, &opts());
    let del = step(&p, Action::Delete, "app-job-v1").id;
    assert!(
        step(&p, Action::Create, "app-job-v1").after.contains(&del),
        "{p}"
    );
    // The report is a SELECT: only INSERT INTO, CTAS and statement sets can be resumed, so a
    // stopped one is created again.
    let del = step(&p, Action::Delete, "app-report-v1").id;
    let create = step(&p, Action::Create, "app-report-v1");
    assert!(create.after.contains(&del), "{p}");
    assert!(create.reason.contains("can be resumed"), "{p}");
    // A stopped INSERT is resumed.
    snap.live.get_mut("app-job-v1").unwrap().phase = "STOPPED".into();
    let p = plan(Goal::Buildup, &snap, &opts());
    step(&p, Action::Resume, "app-job-v1");
}

#[test]
fn an_unchanged_tables_ddl_is_left_alone_while_its_table_exists() {
    let mut snap = deployed(&app("v1"));
    // The DDL statements were deleted after they completed; the tables stay.
    snap.live.remove("app-sink-ddl-v1");
    snap.live.remove("app-src-ddl-v1");
    let p = plan(Goal::Buildup, &snap, &opts());
    assert!(p.is_noop(), "{p}");
    // Once the table is gone the DDL runs again.
    snap.topics.remove("sink");
    let p = plan(Goal::Buildup, &snap, &opts());
    step(&p, Action::Create, "app-sink-ddl-v1");
}

#[test]
fn a_completed_ddl_whose_table_is_gone_runs_again_where_the_table_can_be_checked() {
    let in_cluster = TableRef {
        catalog: Some("env".into()),
        database: Some(CLUSTER.into()),
        name: "sink".into(),
    };
    let mut defs = app("v1");
    defs[2].creates = vec![in_cluster.clone()];
    let mut snap = deployed(&defs);
    // The table's DDL still shows COMPLETED (the list lags a purge, or the topic was deleted
    // under it), and its topic is gone.
    snap.topics.remove("sink");
    let p = plan(Goal::Buildup, &snap, &opts());
    let del = step(&p, Action::Delete, "app-sink-ddl-v1").id;
    let create = step(&p, Action::Create, "app-sink-ddl-v1");
    assert!(create.after.contains(&del), "{p}");
    assert!(create.reason.contains("is gone"), "{p}");
    // A table in a cluster the run cannot see is never taken for gone.
    snap.desired[2].creates = vec![TableRef {
        database: Some("lkc-elsewhere".into()),
        ..in_cluster
    }];
    let p = plan(Goal::Buildup, &snap, &opts());
    step(&p, Action::Unchanged, "app-sink-ddl-v1");
}

#[test]
fn a_protect_pattern_written_with_display_names_protects_the_table_by_its_ids() {
    let by_ids = TableRef {
        catalog: Some("env-1".into()),
        database: Some(CLUSTER.into()),
        name: "sink".into(),
    };
    let mut defs = app("v1");
    defs[2].creates = vec![by_ids.clone()];
    let mut snap = deployed(&defs);
    snap.tracked[2].claims[0].table = by_ids;
    let mut names = Names::new("env-1", Some(CLUSTER), &BTreeMap::new());
    names.learn(&[vec![
        serde_json::json!("env-1"),
        serde_json::json!("my env"),
        serde_json::json!(CLUSTER),
        serde_json::json!("my-cluster"),
    ]]);
    snap.names = names;
    for pattern in [
        "my env.my-cluster.sink",
        "`my env`.`my-cluster`.sink",
        "*.my-cluster.*",
    ] {
        let o = Options {
            protect: vec![glob::Pattern::new(pattern).unwrap()],
            ..opts()
        };
        let p = plan(Goal::Teardown, &snap, &o);
        let skipped = step(&p, Action::Skip, "`my env`.`my-cluster`.sink");
        assert!(skipped.reason.contains("protected"), "{pattern}: {p}");
        assert!(!drops(&p).iter().any(|d| d.contains("sink")), "{p}");
    }
}

#[test]
fn rebuild_tears_everything_down_then_builds_everything_up() {
    let snap = deployed(&app("v1"));
    let p = plan(Goal::Rebuild, &snap, &opts());
    let teardown: BTreeSet<usize> = p
        .steps
        .iter()
        .filter(|s| s.stage == Stage::Teardown)
        .map(|s| s.id)
        .collect();
    assert_eq!(teardown.len(), 6, "{p}");
    let creates: Vec<&Step> = p
        .steps
        .iter()
        .filter(|s| s.action == Action::Create)
        .collect();
    assert_eq!(creates.len(), 4, "{p}");
    // Each create waits for its own statement's teardown and the drops of its tables.
    for c in &creates {
        let name = c.target.label();
        assert!(c.after.contains(&step(&p, Action::Delete, &name).id), "{p}");
        assert!(
            c.after.is_subset(
                &teardown
                    .iter()
                    .chain(creates.iter().map(|c| &c.id))
                    .copied()
                    .collect()
            ),
            "{p}"
        );
    }
    let report = step(&p, Action::Create, "app-report-v1");
    for (action, target) in [
        (Action::Delete, "app-job-v1"),
        (Action::Delete, "app-sink-ddl-v1"),
        (Action::DropTable, "sink"),
    ] {
        assert!(report.after.contains(&step(&p, action, target).id), "{p}");
    }
    // Nothing of `src` holds the report back: it neither reads nor writes it.
    assert!(
        !report
            .after
            .contains(&step(&p, Action::DropTable, "src").id),
        "{p}"
    );
    assert!(
        !report
            .after
            .contains(&step(&p, Action::Delete, "app-src-ddl-v1").id),
        "{p}"
    );
}

#[test]
fn in_a_rebuild_a_pipeline_waits_only_for_its_own_teardown() {
    let mut defs = app("v1");
    defs.push(def("other-ddl", "v1", &["other"], &[], &[]));
    defs.push(def("other-job", "v1", &[], &["other"], &["other"]));
    let mut snap = deployed(&defs);
    snap.topics.insert("other".into());
    snap.topic_ids.insert("other".into(), "id-other".into());
    let p = plan(Goal::Rebuild, &snap, &opts());
    let first: BTreeSet<usize> = p
        .steps
        .iter()
        .filter(|s| s.stage == Stage::Teardown && !s.target.label().contains("other"))
        .map(|s| s.id)
        .collect();
    assert_eq!(first.len(), 6, "{p}");
    for name in ["app-other-ddl-v1", "app-other-job-v1"] {
        let c = step(&p, Action::Create, name);
        assert!(
            c.after.is_disjoint(&first),
            "{name} waits for the other pipeline: {p}"
        );
        assert!(!c.after.is_empty(), "{name} waits for nothing: {p}");
    }
}

#[test]
fn a_table_left_by_a_run_killed_after_its_ddl_was_deleted_is_still_dropped() {
    let mut snap = deployed(&app("v1"));
    // The sink's DDL statement is gone and recorded torn down; its topic is still there.
    snap.tracked[2].torn_down = true;
    snap.live.remove("app-sink-ddl-v1");
    for cmd in [Goal::Teardown, Goal::Rebuild] {
        let p = plan(cmd, &snap, &opts());
        assert!(
            p.steps
                .iter()
                .all(|s| !(s.action == Action::Delete && s.target.label() == "app-sink-ddl-v1")),
            "{p}"
        );
        let drop = step(&p, Action::DropTable, "sink");
        // After everything still live that uses it.
        assert!(
            drop.after
                .contains(&step(&p, Action::Delete, "app-job-v1").id),
            "{p}"
        );
        assert!(
            drop.after
                .contains(&step(&p, Action::Delete, "app-report-v1").id),
            "{p}"
        );
    }
    // The DROP statement the killed run left (hidden) goes first: the new DROP takes its name.
    let drop_stmt = Definition {
        is_table_ddl: false,
        ..def("drop-sink", "h1", &[], &[], &[])
    };
    snap.tracked.push(Tracked {
        hidden: true,
        uid: None,
        ..tracked_as(&drop_stmt, false)
    });
    snap.live.insert(
        drop_stmt.name.clone(),
        Live {
            uid: Some("uid-of-the-killed-runs-drop".into()),
            ..live_as(&drop_stmt, "PENDING")
        },
    );
    let p = plan(Goal::Teardown, &snap, &opts());
    let del_drop = step(&p, Action::Delete, &drop_stmt.name).id;
    assert!(
        step(&p, Action::DropTable, "sink")
            .after
            .contains(&del_drop),
        "{p}"
    );
    assert!(
        step(&p, Action::DropTable, "src").after.contains(&del_drop),
        "{p}"
    );
    snap.tracked.pop();
    snap.live.remove(&drop_stmt.name);

    // Once the topic is gone there is nothing to drop: the app's ownership just ends.
    snap.topics.remove("sink");
    let p = plan(Goal::Teardown, &snap, &opts());
    let release = step(&p, Action::Release, "sink");
    assert!(release.reason.contains("already gone"), "{p}");
    assert!(
        p.steps
            .iter()
            .all(|s| !(s.action == Action::DropTable && s.target.label() == "sink")),
        "{p}"
    );

    // Unless its subjects are left (a run killed in the direct-delete fallback): the drop is
    // finished, subjects only.
    snap.subjects_left
        .insert("sink".into(), vec!["sink-value".into()]);
    let p = plan(Goal::Teardown, &snap, &opts());
    let finish = step(&p, Action::DropTable, "sink");
    assert!(finish.reason.contains("sink-value"), "{p}");
}

fn drops(p: &Plan) -> Vec<String> {
    p.steps
        .iter()
        .filter(|s| s.action == Action::DropTable)
        .map(|s| s.target.label())
        .collect()
}

#[test]
fn a_table_the_app_found_or_failed_to_create_is_never_dropped() {
    for (status, dropped) in [
        (Ownership::Found, false),
        (Ownership::NotCreated, false),
        (Ownership::Dropped, false),
        (Ownership::Other("quarantined".into()), false),
        (Ownership::Owned, true),
    ] {
        let mut snap = deployed(&app("v1"));
        snap.tracked[2].claims = vec![claim("sink", status.clone())];
        for cmd in [Goal::Teardown, Goal::Rebuild] {
            let p = plan(cmd, &snap, &opts());
            assert_eq!(
                drops(&p).contains(&"sink".to_string()),
                dropped,
                "{status} {cmd}: {p}"
            );
            assert!(drops(&p).contains(&"src".to_string()), "{p}");
        }
        let p = plan(Goal::Teardown, &snap, &opts());
        if matches!(status, Ownership::Found | Ownership::NotCreated) {
            assert!(
                p.notes.iter().any(|n| n.contains("table sink is kept")),
                "{status}: {p}"
            );
        }
    }
}

#[test]
fn after_the_apps_own_drop_a_later_table_of_that_name_is_someone_elses() {
    // Torn down last month (the drop ended the app's ownership); another team has made its
    // own `sink` since.
    let mut snap = deployed(&app("v1"));
    for t in &mut snap.tracked {
        t.torn_down = true;
        for c in &mut t.claims {
            c.ownership = Ownership::Dropped;
        }
    }
    snap.live.clear();
    for cmd in [Goal::Teardown, Goal::Rebuild] {
        let p = plan(cmd, &snap, &opts());
        assert!(drops(&p).is_empty(), "{cmd}: {p}");
        assert!(
            p.steps
                .iter()
                .all(|s| s.target.label() != "sink" && s.target.label() != "src"),
            "{cmd}: {p}"
        );
    }
}

#[test]
fn a_table_in_a_cluster_the_run_cannot_check_is_refused() {
    let mut snap = deployed(&app("v1"));
    // Created where the run could not check it.
    snap.tracked[2].claims = vec![Claim {
        detail: Some("its database `other` is not the Kafka cluster".into()),
        ..claim("sink", Ownership::Unverified)
    }];
    // Created in a cluster other than the one the run reaches now.
    snap.tracked[3].claims = vec![Claim {
        cluster_id: Some("lkc-elsewhere".into()),
        ..owned("src")
    }];
    let p = plan(Goal::Teardown, &snap, &opts());
    assert!(drops(&p).is_empty(), "{p}");
    let sink = step(&p, Action::Refuse, "sink");
    assert!(sink.reason.contains("not verified"), "{p}");
    let src = step(&p, Action::Refuse, "src");
    assert!(src.reason.contains("lkc-elsewhere"), "{p}");
    // The statements themselves are the app's: they go.
    step(&p, Action::Delete, "app-sink-ddl-v1");
}

#[test]
fn another_incarnation_of_an_owned_table_is_released_not_dropped() {
    let mut snap = deployed(&app("v1"));
    // The app's sink was dropped by someone and made again: another topic id.
    snap.topic_ids
        .insert("sink".into(), "id-someone-elses".into());
    let p = plan(Goal::Teardown, &snap, &opts());
    let release = step(&p, Action::Release, "sink");
    assert!(release.reason.contains("spared"), "{p}");
    assert!(!drops(&p).contains(&"sink".to_string()), "{p}");
    // Without ids (a cluster that has none) the name decides.
    snap.topic_ids.clear();
    let p = plan(Goal::Teardown, &snap, &opts());
    step(&p, Action::DropTable, "sink");
}

#[test]
fn a_live_statement_that_is_not_the_recorded_one_is_refused_and_blocks_its_tables() {
    let defs = app("v1");
    let mut snap = deployed(&defs);
    // Same name, another statement: another uid.
    snap.live.get_mut("app-sink-ddl-v1").unwrap().uid = Some("uid-impostor".into());
    // Same name and uid, but labelled as another app's.
    snap.live.get_mut("app-report-v1").unwrap().owner = Some("theirs".into());
    // Same name and uid, and no label at all: the recorded uid is the evidence (an adopted
    // statement the service would not label).
    snap.live.get_mut("app-job-v1").unwrap().owner = None;
    for cmd in [Goal::Teardown, Goal::Rebuild] {
        let p = plan(cmd, &snap, &opts());
        let ddl = step(&p, Action::Refuse, "app-sink-ddl-v1");
        assert!(ddl.reason.contains("uid-impostor"), "{p}");
        let report = step(&p, Action::Refuse, "app-report-v1");
        assert!(report.reason.contains(ownership::OWNER_LABEL), "{p}");
        // The sink's drop waits on the refused DDL: the executor blocks it.
        assert!(
            step(&p, Action::DropTable, "sink").after.contains(&ddl.id),
            "{p}"
        );
        step(&p, Action::Delete, "app-job-v1");
    }
    // Buildup leaves neither "unchanged": their names are taken by statements not the app's.
    let p = plan(Goal::Buildup, &snap, &opts());
    step(&p, Action::Refuse, "app-sink-ddl-v1");
    step(&p, Action::Refuse, "app-report-v1");
    step(&p, Action::Unchanged, "app-job-v1");
}

#[test]
fn a_changed_ddl_of_a_table_the_app_found_does_not_recreate_it() {
    let mut snap = deployed(&app("v1"));
    snap.tracked[2].claims = vec![claim("sink", Ownership::Found)];
    snap.desired[2] = def("sink-ddl", "v2", &["sink"], &[], &[]);
    let p = plan(Goal::Buildup, &snap, &opts());
    assert!(drops(&p).is_empty(), "{p}");
    step(&p, Action::Delete, "app-sink-ddl-v1");
    step(&p, Action::Create, "app-sink-ddl-v2");
    step(&p, Action::Unchanged, "app-job-v1");
}

#[test]
fn a_create_in_a_cluster_the_run_cannot_check_is_said_up_front() {
    let mut snap = deployed(&app("v1"));
    snap.tracked.clear();
    snap.live.clear();
    snap.topics.clear();
    for d in &mut snap.desired {
        for t in &mut d.creates {
            t.database = Some("elsewhere".into());
        }
    }
    let p = plan(Goal::Buildup, &snap, &opts());
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("sink") && n.contains("never drop")),
        "{p}"
    );
    snap.cluster
        .names
        .insert("elsewhere".into(), CLUSTER.into());
    let p = plan(Goal::Buildup, &snap, &opts());
    assert!(p.notes.is_empty(), "{p}");
}

fn protecting(patterns: &[&str]) -> Options {
    Options {
        protect: patterns
            .iter()
            .map(|p| glob::Pattern::new(p).unwrap())
            .collect(),
        ..opts()
    }
}

#[test]
fn the_old_version_a_buildup_replaces_is_protected_and_its_replacement_not_deployed() {
    // v2 no longer writes the protected table; v1, which does, is what would be deleted.
    let mut snap = deployed(&app("v1"));
    snap.desired[1] = def("job", "v2", &[], &["sink2"], &["src"]);
    let unprotected = plan(Goal::Buildup, &snap, &opts());
    step(&unprotected, Action::Delete, "app-job-v1");
    step(&unprotected, Action::Create, "app-job-v2");

    for (pattern, said) in [
        (
            "sink",
            "it writes table sink, which pattern 'sink' protects",
        ),
        ("app-job-v1", "protected by pattern 'app-job-v1'"),
    ] {
        let p = plan(Goal::Buildup, &snap, &protecting(&[pattern]));
        let old = step(&p, Action::Skip, "app-job-v1");
        assert_eq!(old.stage, Stage::Teardown, "{p}");
        assert!(
            old.reason.contains("replaced by app-job-v2, but kept"),
            "{p}"
        );
        assert!(old.reason.contains(said), "{pattern}: {p}");
        let new = step(&p, Action::Skip, "app-job-v2");
        assert_eq!(new.stage, Stage::Buildup, "{p}");
        assert!(
            new.reason.contains("(app-job-v1) is protected") && new.reason.contains("two versions"),
            "{p}"
        );
        assert!(
            p.steps.iter().all(|s| !matches!(
                s.action,
                Action::Delete | Action::Stop | Action::Create | Action::DropTable
            )),
            "nothing of the statement is touched: {p}"
        );
    }

    // What its SQL drops or alters counts as much as what it writes.
    for (drops, alters) in [(vec![t("audit")], vec![]), (vec![], vec![t("audit")])] {
        let mut snap = deployed(&app("v1"));
        snap.tracked[1].def.drops = drops;
        snap.tracked[1].def.alters = alters;
        snap.desired[1] = def("job", "v2", &[], &["sink"], &["src"]);
        let p = plan(Goal::Buildup, &snap, &protecting(&["aud*"]));
        assert!(
            step(&p, Action::Skip, "app-job-v1")
                .reason
                .contains("table audit, which pattern 'aud*' protects"),
            "{p}"
        );
        step(&p, Action::Skip, "app-job-v2");
    }
}

#[test]
fn a_protected_version_under_a_pinned_name_is_kept_and_the_new_definition_not_deployed() {
    let mut snap = deployed(&app("v1"));
    // The same name, another definition: the old one would be deleted and created again.
    snap.desired[1] = Definition {
        sql: "-- job, changed".into(),
        writes: vec![t("sink2")],
        ..snap.desired[1].clone()
    };
    let unprotected = plan(Goal::Buildup, &snap, &opts());
    step(&unprotected, Action::Delete, "app-job-v1");
    step(&unprotected, Action::Create, "app-job-v1");

    let p = plan(Goal::Buildup, &snap, &protecting(&["sink"]));
    let skips: Vec<&Step> = p
        .steps
        .iter()
        .filter(|s| s.target.label() == "app-job-v1")
        .collect();
    assert_eq!(skips.len(), 1, "one step for the one name: {p}");
    assert_eq!(skips[0].action, Action::Skip, "{p}");
    assert!(
        skips[0]
            .reason
            .contains("it writes table sink, which pattern 'sink' protects"),
        "{p}"
    );
}

// ---- materialized tables --------------------------------------------------------------------

/// A definition from real SQL (unqualified tables, as the planner tests name them).
fn mt_def(logical: &str, version: &str, sql: &str) -> Definition {
    let a = flink_sql::analyze(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let shape = a
        .creates
        .iter()
        .find_map(|c| crate::materialized::Shape::of(c, c.table.clone()));
    Definition {
        sql: sql.into(),
        creates: a.creates.iter().map(|c| c.table.clone()).collect(),
        writes: a.writes.clone(),
        reads: a.reads.clone(),
        is_table_ddl: false,
        resumable: false,
        query_state: a.stateful.clone(),
        materialized: shape,
        ..def(logical, version, &[], &[], &[])
    }
}

fn mt_snapshot(deployed_defs: &[Definition], wanted: &[Definition]) -> Snapshot {
    let mut snap = deployed(deployed_defs);
    snap.desired = wanted.to_vec();
    for d in deployed_defs {
        snap.live.insert(d.name.clone(), live_as(d, "COMPLETED"));
        for c in &d.creates {
            snap.topics.insert(c.name.clone());
            snap.topic_ids
                .insert(c.name.clone(), format!("id-{}", c.name));
        }
    }
    snap
}

const TOTALS_V1: &str =
    "CREATE OR ALTER MATERIALIZED TABLE totals DISTRIBUTED BY (id) INTO 2 BUCKETS \
     AS SELECT id, amount FROM src";

#[test]
fn an_edited_materialized_table_is_evolved_in_place_not_replaced() {
    let v1 = mt_def("totals", "v1", TOTALS_V1);
    let v2 = mt_def(
        "totals",
        "v2",
        "CREATE OR ALTER MATERIALIZED TABLE totals DISTRIBUTED BY (id) INTO 2 BUCKETS \
         START_MODE = FROM_BEGINNING AS SELECT id, amount FROM src WHERE amount > 0",
    );
    let snap = mt_snapshot(std::slice::from_ref(&v1), std::slice::from_ref(&v2));
    let p = plan(Goal::Buildup, &snap, &opts());
    let e = step(&p, Action::Evolve, "app-totals-v2");
    match &e.target {
        Target::Statement { evolves_from, .. } => {
            assert_eq!(evolves_from.as_deref(), Some("app-totals-v1"))
        }
        other => panic!("{other:?}"),
    }
    assert!(e.reason.contains("its query changed"), "{}", e.reason);
    assert!(e.reason.contains("starts FROM_BEGINNING"), "{}", e.reason);
    // Nothing is torn down: not the table, not the old statement (the evolve step hands over).
    assert!(
        p.steps.iter().all(|s| s.stage == Stage::Buildup),
        "an evolution tears nothing down:\n{p}"
    );
}

#[test]
fn an_evolution_of_a_stateful_query_says_its_state_is_discarded() {
    let v1 = mt_def(
        "counts",
        "v1",
        "CREATE OR ALTER MATERIALIZED TABLE counts AS SELECT id, COUNT(*) AS n FROM src GROUP BY id",
    );
    let v2 = mt_def(
        "counts",
        "v2",
        "CREATE OR ALTER MATERIALIZED TABLE counts AS SELECT id, COUNT(*) AS n FROM src \
         WHERE id > 0 GROUP BY id",
    );
    let snap = mt_snapshot(std::slice::from_ref(&v1), std::slice::from_ref(&v2));
    let p = plan(Goal::Buildup, &snap, &opts());
    let e = step(&p, Action::Evolve, "app-counts-v2");
    assert!(
        e.reason.contains("RESUME_OR_FROM_BEGINNING"),
        "{}",
        e.reason
    );
    assert!(e.reason.contains("undercount"), "{}", e.reason);
}

#[test]
fn a_distribution_change_is_a_replace_that_says_why() {
    let v1 = mt_def("totals", "v1", TOTALS_V1);
    let v2 = mt_def(
        "totals",
        "v2",
        "CREATE OR ALTER MATERIALIZED TABLE totals DISTRIBUTED BY (id) INTO 4 BUCKETS \
         AS SELECT id, amount FROM src",
    );
    let snap = mt_snapshot(std::slice::from_ref(&v1), std::slice::from_ref(&v2));
    let p = plan(Goal::Buildup, &snap, &opts());
    let drop = step(&p, Action::DropTable, "totals");
    let create = step(&p, Action::Create, "app-totals-v2");
    assert!(create.after.contains(&drop.id), "{p}");
    assert!(
        create.reason.contains("distribution changed"),
        "{}",
        create.reason
    );
    match &drop.target {
        Target::Table(t) => assert!(t.materialized, "dropped as a materialized table"),
        other => panic!("{other:?}"),
    }
    assert!(p.steps.iter().all(|s| s.action != Action::Evolve), "{p}");
}

#[test]
fn a_materialized_table_of_someone_else_is_never_created_over() {
    let mine = mt_def("totals", "v1", TOTALS_V1);
    let mut snap = mt_snapshot(&[], std::slice::from_ref(&mine));
    // Someone else's table of the same name exists: no record of the app holds it.
    snap.topics.insert("totals".into());
    snap.topic_ids.insert("totals".into(), "id-theirs".into());
    for goal in [Goal::Buildup, Goal::Rebuild] {
        let p = plan(goal, &snap, &opts());
        let s = step(&p, Action::Refuse, "app-totals-v1");
        assert!(
            s.reason.contains("would evolve someone else's table"),
            "{}",
            s.reason
        );
        assert!(
            p.steps.iter().all(|s| !matches!(
                s.action,
                Action::DropTable | Action::Create | Action::Evolve
            )),
            "{goal:?}:\n{p}"
        );
    }
    // Another incarnation than the one the app's record holds is not the app's either.
    let v2 = mt_def(
        "totals",
        "v2",
        "CREATE OR ALTER MATERIALIZED TABLE totals DISTRIBUTED BY (id) INTO 2 BUCKETS \
         AS SELECT id, amount + 1 AS amount FROM src",
    );
    let mut snap = mt_snapshot(std::slice::from_ref(&mine), std::slice::from_ref(&v2));
    snap.topic_ids
        .insert("totals".into(), "id-recreated-by-others".into());
    let p = plan(Goal::Buildup, &snap, &opts());
    assert!(p.steps.iter().all(|s| s.action != Action::Evolve), "{p}");
    step(&p, Action::Refuse, "app-totals-v2");
}

#[test]
fn an_unchanged_materialized_table_is_left_alone_whatever_its_layout() {
    let v1 = mt_def("totals", "v1", TOTALS_V1);
    let snap = mt_snapshot(std::slice::from_ref(&v1), std::slice::from_ref(&v1));
    let p = plan(Goal::Buildup, &snap, &opts());
    assert!(p.is_noop(), "{p}");
    // Without its (deleted) statement, the table being there is enough.
    let mut snap = snap;
    snap.live.clear();
    assert!(plan(Goal::Buildup, &snap, &opts()).is_noop());
}

#[test]
fn teardown_drops_materialized_tables_consumers_first() {
    let base = mt_def(
        "base",
        "v1",
        "CREATE OR ALTER MATERIALIZED TABLE base AS SELECT id, amount FROM src",
    );
    let top = mt_def(
        "top",
        "v1",
        "CREATE OR ALTER MATERIALIZED TABLE top AS SELECT id FROM base WHERE amount > 10",
    );
    let snap = mt_snapshot(&[base.clone(), top.clone()], &[base, top]);
    let p = plan(Goal::Teardown, &snap, &opts());
    let drop_base = step(&p, Action::DropTable, "base");
    let drop_top = step(&p, Action::DropTable, "top");
    assert!(drop_base.after.contains(&drop_top.id), "{p}");
    // With tables kept, the plan says the tables' queries keep running.
    let kept = plan(Goal::Teardown, &snap, &Options::default());
    assert!(
        kept.notes
            .iter()
            .any(|n| n.contains("materialized table top is kept")),
        "{kept}"
    );
}
