//! Input rules: the error that names a bad input or secret (exit 2), and the form rules for the
//! values every module checks the same way — ids, app names, topic names, durations. The
//! statement-name rule lives with the names themselves, in [`crate::naming`].

use std::time::Duration;

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

/// An id that goes into tracker keys and URLs: letters, digits, `-`, `_`, `.`.
pub fn validate_id(s: &str) -> Result<(), String> {
    crate::text::check_printable(s)?;
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.len() > 255 {
        return Err("is longer than 255 characters".into());
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "contains '{c}': only letters, digits, '-', '_' and '.' are allowed"
        ));
    }
    Ok(())
}

/// The app's scope name: `[a-z0-9-]`, 1–63 characters, not starting or ending with `-`.
pub fn validate_app(s: &str) -> Result<(), String> {
    crate::text::check_printable(s)?;
    if s.is_empty() || s.len() > 63 {
        return Err(format!("'{s}' must be 1 to 63 characters"));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err(format!("'{s}' may contain only a-z, 0-9 and '-'"));
    }
    if !crate::naming::valid_logical_name(s) {
        return Err(format!("'{s}' must not start or end with '-'"));
    }
    Ok(())
}

/// A Kafka topic name: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
pub fn validate_topic(s: &str) -> Result<(), String> {
    crate::text::check_printable(s)?;
    if s.is_empty() {
        return Err("is empty".into());
    }
    if s.len() > 249 {
        return Err(format!("'{s}' is longer than 249 characters"));
    }
    if s == "." || s == ".." {
        return Err(format!("'{s}' is not a valid topic name"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "'{s}' contains '{c}': a topic name has only letters, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// Parse `500ms`, `30s`, `10m`, `1h` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration like 30s, 10m or 500ms"))?;
    let d = match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("'{s}' is not a duration like 30s, 10m or 500ms")),
    };
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(validate_app("flight-consolidator").is_ok());
        assert!(validate_app("Flight").is_err());
        assert!(validate_app("-x").is_err());
        assert!(validate_topic("ccaf-housekeeping-tracker").is_ok());
        assert!(validate_topic("").is_err());
        assert!(validate_topic("a/b").is_err());
        assert!(validate_id("env-abc123").is_ok());
        assert!(validate_id("env/x").is_err());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("10m").unwrap(), Duration::from_secs(600));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert!(parse_duration("ten").is_err());
        assert!(parse_duration("5d").is_err());
    }
}
