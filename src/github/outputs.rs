//! Step outputs: appended to the file at `GITHUB_OUTPUT` in the runner's multi-line form
//!
//! ```text
//! name<<DELIMITER
//! value
//! DELIMITER
//! ```
//!
//! with a random delimiter that does not occur in the value, so no value can end its own entry
//! early or smuggle in another output.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use rand::Rng;

use crate::report::RunReport;

use super::{GithubError, Masker};

/// The outputs of a run, in `action.yml` order: name and JSON value.
pub fn step_outputs(report: &RunReport) -> Vec<(&'static str, String)> {
    let list = |names: Vec<String>| json(&names);
    vec![
        ("torn-down", list(report.torn_down())),
        ("rebuilt", list(report.rebuilt())),
        ("evolved", list(report.evolved())),
        ("unchanged", list(report.unchanged())),
        ("dropped-tables", list(report.dropped_tables())),
        ("failed", list(report.failed())),
        ("report", json(report)),
    ]
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    // Serializing these plain data types cannot fail (no maps with non-string keys).
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

fn random_delimiter() -> String {
    let n: u128 = rand::rng().random();
    let h = format!("{n:032x}");
    format!(
        "ghadelimiter_{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// One output entry in the multi-line form, ending with a newline.
pub fn format_output(name: &str, value: &str) -> String {
    format_output_with(name, value, random_delimiter)
}

/// [`format_output`] with the delimiter source given (tests force collisions with it).
pub fn format_output_with(
    name: &str,
    value: &str,
    mut delimiter: impl FnMut() -> String,
) -> String {
    let mut delim = delimiter();
    // Neither the value nor the name may contain it; a random one collides only in a test.
    while delim.is_empty() || value.contains(&delim) || name.contains(&delim) {
        delim = delimiter();
    }
    format!("{name}<<{delim}\n{value}\n{delim}\n")
}

/// Appends every output of `report` to the file at `path` (the runner's `GITHUB_OUTPUT`), each
/// value passed through `masker`.
pub fn write_step_outputs(
    path: &Path,
    report: &RunReport,
    masker: &Masker,
) -> Result<(), GithubError> {
    let mut text = String::new();
    for (name, value) in step_outputs(report) {
        text.push_str(&format_output(name, &masker.mask(&value)));
    }
    append(path, "step outputs", &text)
}

pub(crate) fn append(path: &Path, what: &'static str, text: &str) -> Result<(), GithubError> {
    let err = |source| GithubError::Write {
        what,
        path: path.to_path_buf(),
        source,
    };
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)?;
    f.write_all(text.as_bytes()).map_err(err)?;
    f.flush().map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_multi_line_form() {
        assert_eq!(
            format_output_with("failed", "[\"a\"]", || "EOF_1".into()),
            "failed<<EOF_1\n[\"a\"]\nEOF_1\n"
        );
    }

    #[test]
    fn a_delimiter_found_in_the_value_is_replaced() {
        let mut tries = vec!["D2".to_string(), "D1".to_string()];
        let out = format_output_with("x", "before D1 after", || tries.pop().unwrap());
        assert_eq!(out, "x<<D2\nbefore D1 after\nD2\n");
    }

    #[test]
    fn random_delimiters_look_like_the_toolkits_and_differ() {
        let a = random_delimiter();
        let b = random_delimiter();
        assert_ne!(a, b);
        assert!(a.starts_with("ghadelimiter_"), "{a}");
        assert_eq!(a.len(), "ghadelimiter_".len() + 36, "{a}");
    }
}
