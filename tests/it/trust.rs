//! Trust in a shared cluster, end to end: a second tenant writes straight to the tracker topic
//! (forged records under their own keys and under the app's, overwrites, tombstones, leases)
//! and the app acts only on what it wrote itself — nothing of the victim is touched, every
//! forgery is reported; a record the app lost is reported untracked and recovered by `adopt`;
//! records written before signing are taken over where their statements confirm them.

use std::collections::BTreeMap;
use std::time::Duration;

use ccaf_housekeeping::confluent::kafka::KafkaConfig;
use ccaf_housekeeping::secrets::Secret;
use ccaf_housekeeping::tracker::lease::{lease_key, LeaseRecord, LeaseRequest};
use ccaf_housekeeping::tracker::{
    KeySource, Record, Scope, State, Tracker, TrackerError, TrackerKey,
};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use serde_json::Value;
use test_support::{unique, StackEnv};

use crate::harness::{write, App, Tables};

/// The app's tracker key: only its runs hold it.
const KEY: &str = "trust-test-key-7f3a9c2e51b84d06a1e2c3f4b5d6e7f8";

fn key() -> TrackerKey {
    TrackerKey::parse(&Secret::new(KEY), KeySource::Input).unwrap()
}

/// An app whose runs sign with [`KEY`], sharing `topic` with other tenants.
fn app_with_key(prefix: &str, topic: &str) -> App {
    let mut app = App::new(prefix);
    app.tracker_topic = topic.to_string();
    app.inputs.insert("tracker-key".into(), KEY.to_string());
    app
}

async fn tracker_of(app: &App, key: TrackerKey) -> Tracker {
    Tracker::open(
        &KafkaConfig::plaintext(&app.stack.kafka_bootstrap_servers),
        &app.tracker_topic,
        key,
    )
    .await
    .unwrap()
}

/// The app's records as its key verifies them.
async fn signed_records(app: &App) -> BTreeMap<String, Record> {
    tracker_of(app, key())
        .await
        .load(&Scope::app(&app.cloud.env_id, &app.name))
        .await
        .unwrap()
        .list(Some(&app.cloud.env_id), Some(&app.name))
        .into_iter()
        .map(|r| (r.statement_name.clone(), r.clone()))
        .collect()
}

/// Another tenant's write: straight to the topic, unsigned (`None`: a tombstone).
async fn forge(stack: &StackEnv, topic: &str, key: &str, payload: Option<&[u8]>) {
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &stack.kafka_bootstrap_servers)
        .create()
        .unwrap();
    let mut r = FutureRecord::<str, [u8]>::to(topic).key(key).partition(0);
    if let Some(p) = payload {
        r = r.payload(p);
    }
    producer.send(r, Duration::from_secs(10)).await.unwrap();
}

fn untrusted_keys(report: &Value) -> Vec<String> {
    report["untrusted"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|u| u["key"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// What the victim has, to compare after each of the app's runs.
async fn victim_state(victim: &App, t: &Tables) -> (BTreeMap<String, String>, Vec<bool>) {
    let live = victim.app_statements().await;
    let mut topics = Vec::new();
    for table in t.all() {
        topics.push(victim.topic_exists(table).await);
    }
    (live, topics)
}

#[tokio::test]
async fn forged_records_of_every_kind_touch_nothing_of_the_victim_and_are_reported() {
    let topic = unique("it-trust-topic");
    // The victim: another team on the same tracker topic, with its own key.
    let mut victim = App::new("trust-victim");
    victim.tracker_topic = topic.clone();
    let vt = Tables::new();
    write(&victim, &vt.statements());
    victim.run("buildup", &[]).expect(0);
    let before = victim_state(&victim, &vt).await;
    assert!(before.1.iter().all(|e| *e), "the victim's tables exist");
    let victim_records = victim.records().await;
    let victim_ddl = victim_records
        .values()
        .find(|r| r.logical_name.as_deref() == Some("src"))
        .expect("the victim's src DDL")
        .clone();
    assert!(
        victim_ddl.tables.ownership[0].topic_id.is_some(),
        "a real topic id to forge with"
    );

    let app = app_with_key("trust-app", &topic);
    let t = Tables::new();
    write(&app, &t.statements());
    app.run("buildup", &[]).expect(0);
    let ours = signed_records(&app).await;
    assert_eq!(ours.len(), 4, "{:?}", ours.keys());

    let env = &app.cloud.env_id;
    let as_ours = |name: &str, state: State| {
        let mut r = victim_ddl.clone();
        r.app = app.name.clone();
        r.statement_name = format!("{}-{name}", app.name);
        r.state = state;
        r
    };
    // 1. Under its own key, torn down, claiming the victim's table with no topic id.
    let mut no_id = as_ours("zz-x", State::TornDown);
    no_id.tables.ownership[0].topic_id = None;
    // 2. Deployed, with the real topic id, signed with a key that is not the app's.
    let with_id = as_ours("zz-y", State::Deployed);
    let other_key = TrackerKey::parse(
        &Secret::new("another-tenants-key-0123456789abcdef0123"),
        KeySource::Input,
    )
    .unwrap();
    // 3. SQL of the forger's choosing, for a rebuild to run as the app.
    let evil_table = unique("evil").replace('-', "_");
    let mut evil = Record::new(
        &app.name,
        env,
        format!("{}-zz-z", app.name),
        format!("CREATE TABLE {evil_table} (id STRING)"),
        State::TornDown,
    );
    evil.properties = victim_ddl.properties.clone();
    // 4. Under the app's own key: its src DDL now "creates" the victim's table.
    let src = ours
        .values()
        .find(|r| r.logical_name.as_deref() == Some("src"))
        .unwrap();
    let mut overwrite = src.clone();
    overwrite.sql = victim_ddl.sql.clone();
    overwrite.tables = victim_ddl.tables.clone();
    overwrite.state = State::TornDown;

    let json = |r: &Record| serde_json::to_vec(r).unwrap();
    forge(&app.stack, &topic, &no_id.key(), Some(&json(&no_id))).await;
    let signed_wrong = other_key.sign(&with_id.key(), &json(&with_id));
    forge(&app.stack, &topic, &with_id.key(), Some(&signed_wrong)).await;
    forge(&app.stack, &topic, &evil.key(), Some(&json(&evil))).await;
    forge(
        &app.stack,
        &topic,
        &overwrite.key(),
        Some(&json(&overwrite)),
    )
    .await;
    let forged = [no_id.key(), with_id.key(), evil.key(), overwrite.key()];

    // A buildup from the manifest prunes nothing of the victim's.
    let built = app.run("buildup", &[]).expect(0);
    let reported = untrusted_keys(&built.report());
    for k in &forged {
        assert!(reported.contains(k), "{k} is reported: {reported:?}");
    }
    assert_eq!(victim_state(&victim, &vt).await, before);

    // A teardown tears the app down, and nothing of the victim.
    let torn = app.run("teardown", &[]).expect(0);
    assert!(
        torn.summary.contains("not the app's"),
        "the summary names what was not believed: {}",
        torn.summary
    );
    assert_eq!(victim_state(&victim, &vt).await, before);
    app.assert_torn_down(&t.all().map(String::from)).await;
    // The run can see that others write its tracker topic: it says so.
    let notes = torn.report()["notes"].to_string();
    assert!(
        notes.contains(&victim.name) && notes.contains("tracker-topic"),
        "{notes}"
    );

    // A rebuild without the manifest builds the app's own statements, never the forger's SQL.
    let rebuilt = app.run("rebuild", &[("manifest", "")]).expect(0);
    let back = rebuilt.list("rebuilt");
    assert_eq!(back.len(), 4, "{back:?}");
    assert!(!back.iter().any(|n| n.contains("zz-")), "{back:?}");
    assert!(
        !app.topic_exists(&evil_table).await,
        "the forged SQL never ran"
    );
    let live = app.live(&app.name).await;
    assert!(!live.keys().any(|n| n.contains("zz-")), "{live:?}");
    assert_eq!(victim_state(&victim, &vt).await, before);

    app.run("teardown", &[("manifest", "")]).expect(0);
    victim.run("teardown", &[]).expect(0);
}

#[tokio::test]
async fn a_tombstone_under_the_apps_key_forgets_nothing() {
    let topic = unique("it-trust-tomb");
    let app = app_with_key("trust-tomb", &topic);
    let t = Tables::new();
    write(&app, &t.statements());
    app.run("buildup", &[]).expect(0);
    let ours = signed_records(&app).await;
    let job = ours
        .values()
        .find(|r| r.logical_name.as_deref() == Some("job"))
        .unwrap()
        .clone();
    forge(&app.stack, &topic, &job.key(), None).await;

    let torn = app.run("teardown", &[]).expect(0);
    assert!(
        torn.list("torn-down").contains(&job.statement_name),
        "the statement is still known and torn down: {:#}",
        torn.report()
    );
    assert!(untrusted_keys(&torn.report()).contains(&job.key()));
    assert!(!app.live(&app.name).await.contains_key(&job.statement_name));
    app.assert_torn_down(&t.all().map(String::from)).await;
}

#[tokio::test]
async fn a_lost_record_is_reported_untracked_and_recovered_by_adopt() {
    let topic = unique("it-trust-lost");
    let app = app_with_key("trust-lost", &topic);
    let t = Tables::new();
    write(&app, &t.statements());
    app.run("buildup", &[]).expect(0);
    // The src table's DDL: a completed statement, whose table only its record says is the app's.
    let src = signed_records(&app)
        .await
        .into_values()
        .find(|r| r.logical_name.as_deref() == Some("src"))
        .unwrap();
    // The record goes (as after an overwrite that compaction kept): the app no longer knows it.
    tracker_of(&app, key())
        .await
        .delete(&app.cloud.env_id, &src.statement_name)
        .await
        .unwrap();

    // Planned, it is said; run, it is said and the run fails: it could not do its whole job.
    let plan = app
        .run("plan", &[("plan-for", "teardown"), ("manifest", "")])
        .expect(0);
    let untracked = plan.report()["untracked"].clone();
    assert_eq!(
        untracked[0]["name"],
        src.statement_name.as_str(),
        "{untracked}"
    );
    assert!(untracked[0]["hint"].as_str().unwrap().contains("adopt"));
    let torn = app.run("teardown", &[("manifest", "")]).expect(1);
    assert_eq!(
        torn.report()["untracked"][0]["name"],
        src.statement_name.as_str()
    );
    assert!(
        app.live(&app.name).await.contains_key(&src.statement_name),
        "a statement the app does not know is never deleted"
    );
    assert!(app.topic_exists(&t.src).await, "nor its table dropped");

    // Adopted, it is the app's again, and the next teardown takes it and its table.
    app.run("adopt", &[("adopt", &src.statement_name), ("manifest", "")])
        .expect(0);
    let done = app.run("teardown", &[("manifest", "")]).expect(0);
    assert!(done.list("torn-down").contains(&src.statement_name));
    app.assert_torn_down(&t.all().map(String::from)).await;
}

#[tokio::test]
async fn records_written_before_signing_are_taken_over_where_their_statements_confirm_them() {
    let app = app_with_key("trust-legacy", &unique("it-trust-legacy"));
    let t = Tables::new();
    write(&app, &t.statements());
    app.run("buildup", &[]).expect(0);
    let ours = signed_records(&app).await;
    // After the upgrade the topic holds the records as the previous version wrote them: the
    // same, unsigned. (A new topic: on the old one the signed values would stand.)
    let mut upgraded = app;
    upgraded.tracker_topic = unique("it-trust-legacy-only");
    tracker_of(&upgraded, key())
        .await
        .ensure_topic()
        .await
        .unwrap();
    for r in ours.values() {
        forge(
            &upgraded.stack,
            &upgraded.tracker_topic,
            &r.key(),
            Some(&serde_json::to_vec(r).unwrap()),
        )
        .await;
    }
    // And one whose statement is gone: nothing confirms it.
    let mut gone = ours.values().next().unwrap().clone();
    gone.statement_name = format!("{}-gone", upgraded.name);
    gone.statement_uid = Some("uid-of-nothing".into());
    forge(
        &upgraded.stack,
        &upgraded.tracker_topic,
        &gone.key(),
        Some(&serde_json::to_vec(&gone).unwrap()),
    )
    .await;
    assert!(
        signed_records(&upgraded).await.is_empty(),
        "nothing signed yet"
    );

    let torn = upgraded.run("teardown", &[]).expect(0);
    let notes = torn.report()["notes"].to_string();
    assert!(notes.contains("taken over"), "{notes}");
    let mut expected: Vec<String> = ours.keys().cloned().collect();
    expected.sort();
    let mut down = torn.list("torn-down");
    down.sort();
    assert_eq!(down, expected, "{:#}", torn.report());
    // The tables the app's plain CREATE TABLEs created are dropped.
    upgraded.assert_torn_down(&t.all().map(String::from)).await;
    assert!(untrusted_keys(&torn.report()).contains(&gone.key()));
    // Written again, signed.
    let signed = signed_records(&upgraded).await;
    assert_eq!(signed.len(), ours.len(), "{:?}", signed.keys());
    assert!(!signed.contains_key(&gone.statement_name));
}

#[tokio::test]
async fn forged_leases_neither_lock_the_app_out_nor_let_two_runs_in() {
    let stack = StackEnv::load();
    let topic = unique("it-trust-lease");
    let kafka = KafkaConfig::plaintext(&stack.kafka_bootstrap_servers);
    let t = Tracker::open(&kafka, &topic, key()).await.unwrap();
    t.ensure_topic().await.unwrap();
    let (env, app) = ("env-trust01", "leased");
    let now = chrono::Utc::now();
    let lease = |run: &str, expires: chrono::Duration| LeaseRecord {
        version: 1,
        app: app.into(),
        environment_id: env.into(),
        run_id: run.into(),
        holder: "a forger".into(),
        acquired_at: now,
        expires_at: now + expires,
        first_offset: Some(0),
        renewed_at: Some(now),
        extra: Default::default(),
    };
    // Claims the first place and a year: unsigned, it is no lease at all.
    let year = chrono::Duration::days(365);
    let forged = lease("forged-run", year);
    let fkey = lease_key(env, app, "forged-run");
    forge(
        &stack,
        &topic,
        &fkey,
        Some(&serde_json::to_vec(&forged).unwrap()),
    )
    .await;
    let mut req = LeaseRequest::new(env, app, "run-1", "test");
    req.wait = Duration::ZERO;
    let held = t.acquire_lease(&req).await.expect("not locked out");

    // The holder's lease tombstoned, and a forged lease for a waiting run: still held.
    forge(&stack, &topic, held.key(), None).await;
    let waiting = lease("run-2", chrono::Duration::seconds(60));
    forge(
        &stack,
        &topic,
        &lease_key(env, app, "run-2"),
        Some(&serde_json::to_vec(&waiting).unwrap()),
    )
    .await;
    let mut second = LeaseRequest::new(env, app, "run-2", "test");
    second.wait = Duration::ZERO;
    let err = t.acquire_lease(&second).await.unwrap_err();
    assert!(matches!(err, TrackerError::LeaseHeld { .. }), "{err:?}");
    held.check().unwrap();
    held.renew().await.unwrap();
    held.release().await.unwrap();

    // Signed with the app's key (a run of its own gone wrong) and claiming a year: it counts a
    // ttl past when it was seen, no more.
    let own = lease("own-run", year);
    let okey = lease_key(env, app, "own-run");
    let signed = key().sign(&okey, &serde_json::to_vec(&own).unwrap());
    forge(&stack, &topic, &okey, Some(&signed)).await;
    let mut patient = LeaseRequest::new(env, app, "run-3", "test");
    patient.ttl = Duration::from_secs(1);
    patient.wait = Duration::from_secs(30);
    let got = t.acquire_lease(&patient).await.expect("held a ttl at most");
    got.release().await.unwrap();

    // Through the binary: a forged lease does not stop a run.
    let app = app_with_key("trust-lease-run", &topic);
    let flease = lease_key(&app.cloud.env_id, &app.name, "forged-run");
    let mut f = forged.clone();
    f.app = app.name.clone();
    f.environment_id = app.cloud.env_id.clone();
    forge(
        &stack,
        &topic,
        &flease,
        Some(&serde_json::to_vec(&f).unwrap()),
    )
    .await;
    let tables = Tables::new();
    write(&app, &tables.statements());
    let run = app.run("buildup", &[]).expect(0);
    assert!(
        untrusted_keys(&run.report()).contains(&flease),
        "{:#}",
        run.report()
    );
    app.run("teardown", &[]).expect(0);
}
