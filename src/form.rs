//! The form rules for the values every module checks the same way: ids, app names, topic
//! names, durations. Pure; the error that names the input is [`crate::input::ConfigError`].

use std::time::Duration;

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
