//! The awkward cloud: what Confluent Cloud does that trips deployment tools (the reference,
//! §F), each modelled by the simulator and on by default. One test per behaviour; a test that
//! stretches a timing does so to make the behaviour easy to see, never to turn it off.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{self, json_of, text, unique, wait_until, Sim, SimOptions};

fn table() -> String {
    unique("t").replace('-', "_")
}

/// Create a statement; returns the HTTP status and the body.
async fn post(s: &Sim, name: &str, sql: &str, extra: Value) -> (u16, Value) {
    let mut props = s.props();
    if let (Some(p), Some(e)) = (props.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    let resp = s
        .flink(Method::POST, "")
        .json(&json!({ "name": name, "spec": { "statement": sql, "properties": props } }))
        .send()
        .await
        .expect("create");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn set_behaviour(s: &Sim, behaviour: Value) {
    let resp = s
        .control(Method::PUT, "/behaviour")
        .json(&behaviour)
        .send()
        .await
        .expect("behaviour");
    assert_eq!(resp.status(), 200, "{}", text(resp).await);
}

/// Two tables and a streaming INSERT between them, RUNNING; returns the job's name.
async fn running_job(s: &Sim) -> (String, String, String) {
    let (src, sink) = (table(), table());
    s.run(
        &unique("src"),
        &format!("CREATE TABLE {src} (id INT)"),
        "COMPLETED",
    )
    .await;
    s.run(
        &unique("sink"),
        &format!("CREATE TABLE {sink} (id INT)"),
        "COMPLETED",
    )
    .await;
    let job = unique("job");
    s.run(
        &job,
        &format!("INSERT INTO {sink} SELECT id FROM {src}"),
        "RUNNING",
    )
    .await;
    (job, src, sink)
}

/// §F.1: a stop or resume is accepted at once; the phase moves later, and until then a GET
/// (and the PATCH's own answer) still shows the old phase.
#[tokio::test]
async fn a_stop_or_resume_is_accepted_at_once_and_the_phase_moves_later() {
    let s = support::start_with(SimOptions {
        update_lag_ms: 2000,
        ..Default::default()
    });
    let (job, _, _) = running_job(&s).await;
    let mut doc = s.get(&job).await.unwrap();
    doc["spec"]["stopped"] = json!(true);
    let asked = Instant::now();
    let resp = s.flink(Method::PUT, &job).json(&doc).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let right_after = s.get(&job).await.unwrap();
    assert!(
        asked.elapsed() < Duration::from_millis(1500),
        "the GET was slow"
    );
    assert_eq!(right_after["spec"]["stopped"], true);
    assert_eq!(
        right_after["status"]["phase"], "RUNNING",
        "the old phase still shows"
    );
    s.wait_phase(&job, "STOPPED").await;
    assert!(asked.elapsed() >= Duration::from_millis(2000));

    let patch = json!([{ "op": "replace", "path": "/spec/stopped", "value": false }]);
    let asked = Instant::now();
    let resp = s
        .flink(Method::PATCH, &job)
        .body(patch.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let answer = json_of(resp).await;
    assert_eq!(
        answer["status"]["phase"], "STOPPED",
        "the PATCH answer shows the old phase"
    );
    assert_eq!(s.phase(&job).await.as_deref(), Some("STOPPED"));
    assert!(
        asked.elapsed() < Duration::from_millis(1500),
        "the GET was slow"
    );
    s.wait_phase(&job, "RUNNING").await;
    assert!(asked.elapsed() >= Duration::from_millis(2000));
}

/// §F.2: under a key whose role is scoped to the compute pool, a statement that does not
/// exist answers 403 to GET, DELETE, PUT and its sub-resources; the environment's key gets 404.
#[tokio::test]
async fn a_pool_scoped_key_gets_403_for_a_statement_that_does_not_exist() {
    let s = support::start();
    let resp = s
        .control(Method::POST, "/keys")
        .json(&json!({ "scope": "compute-pool" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let key = json_of(resp).await;
    let (k, secret) = (
        key["key"].as_str().unwrap(),
        key["secret"].as_str().unwrap(),
    );
    let scoped = |method: Method, path: &str| {
        s.http
            .request(method, format!("{}/{path}", s.sim.statements_url()))
            .basic_auth(k, Some(secret))
    };
    let name = unique("mine");
    s.run(&name, "SHOW TABLES", "COMPLETED").await;
    let resp = scoped(Method::GET, &name).send().await.unwrap();
    assert_eq!(resp.status(), 200, "an existing statement reads as usual");
    let missing = unique("missing");
    for (method, path) in [
        (Method::GET, missing.clone()),
        (Method::DELETE, missing.clone()),
        (Method::GET, format!("{missing}/exceptions")),
    ] {
        let resp = scoped(method.clone(), &path).send().await.unwrap();
        assert_eq!(resp.status(), 403, "{method} {path}");
        let body = json_of(resp).await;
        assert_eq!(body["errors"][0]["code"], "user_unauthorized");
    }
    let resp = scoped(Method::PUT, &missing)
        .json(&json!({ "metadata": { "resource_version": "1" }, "spec": { "stopped": true } }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    // Deleted a moment ago: 403 too.
    let resp = scoped(Method::DELETE, &name).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    s.wait_gone(&name).await;
    let resp = scoped(Method::GET, &name).send().await.unwrap();
    assert_eq!(resp.status(), 403);
    // The environment's key tells the truth.
    let resp = s.flink(Method::GET, &missing).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    // A wrong secret is still 401.
    let resp = s
        .http
        .get(format!("{}/{missing}", s.sim.statements_url()))
        .basic_auth(k, Some("wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

/// §F.5: a table created right after its drop is created FAILED, "try again later"; once the
/// window is over the same create succeeds. A CTAS meets the same.
#[tokio::test]
async fn a_table_created_right_after_its_drop_fails_until_the_window_passes() {
    let s = support::start_with(SimOptions {
        recreate_window_ms: 1500,
        ..Default::default()
    });
    let t = table();
    let ddl = format!("CREATE TABLE {t} (id INT)");
    s.run(&unique("c"), &ddl, "COMPLETED").await;
    s.run(&unique("d"), &format!("DROP TABLE {t}"), "COMPLETED")
        .await;
    let dropped = Instant::now();
    let (status, body) = post(&s, &unique("again"), &ddl, json!({})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["status"]["phase"], "FAILED",
        "the create's answer is FAILED"
    );
    let detail = body["status"]["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "The table '{t}' was found, but its Kafka topic does not exist"
        )) && detail.contains("try again later"),
        "{detail}"
    );
    assert!(!s.topic_exists(&t));
    let (_, ctas) = post(
        &s,
        &unique("ctas"),
        &format!("CREATE TABLE {t} AS SELECT 1 AS id"),
        json!({}),
    )
    .await;
    assert_eq!(ctas["status"]["phase"], "FAILED");
    // Once the window is over, the create goes through.
    let done = wait_until("the window to pass", Duration::from_secs(20), || async {
        let name = unique("later");
        let (_, body) = post(&s, &name, &ddl, json!({})).await;
        if body["status"]["phase"] == "FAILED" {
            return None;
        }
        Some(s.wait_phase(&name, "COMPLETED").await)
    })
    .await;
    assert_eq!(done["status"]["phase"], "COMPLETED");
    assert!(dropped.elapsed() >= Duration::from_millis(1500));
    assert!(s.topic_exists(&t));
    // A topic deleted under the catalog (not by DROP TABLE) opens the window too.
    let resp = s
        .kafka_rest(Method::DELETE, &format!("/{t}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    let (_, body) = post(&s, &unique("after-rest"), &ddl, json!({})).await;
    assert_eq!(body["status"]["phase"], "FAILED", "{body}");
}

/// §F.3, §F.4: a FAILED statement keeps its name until it is deleted, and a deleted one holds
/// it a while longer (409 on create, though GET says 404).
#[tokio::test]
async fn a_failed_statement_keeps_its_name_and_a_deleted_one_holds_it_a_while() {
    let s = support::start_with(SimOptions {
        name_hold_ms: 1500,
        ..Default::default()
    });
    let name = unique("held");
    let broken = format!("INSERT INTO {} SELECT * FROM {}", table(), table());
    s.run(&name, &broken, "FAILED").await;
    let (status, _) = post(&s, &name, "SHOW TABLES", json!({})).await;
    assert_eq!(status, 409, "a FAILED statement keeps its name");
    // From before the delete: the hold starts once the statement is gone, which a poll sees
    // only a while later.
    let deleted = Instant::now();
    let resp = s.flink(Method::DELETE, &name).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    s.wait_gone(&name).await;
    let (status, body) = post(&s, &name, "SHOW TABLES", json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["errors"][0]["code"], "resource_already_exists");
    assert!(
        s.get(&name).await.is_none(),
        "and yet GET says it does not exist"
    );
    wait_until("the name to free up", Duration::from_secs(20), || async {
        (post(&s, &name, "SHOW TABLES", json!({})).await.0 == 201).then_some(())
    })
    .await;
    assert!(deleted.elapsed() >= Duration::from_millis(1500));
}

/// §F.6: a table over a subject left with another schema fails, and waiting does not clear it;
/// a left-over subject with the very schema the table registers is taken as it is.
#[tokio::test]
async fn a_table_over_left_over_subjects_fails_and_never_clears() {
    let s = support::start_with(SimOptions {
        recreate_window_ms: 100,
        ..Default::default()
    });
    let t = table();
    let foreign =
        json!({"type": "record", "name": "other", "fields": [{"name": "x", "type": "long"}]});
    let resp = s
        .sr(Method::POST, &format!("/subjects/{t}-value/versions"))
        .json(&json!({ "schema": foreign.to_string() }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let ddl = format!("CREATE TABLE {t} (id INT, v STRING)");
    let failed = s.run(&unique("over"), &ddl, "FAILED").await;
    let detail = failed["status"]["detail"].as_str().unwrap();
    assert_eq!(
        detail,
        format!(
            "Cannot create table because the Schema Registry subject '{t}-value' doesn't match the existing one."
        )
    );
    assert!(!s.topic_exists(&t), "no topic was made");
    // However long one waits: the same failure.
    let again = s.run(&unique("over-again"), &ddl, "FAILED").await;
    assert_eq!(again["status"]["detail"], failed["status"]["detail"]);

    // The table's own schema, left behind by a topic deleted directly: taken as it is.
    let u = table();
    let ddl_u = format!("CREATE TABLE {u} (id INT, v STRING)");
    s.run(&unique("u1"), &ddl_u, "COMPLETED").await;
    let resp = s
        .kafka_rest(Method::DELETE, &format!("/{u}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert!(s.subjects().await.contains(&format!("{u}-value")));
    let again = wait_until("the window to pass", Duration::from_secs(10), || async {
        let name = unique("u2");
        let (_, body) = post(&s, &name, &ddl_u, json!({})).await;
        (body["status"]["phase"] != "FAILED").then_some(name)
    })
    .await;
    s.wait_phase(&again, "COMPLETED").await;
    // Another shape over those subjects fails.
    let resp = s
        .kafka_rest(Method::DELETE, &format!("/{u}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    // Once the recreate window is over, what is left is the subject that does not match.
    let detail = wait_until("the window to pass", Duration::from_secs(10), || async {
        let other = s
            .run(
                &unique("u3"),
                &format!("CREATE TABLE {u} (id BIGINT)"),
                "FAILED",
            )
            .await;
        let detail = other["status"]["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        (!detail.contains("try again later")).then_some(detail)
    })
    .await;
    assert!(
        detail.contains("doesn't match the existing one"),
        "{detail}"
    );
}

/// §F.8: beyond the compute pool's capacity a statement stays PENDING with `scaling_state`
/// `POOL_EXHAUSTED` and the service's detail, and starts once a place frees up.
#[tokio::test]
async fn a_full_compute_pool_keeps_new_statements_pending_until_a_place_frees_up() {
    let s = support::start();
    let (job, src, sink) = running_job(&s).await;
    set_behaviour(&s, json!({ "pool_capacity": 1 })).await;
    let second = unique("second");
    s.create(&second, &format!("INSERT INTO {sink} SELECT id FROM {src}"))
        .await;
    let waiting = wait_until("POOL_EXHAUSTED", Duration::from_secs(10), || async {
        s.get(&second)
            .await
            .filter(|v| v["status"]["scaling_status"]["scaling_state"] == "POOL_EXHAUSTED")
    })
    .await;
    assert_eq!(waiting["status"]["phase"], "PENDING");
    assert!(waiting["status"]["detail"]
        .as_str()
        .unwrap()
        .contains(&s.sim.compute_pool_id));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        s.phase(&second).await.as_deref(),
        Some("PENDING"),
        "it keeps waiting"
    );
    // A dry run needs no place.
    let dry = unique("dry");
    let (status, _) = post(
        &s,
        &dry,
        &format!("INSERT INTO {sink} SELECT id FROM {src}"),
        json!({ "sql.dry-run": "true" }),
    )
    .await;
    assert_eq!(status, 201);
    s.wait_phase(&dry, "COMPLETED").await;
    // The first one stops: its place goes to the second.
    let mut doc = s.get(&job).await.unwrap();
    doc["spec"]["stopped"] = json!(true);
    let resp = s.flink(Method::PUT, &job).json(&doc).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let running = s.wait_phase(&second, "RUNNING").await;
    assert_eq!(running["status"]["scaling_status"]["scaling_state"], "OK");
}

/// §F.11: carry-over offsets are for stateless statements only: a stateful replacement fails
/// before it waits (the old one is still running), a stateless one waits in PENDING with the
/// service's detail.
#[tokio::test]
async fn carry_over_offsets_are_refused_to_a_stateful_statement_before_it_waits() {
    let s = support::start();
    let (job, src, sink) = running_job(&s).await;
    let from = json!({ "sql.tables.initial-offset-from": job });
    let stateful = unique("stateful");
    let (status, _) = post(
        &s,
        &stateful,
        &format!("INSERT INTO {sink} SELECT COUNT(*) AS id FROM {src} GROUP BY id"),
        from.clone(),
    )
    .await;
    assert_eq!(status, 201);
    let failed = s.wait_phase(&stateful, "FAILED").await;
    let detail = failed["status"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("stateless statements only") && detail.contains("aggregation"),
        "{detail}"
    );
    assert_eq!(s.phase(&job).await.as_deref(), Some("RUNNING"));
    let stateless = unique("stateless");
    post(
        &s,
        &stateless,
        &format!("INSERT INTO {sink} SELECT id FROM {src} WHERE id > 0"),
        from,
    )
    .await;
    let waiting = wait_until("the hand-off detail", Duration::from_secs(10), || async {
        s.get(&stateless).await.filter(|v| {
            v["status"]["detail"]
                .as_str()
                .is_some_and(|d| d.contains("until referenced statement"))
        })
    })
    .await;
    assert_eq!(waiting["status"]["phase"], "PENDING");
}

/// §F.11: only INSERT INTO, CTAS and EXECUTE STATEMENT SET can be resumed, and a statement in
/// a terminal phase is purged after a while.
#[tokio::test]
async fn only_inserts_ctas_and_statement_sets_resume_and_terminal_statements_are_purged() {
    let s = support::start_with(SimOptions {
        purge_after_ms: 1500,
        ..Default::default()
    });
    let src = table();
    s.run(
        &unique("src"),
        &format!("CREATE TABLE {src} (id INT)"),
        "COMPLETED",
    )
    .await;
    let select = unique("select");
    s.run(&select, &format!("SELECT * FROM {src}"), "RUNNING")
        .await;
    let mut doc = s.get(&select).await.unwrap();
    doc["spec"]["stopped"] = json!(true);
    let resp = s
        .flink(Method::PUT, &select)
        .json(&doc)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let mut stopped = s.wait_phase(&select, "STOPPED").await;
    stopped["spec"]["stopped"] = json!(false);
    let resp = s
        .flink(Method::PUT, &select)
        .json(&stopped)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert!(text(resp).await.contains("cannot be resumed"));
    let ended = Instant::now();
    wait_until("the purge", Duration::from_secs(20), || async {
        s.get(&select).await.is_none().then_some(())
    })
    .await;
    assert!(ended.elapsed() >= Duration::from_millis(1000));
}

/// §F.9: the list lags both ways: a new statement shows late, a change shows late, and a name
/// created again lists as its old incarnation for a while (tested with the deleted ones in
/// `faults.rs`).
#[tokio::test]
async fn the_list_shows_new_statements_and_changes_late() {
    let s = support::start_with(SimOptions {
        list_new_lag_ms: 2000,
        // Longer than the new lag, so the first listing shows the statement as it was before
        // it completed however late the poll sees it (a phase lag equal to the new lag raced
        // the poll against the statement's own completion).
        list_phase_lag_ms: 4000,
        ..Default::default()
    });
    let name = unique("late");
    let created = Instant::now();
    s.create(&name, "SHOW TABLES").await;
    let now = s.listed().await;
    assert!(
        created.elapsed() < Duration::from_millis(1500),
        "the list was slow"
    );
    assert!(
        !now.iter().any(|(n, _)| *n == name),
        "listed at once: {now:?}"
    );
    assert!(s.get(&name).await.is_some(), "GET has it");
    s.wait_phase(&name, "COMPLETED").await;
    let shown = wait_until("the list to show it", Duration::from_secs(10), || async {
        s.listed().await.into_iter().find(|(n, _)| *n == name)
    })
    .await;
    assert!(created.elapsed() >= Duration::from_millis(2000));
    // Shown as it was four seconds ago, its first version: PENDING, though GET says COMPLETED.
    assert_eq!(shown.1, "PENDING");
    wait_until(
        "the list to show the change",
        Duration::from_secs(10),
        || async {
            s.listed()
                .await
                .contains(&(name.clone(), "COMPLETED".to_string()))
                .then_some(())
        },
    )
    .await;
}

/// §F.13: what a label change after create does is undocumented: the simulator answers it as
/// a test chooses — by default 200 and nothing kept.
#[tokio::test]
async fn label_patches_are_ignored_by_default_applied_or_refused_as_chosen() {
    let s = support::start();
    let name = unique("labels");
    s.run(&name, "SHOW TABLES", "COMPLETED").await;
    let patch = json!([{ "op": "add", "path": "/metadata/labels", "value": { "user.confluent.io/x": "y" } }]);
    let send = || s.flink(Method::PATCH, &name).body(patch.to_string()).send();
    let label = |v: &Value| v["metadata"]["labels"]["user.confluent.io/x"].clone();
    let resp = send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(label(&s.get(&name).await.unwrap()), Value::Null, "ignored");
    set_behaviour(&s, json!({ "labels_patch": "reject" })).await;
    let resp = send().await.unwrap();
    assert_eq!(resp.status(), 422);
    assert_eq!(label(&s.get(&name).await.unwrap()), Value::Null, "refused");
    set_behaviour(&s, json!({ "labels_patch": "apply" })).await;
    let resp = send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(label(&s.get(&name).await.unwrap()), json!("y"), "applied");
    // Labels set at create are always kept.
    let resp = s
        .flink(Method::POST, "")
        .json(&json!({ "name": unique("at-create"), "metadata": { "labels": { "user.confluent.io/z": "1" } },
                       "spec": { "statement": "SHOW TABLES" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        json_of(resp).await["metadata"]["labels"]["user.confluent.io/z"],
        "1"
    );
}

/// §F.15: the statements concept page allows at most 72 characters.
#[tokio::test]
async fn names_longer_than_72_characters_are_refused() {
    let s = support::start();
    let (status, _) = post(&s, &"a".repeat(72), "SHOW TABLES", json!({})).await;
    assert_eq!(status, 201);
    let (status, body) = post(&s, &"b".repeat(73), "SHOW TABLES", json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["source"]["pointer"], "/name");
}
