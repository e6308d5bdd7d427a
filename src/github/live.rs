//! The run as it happens: one stream of [`StepEvent`]s, shown the way the place the run is
//! watched from reads it ([`Presentation`]).
//!
//! - **Actions** (`GITHUB_ACTIONS=true`): each step's line as it finishes, inside a `::group::`
//!   of its stage. GitHub's groups cannot nest or interleave, and steps of two stages can finish
//!   interleaved (a rebuild's create starts while an unrelated teardown still waits), so a group
//!   is opened whenever the stage of the finished step differs from the open group's: one group
//!   per stage *change*, never a step line outside a group, and a stage may get several groups.
//! - **Terminal** and **Plain**: no workflow command at all; each line is plain text. On a
//!   terminal each line carries the counts so far (done, in flight, failed), and a status line
//!   under the step lines is redrawn in place (the counts and the longest wait, `indicatif`).
//!
//! Heartbeat: steps still in flight after the interval (`CCAF_HEARTBEAT`, default 30 s) are
//! named with what they wait on, once per interval. With `--output json` the human lines go to
//! stderr so that stdout carries only the report.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::report::{Action, RunReport, Stage, Status, StepEvent, StepReport};

use super::commands::{endgroup, group, status_word, step_line};
use super::markdown::duration;
use super::Masker;

/// How often steps still in flight are named, unless `CCAF_HEARTBEAT` says otherwise.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(30);

pub use super::presentation::Presentation;

/// What stdout carries at the end of a run (the `output` input).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// Lines for people (and the runner).
    #[default]
    Text,
    /// The run report as JSON, for scripts; the lines for people go to stderr.
    Json,
}

impl std::str::FromStr for OutputFormat {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "text" => Ok(OutputFormat::Text),
            "json" => Ok(OutputFormat::Json),
            _ => Err(()),
        }
    }
}

/// The sink for lines for people: stdout, or stderr when stdout carries JSON.
pub fn human_out(output: OutputFormat) -> Box<dyn Write + Send> {
    match output {
        OutputFormat::Text => Box::new(std::io::stdout()),
        OutputFormat::Json => Box::new(std::io::stderr()),
    }
}

/// Where the status line is drawn: the terminal the lines for people go to.
pub fn status_target(output: OutputFormat) -> indicatif::ProgressDrawTarget {
    match output {
        OutputFormat::Text => indicatif::ProgressDrawTarget::stdout(),
        OutputFormat::Json => indicatif::ProgressDrawTarget::stderr(),
    }
}

struct State<W> {
    out: W,
    /// The stage whose group is open (Actions only).
    open: Option<Stage>,
    /// Steps started and not finished: by action and name, their stage and start.
    in_flight: BTreeMap<(&'static str, String), (Stage, Action, Instant)>,
    /// What a step in flight said it waits on (`StepEvent::Waiting`), by action and name.
    notes: BTreeMap<(&'static str, String), String>,
    done: usize,
    failed: usize,
}

/// The live display of one run; [`Live::event`] is the engine's progress listener.
pub struct Live<'m, W: Write> {
    presentation: Presentation,
    masker: &'m Masker,
    state: Mutex<State<W>>,
    /// At a terminal: a status line under the step lines, redrawn in place (steps done, in
    /// flight, failed, and the longest wait).
    status: Option<indicatif::ProgressBar>,
}

impl<'m, W: Write> Live<'m, W> {
    pub fn new(out: W, presentation: Presentation, masker: &'m Masker) -> Self {
        Live {
            presentation,
            masker,
            state: Mutex::new(State {
                out,
                open: None,
                in_flight: BTreeMap::new(),
                notes: BTreeMap::new(),
                done: 0,
                failed: 0,
            }),
            status: None,
        }
    }

    /// Show the status line on `target` (the terminal the step lines go to). Only at a terminal:
    /// elsewhere every line stays a line.
    pub fn with_status_line(mut self, target: indicatif::ProgressDrawTarget) -> Self {
        if self.presentation == Presentation::Terminal {
            let bar = indicatif::ProgressBar::with_draw_target(None, target);
            if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(120));
            self.status = Some(bar);
            let st = self.lock();
            self.update_status(&st);
        }
        self
    }

    /// The status line's text, from the counts and the steps in flight.
    fn update_status(&self, st: &State<W>) {
        let Some(bar) = &self.status else {
            return;
        };
        let now = Instant::now();
        let longest = st
            .in_flight
            .iter()
            .max_by_key(|(_, (_, _, since))| now.duration_since(*since))
            .map(|(key, (_, action, since))| {
                format!(
                    " · waiting {} on {}: {}",
                    duration(now.duration_since(*since).as_millis() as u64),
                    key.1,
                    st.notes
                        .get(key)
                        .map_or_else(|| waits_on(*action), String::as_str)
                )
            })
            .unwrap_or_default();
        let text = format!(
            "{} done · {} in flight · {} failed{longest}",
            st.done,
            st.in_flight.len(),
            st.failed
        );
        bar.set_message(crate::text::escape_line(&self.masker.mask(&text)).to_string());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<W>> {
        // A panic while printing leaves nothing half-updated worth refusing to print over.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn event(&self, event: StepEvent<'_>) {
        let mut st = self.lock();
        match event {
            StepEvent::Started {
                stage,
                action,
                name,
            } => {
                st.in_flight.insert(
                    (action.as_str(), name.to_string()),
                    (stage, action, Instant::now()),
                );
                self.update_status(&st);
            }
            StepEvent::Waiting { action, name, note } => {
                let key = (action.as_str(), name.to_string());
                if st.in_flight.contains_key(&key) {
                    st.notes.insert(key, note.to_string());
                    self.update_status(&st);
                }
            }
            StepEvent::Finished(step) => {
                let key = (step.action.as_str(), step.name.clone());
                st.in_flight.remove(&key);
                st.notes.remove(&key);
                st.done += 1;
                if matches!(
                    step.status,
                    Status::Failed | Status::Refused | Status::Blocked | Status::Cancelled
                ) {
                    st.failed += 1;
                }
                self.step(&mut st, step);
                self.update_status(&st);
            }
        }
    }

    fn step(&self, st: &mut State<W>, step: &StepReport) {
        if self.presentation.commands() && st.open != Some(step.stage) {
            if st.open.is_some() {
                self.command(st, &endgroup());
            }
            self.command(st, &group(step.stage.as_str()));
            st.open = Some(step.stage);
        }
        let line = step_line(step);
        self.line(st, &line);
    }

    /// Names the steps in flight for longer than `after`, with what each waits on.
    pub fn heartbeat(&self, after: Duration) {
        let mut st = self.lock();
        let now = Instant::now();
        let waiting: Vec<String> = st
            .in_flight
            .iter()
            .filter(|(_, (_, _, since))| now.duration_since(*since) >= after)
            .map(|(key, (stage, action, since))| {
                format!(
                    "still waiting after {}: {stage} {action} {} ({})",
                    duration(now.duration_since(*since).as_millis() as u64),
                    key.1,
                    st.notes
                        .get(key)
                        .map_or_else(|| waits_on(*action), String::as_str)
                )
            })
            .collect();
        for w in waiting {
            self.line(&mut st, &w);
        }
        self.update_status(&st);
    }

    /// The end of the steps: steps never shown live (a plan, a dry run) are shown now, a group
    /// by stage; the open group is closed.
    pub fn finish(&self, report: &RunReport) {
        let mut st = self.lock();
        if st.done == 0 {
            for &stage in Stage::ALL {
                for s in report.steps.iter().filter(|s| s.stage == stage) {
                    self.step(&mut st, s);
                }
            }
        }
        self.close_group(&mut st);
        self.clear_status();
    }

    /// Closes the open group, if any (a run that ends in an error).
    pub fn close(&self) {
        let mut st = self.lock();
        self.close_group(&mut st);
        self.clear_status();
    }

    /// The status line goes once the steps are over: what follows is the summary.
    fn clear_status(&self) {
        if let Some(bar) = &self.status {
            bar.finish_and_clear();
        }
    }

    fn close_group(&self, st: &mut State<W>) {
        if st.open.take().is_some() {
            self.command(st, &endgroup());
        }
    }

    fn line(&self, st: &mut State<W>, text: &str) {
        let text = match self.presentation {
            Presentation::Terminal => format!(
                "[{} done, {} in flight, {} failed] {text}",
                st.done,
                st.in_flight.len(),
                st.failed
            ),
            Presentation::Actions | Presentation::Plain => text.to_string(),
        };
        let masked = self.masker.mask(&text);
        let line = crate::text::escape_line(&masked);
        // Above the status line: it is taken down, the line written, the status drawn again.
        match &self.status {
            Some(bar) => bar.suspend(|| {
                let _ = writeln!(st.out, "{line}");
                let _ = st.out.flush();
            }),
            None => {
                let _ = writeln!(st.out, "{line}");
                let _ = st.out.flush();
            }
        }
    }

    fn command(&self, st: &mut State<W>, line: &str) {
        let _ = writeln!(st.out, "{}", self.masker.mask(line));
        let _ = st.out.flush();
    }

    pub fn into_inner(self) -> W {
        self.state
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .out
    }
}

/// What a step in flight is waiting for, in words.
fn waits_on(action: Action) -> &'static str {
    match action {
        Action::DropTable => "the DROP TABLE statement, the topic and subjects to go",
        a if a.tears_down() => "the statement to stop or be deleted",
        a if a.builds_up() => "the statement to be running",
        _ => "the step to finish",
    }
}

/// The run as a plain-text table, for a terminal or a file when there is no job summary.
pub fn plain_summary(report: &RunReport) -> Vec<String> {
    let mut lines = vec![format!(
        "{} of {}: {} in {}",
        super::summary::what_ran(report).replace('`', ""),
        report.app,
        super::summary::outcome_label(report).1,
        duration(report.duration_ms)
    )];
    let rows: Vec<[String; 5]> = report
        .steps
        .iter()
        .map(|s| {
            [
                s.stage.to_string(),
                s.action.to_string(),
                s.name.clone(),
                status_word(s.status).to_string(),
                duration(s.duration_ms),
            ]
        })
        .collect();
    let header = ["stage", "action", "name", "status", "duration"].map(String::from);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        lines.push(cells.join("  ").trim_end().to_string());
    }
    lines.extend(report.notes.iter().map(|n| format!("note: {n}")));
    lines.extend(report.apis.iter().map(|a| format!("requests: {a}")));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Kind, Removed};

    fn step(stage: &str, action: &str, name: &str) -> StepReport {
        StepReport {
            stage: stage.parse().unwrap(),
            action: action.parse().unwrap(),
            kind: Kind::Statement,
            name: name.into(),
            logical_name: None,
            status: Status::Done,
            reason: "why".into(),
            phase_before: None,
            phase_after: None,
            duration_ms: 1_200,
            removed: Removed::default(),
            tables: Default::default(),
            error: None,
            retries: Vec::new(),
        }
    }

    #[test]
    fn presentation_follows_the_runner_then_the_terminal() {
        assert_eq!(
            Presentation::from_parts(Some("true"), false),
            Presentation::Actions
        );
        assert_eq!(
            Presentation::from_parts(Some("false"), true),
            Presentation::Terminal
        );
        assert_eq!(Presentation::from_parts(None, false), Presentation::Plain);
    }

    #[test]
    fn interleaved_stages_get_a_group_per_stage_change_and_groups_never_nest() {
        let m = Masker::new();
        let live = Live::new(Vec::new(), Presentation::Actions, &m);
        for s in [
            step("teardown", "delete", "a"),
            step("buildup", "create", "b"),
            step("teardown", "delete", "c"),
        ] {
            live.event(StepEvent::Finished(&s));
        }
        live.finish(&report(vec![]));
        let out = String::from_utf8(live.into_inner()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            vec![
                "::group::teardown",
                "delete a done in 1.2 s: why",
                "::endgroup::",
                "::group::buildup",
                "create b done in 1.2 s: why",
                "::endgroup::",
                "::group::teardown",
                "delete c done in 1.2 s: why",
                "::endgroup::",
            ]
        );
    }

    #[test]
    fn outside_actions_no_line_is_a_command_and_the_heartbeat_names_the_waits() {
        let m = Masker::new();
        let live = Live::new(Vec::new(), Presentation::Terminal, &m);
        live.event(StepEvent::Started {
            stage: Stage::Teardown,
            action: Action::Delete,
            name: "::slow",
        });
        live.heartbeat(Duration::ZERO);
        live.finish(&report(vec![step("teardown", "delete", "::x")]));
        let out = String::from_utf8(live.into_inner()).unwrap();
        assert!(out.lines().all(|l| !l.starts_with("::")), "{out}");
        assert!(
            out.contains("still waiting after") && out.contains("delete ::slow"),
            "{out}"
        );
        assert!(out.contains("the statement to stop or be deleted"), "{out}");
    }

    fn report(steps: Vec<StepReport>) -> RunReport {
        RunReport {
            version: 1,
            command: crate::command::Command::Teardown,
            plan_for: None,
            app: "app".into(),
            environment_id: "env-1".into(),
            dry_run: false,
            started_at: chrono::Utc::now(),
            duration_ms: 5,
            outcome: crate::report::Outcome::Succeeded,
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
    fn the_plain_summary_is_a_table() {
        let lines = plain_summary(&report(vec![step("teardown", "delete", "app-a")]));
        assert_eq!(lines[0], "teardown of app: Succeeded in 5 ms");
        assert_eq!(lines[1], "stage     action  name   status  duration");
        assert_eq!(lines[2], "teardown  delete  app-a  done    1.2 s");
    }
}
