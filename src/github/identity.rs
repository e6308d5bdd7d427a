//! Who the token is: the author whose comments the sticky comment may be. A marker is only text,
//! and anyone who can comment on the PR can write it; only a comment written by the token's own
//! identity is ours to update.
//!
//! Two kinds of token, two ways to ask:
//!
//! - `GET /user` answers for a person's token (a personal access token, fine-grained or classic;
//!   a GitHub App's user-to-server token) with the user's `login`, `id` and `type`: the same
//!   object the REST API puts in a comment's `user`, so a comment is ours when its author has that
//!   `id`.
//! - An installation token (the workflow's `GITHUB_TOKEN`, a GitHub App's installation token) has
//!   no user: `GET /user` answers 403 "Resource not accessible by integration". GraphQL's
//!   `query { viewer { login } }` still answers, with the app's slug (`github-actions` for
//!   `GITHUB_TOKEN`); the app writes comments as its bot account, whose REST `login` is the slug
//!   plus `[bot]` and whose `type` is `Bot`.
//!
//! `GET /user` is asked first because its answer matches a comment's author exactly (by id, not
//! by a naming convention); GraphQL only after its 403, which is what says the token is an
//! installation's — so the `[bot]` rule is only applied to a token known to be one. (Sticky
//! comment actions that ask only GraphQL's viewer also list the comments through GraphQL, whose
//! authors have no `[bot]` suffix; ours are listed through REST. An author given by hand, or a
//! fixed `github-actions[bot]`, is wrong as soon as the token changes.)

use octocrab::models::Author;
use octocrab::Octocrab;
use serde::Deserialize;

use super::api::{client, describe, status_of};
use super::GithubContext;

/// The query GitHub answers for every kind of token.
const VIEWER_QUERY: &str = "query { viewer { login } }";

/// The author of the comments the token writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Identity {
    /// A person, from `GET /user`.
    User { login: String, id: u64 },
    /// An app's installation, from GraphQL's viewer: `login` is the app's slug.
    Installation { login: String },
}

impl Identity {
    /// Did this identity write a comment by `author`?
    pub(super) fn wrote(&self, author: &Author) -> bool {
        match self {
            // Ids survive renames; logins are not needed.
            Identity::User { id, .. } => author.id.0 == *id,
            // A user's login cannot contain `[`: only the bot account has this login.
            Identity::Installation { .. } => {
                author.r#type == "Bot" && author.login.eq_ignore_ascii_case(&self.login())
            }
        }
    }

    /// The login its comments carry in the REST API.
    pub(super) fn login(&self) -> String {
        match self {
            Identity::User { login, .. } => login.clone(),
            Identity::Installation { login } => format!("{login}[bot]"),
        }
    }
}

/// Why the token's identity is unknown. The messages repeat their cause in one line: they are
/// logged and shown in a warning, never printed as a chain.
#[derive(Debug, thiserror::Error)]
pub(super) enum IdentityError {
    #[error("GET /user failed ({})", describe(.source))]
    User {
        #[source]
        source: octocrab::Error,
    },
    #[error(
        "GET /user refused the token as an installation's, and the GraphQL viewer query failed \
         ({})",
        describe(.source)
    )]
    Viewer {
        #[source]
        source: octocrab::Error,
    },
    #[error("the GraphQL viewer query answered an empty login")]
    EmptyLogin,
    #[error("GITHUB_GRAPHQL_URL `{url}` does not end in `/graphql`")]
    GraphqlUrl { url: String },
    #[error("cannot set up the GraphQL client: {why}")]
    Client { why: String },
}

#[derive(Deserialize)]
struct ViewerData {
    viewer: Viewer,
}

#[derive(Deserialize)]
struct Viewer {
    login: String,
}

/// Asks GitHub who the token is: `GET /user`, then, when that refuses an installation token,
/// GraphQL's viewer.
pub(super) async fn identify(
    crab: &Octocrab,
    ctx: &GithubContext,
    token: &str,
) -> Result<Identity, IdentityError> {
    match crab.current().user().await {
        Ok(user) => Ok(Identity::User {
            login: user.login,
            id: user.id.0,
        }),
        Err(e) if status_of(&e) == Some(403) => {
            tracing::debug!(
                answer = %describe(&e),
                "GET /user refused the token: an installation token, asking GraphQL's viewer"
            );
            let login = viewer(ctx, token).await?;
            Ok(Identity::Installation { login })
        }
        Err(source) => Err(IdentityError::User { source }),
    }
}

async fn viewer(ctx: &GithubContext, token: &str) -> Result<String, IdentityError> {
    // octocrab posts GraphQL to `<base>/graphql`, and its base is REST's: on GitHub Enterprise
    // Server the two differ (`/api/v3`, `/api/graphql`), so GraphQL gets a client of its own.
    let base =
        ctx.graphql_url
            .strip_suffix("/graphql")
            .ok_or_else(|| IdentityError::GraphqlUrl {
                url: ctx.graphql_url.clone(),
            })?;
    let crab =
        client(base, "GITHUB_GRAPHQL_URL", token).map_err(|why| IdentityError::Client { why })?;
    let data: ViewerData = crab
        .graphql(&serde_json::json!({ "query": VIEWER_QUERY }))
        .await
        .map_err(|source| IdentityError::Viewer { source })?;
    let login = data.viewer.login.trim().to_string();
    if login.is_empty() {
        return Err(IdentityError::EmptyLogin);
    }
    Ok(login)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn author(login: &str, id: u64, kind: &str) -> Author {
        serde_json::from_value(serde_json::json!({
            "login": login,
            "id": id,
            "node_id": "MDQ6VXNlcjE=",
            "avatar_url": "https://avatars.githubusercontent.com/u/1?v=4",
            "gravatar_id": "",
            "url": "https://api.github.com/users/x",
            "html_url": "https://github.com/x",
            "followers_url": "https://api.github.com/users/x/followers",
            "following_url": "https://api.github.com/users/x/following{/other_user}",
            "gists_url": "https://api.github.com/users/x/gists{/gist_id}",
            "starred_url": "https://api.github.com/users/x/starred{/owner}{/repo}",
            "subscriptions_url": "https://api.github.com/users/x/subscriptions",
            "organizations_url": "https://api.github.com/users/x/orgs",
            "repos_url": "https://api.github.com/users/x/repos",
            "events_url": "https://api.github.com/users/x/events{/privacy}",
            "received_events_url": "https://api.github.com/users/x/received_events",
            "type": kind,
            "site_admin": false
        }))
        .unwrap()
    }

    #[test]
    fn a_person_is_matched_by_id() {
        let me = Identity::User {
            login: "octo-dev".into(),
            id: 7,
        };
        assert!(me.wrote(&author("octo-dev", 7, "User")));
        assert!(me.wrote(&author("renamed", 7, "User")));
        assert!(!me.wrote(&author("octo-dev", 8, "User")));
        assert_eq!(me.login(), "octo-dev");
    }

    #[test]
    fn an_installation_is_matched_by_its_bot_account_only() {
        let me = Identity::Installation {
            login: "github-actions".into(),
        };
        assert!(me.wrote(&author("github-actions[bot]", 41898282, "Bot")));
        // A person with the app's slug as login is not the app.
        assert!(!me.wrote(&author("github-actions", 5, "User")));
        assert!(!me.wrote(&author("dependabot[bot]", 49699333, "Bot")));
        assert!(!me.wrote(&author("github-actions[bot]", 41898282, "User")));
        assert_eq!(me.login(), "github-actions[bot]");
    }
}
