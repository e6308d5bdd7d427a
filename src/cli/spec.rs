//! From checked inputs and the run's environment to what a housekeeping run is asked: the
//! engine's [`RunSpec`] (the mode, the manifest, the options, the lease, the provenance) and how
//! the run is reported. Built once, before any request: a manifest that does not read, a run
//! refused on a fork's head, a missing app are bad input here (exit 2).

use crate::command::{Command, Goal};
use crate::engine::{LeaseSpec, Request, RunSpec};
use crate::github::{CommentMode, GithubContext, OutputFormat};
use crate::input::ConfigError;
use crate::manifest::{self, Manifest};
use crate::tracker::LeaseRequest;

use super::{Checked, RunEnv, Settings};

/// How a housekeeping run is reported.
#[derive(Debug, Clone)]
pub struct Reporting {
    /// GitHub's context, with the `github-token` and `pr-number` inputs.
    pub github: GithubContext,
    pub comment: CommentMode,
    pub summary: bool,
    pub output: OutputFormat,
    /// `GITHUB_ACTIONS=true`.
    pub actions: bool,
    /// How often the steps still waiting are named.
    pub heartbeat: std::time::Duration,
}

/// What the engine is asked to do: `plan` and dry runs plan, `adopt` adopts, the rest run.
pub fn request(command: Command, settings: &Settings) -> Request {
    let goal = match command {
        Command::Plan => return Request::Plan(settings.plan_for),
        Command::Adopt => {
            return Request::Adopt(crate::engine::adopt::Selection {
                statements: settings.adopt.clone(),
                tables: settings.adopt_tables.clone(),
            })
        }
        Command::Teardown => Goal::Teardown,
        Command::Buildup => Goal::Buildup,
        Command::Rebuild => Goal::Rebuild,
    };
    if settings.dry_run {
        Request::Plan(goal)
    } else {
        Request::Run(goal)
    }
}

/// The spec and the reporting of a housekeeping run.
pub fn build(
    command: Command,
    checked: &Checked,
    settings: Settings,
    env: &RunEnv,
) -> Result<(RunSpec, Reporting), ConfigError> {
    let request = request(command, &settings);
    refuse_fork_head(command, &request, &settings, &env.github)?;
    let manifest: Option<Manifest> = match &settings.manifest {
        Some(path) => Some(
            manifest::load(path, &settings.workspace, checked.app.as_deref())
                .map_err(ConfigError::Manifest)?,
        ),
        None => None,
    };
    let app = match (&manifest, &checked.app) {
        (Some(m), _) => m.app.clone(),
        (None, Some(a)) => a.clone(),
        (None, None) => {
            return Err(ConfigError::Missing {
                input: "app",
                hint: "name the app with the app input or in a manifest".into(),
            })
        }
    };
    let reporting = Reporting {
        github: GithubContext {
            token: settings
                .github_token
                .clone()
                .filter(|t| !t.expose().trim().is_empty()),
            ..env.github.clone()
        }
        .with_pr_number(settings.pr_number),
        comment: settings.comment,
        summary: settings.summary,
        output: settings.output,
        actions: env.actions,
        heartbeat: env.heartbeat,
    };
    let spec = RunSpec {
        app,
        request,
        manifest,
        options: settings.options,
        timeout: settings.timeout,
        concurrency: settings.concurrency,
        catalog: settings.catalog,
        database: settings.database,
        database_clusters: settings.database_clusters,
        lease: LeaseSpec {
            run_id: env.lease_run_id(),
            holder: env.lease_holder(),
            wait: env.lease_wait.unwrap_or(LeaseRequest::DEFAULT_WAIT),
            ttl: env.lease_ttl,
        },
        provenance: env.provenance(settings.pr_number),
    };
    Ok((spec, reporting))
}

/// A run that changes things refuses a fork's head on the events that give it this repository's
/// secrets (`pull_request_target`, `workflow_run`) unless `allow-fork-head` says otherwise: the
/// manifest and SQL it would read may be anyone's. A payload that does not say whose head it is
/// counts as a fork's. Before any network call: bad input, exit 2.
fn refuse_fork_head(
    command: Command,
    request: &Request,
    settings: &Settings,
    github: &GithubContext,
) -> Result<(), ConfigError> {
    use crate::github::event::{Event, Head, FORK_HEAD_EVENTS};
    if settings.allow_fork_head || matches!(request, Request::Plan(_)) {
        return Ok(());
    }
    let Some(name) = github
        .event_name
        .as_deref()
        .filter(|n| FORK_HEAD_EVENTS.contains(n))
    else {
        return Ok(());
    };
    let head = match &github.event_path {
        Some(path) => match Event::load(name, path) {
            Ok(event) => event.head(),
            Err(e) => {
                tracing::warn!(error = %e, "the event payload cannot be read");
                Head::Unknown
            }
        },
        None => Head::Unknown,
    };
    let whose = match head {
        Head::Own => return Ok(()),
        Head::Fork(Some(repo)) => format!("a fork's ({repo})"),
        Head::Fork(None) => "a fork's (a deleted repository)".to_string(),
        Head::Unknown => "maybe a fork's (the event payload does not say)".to_string(),
    };
    Err(ConfigError::input(
        "allow-fork-head",
        format!(
            "{command} refused on the {name} event: its head is {whose}, and a fork's \
             manifest and SQL would run with this repository's credentials; set \
             allow-fork-head: true only if the workflow checks out trusted code"
        ),
    ))
}
