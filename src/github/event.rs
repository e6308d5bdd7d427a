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
    /// `pull_request.head.repo`; `None` when the head repository was deleted.
    pub head: Option<RepoRef>,
    /// `pull_request.base.repo` (else the payload's `repository`, the same repository).
    pub base: Option<RepoRef>,
}

/// What identifies a repository in a payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoRef {
    /// `full_name`: `owner/repo`.
    pub full_name: Option<String>,
    /// `id`: survives renames and transfers.
    pub id: Option<u64>,
}

impl RepoRef {
    fn from_json(repo: &Value) -> Option<RepoRef> {
        let full_name = repo
            .get("full_name")
            .and_then(Value::as_str)
            .map(str::to_string);
        let id = repo.get("id").and_then(Value::as_u64);
        (full_name.is_some() || id.is_some()).then_some(RepoRef { full_name, id })
    }

    /// Another repository than `other`: a name or an id that differs. Names are compared
    /// without case, as GitHub does.
    fn differs_from(&self, other: &RepoRef) -> bool {
        let names = match (&self.full_name, &other.full_name) {
            (Some(a), Some(b)) => !a.eq_ignore_ascii_case(b),
            _ => false,
        };
        let ids = matches!((self.id, other.id), (Some(a), Some(b)) if a != b);
        names || ids
    }
}

impl PullRequestRef {
    /// A PR from another repository: its `pull_request` runs get a read-only token.
    ///
    /// Decided by comparing the head repository with the base, never by `head.repo.fork`: that
    /// flag says the head repository is a fork of something, which is also true of a PR between
    /// two branches of a repository that was itself forked from elsewhere.
    pub fn is_fork(&self) -> bool {
        match (&self.head, &self.base) {
            // A head repository that is gone was a fork: a branch of the base repo cannot be
            // deleted without deleting the repo itself.
            (None, _) => true,
            (Some(head), Some(base)) => head.differs_from(base),
            // Nothing to compare with: not provably a fork. A read-only token then shows up as
            // the API's 403, with its reason.
            (Some(_), None) => false,
        }
    }

    /// The head repository's name, for messages.
    pub fn head_name(&self) -> Option<&str> {
        self.head.as_ref()?.full_name.as_deref()
    }
}

/// Events whose payload has a `pull_request` object the comment can go to.
pub const PULL_REQUEST_EVENTS: [&str; 2] = ["pull_request", "pull_request_target"];

/// Events that run with the base repository's secrets and a write token, yet may check out
/// another repository's head: a fork's manifest and SQL would run with those credentials.
pub const FORK_HEAD_EVENTS: [&str; 2] = ["pull_request_target", "workflow_run"];

/// Whose head an event of [`FORK_HEAD_EVENTS`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Head {
    /// The base repository's own.
    Own,
    /// Another repository's (its name when the payload has one; `None` when it was deleted).
    Fork(Option<String>),
    /// The payload does not say (no `pull_request` / `workflow_run` object).
    Unknown,
}

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
        let repo = |pointer: &str| pr.pointer(pointer).and_then(RepoRef::from_json);
        Some(PullRequestRef {
            number,
            head: repo("/head/repo"),
            base: repo("/base/repo")
                .or_else(|| self.payload.get("repository").and_then(RepoRef::from_json)),
        })
    }

    /// Whose head the run may have checked out: for `pull_request_target`, the PR's head
    /// repository against its base ([`PullRequestRef::is_fork`]); for `workflow_run`,
    /// `workflow_run.head_repository` against the payload's `repository` (by name or id; a
    /// missing or null head repository was a deleted fork). Other events: [`Head::Own`].
    pub fn head(&self) -> Head {
        match self.name.as_str() {
            "pull_request_target" => match self.pull_request() {
                Some(pr) if pr.is_fork() => Head::Fork(pr.head_name().map(str::to_string)),
                Some(_) => Head::Own,
                None => Head::Unknown,
            },
            "workflow_run" => {
                let Some(run) = self.payload.get("workflow_run") else {
                    return Head::Unknown;
                };
                let base = self.payload.get("repository").and_then(RepoRef::from_json);
                match (
                    run.get("head_repository").and_then(RepoRef::from_json),
                    base,
                ) {
                    (None, _) => Head::Fork(None),
                    (Some(head), Some(base)) if head.differs_from(&base) => {
                        Head::Fork(head.full_name)
                    }
                    (Some(_), Some(_)) => Head::Own,
                    (Some(_), None) => Head::Unknown,
                }
            }
            _ => Head::Own,
        }
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

    /// A `pull_request` event payload as GitHub sends it (`tests/fixtures/events/`).
    fn fixture(name: &str) -> Event {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/events")
            .join(name);
        Event::load("pull_request", &path).expect("the fixture is a JSON payload")
    }

    #[test]
    fn same_repo_pr_is_not_a_fork() {
        let e = fixture("pull_request.opened.json");
        let pr = e.pull_request().unwrap();
        assert_eq!(pr.number, 42);
        assert!(!pr.is_fork());
        assert!(e.is_pull_request());
    }

    #[test]
    fn a_pr_between_branches_of_a_repository_that_is_itself_a_fork_is_not_a_fork_pr() {
        let e = fixture("pull_request.same_repo_in_a_fork.json");
        // The payload says `fork: true` of the head repository (and of the base: the same one).
        assert_eq!(
            e.payload.pointer("/pull_request/head/repo/fork"),
            Some(&json!(true))
        );
        let pr = e.pull_request().unwrap();
        assert_eq!(pr.head, pr.base);
        assert!(!pr.is_fork(), "{pr:?}");
    }

    #[test]
    fn a_pr_from_another_repository_is_a_fork_pr() {
        let pr = fixture("pull_request.fork.json").pull_request().unwrap();
        assert_eq!(pr.number, 43);
        assert_eq!(pr.head_name(), Some("mallory/flight-apps"));
        assert!(pr.is_fork());
    }

    #[test]
    fn a_fork_differs_by_name_or_by_id_and_a_deleted_head_repo_is_a_fork() {
        let base = fixture("pull_request.opened.json");
        let with = |edit: &dyn Fn(&mut Value)| {
            let mut e = base.clone();
            edit(&mut e.payload);
            e.pull_request().unwrap()
        };
        // A fork of a fork: the base repository is a fork too, the head is another repository.
        let by_name = with(&|p| {
            let repo = p.pointer_mut("/pull_request/head/repo").unwrap();
            repo["full_name"] = json!("mallory/flight-apps");
            repo["id"] = json!(812340002);
            p["pull_request"]["base"]["repo"]["fork"] = json!(true);
        });
        assert!(by_name.is_fork());
        // Same name, another repository (deleted and recreated, or renamed into its place).
        let by_id = with(&|p| p["pull_request"]["head"]["repo"]["id"] = json!(912340003));
        assert!(by_id.is_fork());
        // GitHub's names are not case sensitive.
        let by_case =
            with(&|p| p["pull_request"]["head"]["repo"]["full_name"] = json!("ACME/Flight-Apps"));
        assert!(!by_case.is_fork());
        let deleted = with(&|p| p["pull_request"]["head"]["repo"] = Value::Null);
        assert!(deleted.is_fork());
        assert_eq!(deleted.head_name(), None);
        // Without `base.repo`, the payload's `repository` is the base.
        let no_base = with(&|p| {
            p["pull_request"]["base"]
                .as_object_mut()
                .unwrap()
                .remove("repo");
        });
        assert!(!no_base.is_fork());
    }

    #[test]
    fn the_head_of_a_pull_request_target_or_workflow_run_is_a_forks_by_name_or_id() {
        let mut fork = fixture("pull_request.fork.json");
        fork.name = "pull_request_target".into();
        assert_eq!(fork.head(), Head::Fork(Some("mallory/flight-apps".into())));
        let mut own = fixture("pull_request.opened.json");
        own.name = "pull_request_target".into();
        assert_eq!(own.head(), Head::Own);
        // Under `pull_request` the token is read-only and no secret is passed: not asked.
        assert_eq!(fixture("pull_request.fork.json").head(), Head::Own);

        let run = |head: Value| Event {
            name: "workflow_run".into(),
            payload: json!({
                "repository": {"full_name": "acme/flight-apps", "id": 812340001},
                "workflow_run": {"head_repository": head, "head_sha": "abc"},
            }),
        };
        let same = json!({"full_name": "acme/flight-apps", "id": 812340001});
        assert_eq!(run(same).head(), Head::Own);
        let by_name = json!({"full_name": "mallory/flight-apps", "id": 812340001});
        assert_eq!(
            run(by_name).head(),
            Head::Fork(Some("mallory/flight-apps".into()))
        );
        let by_id = json!({"full_name": "acme/flight-apps", "id": 912340003});
        assert_eq!(
            run(by_id).head(),
            Head::Fork(Some("acme/flight-apps".into()))
        );
        assert_eq!(run(Value::Null).head(), Head::Fork(None));
        let bare = Event {
            name: "workflow_run".into(),
            payload: json!({}),
        };
        assert_eq!(bare.head(), Head::Unknown);
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
