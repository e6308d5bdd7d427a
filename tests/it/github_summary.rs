//! The job summary: what it shows, that it stays under GitHub's 1 MiB for huge apps, that it is
//! masked; and the rendered examples in `docs/examples/` are what the code renders today.

use std::collections::HashMap;

use ccaf_housekeeping::github::comment::{render_at, CommentRef};
use ccaf_housekeeping::github::summary::{render, write_summary, SUMMARY_LIMIT};
use ccaf_housekeeping::github::{CommentOutcome, GithubContext, Masker};
use ccaf_housekeeping::report::{Kind, Outcome, Removed, Status, StepError};
use chrono::TimeZone;
use test_support::{random_secret, TempDir};

use crate::github_support::{empty_report, rebuild_report, step};

#[test]
fn the_summary_shows_every_step_failure_and_note() {
    let report = rebuild_report();
    let md = render(&report, None, SUMMARY_LIMIT);
    assert!(
        md.starts_with("## ❌ ccaf-housekeeping: `rebuild` of `flight-consolidator`\n"),
        "{md}"
    );
    assert!(
        md.contains("**Failed** in 1 min 24 s · environment `env-7qx2p0`"),
        "{md}"
    );
    // Counts: torn down, rebuilt, unchanged, tables dropped, failed.
    assert!(md.contains("| 3 | 2 | 1 | 2 | 2 |"), "{md}");
    for s in &report.steps {
        assert!(
            md.contains(&format!("`{}`", s.name)),
            "{} missing:\n{md}",
            s.name
        );
    }
    assert!(md.contains("### Teardown (5 steps)"));
    assert!(md.contains("### Buildup (5 steps)"));
    assert!(md.contains(
        "| ✅ | `flight-consolidator-skyone-avro-0b7d33f1`<br><sub>skyone-avro</sub> | delete |"
    ));
    assert!(md.contains("RUNNING → gone"));
    assert!(md.contains("— → COMPLETED"));
    assert!(md.contains("topic `skyone_avro`<br>subjects `skyone_avro-key`, `skyone_avro-value`"));
    // The failure, its detail and exception in a collapsible block, HTML-escaped.
    assert!(md.contains("### ❌ Failures"));
    assert!(md.contains("<details><summary>status.detail and 1 exception</summary>"));
    assert!(md.contains("Object &#39;flights_airline&#39; not found within"));
    assert!(md.contains("Not run because a step they depend on failed:"));
    // Notes keep their code spans; the rest is escaped.
    assert!(
        md.contains("- table `sunset_avro` left in place: protected by `sunset_*`"),
        "{md}"
    );
    assert!(!md.contains("size limit"));
}

#[test]
fn a_plan_shows_the_planned_steps_with_reasons() {
    let mut steps = Vec::new();
    let mut del = step(
        "teardown",
        "delete",
        Kind::Statement,
        "flight-consolidator-a-1",
        Status::Planned,
    );
    del.phase_before = Some("RUNNING".into());
    del.reason = "SQL changed: replaced".into();
    steps.push(del);
    let mut create = step(
        "buildup",
        "create",
        Kind::Statement,
        "flight-consolidator-a-2",
        Status::Planned,
    );
    create.reason = "new in the manifest".into();
    steps.push(create);
    let mut skip = step(
        "teardown",
        "skip",
        Kind::Table,
        "audit_log",
        Status::Unchanged,
    );
    skip.reason = "protected by `audit_*`".into();
    steps.push(skip);
    let mut report = empty_report("plan", Outcome::Planned, steps);
    report.plan_for = Some("rebuild".parse().unwrap());
    let md = render(&report, None, SUMMARY_LIMIT);
    assert!(
        md.starts_with("## 📝 ccaf-housekeeping: plan for `rebuild` of `flight-consolidator`"),
        "{md}"
    );
    assert!(md.contains("**Planned, nothing changed**"));
    assert!(md.contains("| statement / table | action | why | phase now |"));
    assert!(md.contains("| `flight-consolidator-a-1` | delete | SQL changed: replaced | RUNNING |"));
    assert!(md.contains("| `flight-consolidator-a-2` | create | new in the manifest | not live |"));
    assert!(
        md.contains("| table `audit_log` | skip | protected by `audit_*` |  |"),
        "{md}"
    );
    // to tear down, tables to drop, to build up, unchanged, skipped
    assert!(md.contains("| 1 | 0 | 1 | 0 | 1 |"), "{md}");
}

#[test]
fn twenty_thousand_steps_stay_under_the_limit_with_a_note() {
    let steps: Vec<_> = (0..20_000)
        .map(|i| {
            let stage = if i % 2 == 0 { "teardown" } else { "buildup" };
            let mut s = step(
                stage,
                if i % 2 == 0 { "delete" } else { "create" },
                Kind::Statement,
                &format!("flight-consolidator-statement-number-{i:05}-0123abcd"),
                if i % 1000 == 7 {
                    Status::Failed
                } else {
                    Status::Done
                },
            );
            s.reason =
                "recorded as deployed by this app, and a reason long enough to matter".into();
            s.phase_before = Some("RUNNING".into());
            if s.status == Status::Failed {
                s.error = Some(StepError {
                    message: "failed".into(),
                    detail: Some("x".repeat(2_000)),
                    exceptions: vec!["boom".into()],
                });
            }
            s.removed = Removed {
                topic: Some(format!("topic_{i}")),
                subjects: vec![format!("topic_{i}-value")],
                deleted_directly: false,
            };
            s
        })
        .collect();
    let report = empty_report("rebuild", Outcome::Failed, steps);
    let md = render(&report, None, SUMMARY_LIMIT);
    assert!(md.len() <= SUMMARY_LIMIT, "{} bytes", md.len());
    assert!(
        md.len() > SUMMARY_LIMIT - 50_000,
        "the budget is used: {}",
        md.len()
    );

    let rows = md
        .lines()
        .filter(|l| l.starts_with("| ✅ ") || l.starts_with("| ❌ "))
        .count();
    assert!(rows > 1_000, "{rows} rows shown");
    let left_out = 20_000 - rows;
    assert!(
        md.contains(&format!(
            "This summary is limited to 1 MiB: {left_out} rows of 20000 left out."
        )),
        "{rows} rows shown; note: {:?}",
        md.lines().find(|l| l.contains("limited to 1 MiB"))
    );
    // The per-stage notes add up to the same number.
    let per_stage: usize = md
        .lines()
        .filter_map(|l| l.strip_prefix("_… "))
        .filter_map(|l| l.split(' ').next())
        .map(|n| n.parse::<usize>().unwrap())
        .sum();
    assert_eq!(per_stage, left_out);
    // Failures come first and are all there (20 of them, small enough).
    assert_eq!(md.matches("<details><summary>").count(), 20);

    // Written to a file that already has an earlier step's summary: the whole file fits.
    let dir = TempDir::new("gh-summary");
    let path = dir.0.join("step_summary.md");
    std::fs::write(&path, "# earlier step\n\n".repeat(1_000)).unwrap();
    write_summary(&path, &report, None, &Masker::new()).unwrap();
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    assert!(len <= SUMMARY_LIMIT, "{len}");
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .starts_with("# earlier step"));
}

#[test]
fn the_summary_is_masked_and_says_why_no_comment_was_posted() {
    let secret = format!("{}|<&>", random_secret(24));
    let mut report = rebuild_report();
    report.notes.push(format!("token {secret} seen"));
    report.steps[0].reason = format!("reason with {secret}");
    let mut m = Masker::new();
    m.add(&secret);
    let dir = TempDir::new("gh-summary-mask");
    let path = dir.0.join("step_summary.md");
    let skipped = CommentOutcome::Skipped("PR #43 comes from a fork (mallory/flight-apps)".into());
    write_summary(&path, &report, Some(&skipped), &m).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let core = &secret[..24];
    assert!(!text.contains(core), "{text}");
    assert!(text.contains("token *** seen"), "{text}");
    assert!(text.contains("No PR comment posted: PR #43 comes from a fork (mallory/flight-apps)."));

    let posted = CommentOutcome::Updated(CommentRef {
        id: 7,
        pr: 42,
        html_url: "https://github.com/acme/flight-apps/pull/42#issuecomment-7".into(),
        warning: None,
    });
    let md = render(&report, Some(&posted), SUMMARY_LIMIT);
    assert!(md.contains(
        "PR comment updated on #42: [view it](https://github.com/acme/flight-apps/pull/42#issuecomment-7)"
    ));
}

/// The examples in `docs/examples/` are exactly what the renderers produce for the demo app's
/// rebuild. `CCAF_BLESS=1` rewrites them after an intended change.
#[test]
fn docs_examples_are_current() {
    let report = rebuild_report();
    let vars: HashMap<&str, &str> = [
        ("GITHUB_REPOSITORY", "acme/flight-apps"),
        ("GITHUB_RUN_ID", "9876543210"),
        ("GITHUB_SHA", "3a0f86fb8db8eea7ccbb9a95f325ddbedfb25e15"),
        ("GITHUB_EVENT_NAME", "pull_request"),
    ]
    .into_iter()
    .collect();
    let ctx = GithubContext::from_lookup(|n| vars.get(n).map(|v| v.to_string()), None);
    let comment = render_at(
        &report,
        &ctx,
        chrono::Utc
            .with_ymd_and_hms(2025, 11, 21, 7, 2, 30)
            .unwrap(),
    );
    let posted = CommentOutcome::Created(CommentRef {
        id: 1_800_000_001,
        pr: 42,
        html_url: "https://github.com/acme/flight-apps/pull/42#issuecomment-1800000001".into(),
        warning: None,
    });
    let summary = render(&report, Some(&posted), SUMMARY_LIMIT);
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples");
    for (file, text) in [("job-summary.md", summary), ("pr-comment.md", comment)] {
        let path = dir.join(file);
        if std::env::var_os("CCAF_BLESS").is_some() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == text,
            "docs/examples/{file} is out of date; rerun with CCAF_BLESS=1 to rewrite it.\n{text}"
        );
    }
}
