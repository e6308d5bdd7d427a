//! The tracker against the stack's broker: bulk round trips, tombstones, records of newer
//! versions, partitions written by others, and leases.

use std::collections::BTreeMap;
use std::time::Duration;

use ccaf_housekeeping::confluent::kafka::{KafkaAdmin, KafkaConfig};
use ccaf_housekeeping::tracker::{
    LeaseRequest, Provenance, Record, Scope, State, Tables, Tracker, TrackerError,
};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use test_support::{unique, StackEnv};

fn kafka() -> KafkaConfig {
    KafkaConfig::plaintext(StackEnv::load().kafka_bootstrap_servers)
}

async fn tracker() -> Tracker {
    Tracker::open(
        &kafka(),
        &unique("it-tracker"),
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap()
}

/// A record with every field filled, different for every `i`.
fn record(env: &str, app: &str, i: usize) -> Record {
    let name = format!("{app}-stmt-{i:05}");
    let mut r = Record::new(
        app,
        env,
        &name,
        format!(
            "INSERT INTO `cat`.`db`.`out_{i}` SELECT id, 'é—{i}' AS note FROM `cat`.`db`.`in_{}`;",
            i / 2
        ),
        if i % 3 == 0 {
            State::Deployed
        } else {
            State::TornDown
        },
    );
    r.logical_name = Some(format!("stmt-{i}"));
    r.properties = BTreeMap::from([
        ("sql.current-catalog".to_string(), "cat".to_string()),
        ("sql.current-database".to_string(), format!("db{}", i % 7)),
    ]);
    r.compute_pool_id = Some("lfcp-abc123".into());
    r.principal = Some("sa-xyz789".into());
    r.tables = Tables {
        reads: vec![format!("cat.db.in_{}", i / 2)],
        writes: vec![format!("cat.db.out_{i}")],
        creates: if i % 5 == 0 {
            vec![format!("cat.db.out_{i}")]
        } else {
            vec![]
        },
        ownership: Vec::new(),
        extra: Default::default(),
    };
    r.last_phase = Some(if i % 2 == 0 { "RUNNING" } else { "STOPPED" }.into());
    if i % 4 == 0 {
        r.labels = BTreeMap::from([("team".to_string(), format!("t{i}"))]);
    }
    r.definition_hash = Some(format!("{:08x}", i * 2654435761 % (1 << 32)));
    r.provenance = Provenance {
        git_sha: Some(format!("{i:040x}")),
        run_id: Some(format!("{}", 1_000_000 + i)),
        pr_number: Some(i as u64),
        actor: Some("octocat".into()),
        at: chrono::DateTime::from_timestamp(1_760_000_000 + i as i64, 0).unwrap(),
        extra: Default::default(),
    };
    r
}

#[tokio::test]
async fn ten_thousand_records_are_loaded_back_exactly() {
    let t = tracker().await;
    let env = "env-bulk01";
    let records: Vec<Record> = (0..10_000).map(|i| record(env, "bulk", i)).collect();
    let deliveries = t.put_all(&records).await.unwrap();
    assert_eq!(deliveries.len(), 10_000);

    // A fresh tracker (a new consumer, reading from the beginning) and the writer's own.
    for reader in [
        Tracker::open(
            &kafka(),
            t.topic(),
            ccaf_housekeeping::tracker::TrackerKey::unprotected(),
        )
        .await
        .unwrap(),
        t.clone(),
    ] {
        let snap = reader.load(&Scope::all()).await.unwrap();
        assert!(snap.invalid.is_empty(), "{:?}", snap.invalid);
        assert_eq!(snap.records.len(), records.len());
        for r in &records {
            assert_eq!(
                snap.records.get(&r.key()).map(|a| &**a),
                Some(r),
                "record {}",
                r.key()
            );
        }
    }
}

#[tokio::test]
async fn the_last_value_wins_and_tombstones_remove() {
    let t = tracker().await;
    let env = "env-tomb01";
    let mut a = record(env, "app", 1);
    let b = record(env, "app", 2);
    let c = record(env, "other", 3);
    t.put_all(&[a.clone(), b.clone(), c.clone()]).await.unwrap();
    a.state = State::Failed;
    a.detail = Some("Table 'x' not found".into());
    t.put(&a).await.unwrap();
    t.delete(env, &b.statement_name).await.unwrap();
    // Deleting what is not there is fine.
    t.delete(env, "never-written").await.unwrap();

    let snap = t.load(&Scope::all()).await.unwrap();
    assert_eq!(snap.records.len(), 2);
    assert_eq!(snap.get(env, &a.statement_name), Some(&a));
    assert_eq!(snap.get(env, &b.statement_name), None);
    assert_eq!(t.get(env, &b.statement_name).await.unwrap(), None);
    assert_eq!(
        t.get(env, &c.statement_name).await.unwrap(),
        Some(c.clone())
    );
    let apps: Vec<String> = t
        .list(Some(env), Some("app"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.statement_name)
        .collect();
    assert_eq!(apps, vec![a.statement_name.clone()]);
    assert!(t.list(Some("env-other"), None).await.unwrap().is_empty());

    // Written again after its tombstone: back.
    t.put(&b).await.unwrap();
    assert_eq!(t.get(env, &b.statement_name).await.unwrap(), Some(b));
}

#[tokio::test]
async fn a_record_of_a_newer_version_keeps_its_unknown_fields() {
    let t = tracker().await;
    let text = serde_json::json!({
        "version": 7,
        "app": "future",
        "statement_name": "future-x-0badc0de",
        "environment_id": "env-future",
        "sql": "SELECT 1",
        "state": "hibernating",
        "rollout": {"wave": 3, "canary": true},
        "tables": {"reads": [], "writes": [], "creates": [], "views": ["v1"]},
        "provenance": {"at": "2030-01-01T00:00:00Z", "signature": "abc"}
    });
    let r: Record = serde_json::from_value(text.clone()).unwrap();
    t.put(&r).await.unwrap();
    let back = Tracker::open(
        &kafka(),
        t.topic(),
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap()
    .get("env-future", "future-x-0badc0de")
    .await
    .unwrap()
    .expect("stored");
    let back = serde_json::to_value(&back).unwrap();
    for (k, v) in text.as_object().unwrap() {
        if k == "tables" || k == "provenance" {
            for (k2, v2) in v.as_object().unwrap() {
                assert_eq!(&back[k][k2], v2, "{k}.{k2}");
            }
        } else {
            assert_eq!(&back[k], v, "{k}");
        }
    }
}

#[tokio::test]
async fn reading_sees_later_writes_and_never_creates_the_topic() {
    let t = tracker().await;
    let admin = KafkaAdmin::connect(&kafka()).unwrap();
    assert!(t.load(&Scope::all()).await.unwrap().records.is_empty());
    assert_eq!(t.get("env-1", "x").await.unwrap(), None);
    assert!(
        !admin.topic_exists(t.topic()).await.unwrap(),
        "a read created the tracker topic"
    );

    // The same tracker reads on from where it stopped.
    let env = "env-incr01";
    for round in 0..3 {
        let batch: Vec<Record> = (round * 100..(round + 1) * 100)
            .map(|i| record(env, "incr", i))
            .collect();
        t.put_all(&batch).await.unwrap();
        let snap = t.load(&Scope::all()).await.unwrap();
        assert_eq!(snap.records.len(), (round + 1) * 100);
        for r in &batch {
            assert_eq!(snap.records.get(&r.key()).map(|a| &**a), Some(r));
        }
    }
    assert!(admin.topic_exists(t.topic()).await.unwrap());
}

#[tokio::test]
async fn every_partition_is_read_and_unreadable_values_are_reported() {
    let stack = StackEnv::load();
    let topic = unique("it-tracker-parts");
    let admin = KafkaAdmin::connect(&kafka()).unwrap();
    admin
        .create_topic(&topic, 3, &[("cleanup.policy", "compact")])
        .await
        .unwrap();
    // Another writer holding the app's key, with its own batching, into partitions 1 and 2.
    let signer = ccaf_housekeeping::tracker::TrackerKey::unprotected();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &stack.kafka_bootstrap_servers)
        .set("linger.ms", "20")
        .create()
        .unwrap();
    let env = "env-parts01";
    // Queued together, so the producer batches many records per request.
    let mut expected = Vec::new();
    let mut deliveries = Vec::new();
    for i in 0..300 {
        let r = record(env, "parts", i);
        let key = r.key();
        let payload = signer.sign(&key, &serde_json::to_vec(&r).unwrap());
        let part = 1 + (i % 2) as i32;
        let f = producer
            .send_result(
                FutureRecord::to(&topic)
                    .key(&key)
                    .payload(&payload)
                    .partition(part),
            )
            .map_err(|(e, _)| e)
            .unwrap();
        deliveries.push(f);
        expected.push(r);
    }
    for d in deliveries {
        d.await.unwrap().unwrap();
    }
    producer
        .send(
            FutureRecord::to(&topic)
                .key("env-parts01/garbage")
                .payload("{not json")
                .partition(2),
            Duration::from_secs(10),
        )
        .await
        .unwrap();
    let t = Tracker::open(
        &kafka(),
        &topic,
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap();
    let own = record(env, "parts", 1000);
    t.put(&own).await.unwrap();
    expected.push(own);

    let snap = t.load(&Scope::all()).await.unwrap();
    assert_eq!(snap.records.len(), expected.len());
    for r in &expected {
        assert_eq!(snap.records.get(&r.key()).map(|a| &**a), Some(r));
    }
    assert_eq!(snap.invalid.len(), 1);
    assert_eq!(snap.invalid[0].key, "env-parts01/garbage");
    assert_eq!(snap.invalid[0].partition, 2);
}

#[tokio::test]
async fn invalid_records_are_refused_before_anything_is_written() {
    let t = tracker().await;
    let mut r = record("env-bad", "app", 1);
    r.statement_name = "Not_A_Valid_Name".into();
    let err = t.put(&r).await.unwrap_err();
    assert!(matches!(err, TrackerError::InvalidRecord(_)), "{err:?}");
    assert!(err.to_string().contains("statement_name"), "{err}");
    let admin = KafkaAdmin::connect(&kafka()).unwrap();
    assert!(!admin.topic_exists(t.topic()).await.unwrap());
}

fn lease_req(env: &str, app: &str, run: &str) -> LeaseRequest {
    let mut req = LeaseRequest::new(env, app, run, &format!("holder-{run}"));
    req.wait = Duration::ZERO;
    req
}

#[tokio::test]
async fn a_held_lease_blocks_until_released() {
    let t = tracker().await;
    let a = t
        .acquire_lease(&lease_req("env-l1", "app", "run-a"))
        .await
        .unwrap();
    assert_eq!(a.run_id(), "run-a");
    let err = t
        .acquire_lease(&lease_req("env-l1", "app", "run-b"))
        .await
        .unwrap_err();
    match &err {
        TrackerError::LeaseHeld { holder, run_id, .. } => {
            assert_eq!(run_id, "run-a");
            assert_eq!(holder, "holder-run-a");
        }
        other => panic!("expected LeaseHeld, got {other:?}"),
    }
    // Another app, or the same app in another environment, is not blocked.
    t.acquire_lease(&lease_req("env-l1", "app2", "run-c"))
        .await
        .unwrap()
        .release()
        .await
        .unwrap();
    t.acquire_lease(&lease_req("env-l2", "app", "run-d"))
        .await
        .unwrap()
        .release()
        .await
        .unwrap();

    a.release().await.unwrap();
    let b = t
        .acquire_lease(&lease_req("env-l1", "app", "run-b"))
        .await
        .unwrap();
    assert_eq!(b.run_id(), "run-b");
    b.release().await.unwrap();
    // Released leases leave no lease behind: the snapshot's lease keys are tombstoned.
    assert!(t.load(&Scope::all()).await.unwrap().leases.is_empty());
}

#[tokio::test]
async fn a_waiting_run_gets_the_lease_when_the_holder_releases() {
    let t = tracker().await;
    let a = t
        .acquire_lease(&lease_req("env-w1", "app", "run-a"))
        .await
        .unwrap();
    let other = Tracker::open(
        &kafka(),
        t.topic(),
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap();
    let waiter = tokio::spawn(async move {
        let mut req = lease_req("env-w1", "app", "run-b");
        req.wait = Duration::from_secs(60);
        let lease = other.acquire_lease(&req).await;
        (lease, std::time::Instant::now())
    });
    // The waiter has queued its lease behind ours.
    test_support::wait_until("the waiter's lease record", Duration::from_secs(30), || {
        let t = t.clone();
        async move {
            let snap = t.load(&Scope::app("env-w1", "app")).await.ok()?;
            snap.leases_of("env-w1", "app")
                .iter()
                .any(|e| e.record.run_id == "run-b")
                .then_some(())
        }
    })
    .await;
    assert!(
        !waiter.is_finished(),
        "the waiter got the lease while it was held"
    );
    let released_at = std::time::Instant::now();
    a.release().await.unwrap();
    let (lease, got_at) = waiter.await.unwrap();
    let lease = lease.unwrap();
    assert_eq!(lease.run_id(), "run-b");
    assert!(got_at >= released_at);
    lease.release().await.unwrap();
}

#[tokio::test]
async fn an_expired_lease_does_not_block_and_a_renewed_one_does() {
    let t = tracker().await;
    // Short ttls: take the topic's creation and the first read out of the timings.
    t.ensure_topic().await.unwrap();
    t.load(&Scope::all()).await.unwrap();
    // Renewed in the background every ttl/3: held well past its ttl.
    let mut req = lease_req("env-e1", "app", "run-long");
    req.ttl = Duration::from_millis(900);
    let long = t.acquire_lease(&req).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    long.check().unwrap();
    let err = t
        .acquire_lease(&lease_req("env-e1", "app", "run-x"))
        .await
        .unwrap_err();
    assert!(matches!(err, TrackerError::LeaseHeld { .. }), "{err:?}");
    long.release().await.unwrap();

    // A holder that died: its lease is never renewed nor released.
    let mut req = lease_req("env-e2", "app", "run-dead");
    req.ttl = Duration::from_millis(500);
    let dead = t.acquire_lease(&req).await.unwrap();
    let expires = dead.expires_at();
    // Dropped unreleased: no more renewals, no release, as when the process dies.
    drop(dead);
    let mut req = lease_req("env-e2", "app", "run-next");
    req.wait = Duration::from_secs(30);
    let next = t.acquire_lease(&req).await.unwrap();
    assert!(chrono::Utc::now() >= expires);
    next.release().await.unwrap();
}

#[tokio::test]
async fn records_under_another_key_or_invalid_are_not_believed() {
    let stack = StackEnv::load();
    let t = tracker().await;
    let good = record("env-keys01", "app", 1);
    t.put(&good).await.unwrap();
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &stack.kafka_bootstrap_servers)
        .create()
        .unwrap();
    // A valid record under another statement's key, and an invalid one under its own.
    let elsewhere = format!(
        "env-keys01/{}",
        record("env-keys01", "app", 2).statement_name
    );
    let mut bad = record("env-keys01", "app", 3);
    bad.app = "Not An App".into();
    for (key, value) in [
        (elsewhere.clone(), serde_json::to_vec(&good).unwrap()),
        (bad.key(), serde_json::to_vec(&bad).unwrap()),
    ] {
        producer
            .send(
                FutureRecord::to(t.topic())
                    .key(&key)
                    .payload(&value)
                    .partition(0),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }
    let snap = t.load(&Scope::all()).await.unwrap();
    assert_eq!(snap.records.len(), 1, "{:?}", snap.records.keys());
    assert!(snap.records.contains_key(&good.key()));
    let mut invalid: Vec<&str> = snap.invalid.iter().map(|i| i.key.as_str()).collect();
    invalid.sort();
    let bad_key = bad.key();
    let mut expected = vec![elsewhere.as_str(), bad_key.as_str()];
    expected.sort();
    assert_eq!(invalid, expected);
    assert!(snap
        .invalid
        .iter()
        .any(|i| i.reason.contains("another key")));
    assert!(snap.invalid.iter().any(|i| i.reason.contains("app")));
}

#[tokio::test]
async fn the_tracker_reads_without_a_consumer_group() {
    let stack = StackEnv::load();
    let tansu = stack
        .tansu_bin
        .expect("CCAF_TANSU_BIN is not set: run the tests through scripts/test");
    // A broker of the test's own, which logs every request it serves.
    let broker = test_support::PrivateBroker::spawn(&tansu, "lkc-nogroup");
    let kafka = KafkaConfig::plaintext(&broker.bootstrap_servers);
    let t = Tracker::open(
        &kafka,
        "ccaf-housekeeping-tracker",
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap();
    let r = record("env-nogroup", "app", 1);
    t.put(&r).await.unwrap();
    let snap = t.load(&Scope::all()).await.unwrap();
    assert_eq!(snap.records.len(), 1);
    t.put(&record("env-nogroup", "app", 2)).await.unwrap();
    assert_eq!(
        t.load(&Scope::all()).await.unwrap().records.len(),
        2,
        "a second read"
    );
    let served = broker.requests();
    assert!(
        served.iter().any(|r| r == "FetchRequest"),
        "the broker logs the requests it serves: {served:?}"
    );
    for api in [
        "FindCoordinatorRequest",
        "JoinGroupRequest",
        "OffsetFetchRequest",
    ] {
        assert!(
            !served.iter().any(|r| r == api),
            "the tracker sent a {api}: {served:?}"
        );
    }

    // The observable works: a consumer with a group, reading the same way (assign, no
    // subscription), does ask for a coordinator.
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let grouped: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap_servers)
        .set("group.id", "any")
        .create()
        .unwrap();
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset("ccaf-housekeeping-tracker", 0, rdkafka::Offset::Beginning)
        .unwrap();
    grouped.assign(&tpl).unwrap();
    test_support::wait_until(
        "the grouped consumer's coordinator lookup",
        Duration::from_secs(20),
        || async {
            let _ = grouped.poll(Duration::from_millis(50));
            broker
                .requests()
                .iter()
                .any(|r| r == "FindCoordinatorRequest")
                .then_some(())
        },
    )
    .await;
}

/// Write raw values (`None`: a tombstone) to partition 0, as another tool could.
async fn write_raw(topic: &str, values: &[(&str, Option<&[u8]>)]) {
    let producer: FutureProducer = ClientConfig::new()
        .set(
            "bootstrap.servers",
            StackEnv::load().kafka_bootstrap_servers,
        )
        .create()
        .unwrap();
    for (key, value) in values {
        let mut r = FutureRecord::<str, [u8]>::to(topic).key(key).partition(0);
        if let Some(v) = value {
            r = r.payload(v);
        }
        producer.send(r, Duration::from_secs(10)).await.unwrap();
    }
}

#[tokio::test]
async fn a_scoped_load_parses_its_app_and_knows_other_apps_only_by_name() {
    let t = tracker().await;
    let (env, away) = ("env-scope01", "env-scope02");
    let mine: Vec<Record> = (0..3).map(|i| record(env, "mine", i)).collect();
    let theirs: Vec<Record> = (3..5).map(|i| record(env, "theirs", i)).collect();
    let elsewhere: Vec<Record> = (5..7).map(|i| record(away, "mine", i)).collect();
    t.put_all(&[mine.clone(), theirs.clone(), elsewhere.clone()].concat())
        .await
        .unwrap();
    let my_lease = t
        .acquire_lease(&lease_req(env, "mine", "run-1"))
        .await
        .unwrap();
    let their_lease = t
        .acquire_lease(&lease_req(env, "theirs", "run-2"))
        .await
        .unwrap();

    // A fresh tracker, as a run opens it.
    let reader = Tracker::open(
        &kafka(),
        t.topic(),
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap();
    let snap = reader.load(&Scope::app(env, "mine")).await.unwrap();
    assert!(snap.invalid.is_empty(), "{:?}", snap.invalid);
    let keys = |rs: &[Record]| rs.iter().map(Record::key).collect::<Vec<_>>();
    assert_eq!(
        snap.records.keys().cloned().collect::<Vec<_>>(),
        keys(&mine)
    );
    for r in &mine {
        assert_eq!(snap.get(env, &r.statement_name), Some(r), "parsed fully");
        assert_eq!(snap.app_of(env, &r.statement_name), Some("mine"));
    }
    let mut others: Vec<(String, String)> = snap
        .other_apps()
        .map(|(k, a)| (k.to_string(), a.to_string()))
        .collect();
    others.sort();
    let expected: Vec<(String, String)> = keys(&theirs)
        .into_iter()
        .map(|k| (k, "theirs".to_string()))
        .collect();
    assert_eq!(others, expected);
    for r in &theirs {
        assert_eq!(snap.get(env, &r.statement_name), None, "not the run's");
        assert_eq!(snap.app_of(env, &r.statement_name), Some("theirs"));
    }
    for r in &elsewhere {
        assert_eq!(snap.app_of(away, &r.statement_name), None, "not held");
    }
    assert_eq!(
        snap.leases.keys().cloned().collect::<Vec<_>>(),
        vec![my_lease.key().to_string()]
    );
    // Another environment's two records and another app's lease: keys and offsets only.
    assert_eq!(snap.unread, 3);

    // The same tracker asked for more reads again with a scope that covers both.
    let all = reader.load(&Scope::all()).await.unwrap();
    assert_eq!(all.records.len(), 7);
    for r in mine.iter().chain(&theirs).chain(&elsewhere) {
        assert_eq!(all.get(&r.environment_id, &r.statement_name), Some(r));
    }
    assert_eq!(all.leases.len(), 2);
    my_lease.release().await.unwrap();
    their_lease.release().await.unwrap();
}

#[tokio::test]
async fn a_scoped_load_reports_the_invalid_values_of_its_scope() {
    let t = tracker().await;
    let (env, away) = ("env-scinv01", "env-scinv02");
    let good = record(env, "mine", 1);
    t.put(&good).await.unwrap();
    let elsewhere_key = format!("{env}/{}", record(env, "mine", 2).statement_name);
    let mut bad_app = record(env, "theirs", 3);
    bad_app.app = "Not An App".into();
    // Another app's record that is whole where it says whose it is, and broken elsewhere.
    let theirs_broken = serde_json::json!({
        "app": "theirs", "environment_id": env, "statement_name": "theirs-broken", "sql": 42
    });
    let values: Vec<(String, Vec<u8>)> = vec![
        (format!("{env}/garbage"), b"{not json".to_vec()),
        (elsewhere_key.clone(), serde_json::to_vec(&good).unwrap()),
        (bad_app.key(), serde_json::to_vec(&bad_app).unwrap()),
        (
            format!("{env}/theirs-broken"),
            theirs_broken.to_string().into_bytes(),
        ),
        (format!("lease/{env}/mine/run-x"), b"{}".to_vec()),
        (format!("lease/{env}/theirs/run-y"), b"{}".to_vec()),
        (format!("{away}/garbage"), b"{not json".to_vec()),
        ("no-environment".to_string(), b"{not json".to_vec()),
    ];
    let raw: Vec<(&str, Option<&[u8]>)> = values
        .iter()
        .map(|(k, v)| (k.as_str(), Some(v.as_slice())))
        .collect();
    write_raw(t.topic(), &raw).await;

    let reader = Tracker::open(
        &kafka(),
        t.topic(),
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap();
    let snap = reader.load(&Scope::app(env, "mine")).await.unwrap();
    let invalid: Vec<&str> = snap.invalid.iter().map(|i| i.key.as_str()).collect();
    let mut expected = vec![
        format!("{env}/garbage"),
        elsewhere_key.clone(),
        bad_app.key(),
        format!("lease/{env}/mine/run-x"),
    ];
    expected.sort();
    assert_eq!(invalid, expected);
    let reason = |key: &str| {
        snap.invalid
            .iter()
            .find(|i| i.key == key)
            .map(|i| i.reason.clone())
            .unwrap()
    };
    assert!(reason(&elsewhere_key).contains("another key"));
    assert!(
        reason(&bad_app.key()).contains("app"),
        "{}",
        reason(&bad_app.key())
    );
    assert_eq!(snap.records.len(), 1);
    // Only its identity is read: the rest of another app's record is that app's runs' to check.
    assert_eq!(snap.app_of(env, "theirs-broken"), Some("theirs"));

    // Unscoped, every value is parsed: the rest is reported too.
    let all = Tracker::open(
        &kafka(),
        t.topic(),
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap()
    .load(&Scope::all())
    .await
    .unwrap();
    assert_eq!(all.invalid.len(), values.len(), "{:?}", all.invalid);
}

#[tokio::test]
async fn a_later_scoped_load_picks_up_what_was_appended_to_its_scope() {
    let t = tracker().await;
    let env = "env-scinc01";
    let scope = Scope::app(env, "mine");
    let mut first = record(env, "mine", 0);
    let theirs = record(env, "theirs", 1);
    t.put_all(&[first.clone(), theirs.clone()]).await.unwrap();
    let reader = Tracker::open(
        &kafka(),
        t.topic(),
        ccaf_housekeeping::tracker::TrackerKey::unprotected(),
    )
    .await
    .unwrap();
    let snap = reader.load(&scope).await.unwrap();
    assert_eq!(snap.records.len(), 1);
    assert_eq!(snap.other_apps().count(), 1);

    first.state = State::Failed;
    first.detail = Some("changed".into());
    let second = record(env, "mine", 2);
    let theirs_too = record(env, "theirs", 3);
    t.put_all(&[
        first.clone(),
        second.clone(),
        theirs_too.clone(),
        record("env-scinc02", "mine", 4),
    ])
    .await
    .unwrap();
    t.delete(env, &theirs.statement_name).await.unwrap();

    let snap = reader.load(&scope).await.unwrap();
    assert_eq!(
        snap.list(None, None),
        vec![&first, &second],
        "the change and the new record"
    );
    assert_eq!(
        snap.other_apps()
            .map(|(k, _)| k.to_string())
            .collect::<Vec<_>>(),
        vec![theirs_too.key()],
        "the tombstone removed theirs"
    );
    assert_eq!(snap.unread, 1);
}
