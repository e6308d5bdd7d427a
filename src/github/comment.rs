//! The sticky PR comment: one per app, found again by a hidden marker and updated in place, with
//! what was torn down, rebuilt, left unchanged, the tables dropped and the failures, and a link to
//! the run.
//!
//! The comment is found again only among the comments the token's own identity wrote
//! ([`super::identity`]): anyone can write the marker, and another author's comment is never
//! edited. When the identity cannot be found, a new comment is posted and none is edited.
//!
//! The comment is a report, never a reason to fail a run: no PR, a fork PR, no token, a token that
//! may not write, an API error — all end in [`CommentOutcome::Skipped`] with the reason, which the
//! job summary shows.

use std::fmt::Write as _;
use std::str::FromStr;

use octocrab::commits::PullRequestTarget;
use octocrab::models::issues::Comment;
use octocrab::Octocrab;

use crate::report::{Action, Kind, RunReport, Stage, Status, StepReport};

use super::api::{client, describe, status_of};
use super::event::Event;
use super::identity::{identify, Identity};
use super::markdown::{
    action_words, code, counts_table, duration, escape_cell, failure_details, inline, truncate,
};
use super::summary::{is_plan, outcome_label, what_ran};
pub use super::{CommentOutcome, CommentRef};
use super::{GithubContext, Masker};

/// GitHub rejects comment bodies over 65,536 characters; stay well under.
pub const COMMENT_LIMIT: usize = 60_000;
const MAX_DETAILS: usize = 4_000;
/// Lists of changes up to this long are shown unfolded.
const OPEN_LIST_MAX: usize = 10;

/// The `comment` input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum CommentMode {
    /// On `pull_request` / `pull_request_target` events, and on a push that resolves to a
    /// merged PR.
    #[default]
    Auto,
    /// Whenever a PR can be found (event, `pr-number`, or the commit's PR).
    Always,
    /// Never: no GitHub API request at all.
    Never,
}

impl FromStr for CommentMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(CommentMode::Auto),
            "always" => Ok(CommentMode::Always),
            "never" => Ok(CommentMode::Never),
            other => Err(format!(
                "`{other}` is not a comment mode: use auto, always or never"
            )),
        }
    }
}

impl std::fmt::Display for CommentMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CommentMode::Auto => "auto",
            CommentMode::Always => "always",
            CommentMode::Never => "never",
        })
    }
}

/// The hidden marker that finds this app's comment again: one comment per app and
/// environment, so a PR's runs against a test and a staging environment keep one each.
pub fn marker(app: &str, environment_id: &str) -> String {
    // `--` cannot occur in an app name ([a-z0-9-]) nor an environment id (validated), but a
    // marker must never be able to close the HTML comment early, whatever it is given.
    let safe = |s: &str| s.replace("--", "-\u{2011}").replace(' ', "_");
    format!(
        "<!-- ccaf-housekeeping:app={} env={} -->",
        safe(app),
        safe(environment_id)
    )
}

/// The comment's body (unmasked), at most [`COMMENT_LIMIT`] bytes.
pub fn render(report: &RunReport, ctx: &GithubContext) -> String {
    render_at(report, ctx, chrono::Utc::now())
}

/// [`render`] with the "updated" time given.
pub fn render_at(
    report: &RunReport,
    ctx: &GithubContext,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let (icon, label) = outcome_label(report);
    let mut head = String::new();
    let _ = writeln!(head, "{}", marker(&report.app, &report.environment_id));
    let _ = writeln!(
        head,
        "### {icon} ccaf-housekeeping: {} of {}\n",
        what_ran(report),
        code(&report.app)
    );
    let mut facts = vec![
        format!("**{label}** in {}", duration(report.duration_ms)),
        format!("environment {}", code(&report.environment_id)),
    ];
    if let Some(url) = ctx.run_url() {
        facts.push(format!("[workflow run]({url})"));
    }
    let _ = writeln!(head, "{}\n", facts.join(" · "));

    let mut foot = String::new();
    let _ = write!(foot, "<sub>Updated {}", now.format("%Y-%m-%d %H:%M UTC"));
    if let Some(sha) = &ctx.sha {
        let _ = write!(foot, " for commit {}", code(&sha[..sha.len().min(12)]));
    }
    foot.push_str(". The job summary has every step.</sub>\n");

    let mut budget = COMMENT_LIMIT.saturating_sub(head.len() + foot.len() + 200);
    let mut body = String::new();
    if is_plan(report) {
        plan_sections(report, &mut body, &mut budget);
    } else {
        let _ = writeln!(body, "{}", counts_table(report));
        budget = budget.saturating_sub(body.len());
        failures(report, &mut body, &mut budget);
        // What changed is the point of the comment: open when short, folded when long.
        for (title, names) in [
            ("Torn down", report.torn_down()),
            ("Rebuilt", report.rebuilt()),
            ("Evolved in place", report.evolved()),
            ("Tables dropped", report.dropped_tables()),
        ] {
            let open = names.len() <= OPEN_LIST_MAX;
            list(&mut body, &mut budget, title, &names, open);
        }
        list(
            &mut body,
            &mut budget,
            "Unchanged",
            &report.unchanged(),
            false,
        );
    }
    // The picture of the app, folded: the lists above say what changed.
    let picture = super::diagram::diagram(report).markdown();
    let folded = format!("<details><summary>The app</summary>\n\n{picture}</details>\n\n");
    if !picture.is_empty() && folded.len() <= budget {
        body.push_str(&folded);
    }
    if report.steps.is_empty() {
        body.push_str("_Nothing of this app needed anything._\n\n");
    }
    format!("{head}{body}{foot}")
}

/// A collapsible list of names, cut when the budget is spent.
fn list(out: &mut String, budget: &mut usize, title: &str, names: &[String], open: bool) {
    if names.is_empty() {
        return;
    }
    let mut s = format!(
        "<details{}><summary>{title} ({})</summary>\n\n",
        if open { " open" } else { "" },
        names.len()
    );
    let end = "\n</details>\n\n";
    let mut shown = 0;
    let mut used = s.len() + end.len() + 60;
    for n in names {
        let line = format!("- {}\n", code(&truncate(n, 300)));
        if used + line.len() > *budget {
            break;
        }
        used += line.len();
        s.push_str(&line);
        shown += 1;
    }
    if shown < names.len() {
        let _ = writeln!(s, "- _… and {} more_", names.len() - shown);
    }
    s.push_str(end);
    *budget = budget.saturating_sub(s.len());
    out.push_str(&s);
}

fn failures(report: &RunReport, out: &mut String, budget: &mut usize) {
    let failed: Vec<&StepReport> = report
        .steps
        .iter()
        .filter(|s| matches!(s.status, Status::Failed | Status::Blocked | Status::Refused))
        .collect();
    if failed.is_empty() {
        return;
    }
    let mut s = format!("#### ❌ Failed ({})\n\n", failed.len());
    let mut shown = 0;
    // One paragraph per failure (not a list): a multi-line <pre> inside a list item would end
    // the item at its first unindented line.
    for f in &failed {
        let mut item = format!(
            "{} {}{} ({}, {})",
            match f.status {
                Status::Blocked => "⛔",
                Status::Refused => "🚫",
                _ => "❌",
            },
            if f.kind == Kind::Table { "table " } else { "" },
            code(&truncate(&f.name, 300)),
            f.stage,
            escape_cell(action_words(f.action))
        );
        if f.status == Status::Blocked {
            let _ = write!(item, ": not run, {}", inline(&truncate(&f.reason, 500)));
        } else if let Some(e) = &f.error {
            let _ = write!(item, ": {}", inline(&truncate(&e.message, 1_000)));
            if let Some(block) = failure_details(e, MAX_DETAILS) {
                let _ = write!(item, "\n\n{block}");
            }
        }
        item.push_str("\n\n");
        if s.len() + item.len() + 100 > *budget {
            break;
        }
        s.push_str(&item);
        shown += 1;
    }
    if shown < failed.len() {
        let _ = writeln!(s, "_… and {} more_\n", failed.len() - shown);
    }
    *budget = budget.saturating_sub(s.len());
    out.push_str(&s);
}

fn plan_sections(report: &RunReport, out: &mut String, budget: &mut usize) {
    let pick = |f: &dyn Fn(&StepReport) -> bool| -> Vec<String> {
        report
            .steps
            .iter()
            .filter(|s| f(s))
            .map(|s| format!("{} — {}", s.name, s.reason))
            .collect()
    };
    let changes = |s: &StepReport| !s.action.leaves_alone();
    let sections = [
        (
            "Would tear down",
            pick(&|s| s.stage == Stage::Teardown && s.kind == Kind::Statement && changes(s)),
        ),
        (
            "Would drop tables",
            pick(&|s| s.stage == Stage::Teardown && s.kind == Kind::Table && changes(s)),
        ),
        (
            "Would build up",
            pick(&|s| s.stage == Stage::Buildup && changes(s)),
        ),
        ("Unchanged", pick(&|s| s.action == Action::Unchanged)),
        (
            "Left alone (protected)",
            pick(&|s| s.action == Action::Skip),
        ),
        (
            "Refused: not proven the app's",
            pick(&|s| s.action == Action::Refuse),
        ),
        (
            "No longer the app's (gone or replaced)",
            pick(&|s| s.action == Action::Release),
        ),
    ];
    for (title, items) in sections {
        if items.is_empty() {
            continue;
        }
        let mut s = format!("**{title} ({})**\n\n", items.len());
        let mut shown = 0;
        for i in &items {
            let (name, why) = i.split_once(" — ").unwrap_or((i, ""));
            let line = format!(
                "- {}: {}\n",
                code(&truncate(name, 300)),
                inline(&truncate(why, 300))
            );
            if s.len() + line.len() + 100 > *budget {
                break;
            }
            s.push_str(&line);
            shown += 1;
        }
        if shown < items.len() {
            let _ = writeln!(s, "- _… and {} more_", items.len() - shown);
        }
        s.push('\n');
        *budget = budget.saturating_sub(s.len());
        out.push_str(&s);
    }
}

/// Posts or updates this app's comment on the run's PR. Never fails: see [`CommentOutcome`].
pub async fn publish(
    report: &RunReport,
    ctx: &GithubContext,
    mode: CommentMode,
    masker: &Masker,
) -> CommentOutcome {
    if mode == CommentMode::Never {
        return CommentOutcome::Skipped("the `comment` input is `never`".into());
    }
    let body = masker.mask(&render(report, ctx)).into_owned();
    let outcome = match tokio::time::timeout(ctx.timeout, post(report, ctx, mode, &body)).await {
        Ok(outcome) => outcome,
        Err(_) => CommentOutcome::Skipped(format!(
            "the GitHub API did not answer within {} (rate limited?)",
            duration(ctx.timeout.as_millis() as u64)
        )),
    };
    // The reason may quote an API error: it goes to the summary and the log, so mask it too.
    match outcome {
        CommentOutcome::Skipped(why) => {
            let why = masker.mask(&why).into_owned();
            tracing::info!(reason = %why, "no PR comment posted");
            CommentOutcome::Skipped(why)
        }
        CommentOutcome::Created(mut c) => {
            c.warning = c.warning.map(|w| masker.mask(&w).into_owned());
            CommentOutcome::Created(c)
        }
        posted => posted,
    }
}

/// Where the comment goes, as far as it can be known without the API.
enum Target {
    Pr(u64),
    /// The PR associated with this commit; with `merged_only`, only a merged one.
    Commit {
        sha: String,
        merged_only: bool,
    },
}

fn target(ctx: &GithubContext, mode: CommentMode, event: Option<&Event>) -> Result<Target, String> {
    if let Some(n) = ctx.pr_number {
        return Ok(Target::Pr(n));
    }
    let event_name = ctx.event_name.as_deref().unwrap_or("");
    if let Some(e) = event.filter(|e| e.is_pull_request()) {
        let pr = e
            .pull_request()
            .ok_or_else(|| format!("the `{}` event payload has no PR number", e.name))?;
        // `pull_request_target` runs in the base repository with its token: a fork's PR can be
        // commented on there. A `pull_request` run from a fork gets a read-only token.
        if pr.is_fork() && e.name == "pull_request" {
            return Err(format!(
                "PR #{} comes from a fork ({}), whose workflow token is read-only",
                pr.number,
                pr.head_name().unwrap_or("deleted repository")
            ));
        }
        return Ok(Target::Pr(pr.number));
    }
    if event.is_none() && super::event::PULL_REQUEST_EVENTS.contains(&event_name) {
        return Err(format!(
            "the `{event_name}` event payload (GITHUB_EVENT_PATH) is missing or unreadable, \
             and no `pr-number` input"
        ));
    }
    let is_push = event.map(Event::is_push).unwrap_or(event_name == "push");
    if mode == CommentMode::Auto && !is_push {
        return Err(if event_name.is_empty() {
            "not running in a GitHub Actions workflow (no event), and no `pr-number` input".into()
        } else {
            format!(
                "`comment: auto` comments on pull_request and push events only (this run is \
                 `{event_name}`); set `pr-number` or `comment: always`"
            )
        });
    }
    let sha = event
        .and_then(Event::pushed_sha)
        .or_else(|| ctx.sha.clone())
        .ok_or("no PR number in the event, no `pr-number` input, and no commit to look up")?;
    Ok(Target::Commit {
        sha,
        merged_only: mode == CommentMode::Auto,
    })
}

async fn post(
    report: &RunReport,
    ctx: &GithubContext,
    mode: CommentMode,
    body: &str,
) -> CommentOutcome {
    match try_post(report, ctx, mode, body).await {
        Ok(outcome) => outcome,
        Err(why) => CommentOutcome::Skipped(why),
    }
}

async fn try_post(
    report: &RunReport,
    ctx: &GithubContext,
    mode: CommentMode,
    body: &str,
) -> Result<CommentOutcome, String> {
    let event = match (&ctx.event_name, &ctx.event_path) {
        (Some(name), Some(path)) => match Event::load(name, path) {
            Ok(e) => Some(e),
            Err(e) => {
                tracing::warn!(error = %e, "the event payload is unreadable; looking for the PR without it");
                None
            }
        },
        _ => None,
    };
    let target = target(ctx, mode, event.as_ref())?;
    let token = ctx
        .token
        .as_ref()
        .ok_or("no GitHub token (input `github-token`)")?;
    let (owner, repo) = ctx
        .owner_repo()
        .ok_or("GITHUB_REPOSITORY is not set to `owner/repo`")?;
    let crab = client(&ctx.api_url, "GITHUB_API_URL", token.expose())?;

    let pr = match target {
        Target::Pr(n) => n,
        Target::Commit { sha, merged_only } => pr_of_commit(&crab, owner, repo, &sha, merged_only)
            .await?
            .ok_or_else(|| {
                format!(
                    "no {}PR is associated with commit {}",
                    if merged_only { "merged " } else { "" },
                    &sha[..sha.len().min(12)]
                )
            })?,
    };

    let mark = marker(&report.app, &report.environment_id);
    // Only a comment the token itself wrote is ours to update; without knowing who the token
    // is, no comment is, and a new one is posted.
    let (existing, warning) = match identify(&crab, ctx, token.expose()).await {
        Ok(me) => (
            find_comment(&crab, owner, repo, pr, &mark, &me).await?,
            None,
        ),
        Err(e) => {
            tracing::warn!(
                pr,
                error = %e,
                "the token's identity is unknown: posting a new PR comment, editing none"
            );
            let warning = format!(
                "a new comment, and any earlier one left as it was: the token's identity could \
                 not be found ({e})"
            );
            (None, Some(warning))
        }
    };
    if let Some(id) = existing {
        let route = format!("/repos/{owner}/{repo}/issues/comments/{id}");
        // GitHub documents PATCH for this; octocrab's `update_comment` sends POST.
        match crab
            .patch::<Comment, _, _>(route, Some(&serde_json::json!({ "body": body })))
            .await
        {
            Ok(c) => {
                tracing::info!(pr, comment = c.id.0, "PR comment updated");
                return Ok(CommentOutcome::Updated(CommentRef {
                    id: c.id.0,
                    pr,
                    html_url: c.html_url.to_string(),
                    warning: None,
                }));
            }
            // Deleted between the listing and the update: post a new one.
            Err(e) if status_of(&e) == Some(404) => {}
            Err(e) => return Err(cannot_write(pr, &e)),
        }
    }
    match crab.issues(owner, repo).create_comment(pr, body).await {
        Ok(c) => {
            tracing::info!(pr, comment = c.id.0, "PR comment created");
            Ok(CommentOutcome::Created(CommentRef {
                id: c.id.0,
                pr,
                html_url: c.html_url.to_string(),
                warning,
            }))
        }
        Err(e) => Err(cannot_write(pr, &e)),
    }
}

fn cannot_write(pr: u64, e: &octocrab::Error) -> String {
    match status_of(e) {
        Some(403) | Some(404) => format!(
            "the token may not comment on PR #{pr} ({}); the job needs `permissions: \
             pull-requests: write`",
            describe(e)
        ),
        _ => format!("commenting on PR #{pr} failed: {}", describe(e)),
    }
}

/// The PR a commit belongs to: a merged PR whose merge commit it is, else any merged PR of it,
/// else (unless `merged_only`) an open one.
async fn pr_of_commit(
    crab: &Octocrab,
    owner: &str,
    repo: &str,
    sha: &str,
    merged_only: bool,
) -> Result<Option<u64>, String> {
    let page = crab
        .commits(owner, repo)
        .associated_pull_requests(PullRequestTarget::Sha(sha.to_string()))
        .per_page(100)
        .send()
        .await
        .map_err(|e| {
            format!(
                "looking up the PR of commit {} failed: {}",
                &sha[..sha.len().min(12)],
                describe(&e)
            )
        })?;
    let prs = page.items;
    let merged = |p: &&octocrab::models::pulls::PullRequest| p.merged_at.is_some();
    let by_merge_commit = prs
        .iter()
        .filter(merged)
        .find(|p| p.merge_commit_sha.as_deref() == Some(sha));
    let chosen = by_merge_commit
        .or_else(|| prs.iter().find(merged))
        .or_else(|| (!merged_only).then(|| prs.first()).flatten());
    Ok(chosen.map(|p| p.number))
}

/// The id of the first comment on the PR that `me` wrote and whose body starts with `mark`, over
/// all pages. Another author's comment is never ours, whatever its body says.
async fn find_comment(
    crab: &Octocrab,
    owner: &str,
    repo: &str,
    pr: u64,
    mark: &str,
    me: &Identity,
) -> Result<Option<u64>, String> {
    let failed = |e: octocrab::Error| match status_of(&e) {
        Some(403) | Some(404) => format!(
            "PR #{pr} or its comments are not visible to the token ({})",
            describe(&e)
        ),
        _ => format!("listing the comments of PR #{pr} failed: {}", describe(&e)),
    };
    let mut page = crab
        .issues(owner, repo)
        .list_comments(pr)
        .per_page(100u8)
        .page(1u32)
        .send()
        .await
        .map_err(failed)?;
    loop {
        let hit = page.items.iter().find(|c| {
            me.wrote(&c.user)
                && c.body
                    .as_deref()
                    .is_some_and(|b| b.trim_start().starts_with(mark))
        });
        if let Some(c) = hit {
            return Ok(Some(c.id.0));
        }
        if let Some(c) = page
            .items
            .iter()
            .find(|c| !me.wrote(&c.user) && c.body.as_deref().is_some_and(|b| b.contains(mark)))
        {
            tracing::debug!(
                pr,
                comment = c.id.0,
                author = %c.user.login,
                token_is = %me.login(),
                "a comment by another author carries this app's marker: not ours, left alone"
            );
        }
        match crab.get_page::<Comment>(&page.next).await.map_err(failed)? {
            Some(next) => page = next,
            None => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse() {
        assert_eq!("auto".parse::<CommentMode>(), Ok(CommentMode::Auto));
        assert_eq!(" Always ".parse::<CommentMode>(), Ok(CommentMode::Always));
        assert_eq!("never".parse::<CommentMode>(), Ok(CommentMode::Never));
        assert!("sometimes".parse::<CommentMode>().is_err());
    }

    #[test]
    fn the_marker_cannot_close_the_html_comment() {
        assert_eq!(
            marker("flights", "env-1"),
            "<!-- ccaf-housekeeping:app=flights env=env-1 -->"
        );
        assert!(!marker("a-->b", "e").contains("-->b"));
        assert!(!marker("a", "e-->b").contains("-->b"));
    }
}
