//! The webhook payload of the event that started the run (`GITHUB_EVENT_PATH`), read leniently:
//! only the few fields the PR comment needs, so a payload shape GitHub adds later cannot break a
//! run.

use std::path::Path;

use serde_json::Value;

use super::GithubError;

/// The event that triggered the workflow.
#[derive(Debug, Clone)]
pub struct Event {
    /// `GITHUB_EVENT_NAME`.
    pub name: String,
    pub payload: Value,
}

/// The pull request an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullRequestRef {
    pub number: u64,
    /// `pull_request.head.repo.full_name`; `None` when the head repository was deleted.
    pub head_repo: Option<String>,
    /// `pull_request.base.repo.full_name`.
    pub base_repo: Option<String>,
    /// `pull_request.head.repo.fork`.
    pub head_is_fork: bool,
}

impl PullRequestRef {
    /// A PR from another repository: its `pull_request` runs get a read-only token.
    pub fn is_fork(&self) -> bool {
        match (&self.head_repo, &self.base_repo) {
            // A head repository that is gone was a fork: a branch of the base repo cannot be
            // deleted without deleting the repo itself.
            (None, Some(_)) => true,
            (Some(h), Some(b)) => h != b || self.head_is_fork,
            _ => self.head_is_fork,
        }
    }
}

/// Events whose payload has a `pull_request` object the comment can go to.
pub const PULL_REQUEST_EVENTS: [&str; 2] = ["pull_request", "pull_request_target"];

impl Event {
    /// Reads the payload at `path`.
    pub fn load(name: &str, path: &Path) -> Result<Event, GithubError> {
        let text = std::fs::read_to_string(path).map_err(|source| GithubError::ReadEvent {
            path: path.to_path_buf(),
            source,
        })?;
        let payload = serde_json::from_str(&text).map_err(|source| GithubError::ParseEvent {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Event {
            name: name.to_string(),
            payload,
        })
    }

    pub fn is_pull_request(&self) -> bool {
        PULL_REQUEST_EVENTS.contains(&self.name.as_str())
    }

    pub fn is_push(&self) -> bool {
        self.name == "push"
    }

    /// The PR of a `pull_request`-like payload.
    pub fn pull_request(&self) -> Option<PullRequestRef> {
        let pr = self.payload.get("pull_request")?;
        let number = pr.get("number")?.as_u64()?;
        let full_name = |side: &str| {
            pr.pointer(&format!("/{side}/repo/full_name"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Some(PullRequestRef {
            number,
            head_repo: full_name("head"),
            base_repo: full_name("base"),
            head_is_fork: pr
                .pointer("/head/repo/fork")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// The commit a push event moved the branch to (`after`), if any.
    pub fn pushed_sha(&self) -> Option<String> {
        self.payload
            .get("after")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.bytes().any(|b| b != b'0'))
            .map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pr_event(head: Value, base: &str) -> Event {
        Event {
            name: "pull_request".into(),
            payload: json!({
                "action": "opened",
                "number": 7,
                "pull_request": {
                    "number": 7,
                    "head": {"ref": "feature", "repo": head},
                    "base": {"ref": "main", "repo": {"full_name": base, "fork": false}},
                }
            }),
        }
    }

    #[test]
    fn same_repo_pr_is_not_a_fork() {
        let e = pr_event(
            json!({"full_name": "acme/flights", "fork": false}),
            "acme/flights",
        );
        let pr = e.pull_request().unwrap();
        assert_eq!(pr.number, 7);
        assert!(!pr.is_fork());
        assert!(e.is_pull_request());
    }

    #[test]
    fn fork_is_detected_by_name_by_flag_and_by_a_deleted_head_repo() {
        let by_name = pr_event(
            json!({"full_name": "bob/flights", "fork": false}),
            "acme/flights",
        );
        assert!(by_name.pull_request().unwrap().is_fork());
        let by_flag = pr_event(
            json!({"full_name": "acme/flights", "fork": true}),
            "acme/flights",
        );
        assert!(by_flag.pull_request().unwrap().is_fork());
        let deleted = pr_event(Value::Null, "acme/flights");
        assert!(deleted.pull_request().unwrap().is_fork());
    }

    #[test]
    fn push_sha_ignores_the_zero_sha_of_a_deleted_branch() {
        let e = |after: &str| Event {
            name: "push".into(),
            payload: json!({"after": after}),
        };
        assert_eq!(e("abc123").pushed_sha().as_deref(), Some("abc123"));
        assert_eq!(e(&"0".repeat(40)).pushed_sha(), None);
        assert!(e("x").pull_request().is_none());
    }
}
