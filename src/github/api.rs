//! GitHub's API client as the reporters build it (octocrab: the token only over https off this
//! machine, rate limits waited out, bounded timeouts) and its errors in one line.

use std::time::Duration;

use octocrab::service::middleware::retry::{NoOpRateLimitMetrics, RetryConfig};
use octocrab::Octocrab;

use super::markdown::truncate;

/// A client whose requests go under `base` (`variable` names where it came from, for the error).
pub(crate) fn client(base: &str, variable: &str, token: &str) -> Result<Octocrab, String> {
    // The token goes with every request: never over plain http off this machine.
    crate::http::check_endpoint(base).map_err(|why| format!("{variable} `{base}`: {why}"))?;
    Octocrab::builder()
        .personal_token(token.to_string())
        .base_uri(base)
        .map_err(|e| format!("{variable} `{base}` is not a URL: {e}"))?
        .add_retry_config(RetryConfig::HandleRateLimits {
            metrics: std::sync::Arc::new(NoOpRateLimitMetrics),
            max_retries: 3,
            min_wait_seconds: 5,
            retry_on_forbidden: false,
        })
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(Duration::from_secs(30)))
        .build()
        .map_err(|e| format!("cannot set up the GitHub client: {}", describe(&e)))
}

/// An octocrab error in one line, without the backtrace its `Display` may carry.
pub(crate) fn describe(e: &octocrab::Error) -> String {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            format!("HTTP {}: {}", source.status_code.as_u16(), source.message)
        }
        octocrab::Error::Graphql { source, .. } => {
            let messages: Vec<&str> = source.0.iter().map(|e| e.message.as_str()).collect();
            truncate(&format!("GraphQL: {}", messages.join("; ")), 300).into_owned()
        }
        other => {
            let text = other.to_string();
            let first = text.lines().next().unwrap_or("").to_string();
            truncate(&first, 300).into_owned()
        }
    }
}

pub(crate) fn status_of(e: &octocrab::Error) -> Option<u16> {
    match e {
        octocrab::Error::GitHub { source, .. } => Some(source.status_code.as_u16()),
        _ => None,
    }
}
