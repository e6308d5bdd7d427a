//! Small Markdown helpers shared by the job summary and the PR comment. GitHub renders both with
//! GitHub Flavored Markdown and allows some inline HTML, so text from the report (names, reasons,
//! error details) is escaped before it goes into either, and [`defang`]ed: every escaping helper
//! here ([`escape_html`], [`escape_cell`], [`code`], and [`inline`] through them) applies it.

use std::borrow::Cow;

use crate::report::{Action, RunReport, StepError};

/// The invisible character that breaks a mention or a link: a zero-width joiner.
const JOINER: char = '\u{200D}';

/// The one rule for text from outside (an API's error message, a record's detail, a lease
/// holder, a statement or table name) in the comment and the summary: it mentions no one and
/// links nowhere. A joiner goes after every `@` (no `@user`, `@org/team` or `a@b.example`
/// autolink), between `:` and `//` (no `https://…` autolink) and between `www` and `.` (no
/// `www.…` autolink); the text reads the same.
///
/// Why: a mention notifies whoever it names, and a link GitHub makes from a tenant's text could
/// point people (or GitHub's unfurling) anywhere.
pub(crate) fn defang(s: &str) -> Cow<'_, str> {
    // ASCII lower-casing keeps every byte offset.
    let lower = s.to_ascii_lowercase();
    if !s.contains('@') && !s.contains("://") && !lower.contains("www.") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.char_indices() {
        out.push(c);
        let end = i + c.len_utf8();
        let rest = &lower[end..];
        let joiner = match c {
            '@' => true,
            ':' => rest.starts_with("//"),
            'w' | 'W' => lower[..end].ends_with("www") && rest.starts_with('.'),
            _ => false,
        };
        if joiner {
            out.push(JOINER);
        }
    }
    Cow::Owned(out)
}

/// HTML-escapes text for a `<pre>` block or an attribute-free HTML context ([`defang`]ed).
pub(crate) fn escape_html(s: &str) -> String {
    let s = defang(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A failed step's `status.detail` and exceptions as a collapsed `<details>` block (their text
/// kept to `max` bytes), or `None` when it has neither. The summary and the PR comment show the
/// same block.
pub(crate) fn failure_details(e: &StepError, max: usize) -> Option<String> {
    let mut parts = Vec::new();
    if e.detail.is_some() {
        parts.push("status.detail".to_string());
    }
    if !e.exceptions.is_empty() {
        parts.push(plural(e.exceptions.len(), "exception", "exceptions"));
    }
    if parts.is_empty() {
        return None;
    }
    let mut details = String::new();
    for text in e.detail.iter().chain(&e.exceptions) {
        details.push_str(text);
        details.push_str("\n\n");
    }
    Some(format!(
        "<details><summary>{}</summary>\n\n<pre>{}</pre>\n\n</details>",
        parts.join(" and "),
        escape_html(&truncate(details.trim_end(), max))
    ))
}

/// The counts of a run that changed things, as a one-row table (the summary's and the comment's
/// first lines).
pub(crate) fn counts_table(report: &RunReport) -> String {
    format!(
        "| torn down | rebuilt | unchanged | tables dropped | failed |\n\
         |---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} |\n",
        report.torn_down().len(),
        report.rebuilt().len(),
        report.unchanged().len(),
        report.dropped_tables().len(),
        report.failed().len(),
    )
}

/// An action as the reporters write it for people.
pub(crate) fn action_words(a: Action) -> &'static str {
    match a {
        Action::Delete => "delete",
        Action::Stop => "stop",
        Action::Prune => "prune",
        Action::DropTable => "drop table",
        Action::Create => "create",
        Action::Resume => "resume",
        Action::Evolve => "evolve",
        Action::Unchanged => "unchanged",
        Action::Skip => "skip",
        Action::Refuse => "refuse",
        Action::Release => "release",
        Action::Adopt => "adopt",
    }
}

/// Escapes a command's data (the text after the second `::`).
pub fn escape_data(s: &str) -> String {
    // `%` first, or the escapes themselves would be escaped again.
    let escaped = s
        .replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A");
    crate::text::defuse_legacy(&crate::text::escape_controls(&escaped))
}

/// Escapes a command property's value.
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Escapes text for a Markdown table cell (or any inline Markdown): HTML, Markdown punctuation
/// that would format, `|` (which ends a cell even inside a code span), and line breaks; and
/// [`defang`]s it.
pub(crate) fn escape_cell(s: &str) -> String {
    let s = defang(s);
    let mut out = String::with_capacity(s.len());
    // At the start of a line (a list item's text), these would make a heading or a nested list.
    if s.starts_with(['#', '-', '+']) {
        out.push('\\');
    }
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '~' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

/// Text from the report for inline Markdown: `` `name` `` spans (the engine writes names that
/// way) become code spans, everything else is escaped with [`escape_cell`]. Unbalanced backticks
/// are escaped like any other character.
pub(crate) fn inline(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    if parts.len() < 3 || parts.len() % 2 == 0 {
        return escape_cell(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 && !part.is_empty() {
            out.push_str(&code(part));
        } else if i % 2 == 1 {
            out.push_str("\\`\\`");
        } else {
            // A leading `#`/`-` of a middle part gets a needless but harmless backslash.
            out.push_str(&escape_cell(part));
        }
    }
    out
}

/// Inside a code span only `|` needs escaping (for tables) — everything else is literal.
pub(crate) fn escape_pipes(s: &str) -> String {
    s.replace('|', "\\|")
}

/// A code span around `s`, safe inside a table cell: a fence longer than any run of backticks in
/// `s`, pipes escaped, line breaks as spaces; [`defang`]ed (GitHub neither mentions nor links
/// inside a code span, but a copy of the text elsewhere should not either).
pub(crate) fn code(s: &str) -> String {
    let flat: String = defang(s)
        .chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect();
    let flat = escape_pipes(&flat);
    let mut longest = 0;
    let mut run = 0;
    for c in flat.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    // A span that starts or ends with a backtick needs a space so the fence is not mistaken.
    let pad = if flat.starts_with('`') || flat.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{flat}{pad}{fence}")
}

/// A duration for people: `850 ms`, `12.3 s`, `2 min 05 s`, `1 h 02 min`.
pub(crate) fn duration(ms: u64) -> String {
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        format!("{:.1} s", ms as f64 / 1_000.0)
    } else if ms < 3_600_000 {
        let s = ms / 1_000;
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        let m = ms / 60_000;
        format!("{} h {:02} min", m / 60, m % 60)
    }
}

/// At most `max` bytes of `s`, cut at a character boundary, with `…` when cut.
pub(crate) fn truncate(s: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if s.len() <= max {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    std::borrow::Cow::Owned(format!("{}…", &s[..end]))
}

/// `1 statement`, `2 statements`.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table_or_inject_html() {
        assert_eq!(escape_cell("a|b"), "a\\|b");
        assert_eq!(escape_cell("x\ny\r\nz"), "x<br>y<br>z");
        assert_eq!(
            escape_cell("<script>&</script>"),
            "&lt;script&gt;&amp;&lt;/script&gt;"
        );
        assert_eq!(escape_cell("prefix*_x"), "prefix\\*\\_x");
        assert_eq!(
            escape_cell("# not a heading, PR #4"),
            "\\# not a heading, PR #4"
        );
        assert_eq!(escape_cell("- not a list"), "\\- not a list");
    }

    #[test]
    fn inline_keeps_code_spans_and_escapes_the_rest() {
        assert_eq!(
            inline("table `sunset_avro` left: protected by `sunset_*`"),
            "table `sunset_avro` left: protected by `sunset_*`"
        );
        assert_eq!(inline("a_b `c|d` <e>"), "a\\_b `c\\|d` &lt;e&gt;");
        assert_eq!(inline("odd ` tick"), "odd \\` tick");
        assert_eq!(inline("no ticks_here"), "no ticks\\_here");
    }

    #[test]
    fn code_spans_survive_backticks_and_pipes() {
        assert_eq!(code("flight-avro"), "`flight-avro`");
        assert_eq!(code("`cat`.`db`.t"), "`` `cat`.`db`.t ``");
        assert_eq!(code("a|b\nc"), "`a\\|b c`");
        assert_eq!(code("x``y"), "```x``y```");
    }

    #[test]
    fn outside_text_mentions_no_one_and_links_nowhere() {
        let j = JOINER;
        assert_eq!(defang("plain text: ok"), "plain text: ok");
        assert!(matches!(defang("no links here"), Cow::Borrowed(_)));
        assert_eq!(
            defang("ask @someone or @acme/oncall"),
            format!("ask @{j}someone or @{j}acme/oncall")
        );
        assert_eq!(
            defang("see https://evil.example/x and HTTP://e.x"),
            format!("see https:{j}//evil.example/x and HTTP:{j}//e.x")
        );
        assert_eq!(
            defang("www.evil.example, WWW.E.X"),
            format!("www{j}.evil.example, WWW{j}.E.X")
        );
        assert_eq!(defang("ops@evil.example"), format!("ops@{j}evil.example"));
        // Every helper that takes outside text applies it.
        let hostile = "@someone https://evil.example www.evil.example";
        for shown in [
            escape_cell(hostile),
            escape_html(hostile),
            code(hostile),
            inline(hostile),
            inline(&format!("statement `{hostile}` failed")),
        ] {
            assert!(!shown.contains("@someone"), "{shown}");
            assert!(!shown.contains("https://"), "{shown}");
            assert!(!shown.contains("www."), "{shown}");
            assert!(
                shown.contains("someone") && shown.contains("evil.example"),
                "{shown}"
            );
        }
    }

    #[test]
    fn html_escaping() {
        assert_eq!(escape_html("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(0), "0 ms");
        assert_eq!(duration(999), "999 ms");
        assert_eq!(duration(12_345), "12.3 s");
        assert_eq!(duration(125_000), "2 min 05 s");
        assert_eq!(duration(3_720_000), "1 h 02 min");
    }

    #[test]
    fn truncation_respects_char_boundaries() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("abcdef", 3), "abc…");
        assert_eq!(truncate("ééé", 3), "é…");
    }
}
