//! The GitHub surface of a run: workflow commands on stdout, step outputs, the job summary and the
//! sticky PR comment. Everything here reads a finished [`RunReport`](crate::report::RunReport) and
//! knows nothing about Confluent.
//!
//! Every text that leaves the process through these reporters goes through a [`Masker`] last, so a
//! secret that slipped into a report (an error message quoting a request, say) still never reaches
//! GitHub.

mod api;
pub mod commands;
pub mod comment;
pub mod diagram;
pub mod event;
mod identity;
pub mod live;
mod markdown;
pub mod mask;
pub mod outputs;
mod presentation;
pub mod summary;

use std::path::PathBuf;
use std::time::Duration;

use crate::secret::Secret;

pub use comment::{publish, CommentMode};
pub use event::{Event, PullRequestRef};
pub use live::OutputFormat;
pub use mask::Masker;
pub use presentation::Presentation;

/// Errors of the reporters that touch files. The PR comment never fails a run: its problems end
/// up in [`CommentOutcome::Skipped`]. `Write` fails the run and is printed with its cause as a
/// chain; the event errors are only logged (one line), so their message repeats the cause.
#[derive(Debug, thiserror::Error)]
pub enum GithubError {
    #[error("cannot write the {what} to {path}")]
    Write {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the event payload {path}: {source}")]
    ReadEvent {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the event payload {path} is not valid JSON: {source}")]
    ParseEvent {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// What the runner tells a step about the workflow run (`GITHUB_*` variables), plus the token and
/// an explicit PR number from the inputs.
#[derive(Clone)]
pub struct GithubContext {
    /// `GITHUB_EVENT_NAME`: `pull_request`, `push`, …
    pub event_name: Option<String>,
    /// `GITHUB_EVENT_PATH`: the webhook payload that triggered the run.
    pub event_path: Option<PathBuf>,
    /// `GITHUB_REPOSITORY`: `owner/repo`.
    pub repository: Option<String>,
    /// `GITHUB_SERVER_URL` (default `https://github.com`).
    pub server_url: String,
    /// `GITHUB_API_URL` (default `https://api.github.com`; `https://HOST/api/v3` on GitHub
    /// Enterprise Server).
    pub api_url: String,
    /// `GITHUB_GRAPHQL_URL` (default: derived from the API URL, `https://api.github.com/graphql`
    /// or `https://HOST/api/graphql`). Only used to learn who the token is.
    pub graphql_url: String,
    /// `GITHUB_RUN_ID`.
    pub run_id: Option<String>,
    /// `GITHUB_SHA`: the commit the run is for.
    pub sha: Option<String>,
    /// The `github-token` input. `None` (or empty): no comment.
    pub token: Option<Secret>,
    /// The `pr-number` input: comment on this PR whatever the event.
    pub pr_number: Option<u64>,
    /// Upper bound for everything [`publish`] does, rate-limit waits included: the comment is a
    /// report, it must not hold the job.
    pub timeout: Duration,
    /// `GITHUB_OUTPUT`: the step outputs file.
    pub output_path: Option<PathBuf>,
    /// `GITHUB_STEP_SUMMARY`: the job summary file.
    pub step_summary_path: Option<PathBuf>,
}

impl std::fmt::Debug for GithubContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubContext")
            .field("event_name", &self.event_name)
            .field("event_path", &self.event_path)
            .field("repository", &self.repository)
            .field("server_url", &self.server_url)
            .field("api_url", &self.api_url)
            .field("graphql_url", &self.graphql_url)
            .field("run_id", &self.run_id)
            .field("sha", &self.sha)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("pr_number", &self.pr_number)
            .field("timeout", &self.timeout)
            .field("output_path", &self.output_path)
            .field("step_summary_path", &self.step_summary_path)
            .finish()
    }
}

// What the comment produced, here: the comment makes it and the summary shows it.
/// A posted comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentRef {
    pub id: u64,
    /// The PR number.
    pub pr: u64,
    pub html_url: String,
    /// Why a new comment was posted although an earlier one may exist (the token's identity
    /// could not be found); the summary shows it and the log has it as a warning.
    pub warning: Option<String>,
}

/// What became of the PR comment, for the summary's last line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentOutcome {
    Created(CommentRef),
    Updated(CommentRef),
    /// No comment was posted, and why (for the summary: "no PR comment posted: …").
    Skipped(String),
}

impl CommentOutcome {
    /// The line the job summary and the log show.
    pub fn summary_line(&self) -> String {
        match self {
            CommentOutcome::Created(c) => {
                let mut line = format!(
                    "PR comment posted on #{}: [view it]({})",
                    c.pr,
                    c.html_url.replace(')', "%29")
                );
                if let Some(w) = &c.warning {
                    line.push_str(&format!(" ⚠️ {}", markdown::inline(w)));
                }
                line
            }
            CommentOutcome::Updated(c) => format!(
                "PR comment updated on #{}: [view it]({})",
                c.pr,
                c.html_url.replace(')', "%29")
            ),
            CommentOutcome::Skipped(why) => {
                format!("No PR comment posted: {}.", markdown::inline(why))
            }
        }
    }
}

pub const DEFAULT_SERVER_URL: &str = "https://github.com";
pub const DEFAULT_API_URL: &str = "https://api.github.com";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

impl GithubContext {
    /// The `GITHUB_*` variables `lookup` gives (`cli::RunEnv` reads the process's once).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, token: Option<Secret>) -> Self {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let url = |name: &str, default: &str| {
            var(name)
                .map(|v| v.trim_end_matches('/').to_string())
                .unwrap_or_else(|| default.to_string())
        };
        let api_url = url("GITHUB_API_URL", DEFAULT_API_URL);
        GithubContext {
            event_name: var("GITHUB_EVENT_NAME"),
            event_path: var("GITHUB_EVENT_PATH").map(PathBuf::from),
            repository: var("GITHUB_REPOSITORY"),
            server_url: url("GITHUB_SERVER_URL", DEFAULT_SERVER_URL),
            graphql_url: var("GITHUB_GRAPHQL_URL")
                .map(|v| v.trim_end_matches('/').to_string())
                .unwrap_or_else(|| graphql_url_of(&api_url)),
            api_url,
            run_id: var("GITHUB_RUN_ID"),
            sha: var("GITHUB_SHA"),
            token: token.filter(|t| !t.expose().trim().is_empty()),
            pr_number: None,
            timeout: DEFAULT_TIMEOUT,
            output_path: var("GITHUB_OUTPUT").map(PathBuf::from),
            step_summary_path: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        }
    }

    /// Sets the `pr-number` input.
    pub fn with_pr_number(mut self, pr_number: Option<u64>) -> Self {
        self.pr_number = pr_number;
        self
    }

    /// `owner` and `repo` of `GITHUB_REPOSITORY`.
    pub fn owner_repo(&self) -> Option<(&str, &str)> {
        let (owner, repo) = self.repository.as_deref()?.split_once('/')?;
        (!owner.is_empty() && !repo.is_empty() && !repo.contains('/')).then_some((owner, repo))
    }

    /// The link to this workflow run, when the runner said which run it is.
    pub fn run_url(&self) -> Option<String> {
        let repo = self.repository.as_deref()?;
        let run = self.run_id.as_deref()?;
        Some(format!("{}/{repo}/actions/runs/{run}", self.server_url))
    }
}

/// The GraphQL endpoint beside a REST API URL, for a runner that does not say
/// (`GITHUB_GRAPHQL_URL`): GitHub Enterprise Server serves REST under `/api/v3` and GraphQL at
/// `/api/graphql`; github.com (and the rest) at `/graphql` beside REST.
fn graphql_url_of(api_url: &str) -> String {
    match api_url.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{api_url}/graphql"),
    }
}

/// What the `comment` and `summary` inputs ask of [`report_run`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportOptions {
    pub comment: CommentMode,
    /// The `summary` input.
    pub summary: bool,
    /// Where the run is watched from.
    pub presentation: Presentation,
    /// The `output` input: what stdout carries.
    pub output: OutputFormat,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            comment: CommentMode::Auto,
            summary: true,
            presentation: Presentation::Actions,
            output: OutputFormat::Text,
        }
    }
}

/// Everything a finished run reports, in order: the log's annotations (`::error`/`::warning`;
/// plain `error:`/`warning:` lines outside Actions; the step lines were shown live by
/// [`live::Live`]), the step outputs (when `GITHUB_OUTPUT` is
/// set), the PR comment, then the job summary (when `GITHUB_STEP_SUMMARY` is set and
/// `options.summary`), which says what became of the comment; outside Actions with no job summary,
/// a plain-text table instead; with `output: json`, the report as JSON on stdout last (the lines
/// for people went to stderr). Every text goes through `masker`.
///
/// The comment never fails this; a file that cannot be written does (the binary decides what
/// that costs: the run's own outcome is in the report).
pub async fn report_run(
    report: &crate::report::RunReport,
    ctx: &GithubContext,
    options: ReportOptions,
    masker: &Masker,
) -> Result<CommentOutcome, GithubError> {
    let log = || {
        commands::Log::presented(
            live::human_out(options.output),
            masker,
            options.presentation,
        )
    };
    log().report(report);
    if let Some(path) = &ctx.output_path {
        outputs::write_step_outputs(path, report, masker)?;
    }
    let comment = publish(report, ctx, options.comment, masker).await;
    match &comment {
        CommentOutcome::Created(c) | CommentOutcome::Updated(c) => {
            let mut log = log();
            log.line(&format!("PR comment: {}", c.html_url));
            if let Some(w) = &c.warning {
                log.warning(
                    &format!("PR comment on #{}: {w}", c.pr),
                    &commands::Annotation::titled("ccaf-housekeeping: PR comment"),
                );
            }
        }
        CommentOutcome::Skipped(why) => {
            log().line(&format!("No PR comment posted: {why}"));
        }
    }
    if options.summary {
        if let Some(path) = &ctx.step_summary_path {
            summary::write_summary(path, report, Some(&comment), masker)?;
        }
    }
    if ctx.step_summary_path.is_none() && !options.presentation.commands() {
        let mut log = log();
        for line in live::plain_summary(report) {
            log.line(&line);
        }
    }
    if options.output == OutputFormat::Json {
        print_report_json(report, masker)?;
    }
    Ok(comment)
}

/// The report as one line of JSON on stdout, masked, then defused the JSON way
/// ([`crate::text::defuse_json`]): a `##[` in a name or an API's message (the runner's legacy
/// command, read anywhere in a line) is written `##\u005b`, the same string to a JSON reader.
fn print_report_json(
    report: &crate::report::RunReport,
    masker: &Masker,
) -> Result<(), GithubError> {
    use std::io::Write;
    let json = serde_json::to_string(report).map_err(|e| GithubError::Write {
        what: "report",
        path: PathBuf::from("stdout"),
        source: std::io::Error::other(e),
    })?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", crate::text::defuse_json(&masker.mask(&json)))
        .and_then(|()| out.flush())
        .map_err(|source| GithubError::Write {
            what: "report",
            path: PathBuf::from("stdout"),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn ctx(vars: &[(&str, &str)], token: Option<&str>) -> GithubContext {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        GithubContext::from_lookup(|n| map.get(n).cloned(), token.map(Secret::new))
    }

    #[test]
    fn reads_the_runner_variables_with_defaults() {
        let c = ctx(
            &[
                ("GITHUB_REPOSITORY", "acme/flights"),
                ("GITHUB_RUN_ID", "42"),
                ("GITHUB_EVENT_NAME", "push"),
                ("GITHUB_API_URL", "https://ghe.example.com/api/v3/"),
            ],
            Some("tok"),
        );
        assert_eq!(c.owner_repo(), Some(("acme", "flights")));
        assert_eq!(c.api_url, "https://ghe.example.com/api/v3");
        assert_eq!(c.graphql_url, "https://ghe.example.com/api/graphql");
        assert_eq!(c.server_url, DEFAULT_SERVER_URL);
        assert_eq!(
            c.run_url().as_deref(),
            Some("https://github.com/acme/flights/actions/runs/42")
        );
        assert_eq!(c.event_name.as_deref(), Some("push"));
        assert!(c.token.is_some());
    }

    #[test]
    fn the_graphql_url_is_the_runners_or_beside_the_api() {
        assert_eq!(ctx(&[], None).graphql_url, "https://api.github.com/graphql");
        let c = ctx(
            &[
                ("GITHUB_API_URL", "https://ghe.example.com/api/v3"),
                ("GITHUB_GRAPHQL_URL", "https://gql.example.com/graphql/"),
            ],
            None,
        );
        assert_eq!(c.graphql_url, "https://gql.example.com/graphql");
    }

    #[test]
    fn an_empty_token_is_no_token_and_debug_hides_it() {
        assert!(ctx(&[], Some("  ")).token.is_none());
        let c = ctx(&[], Some("ghs_verysecret"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("ghs_verysecret"), "{dbg}");
        assert!(dbg.contains("***"));
    }

    #[test]
    fn a_malformed_repository_has_no_owner_repo() {
        for bad in ["acme", "/flights", "acme/", "a/b/c"] {
            assert_eq!(
                ctx(&[("GITHUB_REPOSITORY", bad)], None).owner_repo(),
                None,
                "{bad}"
            );
        }
        assert_eq!(ctx(&[], None).run_url(), None);
    }
}
