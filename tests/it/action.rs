//! The action as the runner runs it: the real binary, `INPUT_*` variables, `GITHUB_*` files and
//! event payloads, the local stack, and the fake GitHub API. The step outputs, the summary and the
//! sticky comment must say what happened, and no secret may appear anywhere but in the
//! `::add-mask::` lines the runner consumes.

use crate::github_support::{fixture, FakeGithub, MERGE_SHA, OWNER, REPO};
use test_support::SimOptions;

use crate::harness::{write, App, Cloud, Run, Tables};

const TOKEN: &str = "ghs_e2eToken0123456789abcdefABCDEF";

fn write_app(app: &App) -> Tables {
    let t = Tables::new();
    let mut stmts = t.statements();
    stmts.truncate(3);
    write(app, &stmts);
    t
}

/// The runner's variables for `event` (a fixture name), talking to `fake`.
fn runner_env(fake: &FakeGithub, event_name: &str, event: Option<&str>) -> Vec<(String, String)> {
    let mut v = vec![
        ("GITHUB_ACTIONS", "true".to_string()),
        ("GITHUB_EVENT_NAME", event_name.to_string()),
        ("GITHUB_REPOSITORY", format!("{OWNER}/{REPO}")),
        ("GITHUB_SERVER_URL", "https://github.com".to_string()),
        ("GITHUB_API_URL", fake.api_url()),
        ("GITHUB_GRAPHQL_URL", fake.graphql_url()),
        ("GITHUB_RUN_ID", "9876543210".to_string()),
        ("GITHUB_SHA", MERGE_SHA.to_string()),
    ];
    if let Some(e) = event {
        v.push((
            "GITHUB_EVENT_PATH",
            fixture(&format!("events/{e}")).display().to_string(),
        ));
    }
    v.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn run(app: &App, command: &str, env: &[(String, String)], inputs: &[(&str, &str)]) -> Run {
    let mut all: Vec<(&str, &str)> = vec![("comment", "auto"), ("github-token", TOKEN)];
    all.extend_from_slice(inputs);
    app.run_with(command, &all, env)
}

/// Every secret of the run: none may show outside `::add-mask::` lines.
fn secrets(app: &App) -> Vec<String> {
    vec![
        app.cloud.flink.1.clone(),
        app.cloud.sr.1.clone(),
        TOKEN.to_string(),
    ]
}

async fn assert_no_secret(app: &App, r: &Run, fake: &FakeGithub) {
    let stdout: String = r
        .stdout()
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n");
    let outputs = r.outputs.values().cloned().collect::<Vec<_>>().join("\n");
    let bodies: Vec<String> = fake
        .requests()
        .await
        .iter()
        .map(|q| String::from_utf8_lossy(&q.body).into_owned())
        .collect();
    for s in secrets(app) {
        for (what, text) in [
            ("stdout", &stdout),
            ("stderr", &r.stderr()),
            ("outputs", &outputs),
            ("summary", &r.summary),
        ] {
            assert!(!text.contains(&s), "a secret leaked into {what}");
        }
        assert!(
            !bodies.iter().any(|b| b.contains(&s)),
            "a secret leaked into a request body"
        );
    }
    assert!(
        r.stdout()
            .contains(&format!("::add-mask::{}", app.cloud.flink.1)),
        "the Flink secret is masked before use"
    );
}

#[tokio::test]
async fn a_pull_request_run_reports_outputs_summary_and_one_sticky_comment() {
    let fake = FakeGithub::start(TOKEN, &[42]).await;
    let app = App::new("action-pr");
    write_app(&app);
    let env = runner_env(&fake, "pull_request", Some("pull_request.opened.json"));

    let built = run(&app, "buildup", &env, &[]).expect(0);
    // Outputs parse with the runner's rules and equal what happened.
    let report = built.report();
    let mut created: Vec<String> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["action"] == "create" && s["status"] == "done")
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    created.sort();
    let mut rebuilt = built.list("rebuilt");
    rebuilt.sort();
    assert_eq!(rebuilt, created);
    assert_eq!(rebuilt.len(), 3);
    assert!(built.list("torn-down").is_empty() && built.list("failed").is_empty());
    let live = app.app_statements().await;
    assert_eq!(
        live.keys().cloned().collect::<Vec<_>>(),
        rebuilt,
        "outputs match the cloud"
    );
    for name in &rebuilt {
        assert!(
            built.summary.contains(name.as_str()),
            "summary names {name}"
        );
    }
    let comments = fake.comments(42);
    assert_eq!(comments.len(), 1, "one comment");
    for name in &rebuilt {
        assert!(comments[0].body.contains(name.as_str()));
    }
    assert!(comments[0]
        .body
        .contains("https://github.com/acme/flight-apps/actions/runs/9876543210"));
    assert!(
        built.stdout().contains("::group::"),
        "a group per stage in the log"
    );
    assert_no_secret(&app, &built, &fake).await;

    // The second run updates the same comment.
    let torn = run(&app, "teardown", &env, &[]).expect(0);
    let comments = fake.comments(42);
    assert_eq!(comments.len(), 1, "still one comment");
    assert!(comments[0].body.contains("teardown"));
    let lines = fake.request_lines().await;
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("POST /repos/"))
            .count(),
        1,
        "{lines:#?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("PATCH")).count(),
        1,
        "{lines:#?}"
    );
    assert_eq!(torn.list("torn-down").len(), 3);
    assert_eq!(torn.list("dropped-tables").len(), 2);
    assert_no_secret(&app, &torn, &fake).await;
}

#[tokio::test]
async fn text_from_the_api_mentions_no_one_and_links_nowhere_in_the_comment_and_summary() {
    let fake = FakeGithub::start(TOKEN, &[42]).await;
    let app = App::in_cloud(
        "action-defang",
        test_support::StackEnv::load(),
        Cloud::private(SimOptions::default()),
    );
    app.write_manifest(&[("show", "SHOW TABLES")]);
    // The Flink API refuses every create with a message that mentions and links.
    app.cloud
        .control()
        .set_faults(serde_json::json!({
            "forbidden_methods": ["POST"],
            "apis": ["flink"],
            "error_message": "denied: ask @someone or @acme/oncall, see https://evil.example/x, \
                              www.evil.example or mail ops@evil.example",
        }))
        .await;
    let env = runner_env(&fake, "pull_request", Some("pull_request.opened.json"));
    let r = run(&app, "buildup", &env, &[]);
    assert_eq!(r.code(), 1, "{}\n{}", r.stdout(), r.stderr());
    app.cloud.control().assert_injected("forbidden", 1).await;
    let comments = fake.comments(42);
    assert_eq!(comments.len(), 1, "{comments:?}");
    for (what, text) in [("comment", &comments[0].body), ("summary", &r.summary)] {
        assert!(
            text.contains("someone") && text.contains("evil.example"),
            "{what}: the API's message is not shown:\n{text}"
        );
        for planted in ["@someone", "@acme", "https://evil", "www.evil", "ops@evil"] {
            assert!(
                !text.to_lowercase().contains(planted),
                "{what}: {planted} survived:\n{text}"
            );
        }
    }
}

#[tokio::test]
async fn a_forks_head_on_pull_request_target_or_workflow_run_changes_nothing_unless_allowed() {
    let fake = FakeGithub::start(TOKEN, &[43]).await;
    let app = App::in_cloud(
        "action-fork-head",
        test_support::StackEnv::load(),
        Cloud::private(SimOptions::default()),
    );
    app.write_manifest(&[("show", "SHOW TABLES")]);
    let target = runner_env(&fake, "pull_request_target", Some("pull_request.fork.json"));
    // A workflow_run of a fork's branch, as the payload names the repositories.
    let payload = app.path("workflow_run.json");
    std::fs::write(
        &payload,
        serde_json::json!({
            "repository": {"full_name": format!("{OWNER}/{REPO}"), "id": 812340001},
            "workflow_run": {
                "head_repository": {"full_name": "mallory/flight-apps", "id": 812340002},
                "head_sha": MERGE_SHA,
            },
        })
        .to_string(),
    )
    .unwrap();
    let mut run_event = runner_env(&fake, "workflow_run", None);
    run_event.push(("GITHUB_EVENT_PATH".into(), payload.display().to_string()));
    for (event, env) in [
        ("pull_request_target", &target),
        ("workflow_run", &run_event),
    ] {
        for command in ["buildup", "teardown", "rebuild"] {
            let r = run(&app, command, env, &[]).expect(2);
            let stderr = r.stderr();
            assert!(
                stderr.contains("input `allow-fork-head`")
                    && stderr.contains("mallory/flight-apps"),
                "{event} {command}:\n{stderr}"
            );
            assert_eq!(
                stderr.lines().count(),
                1,
                "{event} {command}: one message\n{stderr}"
            );
            assert!(
                r.stdout()
                    .lines()
                    .any(|l| l.starts_with("::error title=") && l.contains("allow-fork-head")),
                "{event} {command}: no annotation naming the input:\n{}",
                r.stdout()
            );
        }
        let r = run(&app, "adopt", env, &[("adopt", "x-*")]).expect(2);
        assert!(r.stderr().contains("allow-fork-head"), "{event} adopt");
    }
    // Refused before any request: the cloud and GitHub heard nothing.
    assert!(
        app.cloud.control().requests().await.is_empty(),
        "a request reached the cloud"
    );
    assert!(fake.requests().await.is_empty(), "a request reached GitHub");
    // A plan changes nothing: it runs.
    run(&app, "plan", &target, &[]).expect(0);
    // Allowed: it runs.
    let built = run(&app, "buildup", &target, &[("allow-fork-head", "true")]).expect(0);
    assert_eq!(built.list("rebuilt").len(), 1);
    run(&app, "teardown", &run_event, &[("allow-fork-head", "true")]).expect(0);
    assert!(app.app_statements().await.is_empty());
}

#[tokio::test]
async fn a_sticky_comment_beyond_the_first_page_is_found() {
    let fake = FakeGithub::start(TOKEN, &[42]).await;
    for i in 0..150 {
        fake.seed_comment(42, "someone", &format!("comment {i}"));
    }
    let app = App::new("action-pages");
    app.write_manifest(&[("show", "SHOW TABLES")]);
    let env = runner_env(&fake, "pull_request", Some("pull_request.opened.json"));
    run(&app, "buildup", &env, &[]).expect(0);
    run(&app, "teardown", &env, &[]).expect(0);
    let ours: Vec<_> = fake
        .comments(42)
        .into_iter()
        .filter(|c| c.body.contains(&app.name))
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "the second run found the first run's comment past page 1"
    );
    let lines = fake.request_lines().await;
    assert!(lines.iter().any(|l| l.contains("page=2")), "{lines:#?}");
}

#[tokio::test]
async fn a_push_after_a_merge_comments_on_the_merged_pr() {
    let fake = FakeGithub::start(TOKEN, &[39, 42, 44]).await;
    let pulls: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("github/commit_pulls.json")).unwrap(),
    )
    .unwrap();
    fake.set_commit_pulls(MERGE_SHA, pulls);
    let app = App::new("action-push");
    app.write_manifest(&[("show", "SHOW TABLES")]);
    let env = runner_env(&fake, "push", Some("push.merge.json"));
    let r = run(&app, "rebuild", &env, &[]).expect(0);
    assert_eq!(fake.comments(42).len(), 1, "commented on the merged PR #42");
    assert!(fake.comments(39).is_empty() && fake.comments(44).is_empty());
    assert_no_secret(&app, &r, &fake).await;
    run(&app, "teardown", &env, &[("comment", "never")]).expect(0);
}

#[tokio::test]
async fn fork_prs_missing_tokens_and_runs_without_a_pr_succeed_without_a_comment() {
    let fake = FakeGithub::start(TOKEN, &[42, 43]).await;
    let app = App::new("action-nocomment");
    app.write_manifest(&[("show", "SHOW TABLES")]);
    // (case, runner variables, inputs, what the summary says)
    type Case<'a> = (
        &'a str,
        Vec<(String, String)>,
        Vec<(&'a str, &'a str)>,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "fork",
            runner_env(&fake, "pull_request", Some("pull_request.fork.json")),
            vec![],
            "fork",
        ),
        (
            "no token",
            runner_env(&fake, "pull_request", Some("pull_request.opened.json")),
            vec![("github-token", "")],
            "token",
        ),
        (
            "no PR",
            runner_env(&fake, "workflow_dispatch", Some("workflow_dispatch.json")),
            vec![],
            "no pr comment posted",
        ),
    ];
    for (what, env, inputs, why) in cases {
        let r = run(&app, "plan", &env, &inputs).expect(0);
        assert!(
            r.summary.to_lowercase().contains(&why.to_lowercase()),
            "{what}: the summary says why no comment was posted:\n{}",
            r.summary
        );
    }
    assert!(fake.comments(42).is_empty() && fake.comments(43).is_empty());
    let posts: Vec<String> = fake
        .request_lines()
        .await
        .into_iter()
        .filter(|l| !l.starts_with("GET"))
        .collect();
    assert!(posts.is_empty(), "{posts:#?}");
}

#[tokio::test]
async fn bad_inputs_exit_2_with_an_error_annotation_naming_the_input() {
    let fake = FakeGithub::start(TOKEN, &[42]).await;
    let app = App::new("action-bad");
    app.write_manifest(&[("show", "SHOW TABLES")]);
    let env = runner_env(&fake, "pull_request", Some("pull_request.opened.json"));
    for (command, inputs, input) in [
        ("deploy", vec![], "command"),
        ("buildup", vec![("dry-run", "maybe")], "dry-run"),
        ("buildup", vec![("concurrency", "lots")], "concurrency"),
        ("buildup", vec![("timeout", "soon")], "timeout"),
        ("teardown", vec![("protect", "[x")], "protect"),
        ("buildup", vec![("app", "Not_An_App")], "app"),
        ("adopt", vec![("adopt", "*")], "adopt"),
    ] {
        let r = run(&app, command, &env, &inputs).expect(2);
        let annotation = r
            .stdout()
            .lines()
            .find(|l| l.starts_with("::error title="))
            .map(str::to_string)
            .unwrap_or_else(|| {
                panic!(
                    "{command} {inputs:?}: no ::error annotation:\n{}",
                    r.stdout()
                )
            });
        assert!(annotation.contains(input), "{annotation}");
    }
    assert!(app.app_statements().await.is_empty(), "nothing was changed");
    assert!(
        fake.requests().await.is_empty(),
        "nothing was sent to GitHub"
    );
}
