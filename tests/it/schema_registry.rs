//! The Schema Registry client against ccloud-sim: listing by prefix, soft-then-permanent
//! deletes that are idempotent, the named failure for referenced subjects, 5xx retries, and
//! errors without credentials.

use std::time::Duration;

use ccaf_housekeeping::confluent::http::{ApiError, Credentials, RetryPolicy};
use ccaf_housekeeping::confluent::schema_registry::{
    DeleteOutcome, SchemaRegistryClient, SchemaRegistryError,
};
use serde_json::{json, Value};
use test_support::{random_secret, unique, SimOptions, StackEnv};

use crate::harness::{private_sim, SimControl};

const SR_JSON: &str = "application/vnd.schemaregistry.v1+json";

/// Plain HTTP to the registry, for setting the scene.
struct Registry {
    url: String,
    key: String,
    secret: String,
    http: reqwest::Client,
}

impl Registry {
    fn new(url: &str, key: &str, secret: &str) -> Registry {
        ccaf_housekeeping::confluent::install_crypto_provider();
        Registry {
            url: url.trim_end_matches('/').to_string(),
            key: key.to_string(),
            secret: secret.to_string(),
            http: reqwest::Client::new(),
        }
    }

    /// Register an Avro record under `subject`, optionally referring to other subjects.
    async fn register(&self, subject: &str, record: &str, references: Value) -> u64 {
        let schema = json!({
            "type": "record",
            "name": record,
            "fields": [{"name": "id", "type": "int"}]
        });
        let resp = self
            .http
            .post(format!("{}/subjects/{subject}/versions", self.url))
            .basic_auth(&self.key, Some(&self.secret))
            .header("content-type", SR_JSON)
            .body(
                json!({"schema": schema.to_string(), "schemaType": "AVRO", "references": references})
                    .to_string(),
            )
            .send()
            .await
            .expect("register");
        let status = resp.status();
        let body: Value = resp.json().await.expect("JSON");
        assert!(status.is_success(), "register {subject}: {status} {body}");
        body["id"].as_u64().expect("id")
    }

    async fn soft_delete(&self, subject: &str) {
        let resp = self
            .http
            .delete(format!("{}/subjects/{subject}", self.url))
            .basic_auth(&self.key, Some(&self.secret))
            .send()
            .await
            .expect("delete");
        assert!(
            resp.status().is_success(),
            "soft delete {subject}: {}",
            resp.status()
        );
    }

    /// Subjects including soft-deleted ones.
    async fn all_subjects(&self, prefix: &str) -> Vec<String> {
        self.http
            .get(format!(
                "{}/subjects?subjectPrefix={prefix}&deleted=true",
                self.url
            ))
            .basic_auth(&self.key, Some(&self.secret))
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("JSON")
    }
}

fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(500),
        ..RetryPolicy::default()
    }
}

fn stack() -> (StackEnv, SchemaRegistryClient, Registry, SimControl) {
    let env = StackEnv::load();
    let client = SchemaRegistryClient::new(
        &env.schema_registry_url,
        &Credentials::new(&env.sr_api_key, &env.sr_api_secret),
        fast_policy(),
    )
    .expect("client");
    let registry = Registry::new(
        &env.schema_registry_url,
        &env.sr_api_key,
        &env.sr_api_secret,
    );
    let control = SimControl::new(&env.control_url);
    (env, client, registry, control)
}

#[tokio::test]
async fn lists_by_prefix_and_deletes_soft_then_permanently_once() {
    let (_env, sr, registry, control) = stack();
    let prefix = unique("srlist");
    let (a, b) = (format!("{prefix}-a-value"), format!("{prefix}-b-key"));
    let other = format!("{}-value", unique("srother"));
    registry.register(&a, "A", json!([])).await;
    registry.register(&b, "B", json!([])).await;
    registry.register(&other, "O", json!([])).await;

    let mut listed = sr.list_subjects(Some(&prefix)).await.expect("list");
    listed.sort();
    assert_eq!(listed, [a.as_str(), b.as_str()]);
    let everything = sr.list_subjects(None).await.expect("list all");
    assert!([&a, &b, &other].iter().all(|s| everything.contains(s)));
    assert!(sr.subject_exists(&a).await.expect("exists"));

    assert_eq!(
        sr.delete_subject(&a).await.expect("delete"),
        DeleteOutcome::Deleted(vec![1])
    );
    assert!(!sr.subject_exists(&a).await.expect("exists"));
    assert_eq!(
        sr.list_subjects(Some(&prefix)).await.expect("list"),
        [b.as_str()]
    );
    assert!(
        !registry.all_subjects(&prefix).await.contains(&a),
        "permanently deleted, not only soft-deleted"
    );
    assert_eq!(
        sr.delete_subject(&a).await.expect("delete twice"),
        DeleteOutcome::AlreadyGone
    );
    let deletes: Vec<Option<String>> = control
        .requests()
        .await
        .iter()
        .filter(|e| e["method"] == "DELETE" && e["path"] == format!("/subjects/{a}"))
        .map(|e| e["query"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        deletes,
        [None, Some("permanent=true".to_string()), None],
        "soft, permanent, then one soft delete answered 40401"
    );

    // Soft-deleted by someone else first (40404 on our soft delete): still purged.
    registry.soft_delete(&b).await;
    assert_eq!(
        sr.delete_subject(&b).await.expect("delete"),
        DeleteOutcome::Deleted(vec![1])
    );
    assert!(registry.all_subjects(&prefix).await.is_empty());
    assert_eq!(
        sr.delete_subject(&unique("never-registered"))
            .await
            .expect("delete"),
        DeleteOutcome::AlreadyGone
    );
    sr.delete_subject(&other).await.expect("clean up");
}

#[tokio::test]
async fn a_referenced_subject_is_a_named_failure() {
    let (_env, sr, registry, _control) = stack();
    let base = format!("{}-base", unique("srref"));
    let user = format!("{}-user", unique("srref"));
    registry.register(&base, "Base", json!([])).await;
    registry
        .register(
            &user,
            "User",
            json!([{"name": "Base", "subject": base, "version": 1}]),
        )
        .await;

    let err = sr.delete_subject(&base).await.expect_err("referenced");
    match &err {
        SchemaRegistryError::SubjectReferenced { subject, detail } => {
            assert_eq!(subject, &base);
            assert!(
                detail.contains("42206") || detail.contains("reference"),
                "{detail}"
            );
        }
        other => panic!("expected SubjectReferenced, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&base) && message.contains("referenced"),
        "{message}"
    );
    assert!(
        sr.subject_exists(&base).await.expect("exists"),
        "nothing was deleted"
    );

    assert!(matches!(
        sr.delete_subject(&user).await.expect("delete the referrer"),
        DeleteOutcome::Deleted(_)
    ));
    assert!(matches!(
        sr.delete_subject(&base).await.expect("then the base"),
        DeleteOutcome::Deleted(_)
    ));
}

#[tokio::test]
async fn deletes_complete_under_a_30_percent_5xx_rate() {
    let sim = private_sim(SimOptions::default());
    let registry = Registry::new(&sim.url, &sim.sr_api_key, &sim.sr_api_secret);
    let control = SimControl::new(&sim.control_url());
    let sr = SchemaRegistryClient::new(
        &sim.url,
        &Credentials::new(&sim.sr_api_key, &sim.sr_api_secret),
        RetryPolicy::default(),
    )
    .expect("client");
    let prefix = unique("srfault");
    let subjects: Vec<String> = (0..12).map(|i| format!("{prefix}-{i:02}-value")).collect();
    for s in &subjects {
        registry.register(s, "R", json!([])).await;
    }
    control
        .set_faults(json!({
            "error_fraction": 0.3,
            "error_statuses": [500, 502, 503, 504],
            "apis": ["schema-registry"],
            "seed": 11
        }))
        .await;
    for s in &subjects {
        assert_eq!(
            sr.delete_subject(s).await.expect("delete under faults"),
            DeleteOutcome::Deleted(vec![1]),
            "{s}"
        );
    }
    assert!(sr
        .list_subjects(Some(&prefix))
        .await
        .expect("list")
        .is_empty());
    control.assert_injected("error", 3).await;
    control.set_faults(json!({})).await;
    assert!(registry.all_subjects(&prefix).await.is_empty());
}

#[tokio::test]
async fn registry_errors_never_carry_the_credentials() {
    let sim = private_sim(SimOptions::default());
    let control = SimControl::new(&sim.control_url());
    let registry = Registry::new(&sim.url, &sim.sr_api_key, &sim.sr_api_secret);
    let wrong = format!("WRONG{}", random_secret(40));
    let needles = [sim.sr_api_secret.clone(), wrong.clone()];
    let quick = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(20),
        request_timeout: Duration::from_secs(5),
        max_retry_after: Duration::from_millis(50),
    };
    let check = |what: &str, e: &SchemaRegistryError| {
        let (display, debug) = (e.to_string(), format!("{e:?}"));
        eprintln!("{what}: {display}");
        for n in &needles {
            assert!(
                !display.contains(n.as_str()) && !debug.contains(n.as_str()),
                "{what}: {debug}"
            );
        }
    };
    let bad =
        SchemaRegistryClient::new(&sim.url, &Credentials::new(&sim.sr_api_key, &wrong), quick)
            .expect("client");
    let e = bad.list_subjects(None).await.expect_err("401");
    check("401", &e);
    assert!(
        matches!(&e, SchemaRegistryError::Api(a) if a.status() == Some(401)),
        "{e}"
    );

    let sr = SchemaRegistryClient::new(
        &sim.url,
        &Credentials::new(&sim.sr_api_key, &sim.sr_api_secret),
        quick,
    )
    .expect("client");
    let base = format!("{}-base", unique("srsecret"));
    registry.register(&base, "Base", json!([])).await;
    registry
        .register(
            &format!("{}-user", unique("srsecret")),
            "User",
            json!([{"name": "Base", "subject": base, "version": 1}]),
        )
        .await;
    let e = sr.delete_subject(&base).await.expect_err("42206");
    check("42206", &e);

    control
        .set_faults(json!({"error_fraction": 1.0, "apis": ["schema-registry"]}))
        .await;
    let e = sr.delete_subject(&base).await.expect_err("5xx");
    check("5xx", &e);
    assert!(
        matches!(
            &e,
            SchemaRegistryError::Api(ApiError::Status {
                attempts: 2,
                error_code: Some(50001),
                ..
            })
        ),
        "{e}"
    );
    control
        .set_faults(json!({"throttle_fraction": 1.0, "apis": ["schema-registry"]}))
        .await;
    let e = sr.subject_exists(&base).await.expect_err("429");
    check("429", &e);
    assert!(
        matches!(&e, SchemaRegistryError::Api(a) if a.status() == Some(429)),
        "{e}"
    );
    control.set_faults(json!({})).await;
}
