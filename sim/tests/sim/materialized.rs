//! Materialized tables (the reference, §G): the REST resource, the SQL forms through statements,
//! phases and versions, refused changes, "being modified", the drop and its lingering catalog
//! entry, `IS_MATERIALIZED`, and readers. One test per behaviour; a test that stretches a timing
//! does so to make the behaviour easy to see.

use std::time::Duration;

use reqwest::{Method, RequestBuilder};
use serde_json::{json, Value};

use crate::support::{self, json_of, text, unique, wait_until, Sim};

fn table() -> String {
    unique("mt").replace('-', "_")
}

/// `…/databases/{cluster}/materialized-tables[/path]`.
fn mt(s: &Sim, method: Method, path: &str) -> RequestBuilder {
    let url = format!(
        "{}/sql/v1/organizations/{}/environments/{}/databases/{}/materialized-tables{path}",
        s.sim.url, s.sim.org_id, s.sim.env_id, s.sim.kafka_cluster_id
    );
    s.http
        .request(method, url)
        .basic_auth(&s.sim.flink_api_key, Some(&s.sim.flink_api_secret))
}

async fn get_mt(s: &Sim, name: &str) -> Option<Value> {
    let resp = mt(s, Method::GET, &format!("/{name}"))
        .send()
        .await
        .unwrap();
    match resp.status().as_u16() {
        200 => Some(json_of(resp).await),
        404 => None,
        other => panic!("GET {name}: {other} {}", text(resp).await),
    }
}

async fn wait_mt(s: &Sim, name: &str, phase: &str) -> Value {
    wait_until(
        &format!("{name} to be {phase}"),
        Duration::from_secs(20),
        || async {
            get_mt(s, name)
                .await
                .filter(|v| v["status"]["phase"] == phase)
        },
    )
    .await
}

async fn wait_mt_gone(s: &Sim, name: &str) {
    wait_until(
        &format!("{name} to be gone"),
        Duration::from_secs(20),
        || async { get_mt(s, name).await.is_none().then_some(()) },
    )
    .await
}

/// A source table with `id INT, amount INT, note STRING`.
async fn source(s: &Sim) -> String {
    let src = table();
    s.run(
        &unique("src"),
        &format!("CREATE TABLE {src} (id INT, amount INT, note STRING)"),
        "COMPLETED",
    )
    .await;
    src
}

/// Run a materialized table statement to COMPLETED or FAILED; returns the statement.
async fn sql(s: &Sim, text: &str, phase: &str) -> Value {
    s.run(&unique("mts"), text, phase).await
}

/// A materialized table over a fresh source, RUNNING; returns (table, source).
async fn running_mt(s: &Sim) -> (String, String) {
    let src = source(s).await;
    let t = table();
    sql(
        s,
        &format!("CREATE MATERIALIZED TABLE {t} DISTRIBUTED BY HASH(id) INTO 2 BUCKETS AS SELECT id, amount FROM {src}"),
        "COMPLETED",
    )
    .await;
    wait_mt(s, &t, "RUNNING").await;
    (t, src)
}

async fn post_mt(s: &Sim, body: Value) -> (u16, Value) {
    let resp = mt(s, Method::POST, "").json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn put_mt(s: &Sim, name: &str, body: &Value) -> (u16, Value) {
    let resp = mt(s, Method::PUT, &format!("/{name}"))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn detail(v: &Value) -> &str {
    v["errors"][0]["detail"].as_str().unwrap_or_default()
}

/// Rows of a query on `INFORMATION_SCHEMA.TABLES` for `t`: `IS_MATERIALIZED` of each.
async fn is_materialized(s: &Sim, t: &str) -> Vec<String> {
    let name = unique("is");
    let q = format!(
        "SELECT `TABLE_NAME`, `IS_MATERIALIZED` FROM `{}`.`INFORMATION_SCHEMA`.`TABLES` WHERE `TABLE_NAME` = '{t}'",
        s.sim.env_id
    );
    s.run(&name, &q, "COMPLETED").await;
    let page = json_of(
        s.flink(Method::GET, &format!("{name}/results"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    page["results"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["row"][1].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The topic's high watermark of partition `p`, from the broker.
fn high_watermark(s: &Sim, topic: &str, p: i32) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &s.stack.kafka_bootstrap_servers)
        .create()
        .unwrap();
    c.fetch_watermarks(topic, p, Duration::from_secs(10))
        .unwrap()
        .1
}

/// Write one record to every partition of `topic`, through the broker.
fn produce(s: &Sim, topic: &str, partitions: i32) {
    use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
    let p: ThreadedProducer<rdkafka::producer::DefaultProducerContext> =
        rdkafka::ClientConfig::new()
            .set("bootstrap.servers", &s.stack.kafka_bootstrap_servers)
            .create()
            .unwrap();
    for part in 0..partitions {
        p.send(
            BaseRecord::<(), str>::to(topic)
                .payload("x")
                .partition(part),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    }
    p.flush(Duration::from_secs(10)).unwrap();
}

// ---- 1. the REST resource ----

/// POST builds the table from the spec (topic, key and value subjects), answers 201 with the
/// whole resource and a Location; GET, both lists (paged), the versions and the labels follow.
#[tokio::test]
async fn the_rest_resource_creates_reads_lists_and_keeps_versions() {
    let s = support::start();
    let src = source(&s).await;
    let (a, b) = (table(), table());
    for name in [&a, &b] {
        let (status, body) = post_mt(
            &s,
            json!({
                "name": name,
                "metadata": { "labels": { "owner": "ci" } },
                "spec": {
                    "kafka_cluster_id": s.sim.kafka_cluster_id,
                    "query": format!("SELECT id, amount FROM {src}"),
                    "columns": [
                        { "kind": "Physical", "name": "id", "type": { "type": "INTEGER", "nullable": false } },
                        { "kind": "Physical", "name": "amount", "type": { "type": "INTEGER", "nullable": true } },
                    ],
                    "distribution": { "kind": "HASH", "keys": ["id"], "bucket_count": 3 },
                    "table_options": { "value.format": "avro-registry" },
                },
            }),
        )
        .await;
        assert_eq!(status, 201, "{body:#}");
        assert_eq!(body["api_version"], "sql/v1");
        assert_eq!(body["kind"], "MaterializedTable");
        assert_eq!(body["name"], name.as_str());
        assert_eq!(body["organization_id"], s.sim.org_id);
        assert_eq!(body["environment_id"], s.sim.env_id);
        for field in [
            "self",
            "uid",
            "resource_version",
            "created_at",
            "updated_at",
        ] {
            assert!(body["metadata"][field].is_string(), "{field}: {body:#}");
        }
        assert_eq!(body["metadata"]["labels"], json!({ "owner": "ci" }));
        assert_eq!(body["spec"]["compute_pool_id"], s.sim.compute_pool_id);
        assert_eq!(body["spec"]["principal"], s.sim.principal_id);
        assert_eq!(body["spec"]["distribution"]["bucket_count"], 3);
        assert_eq!(body["status"]["phase"], "CREATING");
        assert_eq!(body["status"]["version"], 1);
        assert_eq!(body["status"]["latest_version"], 1);
        assert!(body["status"]["warnings"].is_array());
        assert!(body["status"]["creation_statement"]
            .as_str()
            .unwrap()
            .contains("MATERIALIZED TABLE"));
    }
    let running = wait_mt(&s, &a, "RUNNING").await;
    assert_eq!(running["spec"]["columns"][0]["name"], "id");
    assert!(s.topic_exists(&a));
    let subjects = s.subjects().await;
    assert!(subjects.contains(&format!("{a}-value")), "{subjects:?}");
    assert!(subjects.contains(&format!("{a}-key")), "{subjects:?}");

    // The per-database list, a page of one at a time, and the environment's list.
    let mut seen = Vec::new();
    let mut url = format!(
        "{}/sql/v1/organizations/{}/environments/{}/databases/{}/materialized-tables?page_size=1",
        s.sim.url, s.sim.org_id, s.sim.env_id, s.sim.kafka_cluster_id
    );
    loop {
        let page = json_of(
            s.http
                .get(&url)
                .basic_auth(&s.sim.flink_api_key, Some(&s.sim.flink_api_secret))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(page["kind"], "MaterializedTableList", "{page:#}");
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 1);
        seen.extend(data.iter().map(|d| d["name"].as_str().unwrap().to_string()));
        match page["metadata"]["next"].as_str() {
            Some(n) if !n.is_empty() => url = n.to_string(),
            _ => break,
        }
    }
    seen.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(seen, want);
    let env_list = json_of(
        s.http
            .get(format!(
                "{}/sql/v1/organizations/{}/environments/{}/materialized-tables",
                s.sim.url, s.sim.org_id, s.sim.env_id
            ))
            .basic_auth(&s.sim.flink_api_key, Some(&s.sim.flink_api_secret))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(env_list["data"].as_array().unwrap().len(), 2);

    let versions = json_of(
        mt(&s, Method::GET, &format!("/{a}/versions"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(versions["kind"], "MaterializedTableVersionList");
    assert_eq!(versions["data"][0]["spec"]["version"], 1);
    let v1 = json_of(
        mt(&s, Method::GET, &format!("/{a}/versions/1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(v1["kind"], "MaterializedTableVersion");
    assert!(v1["spec"]["statement"]
        .as_str()
        .unwrap()
        .contains("START_MODE"));
    let missing = mt(&s, Method::GET, &format!("/{a}/versions/9"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let (status, dup) = post_mt(
        &s,
        json!({ "name": a, "spec": { "kafka_cluster_id": s.sim.kafka_cluster_id, "query": format!("SELECT id FROM {src}") } }),
    )
    .await;
    assert_eq!(status, 409, "{dup:#}");
}

/// PUT changes the query (a new version, ALTERING, then RUNNING) and `stopped`; distribution
/// and session options are fixed (400 naming the field); a stale resource_version is 409.
#[tokio::test]
async fn a_put_evolves_the_query_stops_and_refuses_the_immutable_fields() {
    let s = support::start();
    let (t, src) = running_mt(&s).await;
    let mut doc = get_mt(&s, &t).await.unwrap();
    doc["spec"]["query"] = json!(format!("SELECT id, amount, note FROM {src}"));
    doc["spec"]["columns"] = Value::Null;
    let (status, body) = put_mt(&s, &t, &doc).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["status"]["latest_version"], 2);
    assert_eq!(body["status"]["version"], 1);
    assert_eq!(body["status"]["phase"], "ALTERING");
    let done = wait_mt(&s, &t, "RUNNING").await;
    assert_eq!(done["status"]["version"], 2);
    let names: Vec<&str> = done["spec"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["id", "amount", "note"]);

    let mut doc = done.clone();
    doc["spec"]["distribution"]["bucket_count"] = json!(5);
    let (status, body) = put_mt(&s, &t, &doc).await;
    assert_eq!(status, 400, "{body:#}");
    assert_eq!(body["errors"][0]["source"]["pointer"], "/spec/distribution");
    let mut doc = done.clone();
    doc["spec"]["session_options"] = json!({ "sql.state-ttl": "1 h" });
    let (status, body) = put_mt(&s, &t, &doc).await;
    assert_eq!(status, 400, "{body:#}");
    assert_eq!(
        body["errors"][0]["source"]["pointer"],
        "/spec/session_options"
    );

    let mut doc = done.clone();
    doc["spec"]["stopped"] = json!(true);
    doc["spec"]["table_options"] = json!({ "kafka.retention.time": "1 d" });
    let (status, body) = put_mt(&s, &t, &doc).await;
    assert_eq!(status, 200, "{body:#}");
    let stopped = wait_mt(&s, &t, "STOPPED").await;
    assert_eq!(
        stopped["status"]["latest_version"], 2,
        "options change no version"
    );
    assert_eq!(
        stopped["spec"]["table_options"]["kafka.retention.time"],
        "1 d"
    );
    let (status, _) = put_mt(&s, &t, &doc).await;
    assert_eq!(status, 409, "a stale resource_version");
    let mut doc = stopped.clone();
    doc["spec"]["stopped"] = json!(false);
    assert_eq!(put_mt(&s, &t, &doc).await.0, 200);
    wait_mt(&s, &t, "RUNNING").await;
}

/// DELETE: 202, DELETING, then 404; the topic goes, the subjects stay.
#[tokio::test]
async fn a_rest_delete_goes_deleting_then_404_and_the_topic_goes() {
    let s = support::start();
    s.set_timings(json!({ "deleting_ms": 1500 })).await;
    let (t, _) = running_mt(&s).await;
    let resp = mt(&s, Method::DELETE, &format!("/{t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    assert_eq!(get_mt(&s, &t).await.unwrap()["status"]["phase"], "DELETING");
    wait_mt_gone(&s, &t).await;
    wait_until("the topic to go", Duration::from_secs(20), || async {
        (!s.topic_exists(&t)).then_some(())
    })
    .await;
    assert!(s.subjects().await.contains(&format!("{t}-value")));
    let resp = mt(&s, Method::DELETE, &format!("/{t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

// ---- 2. the SQL forms ----

/// The statement validates, COMPLETES, and the table goes CREATING → RUNNING with its topic and
/// subjects and the query's columns; its continuous query is not under `/statements`.
#[tokio::test]
async fn a_create_statement_completes_and_the_table_goes_creating_then_running() {
    let s = support::start();
    s.set_timings(json!({ "mt_creating_ms": 1500 })).await;
    let src = source(&s).await;
    let t = table();
    let stmt = unique("create-mt");
    s.create(
        &stmt,
        &format!("CREATE MATERIALIZED TABLE {t} DISTRIBUTED BY HASH(id) AS SELECT id, amount AS total FROM {src}"),
    )
    .await;
    let done = s.wait_phase(&stmt, "COMPLETED").await;
    assert_eq!(
        done["status"]["traits"]["sql_kind"],
        "CREATE_MATERIALIZED_TABLE"
    );
    let creating = get_mt(&s, &t)
        .await
        .expect("the table exists once the statement completed");
    assert_eq!(creating["status"]["phase"], "CREATING");
    let running = wait_mt(&s, &t, "RUNNING").await;
    let names: Vec<&str> = running["spec"]["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["id", "total"]);
    assert_eq!(running["spec"]["columns"][0]["type"]["type"], "INT");
    assert!(s.topic_exists(&t));
    let subjects = s.subjects().await;
    assert!(subjects.contains(&format!("{t}-value")) && subjects.contains(&format!("{t}-key")));
    let all = json_of(s.control(Method::GET, "/statements").send().await.unwrap()).await;
    let names: Vec<&str> = all["statements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.starts_with("create-mt")).count(),
        1
    );
    assert!(!names.iter().any(|n| n.contains(&t)), "{names:?}");

    let missing = sql(
        &s,
        &format!(
            "CREATE MATERIALIZED TABLE {} AS SELECT id FROM no_such_table",
            table()
        ),
        "FAILED",
    )
    .await;
    assert!(missing["status"]["detail"]
        .as_str()
        .unwrap()
        .contains("does not exist"));
}

/// Plain CREATE on an existing name fails unless IF NOT EXISTS; a regular table cannot be
/// turned into a materialized one.
#[tokio::test]
async fn a_name_that_exists_fails_a_plain_create_and_a_regular_table_cannot_become_one() {
    let s = support::start();
    let (t, src) = running_mt(&s).await;
    let again = sql(
        &s,
        &format!("CREATE MATERIALIZED TABLE {t} AS SELECT id, amount FROM {src}"),
        "FAILED",
    )
    .await;
    assert!(
        again["status"]["detail"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{again:#}"
    );
    sql(
        &s,
        &format!("CREATE MATERIALIZED TABLE IF NOT EXISTS {t} AS SELECT id FROM {src}"),
        "COMPLETED",
    )
    .await;
    assert_eq!(get_mt(&s, &t).await.unwrap()["status"]["latest_version"], 1);

    let regular = source(&s).await;
    let turned = sql(
        &s,
        &format!("CREATE OR ALTER MATERIALIZED TABLE {regular} AS SELECT id FROM {src}"),
        "FAILED",
    )
    .await;
    assert!(
        turned["status"]["detail"]
            .as_str()
            .unwrap()
            .contains("not a materialized table"),
        "{turned:#}"
    );
    assert!(get_mt(&s, &regular).await.is_none());
    let (status, _) = post_mt(
        &s,
        json!({ "name": regular, "spec": { "kafka_cluster_id": s.sim.kafka_cluster_id, "query": format!("SELECT id FROM {src}") } }),
    )
    .await;
    assert_eq!(status, 409);
}

// ---- 3. phases and versions ----

/// An evolution raises latest_version at once, ALTERING, then version = latest_version and
/// RUNNING; it writes to the same topic (records written before are still there); each version
/// keeps its START_MODE; an identical resubmission evolves again.
#[tokio::test]
async fn an_evolution_is_a_new_version_on_the_same_topic_and_a_resubmission_evolves_again() {
    let s = support::start();
    s.set_timings(json!({ "mt_altering_ms": 1500 })).await;
    let (t, src) = running_mt(&s).await;
    produce(&s, &t, 2);
    let before = high_watermark(&s, &t, 0);
    assert!(before >= 1);
    let evolve = format!(
        "CREATE OR ALTER MATERIALIZED TABLE {t} DISTRIBUTED BY HASH(id) INTO 2 BUCKETS START_MODE = FROM_BEGINNING AS SELECT id, amount, note FROM {src}"
    );
    let stmt = unique("evolve");
    s.run(&stmt, &evolve, "COMPLETED").await;
    let altering = get_mt(&s, &t).await.unwrap();
    assert_eq!(altering["status"]["phase"], "ALTERING");
    assert_eq!(altering["status"]["version"], 1);
    assert_eq!(altering["status"]["latest_version"], 2);
    let live = wait_mt(&s, &t, "RUNNING").await;
    assert_eq!(live["status"]["version"], 2);
    assert!(s.topic_exists(&t));
    assert_eq!(
        high_watermark(&s, &t, 0),
        before,
        "the same topic, not a new one"
    );
    let v2 = json_of(
        mt(&s, Method::GET, &format!("/{t}/versions/2"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        v2["spec"]["statement"]
            .as_str()
            .unwrap()
            .contains("START_MODE = FROM_BEGINNING"),
        "{v2:#}"
    );

    s.run(&unique("again"), &evolve, "COMPLETED").await;
    let again = get_mt(&s, &t).await.unwrap();
    assert_eq!(
        again["status"]["latest_version"], 3,
        "the same definition evolves again"
    );
    wait_mt(&s, &t, "RUNNING").await;
    let versions = json_of(
        mt(&s, Method::GET, &format!("/{t}/versions"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(versions["data"].as_array().unwrap().len(), 3);
}

// ---- 4. refused changes ----

/// Another distribution or fewer columns fail the statement with the service's messages; the
/// table stays at its version.
#[tokio::test]
async fn a_changed_distribution_or_a_dropped_column_fails_the_evolution() {
    let s = support::start();
    let (t, src) = running_mt(&s).await;
    let dist = sql(
        &s,
        &format!("CREATE OR ALTER MATERIALIZED TABLE {t} DISTRIBUTED BY HASH(id) INTO 4 BUCKETS AS SELECT id, amount FROM {src}"),
        "FAILED",
    )
    .await;
    assert!(
        dist["status"]["detail"]
            .as_str()
            .unwrap()
            .contains("distribution"),
        "{dist:#}"
    );
    let fewer = sql(
        &s,
        &format!("CREATE OR ALTER MATERIALIZED TABLE {t} DISTRIBUTED BY HASH(id) INTO 2 BUCKETS AS SELECT id FROM {src}"),
        "FAILED",
    )
    .await;
    assert_eq!(
        fewer["status"]["detail"],
        format!("Column types of query result and sink for '{t}' do not match. Cause: Different number of columns.")
    );
    let rec = get_mt(&s, &t).await.unwrap();
    assert_eq!(rec["status"]["latest_version"], 1);
    assert_eq!(rec["status"]["phase"], "RUNNING");
}

/// SET / RESET change options and no version; SUSPEND and RESUME stop and start the query.
#[tokio::test]
async fn property_alters_change_no_version_and_suspend_resume_stop_and_start() {
    let s = support::start();
    let (t, _) = running_mt(&s).await;
    sql(
        &s,
        &format!("ALTER MATERIALIZED TABLE {t} SET ('kafka.retention.time' = '2 d')"),
        "COMPLETED",
    )
    .await;
    let rec = get_mt(&s, &t).await.unwrap();
    assert_eq!(rec["spec"]["table_options"]["kafka.retention.time"], "2 d");
    assert_eq!(rec["status"]["latest_version"], 1);
    assert_eq!(rec["status"]["phase"], "RUNNING");
    sql(
        &s,
        &format!("ALTER MATERIALIZED TABLE {t} SUSPEND"),
        "COMPLETED",
    )
    .await;
    let stopped = wait_mt(&s, &t, "STOPPED").await;
    assert_eq!(stopped["spec"]["stopped"], true);
    sql(
        &s,
        &format!("ALTER MATERIALIZED TABLE {t} RESUME"),
        "COMPLETED",
    )
    .await;
    let running = wait_mt(&s, &t, "RUNNING").await;
    assert_eq!(running["status"]["latest_version"], 1);
}

// ---- 5. while a change settles ----

/// While CREATING, another change fails "being modified by statement: <the creator>", a PUT is
/// 409 with that message and a DELETE 409 "pending operation".
#[tokio::test]
async fn a_change_while_creating_is_refused_naming_the_statement_that_started_it() {
    let s = support::start();
    s.set_timings(json!({ "mt_creating_ms": 4000 })).await;
    let src = source(&s).await;
    let t = table();
    let creator = unique("creator");
    s.run(
        &creator,
        &format!("CREATE MATERIALIZED TABLE {t} AS SELECT id, amount FROM {src}"),
        "COMPLETED",
    )
    .await;
    assert_eq!(get_mt(&s, &t).await.unwrap()["status"]["phase"], "CREATING");
    let busy = sql(
        &s,
        &format!("CREATE OR ALTER MATERIALIZED TABLE {t} AS SELECT id, amount FROM {src}"),
        "FAILED",
    )
    .await;
    let msg = format!("Materialized table is currently being modified by statement: {creator}");
    assert_eq!(busy["status"]["detail"], msg);
    let doc = get_mt(&s, &t).await.unwrap();
    let (status, body) = put_mt(&s, &t, &doc).await;
    assert_eq!(status, 409);
    assert_eq!(detail(&body), msg);
    let resp = mt(&s, Method::DELETE, &format!("/{t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    assert!(detail(&json_of(resp).await).contains("pending operation"));
}

/// The control hold: a RUNNING table reads ALTERING "by another statement" for N ms, and an
/// evolution meets "being modified" naming it.
#[tokio::test]
async fn a_hold_makes_an_evolution_meet_being_modified() {
    let s = support::start();
    let (t, src) = running_mt(&s).await;
    let resp = s
        .control(
            Method::POST,
            &format!("/materialized-tables/{t}/hold?ms=3000&by=someone-else"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(get_mt(&s, &t).await.unwrap()["status"]["phase"], "ALTERING");
    let busy = sql(
        &s,
        &format!("CREATE OR ALTER MATERIALIZED TABLE {t} DISTRIBUTED BY HASH(id) INTO 2 BUCKETS AS SELECT id, amount FROM {src}"),
        "FAILED",
    )
    .await;
    assert_eq!(
        busy["status"]["detail"],
        "Materialized table is currently being modified by statement: someone-else"
    );
    wait_mt(&s, &t, "RUNNING").await;
    let missing = s
        .control(Method::POST, "/materialized-tables/nope/hold?ms=10")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

// ---- 6. the drop ----

/// DROP MATERIALIZED TABLE: the statement completes, the resource goes DELETING then 404, the
/// topic goes, the subjects stay, and the catalog entry lingers: TABLES lists it and a create
/// of the name fails "table already exists" until it clears.
#[tokio::test]
async fn a_drop_deletes_the_topic_keeps_the_subjects_and_the_catalog_entry_lingers() {
    let s = support::start();
    s.set_timings(json!({ "mt_catalog_linger_ms": 3000 })).await;
    let (t, src) = running_mt(&s).await;
    sql(&s, &format!("DROP MATERIALIZED TABLE {t}"), "COMPLETED").await;
    wait_mt_gone(&s, &t).await;
    assert!(!s.topic_exists(&t));
    let subjects = s.subjects().await;
    assert!(subjects.contains(&format!("{t}-value")) && subjects.contains(&format!("{t}-key")));
    assert_eq!(is_materialized(&s, &t).await, ["YES"], "the entry lingers");
    let create = format!("CREATE MATERIALIZED TABLE {t} DISTRIBUTED BY HASH(id) INTO 2 BUCKETS AS SELECT id, amount FROM {src}");
    let early = sql(&s, &create, "FAILED").await;
    assert_eq!(
        early["status"]["detail"],
        "failed creating table: table already exists"
    );
    let (status, body) = post_mt(
        &s,
        json!({ "name": t, "spec": { "kafka_cluster_id": s.sim.kafka_cluster_id, "query": format!("SELECT id FROM {src}") } }),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(detail(&body), "failed creating table: table already exists");
    wait_until(
        "the catalog entry to go",
        Duration::from_secs(20),
        || async { is_materialized(&s, &t).await.is_empty().then_some(()) },
    )
    .await;
    sql(&s, &create, "COMPLETED").await;
    wait_mt(&s, &t, "RUNNING").await;
}

/// With the surviving subjects turned off, the drop deletes them too.
#[tokio::test]
async fn a_drop_deletes_the_subjects_when_told_they_do_not_survive() {
    let s = support::start();
    let resp = s
        .control(Method::PUT, "/behaviour")
        .json(&json!({ "mt_drop_keeps_subjects": false }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let (t, _) = running_mt(&s).await;
    sql(&s, &format!("DROP MATERIALIZED TABLE {t}"), "COMPLETED").await;
    wait_mt_gone(&s, &t).await;
    let subjects = s.subjects().await;
    assert!(
        !subjects.iter().any(|x| x.starts_with(&format!("{t}-"))),
        "{subjects:?}"
    );
}

/// A plain DROP TABLE on a materialized table completes and drops nothing.
#[tokio::test]
async fn a_plain_drop_table_on_a_materialized_table_drops_nothing() {
    let s = support::start();
    let (t, _) = running_mt(&s).await;
    sql(&s, &format!("DROP TABLE {t}"), "COMPLETED").await;
    assert!(s.topic_exists(&t));
    assert_eq!(get_mt(&s, &t).await.unwrap()["status"]["phase"], "RUNNING");
    assert!(s.subjects().await.contains(&format!("{t}-value")));
    assert_eq!(is_materialized(&s, &t).await, ["YES"]);
}

// ---- 7. and 8. the catalog and readers ----

/// `INFORMATION_SCHEMA.TABLES` says `IS_MATERIALIZED` `YES` for a materialized table, `NO` for
/// a regular one.
#[tokio::test]
async fn the_catalog_says_which_tables_are_materialized() {
    let s = support::start();
    let (t, src) = running_mt(&s).await;
    assert_eq!(is_materialized(&s, &t).await, ["YES"]);
    assert_eq!(is_materialized(&s, &src).await, ["NO"]);
}

/// A statement reading a materialized table runs as on a regular table, and turns DEGRADED
/// when its topic goes.
#[tokio::test]
async fn a_reader_of_a_materialized_table_runs_and_degrades_when_its_topic_goes() {
    let s = support::start();
    let (t, _) = running_mt(&s).await;
    let sink = source(&s).await;
    let job = unique("reader");
    s.run(
        &job,
        &format!("INSERT INTO {sink} SELECT id, amount, 'x' FROM {t}"),
        "RUNNING",
    )
    .await;
    let resp = s
        .kafka_rest(Method::DELETE, &format!("/{t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let degraded = s.wait_phase(&job, "DEGRADED").await;
    assert!(degraded["status"]["detail"].as_str().unwrap().contains(&t));
    wait_mt(&s, &t, "DEGRADED").await;
}
