//! Defense in depth for safety rule 3: the reporters only see the run report, which holds no
//! secret by construction; still, every text they send to GitHub passes through a [`Masker`] the
//! binary filled with every secret value, and each occurrence becomes `***`.

use std::borrow::Cow;
use std::fmt;

use crate::secret::Secret;

use super::markdown::{defang, escape_cell, escape_data, escape_html, escape_pipes};

/// What a masked secret is replaced with (the runner's own choice).
pub const MASK: &str = "***";

#[derive(Clone, Default)]
pub struct Masker {
    /// Longest first, so a secret that contains another is replaced whole.
    patterns: Vec<String>,
}

impl fmt::Debug for Masker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Masker({} patterns)", self.patterns.len())
    }
}

impl Masker {
    pub fn new() -> Masker {
        Masker::default()
    }

    /// Adds a secret value: the value itself, each line of a multi-line value, and the forms it
    /// takes once escaped for JSON, HTML, a Markdown table cell or a workflow command, so an
    /// escaped copy in an output or a summary is caught too. Blank values are ignored.
    pub fn add(&mut self, secret: &str) {
        if secret.trim().is_empty() {
            return;
        }
        let mut forms = vec![secret.to_string()];
        forms.extend(
            secret
                .lines()
                .map(|l| l.trim_end_matches('\r'))
                .filter(|l| l.len() != secret.len() && !l.trim().is_empty())
                .map(str::to_string),
        );
        let mut escaped = Vec::new();
        for f in &forms {
            // serde_json of a &str cannot fail; the quotes are not part of the secret.
            if let Ok(json) = serde_json::to_string(f) {
                escaped.push(json[1..json.len() - 1].to_string());
            }
            escaped.push(escape_html(f));
            escaped.push(escape_cell(f));
            escaped.push(escape_pipes(f));
            // A code span's text, as `markdown::code` writes it.
            escaped.push(defang(&escape_pipes(f)).into_owned());
            escaped.push(escape_data(f));
        }
        forms.extend(escaped);
        for f in forms {
            if !f.trim().is_empty() && !self.patterns.contains(&f) {
                self.patterns.push(f);
            }
        }
        self.patterns
            .sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    }

    pub fn add_secret(&mut self, secret: &Secret) {
        self.add(secret.expose());
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// `text` with every occurrence of every secret replaced by `***`.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for p in &self.patterns {
            if out.contains(p.as_str()) {
                out = Cow::Owned(out.replace(p.as_str(), MASK));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_every_occurrence() {
        let mut m = Masker::new();
        m.add("s3cr3t-Value");
        assert_eq!(
            m.mask("a s3cr3t-Value b s3cr3t-Value"),
            "a *** b ***".to_string()
        );
        assert!(matches!(m.mask("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn a_longer_secret_containing_a_shorter_one_is_masked_whole() {
        let mut m = Masker::new();
        m.add("key");
        m.add("key:secretpart");
        assert_eq!(m.mask("user key:secretpart"), "user ***");
        assert_eq!(m.mask("the key"), "the ***");
    }

    #[test]
    fn escaped_forms_and_lines_are_masked() {
        let mut m = Masker::new();
        m.add("p\"a|s<s\nsecond-line");
        // JSON-escaped, as in the `report` output.
        let json = serde_json::to_string("x p\"a|s<s\nsecond-line y").unwrap();
        assert_eq!(m.mask(&json), "\"x *** y\"");
        // A Markdown table cell and HTML.
        assert_eq!(m.mask("p\"a\\|s<s"), "***");
        assert_eq!(m.mask("p&quot;a|s&lt;s"), "***");
        // A line of a multi-line secret on its own.
        assert_eq!(m.mask("see second-line"), "see ***");
    }

    #[test]
    fn blank_secrets_are_ignored_and_debug_shows_no_value() {
        let mut m = Masker::new();
        m.add("");
        m.add("   ");
        assert!(m.is_empty());
        m.add("topsecret");
        assert!(!format!("{m:?}").contains("topsecret"));
    }
}
