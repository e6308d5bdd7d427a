//! The error that names a bad input, secret or environment variable (exit 2). The form rules
//! every module checks values with — ids, app names, topic names, durations — are in
//! [`crate::form`] (re-exported here); the statement-name rule lives with the names themselves,
//! in [`crate::naming`].

pub use crate::form::{parse_duration, validate_app, validate_id, validate_topic};

/// A configuration problem: bad or missing input, or a secret that does not hold what it must.
/// The binary exits 2 on these. The message names the input, or the secret id and key; never a
/// value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("input `{input}`: {reason}")]
    Input { input: &'static str, reason: String },
    /// The manifest cannot be read or is invalid; the cause says where.
    #[error("input `manifest`")]
    Manifest(#[source] crate::manifest::ManifestError),
    /// A variable of the run's environment (`GITHUB_*`, `CCAF_*`) that is malformed.
    #[error("environment variable `{variable}`: {reason}")]
    Environment {
        variable: &'static str,
        reason: String,
    },
    #[error("input `{input}` is missing: {hint}")]
    Missing { input: &'static str, hint: String },
    #[error("secret `{secret_id}` does not exist in AWS Secrets Manager (input `{input}`)")]
    SecretNotFound {
        secret_id: String,
        input: &'static str,
    },
    #[error("secret `{secret_id}` (input `{input}`) cannot be read: {reason}")]
    SecretDenied {
        secret_id: String,
        input: &'static str,
        reason: String,
    },
    #[error("secret `{secret_id}` (input `{input}`) is not a JSON object: {reason}")]
    SecretNotJson {
        secret_id: String,
        input: &'static str,
        reason: String,
    },
    #[error("secret `{secret_id}` (input `{input}`) has no key `{key}`{hint}")]
    MissingKey {
        secret_id: String,
        input: &'static str,
        key: &'static str,
        hint: String,
    },
    #[error("secret `{secret_id}` (input `{input}`) has none of the keys for {what}: it needs {accepted}{hint}")]
    NoAcceptedKey {
        secret_id: String,
        input: &'static str,
        what: &'static str,
        /// Every accepted spelling, for people.
        accepted: &'static str,
        hint: String,
    },
    #[error("secret `{secret_id}` (input `{input}`): key `{key}` {reason}")]
    BadKey {
        secret_id: String,
        input: &'static str,
        key: &'static str,
        reason: String,
    },
}

impl ConfigError {
    /// The input the error is about (for a secret: the input that names the secret).
    pub fn input_name(&self) -> &'static str {
        match self {
            ConfigError::Input { input, .. }
            | ConfigError::Missing { input, .. }
            | ConfigError::SecretNotFound { input, .. }
            | ConfigError::SecretDenied { input, .. }
            | ConfigError::SecretNotJson { input, .. }
            | ConfigError::MissingKey { input, .. }
            | ConfigError::NoAcceptedKey { input, .. }
            | ConfigError::BadKey { input, .. } => input,
            ConfigError::Manifest(_) => "manifest",
            ConfigError::Environment { variable, .. } => variable,
        }
    }

    pub fn environment(variable: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Environment {
            variable,
            reason: reason.into(),
        }
    }

    pub fn input(input: &'static str, reason: impl Into<String>) -> ConfigError {
        ConfigError::Input {
            input,
            reason: reason.into(),
        }
    }
}
