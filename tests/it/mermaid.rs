//! The app's diagram in the job summary and the PR comment, read by Mermaid's own parser (node,
//! headless; installed by `scripts/stack`, found through `CCAF_MERMAID_PARSE`): whatever the names,
//! each block parses, and the Markdown around it stays whole.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use ccaf_housekeeping::github::comment::render_at;
use ccaf_housekeeping::github::diagram::MAX_NODES;
use ccaf_housekeeping::github::summary::{render, SUMMARY_LIMIT};
use ccaf_housekeeping::github::GithubContext;
use ccaf_housekeeping::report::{Kind, Outcome, RunReport, Status, TableUse};

use crate::github_support::{empty_report, rebuild_report, step};

/// Mermaid's verdict on `text`: `Ok(diagram type)` or `Err(the parser's message)`.
fn mermaid_parse(text: &str) -> Result<String, String> {
    let script = std::env::var("CCAF_MERMAID_PARSE").unwrap_or_else(|_| {
        panic!(
            "CCAF_MERMAID_PARSE is not set: eval \"$(scripts/stack env)\" after scripts/stack up"
        )
    });
    let mut child = Command::new("node")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running node");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(text.as_bytes())
        .expect("writing the diagram");
    let out = child.wait_with_output().expect("node's verdict");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The ```` ```mermaid ```` blocks of a Markdown text, and the text outside them.
fn mermaid_blocks(md: &str) -> (Vec<String>, String) {
    let (mut blocks, mut outside, mut rest) = (Vec::new(), String::new(), md);
    while let Some(start) = rest.find("```mermaid\n") {
        outside.push_str(&rest[..start]);
        let body = &rest[start + "```mermaid\n".len()..];
        let end = body
            .find("\n```\n")
            .unwrap_or_else(|| panic!("an unclosed mermaid block:\n{md}"));
        blocks.push(body[..=end].to_string());
        rest = &body[end + "\n```\n".len()..];
    }
    outside.push_str(rest);
    (blocks, outside)
}

fn ctx() -> GithubContext {
    let vars: HashMap<&str, &str> = [("GITHUB_REPOSITORY", "acme/flight-apps")]
        .into_iter()
        .collect();
    GithubContext::from_lookup(|n| vars.get(n).map(|v| v.to_string()), None)
}

/// Names that would break a diagram or the Markdown around it, were they written as they are.
const HOSTILE: &[&str] = &[
    "quote\"d",
    "brack]et[s",
    "back`quote",
    "fence```end",
    "entity#quot;",
    "arrow-->x",
    "pipe|x|",
    "comment%%x",
    "<b>html</b>&amp;",
    "semi;colon",
    "end",
    "{brace}(paren)",
];

fn hostile_report() -> RunReport {
    let mut steps = Vec::new();
    for (i, name) in HOSTILE.iter().enumerate() {
        let mut s = step("teardown", "delete", Kind::Statement, name, Status::Done);
        let next = HOSTILE[(i + 1) % HOSTILE.len()];
        s.tables = TableUse {
            creates: vec![format!("t{name}")],
            reads: vec![format!("t{next}")],
            writes: vec![format!("`{name}`")],
        };
        steps.push(s);
        steps.push(step(
            "teardown",
            "drop_table",
            Kind::Table,
            &format!("t{name}"),
            Status::Failed,
        ));
    }
    empty_report("teardown", Outcome::Failed, steps)
}

#[test]
fn the_diagrams_of_the_summary_and_the_comment_parse_whatever_the_names() {
    for report in [rebuild_report(), hostile_report()] {
        let summary = render(&report, None, SUMMARY_LIMIT);
        let comment = render_at(&report, &ctx(), chrono::Utc::now());
        for (what, md) in [("summary", &summary), ("comment", &comment)] {
            let (blocks, outside) = mermaid_blocks(md);
            assert_eq!(blocks.len(), 1, "{what}: one diagram:\n{md}");
            let verdict = mermaid_parse(&blocks[0]);
            assert_eq!(
                verdict.as_deref(),
                Ok("ok flowchart-v2"),
                "{what}: Mermaid refuses the diagram:\n{}",
                blocks[0]
            );
            // No name leaked into the diagram's syntax or broke out of its block.
            assert!(!outside.contains("classDef"), "{what}:\n{md}");
            for s in &report.steps {
                assert!(
                    !blocks[0].contains(&format!("\"{}\"", s.name))
                        || s.name
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)),
                    "{what}: {} written raw:\n{}",
                    s.name,
                    blocks[0]
                );
            }
        }
        // The comment folds it.
        let at = comment.find("```mermaid").expect("a diagram");
        assert!(
            comment[..at].ends_with("<details><summary>The app</summary>\n\n"),
            "{comment}"
        );
    }
}

#[test]
fn the_parser_is_real_a_raw_name_is_refused() {
    // The same kind of diagram with one name written raw: Mermaid must refuse it, or the test
    // above proves nothing.
    assert!(mermaid_parse("flowchart LR\n  s0[\"ok\"] --> t0[(\"fine\")]\n").is_ok());
    let raw = "flowchart LR\n  s0[\"brack]et[s\"] --> t0[(\"quote\"d\")]\n";
    assert!(mermaid_parse(raw).is_err(), "Mermaid accepted:\n{raw}");
}

#[test]
fn a_large_app_gets_a_line_instead_of_a_diagram() {
    let steps = (0..150)
        .map(|i| {
            let mut s = step(
                "teardown",
                "delete",
                Kind::Statement,
                &format!("app-s{i}"),
                Status::Done,
            );
            s.tables.writes = vec![format!("t{i}")];
            s
        })
        .collect();
    let report = empty_report("teardown", Outcome::Succeeded, steps);
    let summary = render(&report, None, SUMMARY_LIMIT);
    let comment = render_at(&report, &ctx(), chrono::Utc::now());
    for md in [&summary, &comment] {
        assert!(!md.contains("```mermaid"), "{md}");
        assert!(
            md.contains(&format!(
                "150 statements and 150 tables are more than {MAX_NODES} nodes"
            )),
            "{md}"
        );
    }
}
