//! Schema Registry, driven with plain HTTP: registration, listing, soft and permanent deletes with
//! Confluent's real error codes (`confluent-cloud-api.md` C), auth, and the subjects CREATE TABLE
//! registers through the Flink API of the same simulator.

use reqwest::{header, Method, Response};
use serde_json::{json, Value};

use crate::support::{self, text, unique, Sim};

const SR_CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

fn avro_record(name: &str, fields: &[&str]) -> String {
    let fields: Vec<Value> = fields
        .iter()
        .map(|f| json!({ "name": f, "type": "string" }))
        .collect();
    json!({ "type": "record", "name": name, "fields": fields }).to_string()
}

/// A response's status, content type and JSON body, asserting the registry's media type.
async fn sr_json(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body = text(resp).await;
    assert_eq!(
        ct, SR_CONTENT_TYPE,
        "content type of a {status} answer: {body}"
    );
    let value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("a {status} answer is not JSON ({e}): {body}"));
    (status, value)
}

async fn call(sim: &Sim, method: Method, path: &str) -> (u16, Value) {
    sr_json(sim.sr(method, path).send().await.expect("request")).await
}

async fn register(sim: &Sim, subject: &str, body: Value) -> (u16, Value) {
    sr_json(
        sim.sr(Method::POST, &format!("/subjects/{subject}/versions"))
            .json(&body)
            .send()
            .await
            .expect("register"),
    )
    .await
}

/// Register and return the id, panicking unless the registry answers 200 `{"id": n}`.
async fn register_ok(sim: &Sim, subject: &str, schema: &str) -> u64 {
    let (status, body) = register(sim, subject, json!({ "schema": schema })).await;
    assert_eq!(status, 200, "register {subject}: {body}");
    body["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("register {subject}: no id in {body}"))
}

fn assert_error(got: (u16, Value), status: u16, error_code: u64, what: &str) {
    assert_eq!(got.0, status, "{what}: {}", got.1);
    assert_eq!(got.1["error_code"], json!(error_code), "{what}: {}", got.1);
    assert!(
        got.1["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{what}: no message in {}",
        got.1
    );
}

async fn list(sim: &Sim, query: &str) -> Vec<String> {
    let (status, body) = call(sim, Method::GET, &format!("/subjects{query}")).await;
    assert_eq!(status, 200, "GET /subjects{query}: {body}");
    serde_json::from_value(body).expect("a list of subjects")
}

#[tokio::test]
async fn register_is_idempotent_and_versions_are_readable() {
    let sim = support::start();
    let s1 = avro_record("order", &["id"]);
    let s2 = avro_record("order", &["id", "amount"]);

    let id1 = register_ok(&sim, "orders-value", &s1).await;
    // The same schema again: the same id, and no new version.
    assert_eq!(register_ok(&sim, "orders-value", &s1).await, id1);
    assert_eq!(
        call(&sim, Method::GET, "/subjects/orders-value/versions").await,
        (200, json!([1]))
    );
    // The same schema under another subject keeps its id (ids are global).
    assert_eq!(register_ok(&sim, "copy-value", &s1).await, id1);

    let id2 = register_ok(&sim, "orders-value", &s2).await;
    assert_ne!(id2, id1);
    assert_eq!(
        call(&sim, Method::GET, "/subjects/orders-value/versions").await,
        (200, json!([1, 2]))
    );
    assert_eq!(
        call(&sim, Method::GET, "/subjects/orders-value/versions/latest").await,
        (
            200,
            json!({ "subject": "orders-value", "version": 2, "id": id2, "schema": s2 })
        )
    );
    assert_eq!(
        call(&sim, Method::GET, "/subjects/orders-value/versions/1").await,
        (
            200,
            json!({ "subject": "orders-value", "version": 1, "id": id1, "schema": s1 })
        )
    );
    assert_error(
        call(&sim, Method::GET, "/subjects/orders-value/versions/3").await,
        404,
        40402,
        "a version that does not exist",
    );
    assert_error(
        call(&sim, Method::GET, "/subjects/nope-value/versions").await,
        404,
        40401,
        "versions of an unknown subject",
    );
    assert_error(
        call(&sim, Method::GET, "/subjects/nope-value/versions/latest").await,
        404,
        40401,
        "latest of an unknown subject",
    );

    register_ok(&sim, "payments-value", &s1).await;
    assert_eq!(
        list(&sim, "").await,
        ["copy-value", "orders-value", "payments-value"]
    );
    assert_eq!(list(&sim, "?subjectPrefix=orders").await, ["orders-value"]);
    assert_eq!(list(&sim, "?subjectPrefix=zzz").await, Vec::<String>::new());
}

#[tokio::test]
async fn delete_is_soft_then_permanent_with_real_error_codes() {
    let sim = support::start();
    register_ok(&sim, "gone-value", &avro_record("gone", &["a"])).await;
    register_ok(&sim, "two-value", &avro_record("two", &["a"])).await;
    register_ok(&sim, "two-value", &avro_record("two", &["a", "b"])).await;
    register_ok(&sim, "kept-value", &avro_record("kept", &["a"])).await;

    // Permanent before soft: 40405, and nothing changes.
    assert_error(
        call(&sim, Method::DELETE, "/subjects/gone-value?permanent=true").await,
        404,
        40405,
        "permanent delete of a live subject",
    );
    assert_eq!(
        list(&sim, "").await,
        ["gone-value", "kept-value", "two-value"]
    );

    // Soft delete answers the versions it deleted.
    assert_eq!(
        call(&sim, Method::DELETE, "/subjects/gone-value").await,
        (200, json!([1]))
    );
    assert_eq!(
        call(&sim, Method::DELETE, "/subjects/two-value").await,
        (200, json!([1, 2]))
    );
    assert_eq!(list(&sim, "").await, ["kept-value"]);
    assert_eq!(
        list(&sim, "?deleted=true").await,
        ["gone-value", "kept-value", "two-value"]
    );
    assert_eq!(
        list(&sim, "?deletedOnly=true").await,
        ["gone-value", "two-value"]
    );
    assert_eq!(
        list(&sim, "?deletedOnly=true&subjectPrefix=two").await,
        ["two-value"]
    );
    // A soft-deleted subject's versions are hidden unless asked for.
    assert_error(
        call(&sim, Method::GET, "/subjects/gone-value/versions").await,
        404,
        40401,
        "versions of a soft-deleted subject",
    );
    assert_eq!(
        call(
            &sim,
            Method::GET,
            "/subjects/gone-value/versions?deleted=true"
        )
        .await,
        (200, json!([1]))
    );

    // Soft again: 40404.
    assert_error(
        call(&sim, Method::DELETE, "/subjects/gone-value").await,
        404,
        40404,
        "soft delete of a soft-deleted subject",
    );
    // Permanent now works, once.
    assert_eq!(
        call(&sim, Method::DELETE, "/subjects/gone-value?permanent=true").await,
        (200, json!([1]))
    );
    assert_error(
        call(&sim, Method::DELETE, "/subjects/gone-value?permanent=true").await,
        404,
        40401,
        "permanent delete of a purged subject",
    );
    assert_error(
        call(&sim, Method::DELETE, "/subjects/gone-value").await,
        404,
        40401,
        "soft delete of a purged subject",
    );
    assert_eq!(
        list(&sim, "?deleted=true").await,
        ["kept-value", "two-value"]
    );

    assert_error(
        call(&sim, Method::DELETE, "/subjects/never-value").await,
        404,
        40401,
        "soft delete of an unknown subject",
    );
    assert_error(
        call(&sim, Method::DELETE, "/subjects/never-value?permanent=true").await,
        404,
        40401,
        "permanent delete of an unknown subject",
    );
}

#[tokio::test]
async fn a_referenced_subject_cannot_be_deleted() {
    let sim = support::start();
    let base_id = register_ok(&sim, "base", &avro_record("Base", &["a"])).await;
    let user_schema = json!({
        "type": "record",
        "name": "User",
        "fields": [{ "name": "base", "type": "Base" }],
    })
    .to_string();
    let reference = json!([{ "name": "Base", "subject": "base", "version": 1 }]);
    let (status, body) = register(
        &sim,
        "user",
        json!({ "schema": user_schema, "references": reference }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(body["id"], json!(base_id));
    let (status, latest) = call(&sim, Method::GET, "/subjects/user/versions/latest").await;
    assert_eq!(status, 200);
    assert_eq!(latest["references"], reference);

    assert_error(
        call(&sim, Method::DELETE, "/subjects/base").await,
        422,
        42206,
        "soft delete of a referenced subject",
    );
    assert_eq!(list(&sim, "").await, ["base", "user"]);

    // Once the referring subject is gone, the referenced one can go.
    assert_eq!(
        call(&sim, Method::DELETE, "/subjects/user").await,
        (200, json!([1]))
    );
    assert_eq!(
        call(&sim, Method::DELETE, "/subjects/user?permanent=true").await,
        (200, json!([1]))
    );
    assert_eq!(
        call(&sim, Method::DELETE, "/subjects/base").await,
        (200, json!([1]))
    );

    // A reference to something that does not exist is an invalid schema.
    let (status, body) = register(
        &sim,
        "dangling",
        json!({ "schema": user_schema, "references": [{ "name": "X", "subject": "nope", "version": 1 }] }),
    )
    .await;
    assert_error(
        (status, body),
        422,
        42201,
        "a reference to an unknown subject",
    );
}

#[tokio::test]
async fn invalid_schemas_are_rejected_with_42201() {
    let sim = support::start();
    for (what, body) in [
        ("not JSON", json!({ "schema": "{not json" })),
        (
            "an Avro record without fields",
            json!({ "schema": r#"{"type":"record","name":"x"}"# }),
        ),
        ("an Avro number", json!({ "schema": "42" })),
        (
            "an unknown schema type",
            json!({ "schema": "{}", "schemaType": "XML" }),
        ),
        ("no schema at all", json!({ "schemaType": "AVRO" })),
    ] {
        assert_error(register(&sim, "bad-value", body).await, 422, 42201, what);
    }
    // Nothing was registered along the way.
    assert_eq!(list(&sim, "?deleted=true").await, Vec::<String>::new());
    // Other schema types are accepted.
    let (status, body) = register(
        &sim,
        "json-value",
        json!({ "schema": r#"{"type":"object"}"#, "schemaType": "JSON" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, latest) = call(&sim, Method::GET, "/subjects/json-value/versions/1").await;
    assert_eq!(status, 200);
    assert_eq!(latest["schemaType"], "JSON");
}

#[tokio::test]
async fn auth_is_enforced_with_401_and_www_authenticate() {
    let sim = support::start();
    register_ok(&sim, "x-value", &avro_record("x", &["a"])).await;
    let url = format!("{}/subjects", sim.sim.url);
    let cases = [
        ("no credentials", sim.http.get(&url)),
        (
            "a wrong secret",
            sim.http
                .get(&url)
                .basic_auth(&sim.sim.sr_api_key, Some("wrong-secret")),
        ),
        (
            "the Flink key",
            sim.http
                .get(&url)
                .basic_auth(&sim.sim.flink_api_key, Some(&sim.sim.flink_api_secret)),
        ),
        (
            "a bearer token",
            sim.http.get(&url).bearer_auth(&sim.sim.sr_api_secret),
        ),
    ];
    for (what, req) in cases {
        let resp = req.send().await.expect("request");
        let challenge = resp
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap_or_default().to_string());
        let (status, body) = sr_json(resp).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(body["error_code"], 401, "{what}: {body}");
        assert!(
            challenge.as_deref().is_some_and(|c| c.starts_with("Basic")),
            "{what}: WWW-Authenticate is {challenge:?}"
        );
        // A secret never comes back in an error.
        assert!(!body.to_string().contains(&sim.sim.sr_api_secret));
    }
    let auth: Vec<Value> = sim
        .requests()
        .await
        .into_iter()
        .filter(|r| r["status"] == 401)
        .map(|r| r["auth"].clone())
        .collect();
    assert_eq!(
        auth,
        [
            json!("missing"),
            json!("invalid"),
            json!("invalid"),
            json!("missing")
        ]
    );
    // With the right key the same request works.
    assert_eq!(list(&sim, "").await, ["x-value"]);
}

/// The Avro field names of a subject's latest schema.
async fn latest_fields(sim: &Sim, subject: &str) -> Vec<String> {
    let (status, body) = call(
        sim,
        Method::GET,
        &format!("/subjects/{subject}/versions/latest"),
    )
    .await;
    assert_eq!(status, 200, "{subject}: {body}");
    let schema: Value = serde_json::from_str(body["schema"].as_str().expect("schema text"))
        .expect("the schema is JSON");
    schema["fields"]
        .as_array()
        .expect("a record schema")
        .iter()
        .map(|f| f["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn create_table_registers_key_and_value_subjects() {
    let sim = support::start();
    let keyed = unique("sr-keyed");
    let plain = unique("sr-plain");
    let raw = unique("sr-raw");
    sim.run(
        &unique("ddl-keyed"),
        &format!(
            "CREATE TABLE `{keyed}` (id INT NOT NULL, name STRING, PRIMARY KEY (id) NOT ENFORCED)"
        ),
        "COMPLETED",
    )
    .await;
    sim.run(
        &unique("ddl-plain"),
        &format!("CREATE TABLE `{plain}` (id INT, name STRING)"),
        "COMPLETED",
    )
    .await;
    sim.run(
        &unique("ddl-raw"),
        &format!("CREATE TABLE `{raw}` (payload BYTES) WITH ('value.format' = 'raw')"),
        "COMPLETED",
    )
    .await;

    let mut expected = vec![
        format!("{keyed}-key"),
        format!("{keyed}-value"),
        format!("{plain}-value"),
    ];
    expected.sort();
    assert_eq!(sim.subjects().await, expected);
    // The raw table still has its topic, just no schema.
    for t in [&keyed, &plain, &raw] {
        assert!(sim.topic_exists(t), "topic {t} is missing");
    }
    assert_eq!(latest_fields(&sim, &format!("{keyed}-key")).await, ["id"]);
    assert!(latest_fields(&sim, &format!("{keyed}-value"))
        .await
        .contains(&"name".to_string()));
    assert_eq!(
        latest_fields(&sim, &format!("{plain}-value")).await,
        ["id", "name"]
    );
}

#[tokio::test]
async fn boolean_parameters_are_read_like_the_real_registry() {
    // JAX-RS reads `true` in any case as true and anything else as false; Python's `requests`
    // sends `True`.
    let sim = support::start();
    register_ok(&sim, "live-value", &avro_record("live", &["a"])).await;
    register_ok(&sim, "soft-value", &avro_record("soft", &["a"])).await;
    assert_eq!(
        call(&sim, Method::DELETE, "/subjects/soft-value?permanent=False").await,
        (200, json!([1]))
    );
    assert_eq!(
        list(&sim, "?deleted=TRUE").await,
        ["live-value", "soft-value"]
    );
    assert_eq!(list(&sim, "?deletedOnly=True").await, ["soft-value"]);
    assert_eq!(list(&sim, "?deletedOnly=yes").await, ["live-value"]);
    assert_eq!(
        call(&sim, Method::DELETE, "/subjects/soft-value?permanent=True").await,
        (200, json!([1]))
    );
    assert_eq!(list(&sim, "?deleted=true").await, ["live-value"]);
}
