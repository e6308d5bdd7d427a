//! The job summary: Markdown appended to the file at `GITHUB_STEP_SUMMARY`. A headline (what ran,
//! the outcome, how long, the counts), the failures with their details, a table per stage, the
//! notes, and what happened to the PR comment.
//!
//! GitHub refuses a step summary over 1 MiB, so the renderer works to a byte budget: failures come
//! first, then table rows until the budget is spent; whatever is left out is counted in a note
//! (the `report` output always has every step).

use std::fmt::Write as _;
use std::path::Path;

use crate::command::Command;
use crate::report::{Action, Kind, Outcome, RunReport, Stage, Status, StepReport};

use super::markdown::{
    action_words, code, counts_table, duration, escape_cell, failure_details, inline, plural,
    truncate,
};
use super::outputs::append;

use super::{CommentOutcome, GithubError, Masker};

/// What this renderer allows itself: a margin under GitHub's 1 MiB (1,048,576 bytes).
pub const SUMMARY_LIMIT: usize = 1_000_000;

/// Room kept for the notes about what was left out.
const RESERVE: usize = 4_096;
/// Longest text kept from one cell, one error message, one failure's details, one note.
const MAX_CELL: usize = 600;
const MAX_MESSAGE: usize = 4_000;
const MAX_DETAILS: usize = 32_000;
const MAX_NOTE: usize = 2_000;

/// A stage's section title.
fn stage_title(stage: Stage) -> &'static str {
    match stage {
        Stage::Teardown => "Teardown",
        Stage::Buildup => "Buildup",
    }
}

/// Renders the summary within `limit` bytes.
pub fn render(report: &RunReport, comment: Option<&CommentOutcome>, limit: usize) -> String {
    let head = headline(report);
    let tail = tail(report, comment);
    let mut budget = Budget(limit.saturating_sub(head.len() + tail.len() + RESERVE));
    let mut omitted_rows = 0;
    let mut omitted_failures = 0;
    let mut body = String::new();

    let planned = is_plan(report);
    if !planned {
        let (text, left_out) = failures(report, &mut budget);
        body.push_str(&text);
        omitted_failures = left_out;
    }
    for &stage in Stage::ALL {
        let title = stage_title(stage);
        let steps: Vec<&StepReport> = report.steps.iter().filter(|s| s.stage == stage).collect();
        if steps.is_empty() {
            continue;
        }
        let (text, left_out) = stage_table(title, &steps, planned, &mut budget);
        body.push_str(&text);
        omitted_rows += left_out;
    }

    let mut out = head;
    if omitted_rows > 0 || omitted_failures > 0 {
        let mut parts = Vec::new();
        if omitted_rows > 0 {
            parts.push(format!(
                "{} of {}",
                plural(omitted_rows, "row", "rows"),
                report.steps.len()
            ));
        }
        if omitted_failures > 0 {
            parts.push(plural(
                omitted_failures,
                "failure detail",
                "failure details",
            ));
        }
        let _ = writeln!(
            out,
            "> [!NOTE]\n> This summary is limited to 1 MiB: {} left out. The step output \
             `report` has every step.\n",
            parts.join(" and ")
        );
    }
    out.push_str(&body);
    // The picture of the app last before the tail: it is the least needed part.
    let picture = super::diagram::diagram(report).markdown();
    if !picture.is_empty() && budget.take(picture.len() + 16) {
        let _ = write!(out, "#### The app\n\n{picture}");
    }
    out.push_str(&tail);
    if out.len() > limit {
        // Only reachable with a limit smaller than the headline itself.
        out = truncate(&out, limit.saturating_sub(3)).into_owned();
    }
    out
}

/// Renders, masks and appends the summary to `path` (the runner's `GITHUB_STEP_SUMMARY`),
/// keeping the whole file under [`SUMMARY_LIMIT`].
pub fn write_summary(
    path: &Path,
    report: &RunReport,
    comment: Option<&CommentOutcome>,
    masker: &Masker,
) -> Result<(), GithubError> {
    let existing = std::fs::metadata(path)
        .map(|m| m.len() as usize)
        .unwrap_or(0);
    let limit = SUMMARY_LIMIT.saturating_sub(existing);
    let text = render(report, comment, limit);
    let mut text = masker.mask(&text).into_owned();
    if text.len() > limit {
        // Masking a secret shorter than `***` grows the text; cut rather than lose the summary.
        text = truncate(&text, limit.saturating_sub(3)).into_owned();
    }
    append(path, "job summary", &text)
}

struct Budget(usize);

impl Budget {
    /// Takes `n` bytes if there are that many left.
    fn take(&mut self, n: usize) -> bool {
        if n <= self.0 {
            self.0 -= n;
            true
        } else {
            false
        }
    }
}

pub(crate) fn is_plan(report: &RunReport) -> bool {
    report.dry_run || report.command == Command::Plan || report.outcome == Outcome::Planned
}

pub(crate) fn outcome_label(report: &RunReport) -> (&'static str, &'static str) {
    match report.outcome {
        Outcome::Succeeded => ("✅", "Succeeded"),
        Outcome::NothingToDo => ("✅", "Nothing to do"),
        Outcome::Planned => ("📝", "Planned, nothing changed"),
        Outcome::Failed => ("❌", "Failed"),
        Outcome::LeaseLost => ("⛔", "Stopped: the run lost its lease"),
        Outcome::Cancelled => ("🛑", "Cancelled"),
    }
}

/// `rebuild`, or `plan` for `rebuild`.
pub(crate) fn what_ran(report: &RunReport) -> String {
    match (&report.plan_for, is_plan(report)) {
        (Some(p), true) if report.command == Command::Plan => {
            format!("plan for {}", code(p.as_str()))
        }
        (_, true) if report.command != Command::Plan => {
            format!("{} (dry run)", code(report.command.as_str()))
        }
        _ => code(report.command.as_str()),
    }
}

fn headline(report: &RunReport) -> String {
    let (icon, label) = outcome_label(report);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "## {icon} ccaf-housekeeping: {} of {}\n",
        what_ran(report),
        code(&report.app)
    );
    let _ = writeln!(
        s,
        "**{label}** in {} · environment {} · started {}\n",
        duration(report.duration_ms),
        code(&report.environment_id),
        report.started_at.format("%Y-%m-%d %H:%M:%S UTC")
    );
    if is_plan(report) {
        let count = |stage: Stage, f: &dyn Fn(&StepReport) -> bool| {
            report
                .steps
                .iter()
                .filter(|s| s.stage == stage && f(s))
                .count()
        };
        let changes =
            |s: &StepReport| !matches!(s.action, Action::Unchanged | Action::Skip | Action::Refuse);
        let _ = writeln!(
            s,
            "| to tear down | tables to drop | to build up | unchanged | skipped |\n\
             |---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} |\n",
            count(Stage::Teardown, &|s| s.kind == Kind::Statement
                && changes(s)),
            count(Stage::Teardown, &|s| s.kind == Kind::Table && changes(s)),
            count(Stage::Buildup, &|s| changes(s)),
            report
                .steps
                .iter()
                .filter(|s| s.action == Action::Unchanged)
                .count(),
            report
                .steps
                .iter()
                .filter(|s| s.action == Action::Skip)
                .count(),
        );
    } else {
        let _ = writeln!(s, "{}", counts_table(report));
    }
    if report.steps.is_empty() {
        s.push_str("_No statement or table of this app needed anything._\n\n");
    }
    s
}

fn failures(report: &RunReport, budget: &mut Budget) -> (String, usize) {
    let failed: Vec<&StepReport> = report
        .steps
        .iter()
        .filter(|s| matches!(s.status, Status::Failed | Status::Refused))
        .collect();
    let blocked: Vec<&StepReport> = report
        .steps
        .iter()
        .filter(|s| s.status == Status::Blocked)
        .collect();
    if failed.is_empty() && blocked.is_empty() {
        return (String::new(), 0);
    }
    let mut out = String::from("### ❌ Failures\n\n");
    if !budget.take(out.len()) {
        return (String::new(), failed.len() + blocked.len());
    }
    let mut left_out = 0;
    for s in failed {
        let block = failure_block(s);
        if budget.take(block.len()) {
            out.push_str(&block);
        } else {
            left_out += 1;
        }
    }
    if !blocked.is_empty() {
        let intro = "Not run because a step they depend on failed:\n\n";
        if budget.take(intro.len()) {
            out.push_str(intro);
            for s in blocked {
                let line = format!(
                    "- {} ({}): {}\n",
                    code(&s.name),
                    escape_cell(action_words(s.action)),
                    inline(&truncate(&s.reason, MAX_CELL))
                );
                if budget.take(line.len()) {
                    out.push_str(&line);
                } else {
                    left_out += 1;
                }
            }
            out.push('\n');
        } else {
            left_out += blocked.len();
        }
    }
    (out, left_out)
}

fn failure_block(s: &StepReport) -> String {
    let mut b = String::new();
    let _ = writeln!(
        b,
        "#### {}{} ({})\n",
        if s.kind == Kind::Table { "table " } else { "" },
        code(&s.name),
        escape_cell(&format!("{}, {}", s.stage, action_words(s.action)))
    );
    let message = s
        .error
        .as_ref()
        .map(|e| e.message.as_str())
        .unwrap_or("failed (no error message recorded)");
    let _ = writeln!(b, "{}\n", inline(&truncate(message, MAX_MESSAGE)));
    if let Some(block) = s
        .error
        .as_ref()
        .and_then(|e| failure_details(e, MAX_DETAILS))
    {
        let _ = writeln!(b, "{block}\n");
    }
    b
}

fn stage_table(
    title: &str,
    steps: &[&StepReport],
    planned: bool,
    budget: &mut Budget,
) -> (String, usize) {
    let mut out = format!("### {title} ({})\n\n", plural(steps.len(), "step", "steps"));
    let header = if planned {
        "| statement / table | action | why | phase now |\n|---|---|---|---|\n"
    } else {
        "| | statement / table | action | why | phase | duration | removed |\n\
         |---|---|---|---|---|---:|---|\n"
    };
    // The heading and the note about left-out rows come out of RESERVE when nothing else fits.
    let _ = budget.take(out.len());
    if !budget.take(header.len() + 1) {
        let _ = writeln!(
            out,
            "_… {} of this stage not shown (size limit)._\n",
            plural(steps.len(), "row", "rows")
        );
        return (out, steps.len());
    }
    out.push_str(header);
    let mut shown = 0;
    for s in steps {
        let row = if planned { plan_row(s) } else { run_row(s) };
        if !budget.take(row.len()) {
            break;
        }
        out.push_str(&row);
        shown += 1;
    }
    let left_out = steps.len() - shown;
    if left_out > 0 {
        let _ = writeln!(
            out,
            "\n_… {} of this stage not shown (size limit)._",
            plural(left_out, "row", "rows")
        );
    }
    out.push('\n');
    (out, left_out)
}

fn name_cell(s: &StepReport) -> String {
    let mut cell = String::new();
    if s.kind == Kind::Table {
        cell.push_str("table ");
    }
    cell.push_str(&code(&truncate(&s.name, MAX_CELL)));
    if let Some(l) = s.logical_name.as_deref().filter(|l| *l != s.name) {
        let _ = write!(
            cell,
            "<br><sub>{}</sub>",
            escape_cell(&truncate(l, MAX_CELL))
        );
    }
    cell
}

pub(crate) fn status_icon(s: Status) -> &'static str {
    match s {
        Status::Done => "✅",
        Status::Unchanged => "➖",
        Status::Planned => "📝",
        Status::Blocked => "⛔",
        Status::Failed => "❌",
        Status::Refused => "🚫",
        Status::Cancelled => "🛑",
    }
}

fn phase_cell(s: &StepReport) -> String {
    match (&s.phase_before, &s.phase_after) {
        (None, None) if s.kind == Kind::Table => String::new(),
        (None, None) => "—".to_string(),
        (before, after) => {
            let after = match (after, s.status) {
                (Some(a), _) => escape_cell(a.as_str()),
                (None, Status::Done) => "gone".to_string(),
                (None, _) => "—".to_string(),
            };
            format!(
                "{} → {after}",
                before
                    .as_ref()
                    .map(|b| escape_cell(b.as_str()))
                    .unwrap_or("—".into())
            )
        }
    }
}

fn removed_cell(s: &StepReport) -> String {
    let r = &s.removed;
    let mut parts = Vec::new();
    if let Some(t) = &r.topic {
        parts.push(format!("topic {}", code(t)));
    }
    if !r.subjects.is_empty() {
        let subjects: Vec<String> = r.subjects.iter().map(|x| code(x)).collect();
        parts.push(format!(
            "{} {}",
            if subjects.len() == 1 {
                "subject"
            } else {
                "subjects"
            },
            subjects.join(", ")
        ));
    }
    if r.deleted_directly {
        parts.push("(deleted directly)".to_string());
    }
    parts.join("<br>")
}

fn run_row(s: &StepReport) -> String {
    let reason = match s.retry_note() {
        Some(note) => format!("{} ({note})", s.reason),
        None => s.reason.clone(),
    };
    format!(
        "| {} | {} | {} | {} | {} | {} | {} |\n",
        status_icon(s.status),
        name_cell(s),
        escape_cell(action_words(s.action)),
        inline(&truncate(&reason, MAX_CELL)),
        phase_cell(s),
        duration(s.duration_ms),
        removed_cell(s)
    )
}

fn plan_row(s: &StepReport) -> String {
    format!(
        "| {} | {} | {} | {} |\n",
        name_cell(s),
        escape_cell(action_words(s.action)),
        inline(&truncate(&s.reason, MAX_CELL)),
        s.phase_before
            .as_ref()
            .map(|p| escape_cell(p.as_str()))
            .unwrap_or_else(|| if s.kind == Kind::Table {
                String::new()
            } else {
                "not live".into()
            })
    )
}

fn tail(report: &RunReport, comment: Option<&CommentOutcome>) -> String {
    let mut s = String::new();
    if !report.apis.is_empty() {
        let apis: Vec<String> = report.apis.iter().map(|a| a.to_string()).collect();
        let _ = writeln!(
            s,
            "<sub>Requests — {}</sub>\n",
            escape_cell(&apis.join(" · "))
        );
    }
    if !report.notes.is_empty() {
        s.push_str("### Notes\n\n");
        // Notes are few in practice; bound them anyway so they cannot eat the budget.
        let mut used = 0;
        for (i, n) in report.notes.iter().enumerate() {
            let line = format!("- {}\n", inline(&truncate(n, MAX_NOTE)));
            if used + line.len() > 64_000 {
                let _ = writeln!(s, "- _… and {} more notes_", report.notes.len() - i);
                break;
            }
            used += line.len();
            s.push_str(&line);
        }
        s.push('\n');
    }
    if let Some(c) = comment {
        let _ = writeln!(s, "{}\n", c.summary_line());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Removed, StepError, REPORT_VERSION};
    use chrono::TimeZone;

    fn step(stage: &str, action: &str, kind: Kind, name: &str, status: Status) -> StepReport {
        StepReport {
            stage: stage.parse().unwrap(),
            action: action.parse().unwrap(),
            kind,
            name: name.into(),
            logical_name: None,
            status,
            reason: "because".into(),
            phase_before: Some("RUNNING".into()),
            phase_after: None,
            duration_ms: 1_500,
            removed: Removed::default(),
            tables: Default::default(),
            error: None,
            retries: Vec::new(),
        }
    }

    fn report(steps: Vec<StepReport>, outcome: Outcome) -> RunReport {
        RunReport {
            version: REPORT_VERSION,
            command: Command::Rebuild,
            plan_for: None,
            app: "flights".into(),
            environment_id: "env-1".into(),
            dry_run: false,
            started_at: chrono::Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap(),
            duration_ms: 42_000,
            outcome,
            cancelled_by: None,
            steps,
            notes: vec![],
            apis: vec![],
            spent: None,
            untrusted: vec![],
            untracked: vec![],
        }
    }

    #[test]
    fn headline_and_rows() {
        let mut drop = step(
            "teardown",
            "drop_table",
            Kind::Table,
            "orders",
            Status::Done,
        );
        drop.phase_before = None;
        drop.removed = Removed {
            topic: Some("orders".into()),
            subjects: vec!["orders-key".into(), "orders-value".into()],
            deleted_directly: false,
        };
        let r = report(
            vec![
                step(
                    "teardown",
                    "delete",
                    Kind::Statement,
                    "flights-a-1",
                    Status::Done,
                ),
                drop,
            ],
            Outcome::Succeeded,
        );
        let md = render(&r, None, SUMMARY_LIMIT);
        assert!(
            md.starts_with("## ✅ ccaf-housekeeping: `rebuild` of `flights`"),
            "{md}"
        );
        assert!(md.contains("**Succeeded** in 42.0 s"), "{md}");
        assert!(md.contains("| 1 | 0 | 0 | 1 | 0 |"), "{md}");
        assert!(
            md.contains("| ✅ | `flights-a-1` | delete | because | RUNNING → gone | 1.5 s |  |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| ✅ | table `orders` | drop table | because |  | 1.5 s | topic `orders`<br>subjects `orders-key`, `orders-value` |"
            ),
            "{md}"
        );
        assert!(!md.contains("Failures"));
    }

    #[test]
    fn failures_show_detail_and_exceptions_escaped() {
        let mut f = step("buildup", "create", Kind::Statement, "x", Status::Failed);
        f.error = Some(StepError {
            message: "statement FAILED | badly".into(),
            detail: Some("Table 'db.<t>' not found".into()),
            exceptions: vec!["ValidationException: <b>no</b>".into()],
        });
        let md = render(&report(vec![f], Outcome::Failed), None, SUMMARY_LIMIT);
        assert!(md.contains("### ❌ Failures"), "{md}");
        assert!(md.contains("statement FAILED \\| badly"), "{md}");
        assert!(md.contains("<details><summary>status.detail and 1 exception</summary>"));
        assert!(
            md.contains("Table &#39;db.&lt;t&gt;&#39; not found"),
            "{md}"
        );
        assert!(
            md.contains("ValidationException: &lt;b&gt;no&lt;/b&gt;"),
            "{md}"
        );
        assert!(!md.contains("<b>no</b>"));
    }
}
