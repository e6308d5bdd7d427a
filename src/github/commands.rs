//! Workflow commands: the `::name key=value,…::data` lines the runner reads from a step's stdout
//! (annotations, log groups, masks). Escaping follows the runner's `ActionCommand`: data escapes
//! `%`, CR and LF; property values also `:` and `,`, which would otherwise end the value. Other
//! control characters, which the runner has no escape for, are shown escaped (`crate::text`).
//! Every other line [`Log`] prints is plain text through [`crate::text::escape_line`].

use std::io::Write;

use crate::report::{Action, RunReport, Status, StepReport};

use super::presentation::Presentation;

use super::markdown::duration;
use super::Masker;

pub use super::markdown::{escape_data, escape_property};

/// Where an annotation points and what it is called; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotation {
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub end_line: Option<u32>,
    pub col: Option<u32>,
    pub end_column: Option<u32>,
}

impl Annotation {
    pub fn titled(title: impl Into<String>) -> Annotation {
        Annotation {
            title: Some(title.into()),
            ..Annotation::default()
        }
    }

    fn properties(&self) -> Vec<(&'static str, String)> {
        let num = |n: Option<u32>| n.map(|n| n.to_string());
        [
            ("title", self.title.clone()),
            ("file", self.file.clone()),
            ("line", num(self.line)),
            ("endLine", num(self.end_line)),
            ("col", num(self.col)),
            ("endColumn", num(self.end_column)),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }
}

/// One command line (without the trailing newline).
pub fn command(name: &str, properties: &[(&str, String)], data: &str) -> String {
    let props = properties
        .iter()
        .map(|(k, v)| format!("{k}={}", escape_property(v)))
        .collect::<Vec<_>>()
        .join(",");
    if props.is_empty() {
        format!("::{name}::{}", escape_data(data))
    } else {
        format!("::{name} {props}::{}", escape_data(data))
    }
}

pub fn error(message: &str, at: &Annotation) -> String {
    command("error", &at.properties(), message)
}

pub fn warning(message: &str, at: &Annotation) -> String {
    command("warning", &at.properties(), message)
}

pub fn notice(message: &str, at: &Annotation) -> String {
    command("notice", &at.properties(), message)
}

pub fn debug(message: &str) -> String {
    command("debug", &[], message)
}

pub fn group(title: &str) -> String {
    command("group", &[], title)
}

pub fn endgroup() -> String {
    command("endgroup", &[], "")
}

/// `::add-mask::` lines for a secret: the whole value and, for a multi-line value, each line,
/// because the runner masks the log line by line. Empty for a blank value.
pub fn add_mask(value: &str) -> Vec<String> {
    if value.trim().is_empty() {
        return Vec::new();
    }
    let mut lines = vec![command("add-mask", &[], value)];
    if value.contains('\n') || value.contains('\r') {
        lines.extend(
            value
                .lines()
                .map(|l| l.trim_end_matches('\r'))
                .filter(|l| !l.trim().is_empty())
                .map(|l| command("add-mask", &[], l)),
        );
    }
    lines
}

/// Prints the [`add_mask`] lines for `value` on stdout, where the runner reads them; what the
/// binary gives [`crate::secrets::mask_with`] inside GitHub Actions.
pub fn print_add_mask(value: &str) {
    let mut out = std::io::stdout().lock();
    for line in add_mask(value) {
        let _ = writeln!(out, "{line}");
    }
    let _ = out.flush();
}

/// A step's status in the log's lines: failures shouted, so they stand out in a long log.
pub fn status_word(status: Status) -> &'static str {
    match status {
        Status::Done => "done",
        Status::Unchanged => "unchanged",
        Status::Planned => "planned",
        Status::Blocked => "blocked",
        Status::Failed => "FAILED",
        Status::Refused => "REFUSED",
        Status::Cancelled => "CANCELLED",
    }
}

/// One finished step in a line: action, target, outcome, duration, phase change and why.
pub fn step_line(s: &StepReport) -> String {
    let status = status_word(s.status);
    let phases = match (&s.phase_before, &s.phase_after) {
        (None, None) => String::new(),
        (b, a) => format!(
            " [{} -> {}]",
            b.as_ref().map_or("-", |b| b.as_str()),
            match (a, s.status) {
                (Some(a), _) => a.as_str(),
                (None, Status::Done) => "gone",
                (None, _) => "-",
            }
        ),
    };
    let retried = s
        .retry_note()
        .map(|n| format!(" ({n})"))
        .unwrap_or_default();
    format!(
        "{} {} {status} in {}{phases}: {}{retried}",
        s.action,
        s.name,
        duration(s.duration_ms),
        s.reason
    )
}

/// Prints workflow commands and log lines, each passed through the [`Masker`] first.
/// Outside GitHub Actions ([`Presentation`]) no command is printed: an annotation becomes a
/// plain `error: …` / `warning: …` line, a group its title, a debug message nothing.
pub struct Log<'m, W: Write> {
    out: W,
    masker: &'m Masker,
    presentation: Presentation,
}

impl<'m, W: Write> Log<'m, W> {
    /// A log for GitHub's runner.
    pub fn new(out: W, masker: &'m Masker) -> Self {
        Log::presented(out, masker, Presentation::Actions)
    }

    pub fn presented(out: W, masker: &'m Masker, presentation: Presentation) -> Self {
        Log {
            out,
            masker,
            presentation,
        }
    }

    /// Writes one line of plain text: masked, then escaped so that it stays one line and is
    /// never read as a command. A closed stdout is not worth failing a run over.
    pub fn line(&mut self, text: &str) {
        let masked = self.masker.mask(text);
        self.write(&crate::text::escape_line(&masked));
    }

    /// Writes one of our commands, built (and escaped) by [`command`], masked; outside Actions,
    /// `plain` instead (when there is one).
    fn command_or(&mut self, line: &str, plain: Option<String>) {
        if self.presentation.commands() {
            self.command(line);
        } else if let Some(p) = plain {
            self.line(&p);
        }
    }

    fn command(&mut self, line: &str) {
        let masked = self.masker.mask(line);
        self.write(&masked);
    }

    fn write(&mut self, line: &str) {
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }

    pub fn error(&mut self, message: &str, at: &Annotation) {
        self.command_or(&error(message, at), Some(format!("error: {message}")));
    }

    pub fn warning(&mut self, message: &str, at: &Annotation) {
        self.command_or(&warning(message, at), Some(format!("warning: {message}")));
    }

    pub fn notice(&mut self, message: &str, at: &Annotation) {
        self.command_or(&notice(message, at), Some(format!("notice: {message}")));
    }

    pub fn debug(&mut self, message: &str) {
        self.command_or(&debug(message), None);
    }

    pub fn group(&mut self, title: &str) {
        self.command_or(&group(title), Some(title.to_string()));
    }

    pub fn endgroup(&mut self) {
        self.command_or(&endgroup(), None);
    }

    /// Registers a secret with the runner. Not masked itself, of course: the runner must see the
    /// value to hide it from everything printed after.
    pub fn add_mask(&mut self, value: &str) {
        if !self.presentation.commands() {
            return;
        }
        for l in add_mask(value) {
            let _ = writeln!(self.out, "{l}");
        }
        let _ = self.out.flush();
    }

    pub fn into_inner(self) -> W {
        self.out
    }

    /// The report's annotations in the log (the step lines were shown live, by
    /// [`super::live::Live`]): an `::error` per failed or refused step and a `::warning` per
    /// blocked step or skipped (protected) resource.
    pub fn report(&mut self, report: &RunReport) {
        for s in &report.steps {
            match s.status {
                Status::Failed => {
                    let mut msg = format!("{} {} failed", s.action, s.name);
                    if let Some(e) = &s.error {
                        msg.push_str(": ");
                        msg.push_str(&e.message);
                        if let Some(d) = &e.detail {
                            msg.push('\n');
                            msg.push_str(d);
                        }
                        for x in &e.exceptions {
                            msg.push('\n');
                            msg.push_str(x);
                        }
                    }
                    self.error(
                        &msg,
                        &Annotation::titled(format!("ccaf-housekeeping: {} failed", s.name)),
                    );
                }
                Status::Refused => self.error(
                    &format!(
                        "{} {} refused: nothing was touched: {}",
                        s.action, s.name, s.reason
                    ),
                    &Annotation::titled(format!(
                        "ccaf-housekeeping: {} is not proven the app's",
                        s.name
                    )),
                ),
                Status::Blocked => self.warning(
                    &format!("{} {} not run: {}", s.action, s.name, s.reason),
                    &Annotation::titled(format!("ccaf-housekeeping: {} blocked", s.name)),
                ),
                _ if s.action == Action::Skip => self.warning(
                    &format!("{} left alone: {}", s.name, s.reason),
                    &Annotation::titled(format!("ccaf-housekeeping: {} skipped", s.name)),
                ),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_escaping_is_exactly_the_runners() {
        assert_eq!(escape_data("100%"), "100%25");
        assert_eq!(escape_data("a\r\nb"), "a%0D%0Ab");
        assert_eq!(escape_data("%0A"), "%250A");
        // `:` and `,` stay as they are in data.
        assert_eq!(escape_data("a: b, c::d"), "a: b, c::d");
        // What the runner has no escape for is shown escaped, never passed on.
        assert_eq!(escape_data("a\u{1b}b ##[x]"), "a\\u{1b}b ##\\[x]");
    }

    #[test]
    fn property_escaping_adds_colon_and_comma() {
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
        assert_eq!(escape_property("50%:\n"), "50%25%3A%0A");
        assert_eq!(escape_property("%3A"), "%253A");
    }

    #[test]
    fn annotations_carry_escaped_properties_in_the_runners_order() {
        let at = Annotation {
            title: Some("drop: t1, t2".into()),
            file: Some("sql/a.sql".into()),
            line: Some(3),
            end_line: Some(4),
            col: Some(1),
            end_column: Some(9),
        };
        assert_eq!(
            error("bad\nthing 100%", &at),
            "::error title=drop%3A t1%2C t2,file=sql/a.sql,line=3,endLine=4,col=1,endColumn=9::bad%0Athing 100%25"
        );
        assert_eq!(
            warning("w", &Annotation::default()),
            "::warning::w".to_string()
        );
        assert_eq!(
            notice("n", &Annotation::titled("t")),
            "::notice title=t::n".to_string()
        );
        assert_eq!(debug("d:1"), "::debug::d:1");
    }

    #[test]
    fn groups_and_masks() {
        assert_eq!(group("teardown: 3 steps"), "::group::teardown: 3 steps");
        assert_eq!(endgroup(), "::endgroup::");
        assert_eq!(add_mask("s3cr%t"), vec!["::add-mask::s3cr%25t"]);
        assert_eq!(
            add_mask("line1\nline2\n"),
            vec![
                "::add-mask::line1%0Aline2%0A",
                "::add-mask::line1",
                "::add-mask::line2"
            ]
        );
        assert!(add_mask(" \n").is_empty());
    }

    #[test]
    fn the_report_in_the_log_has_annotations_and_step_lines_read_well() {
        use crate::report::{Kind, Outcome, Removed, RunReport, StepError, StepReport};
        let step = |stage: &str, action: &str, status: Status| StepReport {
            stage: stage.parse().unwrap(),
            action: action.parse().unwrap(),
            kind: Kind::Statement,
            name: format!("app-{action}"),
            logical_name: None,
            status,
            reason: "why".into(),
            phase_before: Some("RUNNING".into()),
            phase_after: None,
            duration_ms: 1_200,
            removed: Removed::default(),
            tables: Default::default(),
            error: None,
            retries: Vec::new(),
        };
        let mut failed = step("buildup", "create", Status::Failed);
        failed.error = Some(StepError {
            message: "FAILED".into(),
            detail: Some("line1\nline2".into()),
            exceptions: vec![],
        });
        let report = RunReport {
            version: 1,
            command: crate::command::Command::Rebuild,
            plan_for: None,
            app: "app".into(),
            environment_id: "env-1".into(),
            dry_run: false,
            started_at: chrono::Utc::now(),
            duration_ms: 5,
            outcome: Outcome::Failed,
            cancelled_by: None,
            steps: vec![
                step("teardown", "delete", Status::Done),
                failed,
                step("buildup", "skip", Status::Unchanged),
            ],
            notes: vec![],
            apis: vec![],
            spent: None,
            untrusted: vec![],
            untracked: vec![],
        };
        let m = Masker::new();
        let mut log = Log::new(Vec::new(), &m);
        log.report(&report);
        let out = String::from_utf8(log.into_inner()).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines,
            vec![
                "::error title=ccaf-housekeeping%3A app-create failed::create app-create failed: FAILED%0Aline1%0Aline2",
                "::warning title=ccaf-housekeeping%3A app-skip skipped::app-skip left alone: why",
            ]
        );
        assert_eq!(
            step_line(&report.steps[0]),
            "delete app-delete done in 1.2 s [RUNNING -> gone]: why"
        );
        assert_eq!(
            step_line(&report.steps[1]),
            "create app-create FAILED in 1.2 s [RUNNING -> -]: why"
        );
        let mut plain = Log::presented(Vec::new(), &m, Presentation::Plain);
        plain.report(&report);
        plain.add_mask("x");
        let out = String::from_utf8(plain.into_inner()).unwrap();
        assert!(out.lines().all(|l| !l.starts_with("::")), "{out}");
        assert!(
            out.starts_with("error: create app-create failed: FAILED"),
            "{out}"
        );
    }

    #[test]
    fn log_masks_every_line_but_the_add_mask_itself() {
        let mut m = Masker::new();
        m.add("hunter2-secret");
        let mut log = Log::new(Vec::new(), &m);
        log.add_mask("hunter2-secret");
        log.error(
            "auth with hunter2-secret failed",
            &Annotation::titled("hunter2-secret"),
        );
        let out = String::from_utf8(log.into_inner()).unwrap();
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines[0], "::add-mask::hunter2-secret");
        assert_eq!(lines[1], "::error title=***::auth with *** failed");
    }
}
