//! Each fault knob of the control endpoint (`/_sim/…`) does what `docs/simulator.md` says,
//! measured from the outside and from the simulator's own request log.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, Response};
use serde_json::{json, Value};
use test_support::{random_secret, TempDir};

use crate::support::{self, json_of, text, unique, wait_until, Sim};

fn header_of(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn port_of(sim: &Sim) -> u16 {
    sim.sim
        .url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("the simulator URL ends with its port")
}

async fn last_logged(sim: &Sim) -> Value {
    sim.requests().await.pop().expect("a logged request")
}

/// One cheap authenticated request per API, labelled with the API's name in the request log.
fn one_per_api(sim: &Sim) -> [(&'static str, RequestBuilder); 3] {
    [
        ("flink", sim.flink(Method::GET, "")),
        ("schema-registry", sim.sr(Method::GET, "/subjects")),
        ("kafka-rest", sim.kafka_rest(Method::GET, "")),
    ]
}

/// A request creating `name` as a `SHOW TABLES` statement (quick to complete, no effects).
fn show_tables(sim: &Sim, name: &str) -> RequestBuilder {
    sim.flink(Method::POST, "").json(
        &json!({ "name": name, "spec": { "statement": "SHOW TABLES", "properties": sim.props() } }),
    )
}

async fn control_json(sim: &Sim, method: Method, path: &str) -> Value {
    let resp = sim.control(method, path).send().await.expect("control");
    assert_eq!(resp.status(), 200);
    json_of(resp).await
}

#[tokio::test]
async fn latency_delays_every_api_request() {
    let sim = support::start();
    sim.set_faults(json!({ "latency_ms": 500 })).await;
    for (api, req) in one_per_api(&sim) {
        let started = Instant::now();
        let resp = req.send().await.expect("request");
        let wall = started.elapsed();
        assert_eq!(resp.status(), 200, "{api}: {}", text(resp).await);
        assert!(
            wall >= Duration::from_millis(500),
            "{api} answered after {wall:?}"
        );
        let entry = last_logged(&sim).await;
        assert_eq!(entry["api"], api);
        let logged = entry["duration_ms"].as_f64().expect("duration_ms");
        assert!(logged >= 500.0, "{api}: logged {logged} ms");
        assert_eq!(entry["fault"], Value::Null);
    }
    // Latency off again: the same request is answered well within it.
    sim.set_faults(json!({})).await;
    let resp = sim
        .sr(Method::GET, "/subjects")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let logged = last_logged(&sim).await["duration_ms"]
        .as_f64()
        .expect("duration_ms");
    assert!(logged < 500.0, "without latency: logged {logged} ms");
}

#[tokio::test]
async fn throttling_answers_429_with_retry_after_in_each_api_shape() {
    let sim = support::start();
    sim.set_faults(json!({ "throttle_fraction": 1.0, "retry_after_secs": 7 }))
        .await;
    for (api, req) in one_per_api(&sim) {
        let resp = req.send().await.expect("request");
        assert_eq!(resp.status(), 429, "{api}");
        assert_eq!(
            header_of(&resp, "retry-after").as_deref(),
            Some("7"),
            "{api}"
        );
        let limit = header_of(&resp, "x-ratelimit-limit").and_then(|v| v.parse::<u64>().ok());
        assert!(
            limit.is_some_and(|l| l > 0),
            "{api}: X-RateLimit-Limit {limit:?}"
        );
        assert_eq!(
            header_of(&resp, "x-ratelimit-remaining").as_deref(),
            Some("0"),
            "{api}"
        );
        assert_eq!(
            header_of(&resp, "x-ratelimit-reset").as_deref(),
            Some("7"),
            "{api}"
        );
        assert!(header_of(&resp, "x-request-id").is_some(), "{api}");
        let ct = header_of(&resp, "content-type").unwrap_or_default();
        let body = text(resp).await;
        match api {
            "flink" => {
                assert_eq!(ct, "application/json");
                let v: Value = serde_json::from_str(&body).expect("Flink 429 body is JSON");
                let errors = v["errors"].as_array().expect("errors array");
                assert_eq!(errors.len(), 1, "{v}");
                assert_eq!(errors[0]["status"], "429", "{v}");
                assert_eq!(errors[0]["code"], "too_many_requests", "{v}");
                assert!(errors[0]["detail"].as_str().is_some_and(|d| !d.is_empty()));
            }
            "schema-registry" => {
                assert_eq!(ct, "application/vnd.schemaregistry.v1+json");
                let v: Value = serde_json::from_str(&body).expect("SR 429 body is JSON");
                assert_eq!(v["error_code"], 42901, "{v}");
            }
            _ => {
                // Confluent Cloud's Kafka REST throttles with Jetty's HTML page, not JSON.
                assert!(ct.starts_with("text/html"), "{ct}");
                assert!(serde_json::from_str::<Value>(&body).is_err(), "{body}");
                assert!(body.contains("429"), "{body}");
            }
        }
        let entry = last_logged(&sim).await;
        assert_eq!(
            (&entry["api"], &entry["status"], &entry["fault"]),
            (&json!(api), &json!(429), &json!("throttle"))
        );
    }
}

#[tokio::test]
async fn the_rate_limit_lets_a_burst_through_then_429s_until_retry_after() {
    let sim = support::start();
    sim.set_faults(json!({ "rate_limit_rps": 5, "rate_limit_burst": 5 }))
        .await;
    let started = Instant::now();
    let mut passed = 0;
    let limited = loop {
        let resp = sim
            .sr(Method::GET, "/subjects")
            .send()
            .await
            .expect("request");
        match resp.status().as_u16() {
            200 => passed += 1,
            429 => break resp,
            s => panic!("unexpected {s}: {}", text(resp).await),
        }
        assert!(passed <= 50, "no 429 after {passed} requests");
    };
    let elapsed = started.elapsed().as_secs_f64();
    // The bucket holds 5 and refills 5 per second: a quick burst gets exactly 5 through; a slow
    // machine may earn a refill or two meanwhile, never more.
    let most = 5 + (elapsed * 5.0).ceil() as usize;
    assert!(
        (5..=most).contains(&passed),
        "{passed} requests passed in {elapsed:.3} s"
    );
    if elapsed < 0.2 {
        assert_eq!(passed, 5, "in {elapsed:.3} s");
    }
    let retry_after: u64 = header_of(&limited, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!(retry_after >= 1, "Retry-After {retry_after}");
    assert_eq!(
        header_of(&limited, "x-ratelimit-limit").as_deref(),
        Some("5")
    );
    assert_eq!(
        header_of(&limited, "x-ratelimit-remaining").as_deref(),
        Some("0")
    );
    assert!(header_of(&limited, "x-ratelimit-reset").is_some());
    let body: Value = json_of(limited).await;
    assert_eq!(body["error_code"], 42901);
    let entry = last_logged(&sim).await;
    assert_eq!(
        (&entry["status"], &entry["fault"]),
        (&json!(429), &json!("rate_limit"))
    );

    // Waiting exactly as long as told is enough (this wait is what is under test).
    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let resp = sim
        .sr(Method::GET, "/subjects")
        .send()
        .await
        .expect("request");
    assert_eq!(
        resp.status(),
        200,
        "after Retry-After: {}",
        text(resp).await
    );
}

#[tokio::test]
async fn server_errors_come_in_each_api_shape_and_change_nothing() {
    let sim = support::start();
    sim.set_faults(json!({ "error_fraction": 1.0, "error_statuses": [503] }))
        .await;
    for (api, req) in one_per_api(&sim) {
        let resp = req.send().await.expect("request");
        assert_eq!(resp.status(), 503, "{api}");
        let ct = header_of(&resp, "content-type").unwrap_or_default();
        let v: Value = json_of(resp).await;
        match api {
            "flink" => {
                assert_eq!(ct, "application/json");
                let errors = v["errors"].as_array().expect("errors array");
                assert_eq!(errors.len(), 1, "{v}");
                assert_eq!(errors[0]["status"], "503", "{v}");
                assert_eq!(errors[0]["code"], "internal_error", "{v}");
            }
            "schema-registry" => {
                assert_eq!(ct, "application/vnd.schemaregistry.v1+json");
                assert_eq!(v["error_code"], 50001, "{v}");
                assert!(v["message"].is_string(), "{v}");
            }
            _ => {
                assert_eq!(ct, "application/json");
                assert_eq!(v["error_code"], 50003, "{v}");
                assert!(v["message"].is_string(), "{v}");
            }
        }
        let entry = last_logged(&sim).await;
        assert_eq!(
            (&entry["api"], &entry["status"], &entry["fault"]),
            (&json!(api), &json!(503), &json!("error"))
        );
    }
    // A failed create did not create anything.
    let name = unique("never");
    let resp = sim
        .flink(Method::POST, "")
        .json(&json!({ "name": name, "spec": { "statement": "SELECT 1", "properties": sim.props() } }))
        .send()
        .await
        .expect("create");
    assert_eq!(resp.status(), 503);
    sim.set_faults(json!({})).await;
    assert!(sim.get(&name).await.is_none());
}

#[tokio::test]
async fn a_seeded_error_fraction_is_about_right_and_reproducible() {
    let sim = support::start();
    let faults = json!({ "error_fraction": 0.3, "error_statuses": [500, 503], "seed": 1234 });
    let mut runs = Vec::new();
    for _ in 0..2 {
        sim.set_faults(faults.clone()).await;
        let mut statuses = Vec::new();
        for _ in 0..200 {
            let resp = sim
                .sr(Method::GET, "/subjects")
                .send()
                .await
                .expect("request");
            statuses.push(resp.status().as_u16());
        }
        runs.push(statuses);
    }
    let first = &runs[0];
    let errors = first.iter().filter(|s| **s != 200).count();
    assert!((30..=90).contains(&errors), "{errors} of 200 failed");
    assert!(
        first.iter().all(|s| [200, 500, 503].contains(s)),
        "{first:?}"
    );
    assert!(first.contains(&500) && first.contains(&503), "{first:?}");
    // The same seed replays the same dice.
    assert_eq!(runs[0], runs[1]);
    let logged_errors = sim
        .requests()
        .await
        .iter()
        .filter(|r| r["fault"] == "error")
        .count();
    assert_eq!(logged_errors, 2 * errors);
}

#[tokio::test]
async fn redirects_go_cross_host_and_lose_auth_unless_it_is_resent() {
    let sim = support::start();
    let port = port_of(&sim);
    sim.set_faults(json!({ "redirect_fraction": 1.0 })).await;

    let resp = sim
        .sr(Method::GET, "/subjects?subjectPrefix=abc")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 307);
    let location = header_of(&resp, "location").expect("Location");
    assert_eq!(
        location,
        format!("http://localhost:{port}/subjects?subjectPrefix=abc")
    );
    let entry = last_logged(&sim).await;
    assert_eq!(entry["host"], json!(format!("127.0.0.1:{port}")));
    assert_eq!(
        (&entry["status"], &entry["fault"]),
        (&json!(307), &json!("redirect"))
    );

    let resp = sim
        .flink(Method::GET, "")
        .query(&[("page_size", "5")])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 307);
    let flink_location = header_of(&resp, "location").expect("Location");
    let path = format!(
        "/sql/v1/organizations/{}/environments/{}/statements",
        sim.sim.org_id, sim.sim.env_id
    );
    assert_eq!(
        flink_location,
        format!("http://localhost:{port}{path}?page_size=5")
    );

    // Following with the credentials resent: served (requests to localhost are never redirected).
    let resp = sim
        .http
        .get(&location)
        .basic_auth(&sim.sim.sr_api_key, Some(&sim.sim.sr_api_secret))
        .send()
        .await
        .expect("follow with auth");
    assert_eq!(resp.status(), 200, "{}", text(resp).await);
    let entry = last_logged(&sim).await;
    assert_eq!(entry["host"], json!(format!("localhost:{port}")));
    assert_eq!(entry["query"], "subjectPrefix=abc");
    assert_eq!(
        (&entry["auth"], &entry["fault"]),
        (&json!("ok"), &Value::Null)
    );
    let resp = sim
        .http
        .get(&flink_location)
        .basic_auth(&sim.sim.flink_api_key, Some(&sim.sim.flink_api_secret))
        .send()
        .await
        .expect("follow with auth");
    assert_eq!(resp.status(), 200, "{}", text(resp).await);

    // Following without them: 401.
    let resp = sim.http.get(&location).send().await.expect("follow");
    assert_eq!(resp.status(), 401);
    let entry = last_logged(&sim).await;
    assert_eq!(entry["host"], json!(format!("localhost:{port}")));
    assert_eq!(
        (&entry["auth"], &entry["status"]),
        (&json!("missing"), &json!(401))
    );

    // Which is what a client gets that follows redirects the default way: reqwest, like most
    // HTTP libraries, drops Authorization when the host changes.
    test_support::install_crypto_provider();
    let following = reqwest::Client::new();
    let resp = following
        .get(format!("{}/subjects", sim.sim.url))
        .basic_auth(&sim.sim.sr_api_key, Some(&sim.sim.sr_api_secret))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.url().host_str(), Some("localhost"));
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn apis_limits_faults_to_the_apis_named() {
    let sim = support::start();
    sim.set_faults(
        json!({ "error_fraction": 1.0, "error_statuses": [503], "apis": ["schema-registry"] }),
    )
    .await;
    assert_eq!(
        control_json(&sim, Method::GET, "/faults").await["apis"],
        json!(["schema-registry"])
    );
    for (api, req) in one_per_api(&sim) {
        let resp = req.send().await.expect("request");
        let expected = if api == "schema-registry" { 503 } else { 200 };
        assert_eq!(resp.status(), expected, "{api}: {}", text(resp).await);
    }
}

#[tokio::test]
async fn invalid_fault_bodies_are_rejected_and_change_nothing() {
    let sim = support::start();
    let defaults = control_json(&sim, Method::GET, "/faults").await;
    assert_eq!(
        defaults,
        json!({
            "latency_ms": 0,
            "throttle_fraction": 0.0,
            "retry_after_secs": 1,
            "rate_limit_rps": null,
            "rate_limit_burst": null,
            "error_fraction": 0.0,
            "error_statuses": [500, 503],
            "redirect_fraction": 0.0,
            "apis": ["flink", "schema-registry", "kafka-rest"],
            "seed": null,
            "partial_drops": false,
            "stall_drops": false,
            "forbidden_methods": [],
            "lost_answer_fraction": {},
            "lost_answer_statuses": [500, 502, 504],
            "lost_answer_methods": ["POST", "PUT", "PATCH", "DELETE"],
            "lost_answer_hang_ms": 0,
            "error_message": null,
        })
    );
    let bodies = [
        json!({ "throttle_fraction": 1.5 }),
        json!({ "redirect_fraction": -0.1 }),
        json!({ "error_fraction": 0.5, "error_statuses": [404] }),
        json!({ "error_fraction": 0.5, "error_statuses": [] }),
        json!({ "rate_limit_rps": 0 }),
        json!({ "lost_answer_fraction": { "flink": 2.0 } }),
        json!({ "lost_answer_fraction": { "flink": 0.5 }, "lost_answer_statuses": [409] }),
        json!({ "lost_answer_fraction": { "nowhere": 0.5 } }),
        json!({ "latency": 100 }),
        json!({ "apis": ["flink", "nope"] }),
        json!({ "latency_ms": "slow" }),
        json!([]),
    ];
    for body in bodies {
        let resp = sim
            .control(Method::PUT, "/faults")
            .json(&body)
            .send()
            .await
            .expect("put");
        assert_eq!(resp.status(), 400, "{body}");
        let err: Value = json_of(resp).await;
        assert!(
            err["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}: {err}"
        );
    }
    let resp = sim
        .control(Method::PUT, "/faults")
        .body("not json")
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 400);
    assert_eq!(control_json(&sim, Method::GET, "/faults").await, defaults);

    // A valid PUT replaces them all; what it leaves out is off.
    sim.set_faults(json!({ "latency_ms": 5, "seed": 9 })).await;
    let mut expected = defaults.clone();
    expected["latency_ms"] = json!(5);
    expected["seed"] = json!(9);
    assert_eq!(control_json(&sim, Method::GET, "/faults").await, expected);
    sim.set_faults(json!({ "throttle_fraction": 0.5 })).await;
    let mut expected = defaults;
    expected["throttle_fraction"] = json!(0.5);
    assert_eq!(control_json(&sim, Method::GET, "/faults").await, expected);
}

#[tokio::test]
async fn slow_deletes_stay_deleting_for_deleting_ms() {
    let sim = support::start();
    // Only the delete time changes; the others keep what the simulator was started with.
    sim.set_timings(json!({ "deleting_ms": 1500 })).await;
    assert_eq!(
        control_json(&sim, Method::GET, "/timings").await,
        json!({
            "pending_ms": 100, "stopping_ms": 100, "deleting_ms": 1500, "health_check_ms": 100,
            "list_lag_ms": 500, "list_new_lag_ms": 200, "list_phase_lag_ms": 150,
            "update_lag_ms": 100, "name_hold_ms": 300, "recreate_window_ms": 800,
            "purge_after_ms": 60000, "catalog_lag_ms": 200,
            "mt_creating_ms": 600, "mt_altering_ms": 800, "mt_catalog_linger_ms": 1500
        })
    );
    let name = unique("slow-delete");
    let table = unique("slow-delete-t");
    sim.run(
        &name,
        &format!("CREATE TABLE `{table}` (id INT)"),
        "COMPLETED",
    )
    .await;

    let resp = sim
        .flink(Method::DELETE, &name)
        .send()
        .await
        .expect("delete");
    let deleted_at = Instant::now();
    assert_eq!(resp.status(), 202);
    // Every look for the first second finds it DELETING, including one that starts after 1 s.
    wait_until(
        "1 s to pass with the statement DELETING",
        Duration::from_secs(10),
        || async {
            let asked_at = deleted_at.elapsed();
            let phase = sim.phase(&name).await;
            assert_eq!(phase.as_deref(), Some("DELETING"), "after {asked_at:?}");
            (asked_at >= Duration::from_millis(1000)).then_some(())
        },
    )
    .await;
    // The name stays taken while it is being deleted.
    let resp = sim
        .flink(Method::POST, "")
        .json(&json!({ "name": name, "spec": { "statement": "SELECT 1", "properties": sim.props() } }))
        .send()
        .await
        .expect("create");
    assert_eq!(resp.status(), 409, "{}", text(resp).await);

    sim.wait_gone(&name).await;
    let gone_after = deleted_at.elapsed();
    assert!(
        gone_after >= Duration::from_millis(1500),
        "gone after {gone_after:?}"
    );
    let resp = sim.flink(Method::GET, &name).send().await.expect("get");
    assert_eq!(resp.status(), 404);
    assert_eq!(
        json_of(resp).await,
        json!({ "errors": [{ "status": "404", "detail": format!("Statement resource={name} does not exist"), "source": {} }] })
    );
}

#[tokio::test]
async fn the_request_log_pages_with_after_and_clears() {
    let sim = support::start();
    let port = port_of(&sim);
    for _ in 0..3 {
        let resp = sim
            .sr(Method::GET, "/subjects")
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 200);
    }
    let log = sim.requests().await;
    // Control requests (set up, this read) are not logged: exactly the three API requests.
    assert_eq!(log.len(), 3, "{log:?}");
    let seqs: Vec<u64> = log
        .iter()
        .map(|r| r["seq"].as_u64().expect("seq"))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    for r in &log {
        assert_eq!(r["method"], "GET");
        assert_eq!(r["path"], "/subjects");
        assert_eq!(r["query"], Value::Null);
        assert_eq!(r["api"], "schema-registry");
        assert_eq!(r["status"], 200);
        assert_eq!(r["auth"], "ok");
        assert_eq!(r["fault"], Value::Null);
        assert_eq!(r["host"], json!(format!("127.0.0.1:{port}")));
        assert!(r["at_ms"].as_f64().is_some() && r["duration_ms"].as_f64().is_some());
    }
    let last = seqs[2];

    let resp = sim
        .kafka_rest(Method::GET, "")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let resp = sim
        .flink(Method::GET, "")
        .query(&[("page_size", "3")])
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let newer = control_json(&sim, Method::GET, &format!("/requests?after={last}")).await;
    let newer = newer["requests"].as_array().expect("requests");
    let summary: Vec<(Value, Value)> = newer
        .iter()
        .map(|r| (r["api"].clone(), r["query"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (json!("kafka-rest"), Value::Null),
            (json!("flink"), json!("page_size=3"))
        ]
    );
    assert!(newer.iter().all(|r| r["seq"].as_u64() > Some(last)));

    let resp = sim
        .control(Method::DELETE, "/requests")
        .send()
        .await
        .expect("clear");
    assert_eq!(resp.status(), 204);
    assert_eq!(sim.requests().await, Vec::<Value>::new());
    let resp = sim
        .sr(Method::GET, "/subjects")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 200);
    let log = sim.requests().await;
    assert_eq!(log.len(), 1);
    // Sequence numbers keep counting, so `after=` readers never see an entry twice.
    assert!(log[0]["seq"].as_u64() > newer.last().and_then(|r| r["seq"].as_u64()));
}

#[tokio::test]
async fn reset_forgets_statements_subjects_faults_and_timings() {
    let sim = support::start();
    let name = unique("reset");
    let table = unique("reset-t");
    sim.run(
        &name,
        &format!("CREATE TABLE `{table}` (id INT NOT NULL, PRIMARY KEY (id) NOT ENFORCED)"),
        "COMPLETED",
    )
    .await;
    assert_eq!(sim.subjects().await.len(), 2);
    sim.set_faults(json!({ "latency_ms": 1 })).await;
    sim.set_timings(json!({ "deleting_ms": 999 })).await;
    let state = control_json(&sim, Method::GET, "/state").await;
    assert_eq!(
        (&state["statements"], &state["subjects"]),
        (&json!(1), &json!(2))
    );

    let resp = sim
        .control(Method::POST, "/reset")
        .send()
        .await
        .expect("reset");
    assert_eq!(resp.status(), 204);

    assert_eq!(
        control_json(&sim, Method::GET, "/faults").await["latency_ms"],
        0
    );
    assert_eq!(
        control_json(&sim, Method::GET, "/timings").await["deleting_ms"],
        150
    );
    assert_eq!(sim.requests().await, Vec::<Value>::new());
    assert!(sim.get(&name).await.is_none());
    assert_eq!(sim.subjects().await, Vec::<String>::new());
    let resp = sim
        .sr(Method::GET, "/subjects?deleted=true")
        .send()
        .await
        .expect("subjects");
    assert_eq!(json_of(resp).await, json!([]));
    let state = control_json(&sim, Method::GET, "/state").await;
    assert_eq!(
        (&state["statements"], &state["subjects"]),
        (&json!(0), &json!(0))
    );
    // Topics live in the broker, not in the simulator.
    assert!(sim.topic_exists(&table));
}

/// A simulator process started without `--control`, killed when dropped.
struct Uncontrolled {
    child: Child,
    url: String,
    sr_key: String,
    sr_secret: String,
    _dir: TempDir,
}

impl Drop for Uncontrolled {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn spawn_without_control(bootstrap: &str) -> Uncontrolled {
    let dir = TempDir::new("ccloud-sim-nocontrol");
    let port_file = dir.0.join("port");
    let sr_key = format!("SR{}", unique("k").replace('-', "").to_uppercase());
    let sr_secret = random_secret(64);
    let child = Command::new(Path::new(env!("CARGO_BIN_EXE_ccloud-sim")))
        // No SIM_* variable of the test's environment (SIM_CONTROL included) may leak in.
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("SIM_LOG", "warn")
        .args([
            "--listen",
            "127.0.0.1:0",
            "--kafka-bootstrap-servers",
            bootstrap,
        ])
        .arg("--port-file")
        .arg(&port_file)
        .args(["--sr-api-key", &sr_key, "--sr-api-secret", &sr_secret])
        .args(["--flink-api-secret", &random_secret(64)])
        .args(["--kafka-api-secret", &random_secret(64)])
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ccloud-sim");
    let mut sim = Uncontrolled {
        child,
        url: String::new(),
        sr_key,
        sr_secret,
        _dir: dir,
    };
    let port: u16 = wait_until("the port file", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&port_file).ok();
        let exited = sim.child.try_wait().ok().flatten();
        async move {
            if let Some(status) = exited {
                panic!("ccloud-sim exited before it listened: {status}");
            }
            text.and_then(|t| t.trim().parse().ok())
        }
    })
    .await;
    sim.url = format!("http://127.0.0.1:{port}");
    sim
}

#[tokio::test]
async fn the_control_endpoint_is_off_unless_asked_for() {
    let stack = support::StackEnv::load();
    let sim = spawn_without_control(&stack.kafka_bootstrap_servers).await;
    test_support::install_crypto_provider();
    let http = reqwest::Client::new();
    for (method, path) in [
        (Method::GET, "/_sim/faults"),
        (Method::PUT, "/_sim/faults"),
        (Method::GET, "/_sim/timings"),
        (Method::GET, "/_sim/requests"),
        (Method::DELETE, "/_sim/requests"),
        (Method::POST, "/_sim/reset"),
        (Method::GET, "/_sim/state"),
    ] {
        let resp = http
            .request(method.clone(), format!("{}{path}", sim.url))
            .json(&json!({ "throttle_fraction": 1.0 }))
            .send()
            .await
            .expect("request");
        assert_eq!(resp.status(), 404, "{method} {path}");
    }
    // The simulator itself is up and serving (and no fault was set).
    let resp = http
        .get(format!("{}/subjects", sim.url))
        .basic_auth(&sim.sr_key, Some(&sim.sr_secret))
        .send()
        .await
        .expect("subjects");
    assert_eq!(resp.status(), 200);
    assert_eq!(json_of(resp).await, json!([]));
    drop(sim);
}

#[tokio::test]
async fn drops_created_while_stall_drops_is_on_stay_pending_until_deleted() {
    let sim = support::start();
    let table = |p: &str| unique(p).replace('-', "_");
    let (stalled_t, later_t, other_t) = (table("stall_a"), table("stall_b"), table("stall_c"));
    for t in [&stalled_t, &later_t] {
        sim.run(
            &unique("ddl"),
            &format!("CREATE TABLE {t} (id STRING)"),
            "COMPLETED",
        )
        .await;
    }
    sim.set_faults(json!({ "stall_drops": true })).await;
    let stalled = unique("stalled-drop");
    sim.create(&stalled, &format!("DROP TABLE {stalled_t}"))
        .await;
    // Only DROP TABLE stalls.
    sim.run(
        &unique("ddl"),
        &format!("CREATE TABLE {other_t} (id STRING)"),
        "COMPLETED",
    )
    .await;
    // Turning it off releases nothing: a DROP created later, due after the stalled one would
    // have been, completes while the stalled one still waits.
    sim.set_faults(json!({})).await;
    sim.run(
        &unique("drop"),
        &format!("DROP TABLE {later_t}"),
        "COMPLETED",
    )
    .await;
    assert!(!sim.topic_exists(&later_t));
    let waiting = sim.get(&stalled).await.expect("the stalled DROP");
    assert_eq!(waiting["status"]["phase"], "PENDING", "{waiting:#}");
    assert!(sim.topic_exists(&stalled_t));
    // Deleted, it never runs.
    let resp = sim
        .flink(Method::DELETE, &stalled)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 202);
    sim.wait_gone(&stalled).await;
    assert!(sim.topic_exists(&stalled_t));
    for t in [&stalled_t, &other_t] {
        sim.run(&unique("drop"), &format!("DROP TABLE {t}"), "COMPLETED")
            .await;
    }
}

#[tokio::test]
async fn forbidden_methods_answer_403_to_authenticated_requests_only() {
    let sim = support::start();
    let name = unique("forbidden");
    sim.run(&name, "SELECT 1", "COMPLETED").await;
    sim.set_faults(json!({ "forbidden_methods": ["delete"], "apis": ["flink"] }))
        .await;
    let resp = sim
        .flink(Method::DELETE, &name)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 403);
    let body: Value = json_of(resp).await;
    assert_eq!(body["errors"][0]["status"], "403", "{body}");
    assert!(sim.get(&name).await.is_some(), "nothing was deleted");
    // Other methods, and other APIs, are served.
    assert!(sim.get(&name).await.is_some());
    let subjects = sim
        .sr(Method::GET, "/subjects")
        .send()
        .await
        .expect("subjects");
    assert_eq!(subjects.status(), 200);
    // Without credentials it is still a 401.
    let anonymous = reqwest::Client::new()
        .delete(format!("{}/{name}", sim.sim.statements_url()))
        .send()
        .await
        .expect("anonymous delete");
    assert_eq!(anonymous.status(), 401);
    assert_eq!(last_logged(&sim).await["fault"], json!(null));
    sim.set_faults(json!({})).await;
    let resp = sim
        .flink(Method::DELETE, &name)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 202);
}

#[tokio::test]
async fn a_lost_answer_comes_after_the_work_is_done() {
    let sim = support::start();
    sim.set_faults(json!({
        "lost_answer_fraction": { "flink": 1.0 },
        "lost_answer_statuses": [504],
    }))
    .await;
    let name = unique("lost");
    let resp = show_tables(&sim, &name).send().await.expect("create");
    assert_eq!(resp.status(), 504, "{}", text(resp).await);
    let entry = last_logged(&sim).await;
    assert_eq!(entry["fault"], "lost_answer");
    // The client saw a failure, yet the statement exists; GETs are not affected by default.
    assert!(
        sim.get(&name).await.is_some(),
        "the create was not carried out"
    );
    // A retried create meets the statement it made.
    let resp = show_tables(&sim, &name).send().await.expect("create again");
    assert_eq!(resp.status(), 504, "the retry's answer is lost too");
    let resp = sim
        .flink(Method::DELETE, &name)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 504);
    sim.wait_gone(&name).await;

    // Only the APIs named: the registry's answers arrive.
    let resp = sim
        .sr(Method::DELETE, "/subjects/nothing-here-value")
        .send()
        .await
        .expect("sr");
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn a_lost_answer_can_outlast_the_client() {
    let sim = support::start();
    sim.set_faults(json!({
        "lost_answer_fraction": { "flink": 1.0 },
        "lost_answer_hang_ms": 3000,
    }))
    .await;
    let name = unique("hang");
    let started = Instant::now();
    let err = show_tables(&sim, &name)
        .timeout(Duration::from_millis(500))
        .send()
        .await
        .expect_err("the client gives up first");
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_millis(2500));
    assert!(
        sim.get(&name).await.is_some(),
        "the create was not carried out"
    );
}

#[tokio::test]
async fn deleted_statements_linger_in_the_list_for_list_lag_ms() {
    let sim = support::start();
    sim.set_timings(json!({ "deleting_ms": 100, "list_lag_ms": 1500 }))
        .await;
    let name = unique("ghost");
    sim.run(&name, "SHOW TABLES", "COMPLETED").await;
    let resp = sim
        .flink(Method::DELETE, &name)
        .send()
        .await
        .expect("delete");
    assert_eq!(resp.status(), 202);
    sim.wait_gone(&name).await;
    let gone_at = Instant::now();
    // GET says gone; the list still shows it, as it was last seen.
    let now = sim.listed().await;
    assert!(
        now.contains(&(name.clone(), "DELETING".to_string())),
        "{now:?}"
    );
    wait_until("the list to catch up", Duration::from_secs(10), || async {
        (!sim.listed().await.iter().any(|(n, _)| *n == name)).then_some(())
    })
    .await;
    assert!(
        gone_at.elapsed() >= Duration::from_millis(1000),
        "it lingered only {:?}",
        gone_at.elapsed()
    );

    // The same name created again lists once: as the old incarnation (DELETING) until the
    // list shows the new one, then as the new one.
    sim.set_timings(json!({ "list_lag_ms": 5000, "list_new_lag_ms": 1500, "name_hold_ms": 300 }))
        .await;
    let again = unique("ghost");
    sim.run(&again, "SHOW TABLES", "COMPLETED").await;
    sim.flink(Method::DELETE, &again)
        .send()
        .await
        .expect("delete");
    sim.wait_gone(&again).await;
    // The name is held a moment after the delete (§F.3): 409 until it frees up.
    let body =
        json!({ "name": again, "spec": { "statement": "SHOW TABLES", "properties": sim.props() } });
    let recreated_at = wait_until("the name to free up", Duration::from_secs(10), || async {
        let resp = sim
            .flink(Method::POST, "")
            .json(&body)
            .send()
            .await
            .expect("create");
        match resp.status().as_u16() {
            201 => Some(Instant::now()),
            409 => None,
            s => panic!("create {again}: {s}"),
        }
    })
    .await;
    let early = sim.listed().await;
    let entries: Vec<_> = early.iter().filter(|(n, _)| *n == again).collect();
    if recreated_at.elapsed() < Duration::from_millis(1200) {
        assert_eq!(entries, vec![&(again.clone(), "DELETING".to_string())]);
    }
    wait_until(
        "the new one to be listed",
        Duration::from_secs(10),
        || async {
            sim.listed()
                .await
                .contains(&(again.clone(), "COMPLETED".to_string()))
                .then_some(())
        },
    )
    .await;
    let now = sim.listed().await;
    let entries: Vec<_> = now.iter().filter(|(n, _)| *n == again).collect();
    assert_eq!(entries, vec![&(again.clone(), "COMPLETED".to_string())]);
}
