//! The process environment a run uses, read once, here, and checked before anything else
//! happens: the `GITHUB_*` values the reporters, the tracker's provenance and the lease need,
//! and the advanced `CCAF_*` settings tests use. Nothing else in the crate reads the
//! environment (clippy's `disallowed-methods`, `clippy.toml`); a malformed value is bad input,
//! exit 2, before any request.

use std::path::PathBuf;
use std::time::Duration;

use crate::cancel::DEFAULT_GRACE;
use crate::github::GithubContext;
use crate::input::{parse_duration, ConfigError};

use crate::github::live::DEFAULT_HEARTBEAT;

/// Everything the run reads from its environment.
#[derive(Debug, Clone)]
pub struct RunEnv {
    /// `GITHUB_ACTIONS=true`: on GitHub's runner (workflow commands, masks).
    pub actions: bool,
    /// GitHub's context of the run (its token is an input, added by the command).
    pub github: GithubContext,
    /// `GITHUB_RUN_ATTEMPT`.
    pub run_attempt: Option<String>,
    /// `GITHUB_ACTOR`, else `USER`: who started the run.
    pub actor: Option<String>,
    /// `GITHUB_JOB`.
    pub job: Option<String>,
    /// `HOSTNAME`, for a local run's lease holder.
    pub host: Option<String>,
    /// `GITHUB_WORKSPACE`, else the current directory: where the manifest and SQL files are.
    pub workspace: PathBuf,
    /// `CCAF_LEASE_TTL`: the lease's time to live (tests that kill runs on purpose).
    pub lease_ttl: Option<Duration>,
    /// `CCAF_LEASE_WAIT`: how long to wait for another run's lease.
    pub lease_wait: Option<Duration>,
    /// `CCAF_HEARTBEAT`: how often the steps still waiting are named.
    pub heartbeat: Duration,
    /// `CCAF_CANCEL_GRACE`: how long steps in flight get after a signal.
    pub cancel_grace: Duration,
    /// `CCAF_LOG`: an `EnvFilter` directive for the log.
    pub log: Option<String>,
}

impl RunEnv {
    /// The process's environment.
    #[allow(clippy::disallowed_methods)] // The one place that reads it.
    pub fn read() -> Result<RunEnv, ConfigError> {
        let cwd = std::env::current_dir().ok();
        RunEnv::from_lookup(|name| std::env::var(name).ok(), cwd)
    }

    /// The environment `lookup` gives (tests), `cwd` the current directory.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
        cwd: Option<PathBuf>,
    ) -> Result<RunEnv, ConfigError> {
        let var = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let duration = |name: &'static str| -> Result<Option<Duration>, ConfigError> {
            var(name)
                .map(|v| {
                    parse_duration(v.trim())
                        .map_err(|why| ConfigError::environment(name, format!("'{v}': {why}")))
                })
                .transpose()
        };
        let github = GithubContext::from_lookup(&lookup, None);
        if let Some(repo) = &github.repository {
            check_repository(repo)?;
        }
        Ok(RunEnv {
            actions: var("GITHUB_ACTIONS").as_deref() == Some("true"),
            run_attempt: var("GITHUB_RUN_ATTEMPT"),
            actor: var("GITHUB_ACTOR").or_else(|| var("USER")),
            job: var("GITHUB_JOB"),
            host: var("HOSTNAME"),
            workspace: var("GITHUB_WORKSPACE")
                .map(PathBuf::from)
                .or(cwd)
                .unwrap_or_else(|| PathBuf::from(".")),
            lease_ttl: duration("CCAF_LEASE_TTL")?,
            lease_wait: duration("CCAF_LEASE_WAIT")?,
            heartbeat: duration("CCAF_HEARTBEAT")?
                .filter(|d| !d.is_zero())
                .unwrap_or(DEFAULT_HEARTBEAT),
            cancel_grace: duration("CCAF_CANCEL_GRACE")?.unwrap_or(DEFAULT_GRACE),
            log: var("CCAF_LOG"),
            github,
        })
    }

    /// The GitHub run (`GITHUB_RUN_ID`, attempt), when there is one.
    pub fn github_run(&self) -> Option<(&str, &str)> {
        let id = self.github.run_id.as_deref()?;
        Some((id, self.run_attempt.as_deref().unwrap_or("1")))
    }

    /// A new lease run id for this process.
    pub fn lease_run_id(&self) -> String {
        crate::tracker::lease::new_run_id(self.github_run())
    }

    /// Who holds the lease this process takes.
    pub fn lease_holder(&self) -> String {
        let github = self
            .github
            .repository
            .as_deref()
            .zip(self.github.run_id.as_deref())
            .map(|(repo, run)| (repo, run, self.job.as_deref()));
        crate::tracker::lease::holder(github, self.host.as_deref())
    }

    /// Who and what started this run, for the tracker's records.
    pub fn provenance(&self, pr_number: Option<u64>) -> crate::tracker::Provenance {
        let run_id = self.github_run().map(|(id, attempt)| match attempt {
            "1" => id.to_string(),
            a => format!("{id}-{a}"),
        });
        crate::tracker::Provenance {
            git_sha: self.github.sha.clone(),
            run_id,
            pr_number,
            actor: self.actor.clone(),
            ..crate::tracker::Provenance::now()
        }
    }
}

/// `GITHUB_REPOSITORY` is `owner/name`, each of GitHub's characters: what the comment's API
/// paths and the run's link are made of.
fn check_repository(repo: &str) -> Result<(), ConfigError> {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match repo.split_once('/') {
        Some((owner, name)) if part(owner) && part(name) => Ok(()),
        _ => Err(ConfigError::environment(
            "GITHUB_REPOSITORY",
            format!("'{repo}' is not owner/name"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Result<RunEnv, ConfigError> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        RunEnv::from_lookup(
            |name| {
                pairs
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            },
            Some(PathBuf::from("/w")),
        )
    }

    #[test]
    fn defaults_without_anything_set() {
        let e = env(&[]).unwrap();
        assert!(!e.actions);
        assert_eq!(e.workspace, PathBuf::from("/w"));
        assert_eq!(e.heartbeat, DEFAULT_HEARTBEAT);
        assert_eq!(e.cancel_grace, DEFAULT_GRACE);
        assert_eq!(e.lease_ttl, None);
        assert!(e.github_run().is_none());
    }

    #[test]
    fn the_runner_s_values_are_read_once() {
        let e = env(&[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/flights.app"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_RUN_ATTEMPT", "2"),
            ("GITHUB_WORKSPACE", "/ws"),
            ("USER", "me"),
            ("CCAF_LEASE_TTL", "3s"),
            ("CCAF_HEARTBEAT", "0s"),
        ])
        .unwrap();
        assert!(e.actions);
        assert_eq!(e.github_run(), Some(("42", "2")));
        assert_eq!(e.workspace, PathBuf::from("/ws"));
        assert_eq!(e.actor.as_deref(), Some("me"));
        assert_eq!(e.lease_ttl, Some(Duration::from_secs(3)));
        assert_eq!(e.heartbeat, DEFAULT_HEARTBEAT, "zero is no interval");
    }

    #[test]
    fn malformed_values_are_bad_input_naming_the_variable() {
        for (name, value) in [
            ("GITHUB_REPOSITORY", "no-slash"),
            ("GITHUB_REPOSITORY", "a/b/c"),
            ("GITHUB_REPOSITORY", "a/b c"),
            ("CCAF_LEASE_TTL", "soon"),
            ("CCAF_CANCEL_GRACE", "-1s"),
        ] {
            let e = env(&[(name, value)]).unwrap_err();
            assert_eq!(e.input_name(), name, "{e}");
            assert!(e.to_string().contains(value), "{e}");
        }
    }
}
