//! The Flink statements API (`sql/v1`): lifecycle, phases, SQL effects on the real broker, and
//! the request rules of the OpenAPI file.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::{self, json_of, text, unique, wait_until};

fn ddl(table: &str) -> String {
    format!("CREATE TABLE `{table}` (id STRING, amount INT)")
}

#[tokio::test]
async fn create_table_makes_topic_and_subjects_and_drop_table_removes_them() {
    let s = support::start();
    let t = unique("orders").replace('-', "_");
    let created = s
        .run(
            "create-orders",
            &format!(
                "CREATE TABLE {t} (id STRING, amount INT, PRIMARY KEY (id) NOT ENFORCED) \
                 DISTRIBUTED BY (id) INTO 2 BUCKETS WITH ('value.format' = 'avro-registry')"
            ),
            "COMPLETED",
        )
        .await;
    assert_eq!(created["status"]["traits"]["sql_kind"], "CREATE_TABLE");
    assert_eq!(created["status"]["traits"]["is_bounded"], true);
    assert!(s.topic_exists(&t), "topic {t} missing from the broker");
    let subjects = s.subjects().await;
    assert_eq!(subjects, vec![format!("{t}-key"), format!("{t}-value")]);

    s.run("drop-orders", &format!("DROP TABLE {t}"), "COMPLETED")
        .await;
    assert!(!s.topic_exists(&t), "topic {t} still in the broker");
    assert_eq!(s.subjects().await, Vec::<String>::new());
    // Nor soft-deleted: DROP TABLE removes every version for good.
    let resp = s
        .sr(Method::GET, "/subjects?deleted=true")
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(resp).await, json!([]));

    // Dropping again fails; IF EXISTS does not.
    let failed = s
        .run("drop-again", &format!("DROP TABLE {t}"), "FAILED")
        .await;
    assert!(failed["status"]["detail"]
        .as_str()
        .unwrap()
        .contains("does not exist"));
    s.run(
        "drop-if-exists",
        &format!("DROP TABLE IF EXISTS {t}"),
        "COMPLETED",
    )
    .await;
}

#[tokio::test]
async fn a_table_without_a_key_gets_only_a_value_subject_and_exists_twice_fails() {
    let s = support::start();
    let t = unique("plain").replace('-', "_");
    s.run("c1", &ddl(&t), "COMPLETED").await;
    assert_eq!(s.subjects().await, vec![format!("{t}-value")]);
    let again = s.run("c2", &ddl(&t), "FAILED").await;
    assert!(again["status"]["detail"]
        .as_str()
        .unwrap()
        .contains("already exists"));
    s.run(
        "c3",
        &format!("CREATE TABLE IF NOT EXISTS `{t}` (id STRING)"),
        "COMPLETED",
    )
    .await;
    s.run("d", &format!("DROP TABLE {t}"), "COMPLETED").await;
}

#[tokio::test]
async fn insert_runs_and_turns_degraded_when_its_source_is_dropped() {
    let s = support::start();
    let src = unique("src").replace('-', "_");
    let dst = unique("dst").replace('-', "_");
    s.run("src", &ddl(&src), "COMPLETED").await;
    s.run("dst", &ddl(&dst), "COMPLETED").await;
    let running = s
        .run(
            "ins",
            &format!("INSERT INTO {dst} SELECT id, amount FROM {src} WHERE amount > 0"),
            "RUNNING",
        )
        .await;
    assert_eq!(running["status"]["traits"]["sql_kind"], "INSERT_INTO");
    assert_eq!(running["status"]["traits"]["is_bounded"], false);

    s.run("drop-src", &format!("DROP TABLE {src}"), "COMPLETED")
        .await;
    let degraded = s.wait_phase("ins", "DEGRADED").await;
    assert!(degraded["status"]["detail"]
        .as_str()
        .unwrap()
        .contains(&src));
    let resp = s.flink(Method::GET, "ins/exceptions").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let ex = json_of(resp).await;
    assert_eq!(ex["kind"], "StatementExceptionList");
    assert_eq!(ex["data"].as_array().unwrap().len(), 1);
    s.run("drop-dst", &format!("DROP TABLE {dst}"), "COMPLETED")
        .await;
}

#[tokio::test]
async fn failed_statements_carry_a_flink_like_detail_and_an_exception() {
    let s = support::start();
    let missing = s
        .run(
            "missing",
            "INSERT INTO nowhere SELECT * FROM nothing_at_all",
            "FAILED",
        )
        .await;
    let detail = missing["status"]["detail"].as_str().unwrap();
    assert!(detail.starts_with("SQL validation failed."), "{detail}");
    assert!(detail.contains("'nowhere'") || detail.contains("'nothing_at_all'"));
    assert_eq!(missing["status"]["traits"], Value::Null);

    let unparsable = s.run("typo", "SELECT * FORM orders", "FAILED").await;
    let detail = unparsable["status"]["detail"].as_str().unwrap();
    assert!(detail.contains("line 1"), "{detail}");

    let resp = s
        .flink(Method::GET, "typo/exceptions")
        .send()
        .await
        .unwrap();
    let ex = json_of(resp).await;
    let first = &ex["data"][0];
    assert_eq!(first["kind"], "StatementException");
    assert_eq!(first["message"], unparsable["status"]["detail"]);
    assert!(first["name"].as_str().unwrap().contains("ParseException"));
}

#[tokio::test]
async fn delete_goes_deleting_then_404_with_the_real_body() {
    let s = support::start_with(support::SimOptions {
        deleting_ms: 400,
        ..Default::default()
    });
    s.run("to-delete", "SHOW TABLES", "COMPLETED").await;
    let resp = s.flink(Method::DELETE, "to-delete").send().await.unwrap();
    assert_eq!(resp.status(), 202);
    assert_eq!(s.phase("to-delete").await.as_deref(), Some("DELETING"));
    // A second DELETE while deleting is accepted too; the name is still taken.
    let again = s.flink(Method::DELETE, "to-delete").send().await.unwrap();
    assert_eq!(again.status(), 202);
    let dup = s
        .flink(Method::POST, "")
        .json(&json!({"name": "to-delete", "spec": {"statement": "SHOW TABLES"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(dup.status(), 409);
    s.wait_gone("to-delete").await;

    let resp = s.flink(Method::GET, "to-delete").send().await.unwrap();
    assert_eq!(resp.status(), 404);
    assert_eq!(
        json_of(resp).await,
        json!({"errors": [{"status": "404", "detail": "Statement resource=to-delete does not exist", "source": {}}]})
    );
    let resp = s.flink(Method::DELETE, "to-delete").send().await.unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn put_checks_resource_version_and_stops_and_resumes() {
    let s = support::start();
    let src = unique("s").replace('-', "_");
    let sink = unique("k").replace('-', "_");
    s.run("src", &ddl(&src), "COMPLETED").await;
    s.run("sink", &ddl(&sink), "COMPLETED").await;
    // An INSERT: only INSERT INTO, CTAS and statement sets can be resumed.
    let running = s
        .run(
            "job",
            &format!("INSERT INTO {sink} SELECT * FROM {src}"),
            "RUNNING",
        )
        .await;

    // A PUT with an old resource_version is stale.
    let mut stale = running.clone();
    stale["metadata"]["resource_version"] = json!("1");
    stale["spec"]["stopped"] = json!(true);
    let resp = s
        .flink(Method::PUT, "job")
        .json(&stale)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409, "{}", text(resp).await);
    assert_eq!(s.phase("job").await.as_deref(), Some("RUNNING"));

    // The current one stops it: STOPPING, then STOPPED with latest_offsets.
    let mut stop = s.get("job").await.unwrap();
    stop["spec"]["stopped"] = json!(true);
    let resp = s
        .flink(Method::PUT, "job")
        .json(&stop)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let stopped = s.wait_phase("job", "STOPPED").await;
    assert_eq!(stopped["spec"]["stopped"], true);
    assert!(stopped["status"]["latest_offsets"].get(&src).is_some());

    // Immutable fields are refused.
    let mut change_sql = stopped.clone();
    change_sql["spec"]["statement"] = json!("SELECT 1");
    let resp = s
        .flink(Method::PUT, "job")
        .json(&change_sql)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let mut missing_stopped = stopped.clone();
    missing_stopped["spec"]
        .as_object_mut()
        .unwrap()
        .remove("stopped");
    let resp = s
        .flink(Method::PUT, "job")
        .json(&missing_stopped)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Resume, with a new principal (allowed only when resuming).
    let mut resume = stopped.clone();
    resume["spec"]["stopped"] = json!(false);
    resume["spec"]["principal"] = json!("sa-other1");
    let resp = s
        .flink(Method::PUT, "job")
        .json(&resume)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 202);
    let resumed = s.wait_phase("job", "RUNNING").await;
    assert_eq!(resumed["spec"]["principal"], "sa-other1");
    let v1: u64 = stopped["metadata"]["resource_version"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let v2: u64 = resumed["metadata"]["resource_version"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(v2 > v1, "resource_version must move on: {v1} -> {v2}");
}

#[tokio::test]
async fn patch_stops_with_either_op_case_and_refuses_immutable_paths() {
    let s = support::start();
    let src = unique("p").replace('-', "_");
    s.run("src", &ddl(&src), "COMPLETED").await;
    for (name, op) in [("upper", "REPLACE"), ("lower", "replace")] {
        s.run(name, &format!("SELECT * FROM {src}"), "RUNNING")
            .await;
        let resp = s
            .flink(Method::PATCH, name)
            .header("content-type", "application/json-patch+json")
            .body(json!([{ "op": op, "path": "/spec/stopped", "value": true }]).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body = json_of(resp).await;
        assert_eq!(body["spec"]["stopped"], true);
        s.wait_phase(name, "STOPPED").await;
    }
    let resp = s
        .flink(Method::PATCH, "upper")
        .body(
            json!([{ "op": "replace", "path": "/spec/statement", "value": "SELECT 2" }])
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let resp = s
        .flink(Method::PATCH, "upper")
        .body(json!([{ "op": "test", "path": "/spec/stopped", "value": false }]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    let resp = s
        .flink(Method::PATCH, "nope")
        .body(json!([{ "op": "replace", "path": "/spec/stopped", "value": true }]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn list_pages_return_every_statement_exactly_once_and_filters_apply() {
    let s = support::start();
    let mut expected = BTreeSet::new();
    for i in 0..35 {
        let name = format!("stmt-{i:03}");
        let labels = if i % 5 == 0 {
            json!({ "user.confluent.io/group": "five" })
        } else {
            json!({})
        };
        let resp = s
            .flink(Method::POST, "")
            .json(&json!({
                "name": name,
                "metadata": { "labels": labels },
                "spec": { "statement": "SHOW TABLES" }
            }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        expected.insert(name);
    }
    // The list shows new statements late: wait until the first page is full.
    support::wait_until("the list to show them", Duration::from_secs(10), || async {
        let resp = s
            .flink(Method::GET, "")
            .query(&[("page_size", "100")])
            .send()
            .await
            .unwrap();
        let page = json_of(resp).await;
        (page["data"].as_array().map_or(0, Vec::len) == 35).then_some(())
    })
    .await;

    // Default page size 10: four pages, each `next` a full URL with page_token.
    let mut seen = Vec::new();
    let mut url = s.sim.statements_url();
    let mut pages = 0;
    loop {
        let resp = s
            .http
            .get(&url)
            .basic_auth(&s.sim.flink_api_key, Some(&s.sim.flink_api_secret))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let page = json_of(resp).await;
        assert_eq!(page["kind"], "StatementList");
        pages += 1;
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 10);
        seen.extend(data.iter().map(|d| d["name"].as_str().unwrap().to_string()));
        let next = page["metadata"]["next"].as_str().unwrap_or_default();
        if next.is_empty() {
            break;
        }
        assert!(next.starts_with(&s.sim.statements_url()), "{next}");
        assert!(next.contains("page_token="), "{next}");
        url = next.to_string();
    }
    assert_eq!(pages, 4);
    assert_eq!(seen.len(), 35, "a statement was listed twice or missed");
    assert_eq!(seen.iter().cloned().collect::<BTreeSet<_>>(), expected);
    // A stable order, but not the names': no client may depend on alphabetical listing.
    let mut sorted = seen.clone();
    sorted.sort();
    assert_ne!(seen, sorted, "the list came back in name order");

    let resp = s
        .flink(Method::GET, "")
        .query(&[
            ("page_size", "100"),
            ("label_selector", "user.confluent.io/group=five"),
        ])
        .send()
        .await
        .unwrap();
    let names: Vec<String> = json_of(resp).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names.len(), 7);
    assert!(names.iter().all(|n| n.ends_with('0') || n.ends_with('5')));

    let resp = s
        .flink(Method::GET, "")
        .query(&[("page_size", "100"), ("spec.compute_pool_id", "lfcp-other")])
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(resp).await["data"], json!([]));
    let resp = s
        .flink(Method::GET, "")
        .query(&[
            ("page_size", "100"),
            ("spec.compute_pool_id", s.sim.compute_pool_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(resp).await["data"].as_array().unwrap().len(), 35);

    for bad in ["0", "101", "ten"] {
        let resp = s
            .flink(Method::GET, "")
            .query(&[("page_size", bad)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 400, "page_size={bad}");
    }
}

#[tokio::test]
async fn auth_is_enforced_with_www_authenticate() {
    let s = support::start();
    let url = s.sim.statements_url();
    let none = s.http.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_key"));
    assert_eq!(json_of(none).await["errors"][0]["status"], "401");
    let wrong = s
        .http
        .get(&url)
        .basic_auth(&s.sim.flink_api_key, Some("not-the-secret"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    // The Schema Registry key is not a Flink key.
    let other = s
        .http
        .get(&url)
        .basic_auth(&s.sim.sr_api_key, Some(&s.sim.sr_api_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401);
    // The key is bound to one organization and environment.
    let elsewhere = s
        .http
        .get(url.replace(&s.sim.env_id, "env-zzzzzz"))
        .basic_auth(&s.sim.flink_api_key, Some(&s.sim.flink_api_secret))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), 403);
    let log = s.requests().await;
    let auths: Vec<&str> = log.iter().map(|r| r["auth"].as_str().unwrap()).collect();
    assert_eq!(auths, vec!["missing", "invalid", "invalid", "ok"]);
}

#[tokio::test]
async fn create_accepts_what_real_clients_send_and_rejects_bad_bodies() {
    let s = support::start();
    // No Content-Type, read-only fields present as null.
    let body = json!({
        "api_version": "sql/v1", "kind": "Statement", "name": "raw-client",
        "organization_id": s.sim.org_id, "environment_id": s.sim.env_id,
        "metadata": null, "status": null,
        "spec": { "statement": "SHOW TABLES", "properties": null, "compute_pool_id": null,
                  "principal": null, "stopped": false }
    });
    let resp = s
        .flink(Method::POST, "")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201, "{}", text(resp).await);
    // (the Location header names the new statement)
    let resp = s
        .flink(Method::POST, "")
        .json(&json!({"name": "located", "spec": {"statement": "SHOW TABLES"}}))
        .send()
        .await
        .unwrap();
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    assert_eq!(location, format!("{}/located", s.sim.statements_url()));
    let created = json_of(resp).await;
    assert_eq!(created["status"]["phase"], "PENDING");
    assert_eq!(created["spec"]["compute_pool_id"], s.sim.compute_pool_id);
    assert_eq!(created["spec"]["principal"], s.sim.principal_id);

    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"name": "Upper", "spec": {"statement": "SHOW TABLES"}}),
            400,
            "/name",
        ),
        (
            json!({"name": "-lead", "spec": {"statement": "SHOW TABLES"}}),
            400,
            "/name",
        ),
        (
            json!({"name": "a".repeat(101), "spec": {"statement": "SHOW TABLES"}}),
            400,
            "/name",
        ),
        (json!({"spec": {"statement": "SHOW TABLES"}}), 400, "/name"),
        (
            json!({"name": "no-sql", "spec": {}}),
            400,
            "/spec/statement",
        ),
        (json!({"name": "no-spec"}), 400, "/spec"),
        (
            json!({"name": "bad-props", "spec": {"statement": "SHOW TABLES", "properties": {"a": 1}}}),
            400,
            "/spec/properties/a",
        ),
        (
            json!({"name": "bad-pool", "spec": {"statement": "SHOW TABLES", "compute_pool_id": "lfcp-nope"}}),
            422,
            "/spec/compute_pool_id",
        ),
        (
            json!({"name": "other-env", "environment_id": "env-other", "spec": {"statement": "SHOW TABLES"}}),
            400,
            "/environment_id",
        ),
        (
            json!({"name": "located", "spec": {"statement": "SHOW TABLES"}}),
            409,
            "/name",
        ),
    ];
    for (body, status, pointer) in cases {
        let resp = s.flink(Method::POST, "").json(&body).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{body}");
        let err = json_of(resp).await;
        assert_eq!(err["errors"][0]["status"], status.to_string(), "{body}");
        assert_eq!(err["errors"][0]["source"]["pointer"], pointer, "{body}");
    }
    let not_json = s.flink(Method::POST, "").body("{").send().await.unwrap();
    assert_eq!(not_json.status(), 400);
    assert!(json_of(not_json).await["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("JSON"));
}

#[tokio::test]
async fn carry_over_offsets_wait_in_pending_until_the_old_statement_is_stopped() {
    let s = support::start();
    let src = unique("co").replace('-', "_");
    s.run("src", &ddl(&src), "COMPLETED").await;
    s.run("v1", &format!("SELECT * FROM {src}"), "RUNNING")
        .await;
    let mut props = s.props();
    props["sql.tables.initial-offset-from"] = json!("v1");
    let resp = s
        .flink(Method::POST, "")
        .json(&json!({"name": "v2", "spec": {"statement": format!("SELECT * FROM {src}"), "properties": props}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    // Still PENDING, with the service's explanation, well after pending_ms.
    let waiting = wait_until(
        "v2 to explain its wait",
        Duration::from_secs(10),
        || async {
            s.get("v2").await.filter(|v| {
                v["status"]["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("pending until referenced statement v1 is stopped"))
            })
        },
    )
    .await;
    assert_eq!(waiting["status"]["phase"], "PENDING");

    let resp = s
        .flink(Method::PATCH, "v1")
        .body(json!([{"op": "replace", "path": "/spec/stopped", "value": true}]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    s.wait_phase("v1", "STOPPED").await;
    s.wait_phase("v2", "RUNNING").await;
}

#[tokio::test]
async fn names_resolve_against_catalog_and_database_by_id_or_display_name() {
    let s = support::start();
    let t = unique("cat").replace('-', "_");
    s.run("make", &ddl(&t), "COMPLETED").await;
    let by_name = json!({
        "sql.current-catalog": s.sim.env_name,
        "sql.current-database": s.sim.kafka_cluster_name,
    });
    let create = |name: &str, sql: String, props: Value| {
        s.flink(Method::POST, "")
            .json(&json!({"name": name, "spec": {"statement": sql, "properties": props}}))
            .send()
    };
    assert_eq!(
        create("by-name", format!("SELECT * FROM {t}"), by_name)
            .await
            .unwrap()
            .status(),
        201
    );
    s.wait_phase("by-name", "RUNNING").await;
    let qualified = format!(
        "SELECT * FROM `{}`.`{}`.`{t}`",
        s.sim.env_name, s.sim.kafka_cluster_id
    );
    assert_eq!(
        create("qualified", qualified, json!({}))
            .await
            .unwrap()
            .status(),
        201
    );
    s.wait_phase("qualified", "RUNNING").await;
    let wrong = format!(
        "SELECT * FROM `other-env`.`{}`.`{t}`",
        s.sim.kafka_cluster_id
    );
    assert_eq!(
        create("wrong-catalog", wrong, json!({}))
            .await
            .unwrap()
            .status(),
        201
    );
    s.wait_phase("wrong-catalog", "FAILED").await;
    // Unqualified without defaults does not resolve.
    assert_eq!(
        create("no-defaults", format!("SELECT * FROM {t}"), json!({}))
            .await
            .unwrap()
            .status(),
        201
    );
    s.wait_phase("no-defaults", "FAILED").await;
}

#[tokio::test]
async fn ctas_creates_its_table_and_runs_and_statement_sets_write_every_sink() {
    let s = support::start();
    let src = unique("ctas_src").replace('-', "_");
    let out = unique("ctas_out").replace('-', "_");
    let a = unique("set_a").replace('-', "_");
    let b = unique("set_b").replace('-', "_");
    s.run("src", &ddl(&src), "COMPLETED").await;
    let ctas = s
        .run(
            "ctas",
            &format!("CREATE TABLE {out} DISTRIBUTED BY (id) INTO 1 BUCKETS AS SELECT id, amount FROM {src}"),
            "RUNNING",
        )
        .await;
    assert_eq!(ctas["status"]["traits"]["sql_kind"], "CREATE_TABLE_AS");
    assert!(s.topic_exists(&out));
    assert!(s.subjects().await.contains(&format!("{out}-key")));

    s.run("a", &ddl(&a), "COMPLETED").await;
    let set = format!(
        "EXECUTE STATEMENT SET BEGIN INSERT INTO {a} SELECT * FROM {src}; INSERT INTO {b} SELECT * FROM {src}; END"
    );
    // b does not exist yet: the set fails as a whole.
    s.run("set-missing", &set, "FAILED").await;
    s.run("b", &ddl(&b), "COMPLETED").await;
    let ok = s.run("set", &set, "RUNNING").await;
    assert_eq!(ok["status"]["traits"]["sql_kind"], "EXECUTE_STATEMENT_SET");

    // Bounded DML completes.
    s.run(
        "values",
        &format!("INSERT INTO {a} VALUES ('x', 1)"),
        "COMPLETED",
    )
    .await;
    for t in [&src, &out, &a, &b] {
        s.run(
            &format!("drop-{}", t.replace('_', "-")),
            &format!("DROP TABLE {t}"),
            "COMPLETED",
        )
        .await;
    }
}

#[tokio::test]
async fn phases_take_the_configured_time() {
    let s = support::start_with(support::SimOptions {
        pending_ms: 600,
        ..Default::default()
    });
    let started = Instant::now();
    s.create("slow", "SHOW TABLES").await;
    s.wait_phase("slow", "COMPLETED").await;
    assert!(started.elapsed() >= Duration::from_millis(600));
    // Adjusted at run time through the control endpoint.
    s.set_timings(
        json!({"pending_ms": 50, "stopping_ms": 50, "deleting_ms": 50, "health_check_ms": 50}),
    )
    .await;
    let started = Instant::now();
    s.create("fast", "SHOW TABLES").await;
    s.wait_phase("fast", "COMPLETED").await;
    assert!(started.elapsed() < Duration::from_millis(600));
}
