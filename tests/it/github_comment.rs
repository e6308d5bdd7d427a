//! The sticky PR comment against a fake of GitHub's REST API: created once, updated in place,
//! found beyond the first page, posted on the merged PR after a push, and skipped (with the
//! reason) whenever it cannot or must not be posted.

use ccaf_housekeeping::github::comment::marker;
use ccaf_housekeeping::github::{publish, CommentMode, CommentOutcome, Masker};
use ccaf_housekeeping::report::Outcome;
use test_support::random_secret;

use crate::github_support::{
    context, empty_report, fixture, rebuild_report, FakeGithub, TokenKind, ACTIONS_BOT,
    GRAPHQL_PATH, MERGE_SHA,
};

/// The environment of the reports `github_support` builds.
const ENV: &str = "env-7qx2p0";

fn token() -> String {
    format!("ghs_{}", random_secret(36).replace(['+', '/'], "x"))
}

fn masker() -> Masker {
    Masker::new()
}

#[tokio::test]
async fn first_run_creates_the_comment_and_the_second_updates_it() {
    let fake = FakeGithub::start(&token(), &[42]).await;
    let other = fake.seed_comment(42, "jdoe", "Looks good to me");
    let ctx = context(&fake, "pull_request", Some("pull_request.opened.json"));

    let first = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    let CommentOutcome::Created(created) = &first else {
        panic!("expected a new comment, got {first:?}");
    };
    assert_eq!(created.pr, 42);
    assert!(
        created
            .html_url
            .ends_with(&format!("/pull/42#issuecomment-{}", created.id)),
        "{}",
        created.html_url
    );

    let comments = fake.comments(42);
    assert_eq!(comments.len(), 2, "{comments:?}");
    let ours = comments.iter().find(|c| c.id == created.id).unwrap();
    assert!(ours.body.starts_with(&marker("flight-consolidator", ENV)));
    for expected in [
        "flight-consolidator-skyone-avro-0b7d33f1",
        "Torn down (3)",
        "Rebuilt (2)",
        "Unchanged (1)",
        "Tables dropped (2)",
        "Failed (2)",
        "Object &#39;flights_airline&#39; not found",
        "https://github.com/acme/flight-apps/actions/runs/9876543210",
    ] {
        assert!(
            ours.body.contains(expected),
            "missing {expected:?} in\n{}",
            ours.body
        );
    }

    // Second run: everything succeeded this time.
    let second_report = empty_report("buildup", Outcome::Succeeded, vec![]);
    let second = publish(&second_report, &ctx, CommentMode::Auto, &masker()).await;
    assert_eq!(
        second,
        CommentOutcome::Updated(created.clone()),
        "the same comment must be updated"
    );
    let comments = fake.comments(42);
    assert_eq!(comments.len(), 2, "no second comment: {comments:?}");
    let ours = comments.iter().find(|c| c.id == created.id).unwrap();
    assert!(
        ours.body.contains("`buildup` of `flight-consolidator`"),
        "{}",
        ours.body
    );
    assert!(!ours.body.contains("Failed ("), "{}", ours.body);
    let untouched = comments.iter().find(|c| c.id == other).unwrap();
    assert_eq!(untouched.body, "Looks good to me");

    let lines = fake.request_lines().await;
    assert_eq!(
        lines,
        vec![
            // Who the token is: an installation's, so GraphQL's viewer.
            "GET /user".to_string(),
            "POST /api/graphql".to_string(),
            "GET /repos/acme/flight-apps/issues/42/comments?per_page=100&page=1".to_string(),
            "POST /repos/acme/flight-apps/issues/42/comments".to_string(),
            "GET /user".to_string(),
            "POST /api/graphql".to_string(),
            "GET /repos/acme/flight-apps/issues/42/comments?per_page=100&page=1".to_string(),
            format!(
                "PATCH /repos/acme/flight-apps/issues/comments/{}",
                created.id
            ),
        ]
    );
    // Every REST request went to GITHUB_API_URL, path included (GitHub Enterprise Server), and
    // GraphQL to GITHUB_GRAPHQL_URL beside it.
    for r in fake.requests().await {
        assert!(
            r.url.path().starts_with("/api/v3/") || r.url.path() == GRAPHQL_PATH,
            "{}",
            r.url
        );
    }
}

#[tokio::test]
async fn a_marker_comment_beyond_the_first_page_is_found_and_updated() {
    let fake = FakeGithub::start(&token(), &[42]).await;
    for i in 0..150 {
        fake.seed_comment(42, "jdoe", &format!("comment {i}"));
    }
    // Another app's sticky comment must not be taken for ours.
    let other_app = fake.seed_comment(
        42,
        "github-actions[bot]",
        &format!("{}\nold report", marker("other-app", ENV)),
    );
    let ours = fake.seed_comment(
        42,
        "github-actions[bot]",
        &format!("{}\nold report", marker("flight-consolidator", ENV)),
    );
    // A comment quoting the marker is not ours either (it does not start with it).
    fake.seed_comment(
        42,
        "jdoe",
        &format!(
            "> {}\nwhy is this here?",
            marker("flight-consolidator", ENV)
        ),
    );
    let ctx = context(&fake, "pull_request", Some("pull_request.opened.json"));

    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    let CommentOutcome::Updated(c) = &outcome else {
        panic!("expected the existing comment to be updated, got {outcome:?}");
    };
    assert_eq!(c.id, ours);
    let comments = fake.comments(42);
    assert_eq!(comments.len(), 153, "no comment added");
    let body = &comments.iter().find(|x| x.id == ours).unwrap().body;
    assert!(body.contains("Torn down (3)"), "{body}");
    let other = &comments.iter().find(|x| x.id == other_app).unwrap().body;
    assert!(other.ends_with("old report"), "{other}");

    let lines = fake.request_lines().await;
    assert_eq!(
        lines,
        vec![
            "GET /user".to_string(),
            "POST /api/graphql".to_string(),
            "GET /repos/acme/flight-apps/issues/42/comments?per_page=100&page=1".to_string(),
            "GET /repos/acme/flight-apps/issues/42/comments?per_page=100&page=2".to_string(),
            format!("PATCH /repos/acme/flight-apps/issues/comments/{ours}"),
        ]
    );
}

#[tokio::test]
async fn a_fork_pr_gets_no_comment_and_no_request() {
    let fake = FakeGithub::start(&token(), &[43]).await;
    let ctx = context(&fake, "pull_request", Some("pull_request.fork.json"));
    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    let CommentOutcome::Skipped(why) = &outcome else {
        panic!("expected a skip, got {outcome:?}");
    };
    assert!(why.contains("fork") && why.contains("#43"), "{why}");
    assert!(outcome
        .summary_line()
        .starts_with("No PR comment posted: PR #43 comes from a fork"));
    assert!(fake.requests().await.is_empty());
    // `always` cannot make a read-only token write either.
    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Always, &masker()).await;
    assert!(matches!(outcome, CommentOutcome::Skipped(_)), "{outcome:?}");
    assert!(fake.requests().await.is_empty());
}

#[tokio::test]
async fn no_token_means_no_comment() {
    let fake = FakeGithub::start(&token(), &[42]).await;
    let mut ctx = context(&fake, "pull_request", Some("pull_request.opened.json"));
    ctx.token = None;
    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    assert_eq!(
        outcome,
        CommentOutcome::Skipped("no GitHub token (input `github-token`)".into())
    );
    assert!(fake.requests().await.is_empty());
}

#[tokio::test]
async fn a_token_without_write_access_is_skipped_with_the_reason() {
    let fake = FakeGithub::start(&token(), &[42]).await;
    fake.fail_create(403, "Resource not accessible by integration");
    let ctx = context(&fake, "pull_request", Some("pull_request.opened.json"));
    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    let CommentOutcome::Skipped(why) = &outcome else {
        panic!("expected a skip, got {outcome:?}");
    };
    assert!(
        why.contains("HTTP 403: Resource not accessible by integration")
            && why.contains("pull-requests: write"),
        "{why}"
    );
    assert!(fake.comments(42).is_empty());
    let lines = fake.request_lines().await;
    // One POST: a 403 without rate-limit headers is not retried.
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("POST /repos/"))
            .count(),
        1,
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_bad_token_is_skipped_not_fatal() {
    let fake = FakeGithub::start(&token(), &[42]).await;
    let mut ctx = context(&fake, "pull_request", Some("pull_request.opened.json"));
    ctx.token = Some(ccaf_housekeeping::secrets::Secret::new("ghs_wrong"));
    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    let CommentOutcome::Skipped(why) = &outcome else {
        panic!("expected a skip, got {outcome:?}");
    };
    assert!(why.contains("HTTP 401: Bad credentials"), "{why}");
}

#[tokio::test]
async fn a_push_after_a_merge_comments_on_the_merged_pr() {
    let fake = FakeGithub::start(&token(), &[39, 42, 44]).await;
    let pulls: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("github/commit_pulls.json")).unwrap(),
    )
    .unwrap();
    fake.set_commit_pulls(MERGE_SHA, pulls);
    let ctx = context(&fake, "push", Some("push.merge.json"));

    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    let CommentOutcome::Created(c) = &outcome else {
        panic!("expected a comment on the merged PR, got {outcome:?}");
    };
    // #44 (open, listed first) and #39 (merged, another merge commit) are not it.
    assert_eq!(c.pr, 42);
    assert_eq!(fake.comments(42).len(), 1);
    assert!(fake.comments(39).is_empty() && fake.comments(44).is_empty());
    let first = &fake.requests().await[0];
    assert_eq!(first.method.as_str(), "GET");
    assert_eq!(
        first.url.path(),
        format!("/api/v3/repos/acme/flight-apps/commits/{MERGE_SHA}/pulls")
    );
    // (octocrab also sends `target=<sha>` as a query parameter; GitHub ignores it.)
    assert!(
        first
            .url
            .query_pairs()
            .any(|(k, v)| k == "per_page" && v == "100"),
        "{}",
        first.url
    );
}

#[tokio::test]
async fn a_push_without_a_merged_pr_is_skipped_in_auto_mode() {
    let fake = FakeGithub::start(&token(), &[44]).await;
    let pulls: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("github/commit_pulls.json")).unwrap(),
    )
    .unwrap();
    // Only the open PR is associated with the commit.
    fake.set_commit_pulls(MERGE_SHA, serde_json::json!([pulls[0].clone()]));
    let ctx = context(&fake, "push", Some("push.merge.json"));
    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    assert_eq!(
        outcome,
        CommentOutcome::Skipped("no merged PR is associated with commit 3a0f86fb8db8".into())
    );
    // `always` takes the open PR.
    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Always, &masker()).await;
    assert!(
        matches!(&outcome, CommentOutcome::Created(c) if c.pr == 44),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn other_events_need_always_or_a_pr_number() {
    let fake = FakeGithub::start(&token(), &[42]).await;
    let ctx = context(&fake, "workflow_dispatch", Some("workflow_dispatch.json"));
    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    let CommentOutcome::Skipped(why) = &outcome else {
        panic!("expected a skip, got {outcome:?}");
    };
    assert!(why.contains("workflow_dispatch"), "{why}");
    assert!(fake.requests().await.is_empty());

    let ctx = ctx.with_pr_number(Some(42));
    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    assert!(
        matches!(&outcome, CommentOutcome::Created(c) if c.pr == 42),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn never_sends_no_request_at_all() {
    let fake = FakeGithub::start(&token(), &[42]).await;
    let ctx = context(&fake, "pull_request", Some("pull_request.opened.json"));
    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Never, &masker()).await;
    assert_eq!(
        outcome,
        CommentOutcome::Skipped("the `comment` input is `never`".into())
    );
    assert!(fake.requests().await.is_empty());
}

#[tokio::test]
async fn no_secret_reaches_any_request_body() {
    let fake = FakeGithub::start(&token(), &[42]).await;
    let secret = random_secret(40);
    let mut report = rebuild_report();
    report.notes.push(format!("a note that quotes {secret}"));
    let failed = report.steps.iter_mut().find(|s| s.error.is_some()).unwrap();
    let e = failed.error.as_mut().unwrap();
    e.message = format!("401 for key {secret}");
    e.exceptions.push(format!("Auth: {secret} | <{secret}>"));
    let mut m = Masker::new();
    m.add(&secret);
    let ctx = context(&fake, "pull_request", Some("pull_request.opened.json"));

    let outcome = publish(&report, &ctx, CommentMode::Auto, &m).await;
    assert!(matches!(outcome, CommentOutcome::Created(_)), "{outcome:?}");
    let requests = fake.requests().await;
    assert!(!requests.is_empty());
    for r in &requests {
        let body = String::from_utf8_lossy(&r.body);
        assert!(
            !body.contains(&secret),
            "secret in the body of {} {}",
            r.method,
            r.url
        );
        assert!(!body.contains(&fake.token), "token in a request body");
        assert!(!r.url.as_str().contains(&secret));
    }
    let body = &fake.comments(42)[0].body;
    assert!(body.contains("401 for key ***"), "{body}");
}

#[tokio::test]
async fn a_missing_event_payload_is_said_so() {
    let fake = FakeGithub::start(&token(), &[42]).await;
    let mut ctx = context(&fake, "pull_request", Some("pull_request.opened.json"));
    ctx.event_path = Some(fixture("events/does-not-exist.json"));
    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    let CommentOutcome::Skipped(why) = &outcome else {
        panic!("expected a skip, got {outcome:?}");
    };
    assert!(
        why.contains("payload") && why.contains("missing or unreadable"),
        "{why}"
    );
    assert!(fake.requests().await.is_empty());
}

#[test]
fn a_plan_comment_lists_what_would_change_with_reasons() {
    use ccaf_housekeeping::github::comment::render;
    use ccaf_housekeeping::github::GithubContext;
    use ccaf_housekeeping::report::{Kind, Status};

    use crate::github_support::step;

    let mut del = step(
        "teardown",
        "delete",
        Kind::Statement,
        "app-a-1",
        Status::Planned,
    );
    del.reason = "SQL changed: `app-a-2` replaces it".into();
    let drop = step(
        "teardown",
        "drop_table",
        Kind::Table,
        "orders",
        Status::Planned,
    );
    let create = step(
        "buildup",
        "create",
        Kind::Statement,
        "app-a-2",
        Status::Planned,
    );
    let same = step(
        "buildup",
        "unchanged",
        Kind::Statement,
        "app-b-1",
        Status::Unchanged,
    );
    let mut report = empty_report("plan", Outcome::Planned, vec![del, drop, create, same]);
    report.plan_for = Some("buildup".parse().unwrap());
    let ctx = GithubContext::from_lookup(|_| None, None);
    let body = render(&report, &ctx);
    assert!(
        body.starts_with(&marker("flight-consolidator", ENV)),
        "{body}"
    );
    assert!(
        body.contains("### 📝 ccaf-housekeeping: plan for `buildup` of `flight-consolidator`"),
        "{body}"
    );
    assert!(
        body.contains(
            "**Would tear down (1)**\n\n- `app-a-1`: SQL changed: `app-a-2` replaces it\n"
        ),
        "{body}"
    );
    assert!(
        body.contains("**Would drop tables (1)**\n\n- `orders`: drop\\_table as planned\n"),
        "{body}"
    );
    assert!(
        body.contains("**Would build up (1)**\n\n- `app-a-2`: create as planned\n"),
        "{body}"
    );
    assert!(body.contains("**Unchanged (1)**"), "{body}");
    // No workflow run outside Actions: no link.
    assert!(!body.contains("workflow run"), "{body}");
}

#[tokio::test]
async fn each_environment_keeps_its_own_comment_on_a_pr() {
    let fake = FakeGithub::start(&token(), &[42]).await;
    let ctx = context(&fake, "pull_request", Some("pull_request.opened.json"));
    let test_env = rebuild_report();
    let mut staging = rebuild_report();
    staging.environment_id = "env-staging1".into();

    let CommentOutcome::Created(first) =
        publish(&test_env, &ctx, CommentMode::Auto, &masker()).await
    else {
        panic!("the test environment's comment is created");
    };
    let CommentOutcome::Created(second) =
        publish(&staging, &ctx, CommentMode::Auto, &masker()).await
    else {
        panic!("staging gets a comment of its own, not the test environment's");
    };
    assert_ne!(first.id, second.id);
    let CommentOutcome::Updated(again) =
        publish(&test_env, &ctx, CommentMode::Auto, &masker()).await
    else {
        panic!("the test environment's comment is updated");
    };
    assert_eq!(again.id, first.id);
    let comments = fake.comments(42);
    assert_eq!(comments.len(), 2);
    let body = |id: u64| comments.iter().find(|c| c.id == id).unwrap().body.clone();
    assert!(body(first.id).starts_with(&marker("flight-consolidator", ENV)));
    assert!(body(second.id).starts_with(&marker("flight-consolidator", "env-staging1")));
}

/// `METHOD path` of the requests that change a comment.
async fn writes(fake: &FakeGithub) -> Vec<String> {
    fake.request_lines()
        .await
        .into_iter()
        .filter(|l| l.starts_with("PATCH") || l.starts_with("POST /repos/"))
        .collect()
}

#[tokio::test]
async fn a_comment_by_another_author_carrying_our_marker_is_never_edited() {
    let fake = FakeGithub::start(&token(), &[42]).await;
    let mark = marker("flight-consolidator", ENV);
    // Anyone who can comment can write the marker: first, at the start of a body (as ours are)…
    let impostor = fake.seed_comment(42, "mallory", &format!("{mark}\nnothing to see"));
    // … inside one, and as a person whose login is the app's GraphQL name.
    let quoting = fake.seed_comment(42, "jdoe", &format!("see below\n{mark}\n"));
    let namesake = fake.seed_comment(42, "github-actions", &format!("{mark}\nnot the bot"));
    let ctx = context(&fake, "pull_request", Some("pull_request.opened.json"));

    let first = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    let CommentOutcome::Created(created) = &first else {
        panic!("expected a comment of our own, got {first:?}");
    };
    assert_eq!(created.warning, None);
    let second = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    assert!(
        matches!(&second, CommentOutcome::Updated(c) if c.id == created.id),
        "{second:?}"
    );

    let comments = fake.comments(42);
    assert_eq!(comments.len(), 4, "{comments:#?}");
    let body = |id: u64| comments.iter().find(|c| c.id == id).unwrap().body.clone();
    assert_eq!(body(impostor), format!("{mark}\nnothing to see"));
    assert_eq!(body(quoting), format!("see below\n{mark}\n"));
    assert_eq!(body(namesake), format!("{mark}\nnot the bot"));
    let ours = comments.iter().find(|c| c.id == created.id).unwrap();
    assert_eq!(ours.login, ACTIONS_BOT);
    assert!(ours.body.starts_with(&mark));
    assert_eq!(
        writes(&fake).await,
        vec![
            "POST /repos/acme/flight-apps/issues/42/comments".to_string(),
            format!(
                "PATCH /repos/acme/flight-apps/issues/comments/{}",
                created.id
            ),
        ]
    );
}

#[tokio::test]
async fn a_personal_token_finds_its_own_comment_through_get_user() {
    let fake = FakeGithub::start_as(&token(), &[42], TokenKind::Personal("octo-dev".into())).await;
    let mark = marker("flight-consolidator", ENV);
    // The workflow token's comment is another author's for this token.
    let bots = fake.seed_comment(42, ACTIONS_BOT, &format!("{mark}\nthe workflow's"));
    let ours = fake.seed_comment(42, "octo-dev", &format!("{mark}\nold report"));
    let ctx = context(&fake, "pull_request", Some("pull_request.opened.json"));

    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    assert!(
        matches!(&outcome, CommentOutcome::Updated(c) if c.id == ours),
        "{outcome:?}"
    );
    let comments = fake.comments(42);
    assert_eq!(comments.len(), 2);
    let body = |id: u64| comments.iter().find(|c| c.id == id).unwrap().body.clone();
    assert!(body(ours).contains("Torn down (3)"));
    assert_eq!(body(bots), format!("{mark}\nthe workflow's"));
    // `GET /user` answered: no GraphQL.
    assert_eq!(
        fake.request_lines().await,
        vec![
            "GET /user".to_string(),
            "GET /repos/acme/flight-apps/issues/42/comments?per_page=100&page=1".to_string(),
            format!("PATCH /repos/acme/flight-apps/issues/comments/{ours}"),
        ]
    );
}

#[tokio::test]
async fn an_installation_token_finds_its_bot_comment_through_graphql() {
    let fake = FakeGithub::start(&token(), &[42]).await;
    let mark = marker("flight-consolidator", ENV);
    let someone = fake.seed_comment(42, "mallory", &format!("{mark}\nfirst, but not ours"));
    let ours = fake.seed_comment(42, ACTIONS_BOT, &format!("{mark}\nold report"));
    let ctx = context(&fake, "pull_request", Some("pull_request.opened.json"));

    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    assert!(
        matches!(&outcome, CommentOutcome::Updated(c) if c.id == ours && c.warning.is_none()),
        "{outcome:?}"
    );
    let comments = fake.comments(42);
    let body = |id: u64| comments.iter().find(|c| c.id == id).unwrap().body.clone();
    assert!(body(ours).contains("Torn down (3)"));
    assert_eq!(body(someone), format!("{mark}\nfirst, but not ours"));
    assert_eq!(
        fake.request_lines().await,
        vec![
            "GET /user".to_string(),
            "POST /api/graphql".to_string(),
            "GET /repos/acme/flight-apps/issues/42/comments?per_page=100&page=1".to_string(),
            format!("PATCH /repos/acme/flight-apps/issues/comments/{ours}"),
        ]
    );
    // The query GitHub answers for every kind of token.
    let requests = fake.requests().await;
    let graphql: serde_json::Value = requests[1].body_json().unwrap();
    assert_eq!(graphql["query"], "query { viewer { login } }");
}

#[tokio::test]
async fn without_the_tokens_identity_a_new_comment_is_posted_and_none_edited() {
    let failures = [
        (
            "a GraphQL error",
            200,
            serde_json::json!({"errors": [{"type": "FORBIDDEN", "message": "Resource not accessible by integration"}]}),
            "GraphQL: Resource not accessible by integration",
        ),
        (
            "an outage",
            502,
            serde_json::json!({"message": "Server Error"}),
            "HTTP 502",
        ),
    ];
    for (what, status, answer, cause) in failures {
        let fake = FakeGithub::start(&token(), &[42]).await;
        let mark = marker("flight-consolidator", ENV);
        let earlier = fake.seed_comment(42, ACTIONS_BOT, &format!("{mark}\nold report"));
        fake.fail_graphql(status, answer);
        let ctx = context(&fake, "pull_request", Some("pull_request.opened.json"));

        let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
        let CommentOutcome::Created(c) = &outcome else {
            panic!("{what}: expected a new comment, got {outcome:?}");
        };
        let warning = c.warning.as_deref().unwrap_or_default();
        assert!(
            warning.contains("identity could not be found") && warning.contains(cause),
            "{what}: {warning}"
        );
        assert!(
            outcome
                .summary_line()
                .contains("identity could not be found"),
            "{what}: {}",
            outcome.summary_line()
        );
        let comments = fake.comments(42);
        assert_eq!(comments.len(), 2, "{what}");
        let old = comments.iter().find(|x| x.id == earlier).unwrap();
        assert_eq!(old.body, format!("{mark}\nold report"), "{what}");
        let mut lines = fake.request_lines().await;
        // (A 5xx is retried.)
        lines.dedup();
        assert_eq!(
            lines,
            vec![
                "GET /user".to_string(),
                "POST /api/graphql".to_string(),
                "POST /repos/acme/flight-apps/issues/42/comments".to_string(),
            ],
            "{what}: no listing, no edit"
        );
    }
}

#[tokio::test]
async fn a_pr_between_branches_of_a_repository_that_is_itself_a_fork_gets_its_comment() {
    let fake = FakeGithub::start(&token(), &[42]).await;
    let ctx = context(
        &fake,
        "pull_request",
        Some("pull_request.same_repo_in_a_fork.json"),
    );
    let outcome = publish(&rebuild_report(), &ctx, CommentMode::Auto, &masker()).await;
    assert!(
        matches!(&outcome, CommentOutcome::Created(c) if c.pr == 42),
        "{outcome:?}"
    );
    assert_eq!(fake.comments(42).len(), 1);
}
