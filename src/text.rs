//! Control characters, the one rule: which characters count as control characters, that a name
//! (an input, an id, a table name, a pattern) carries none, and how text is escaped on its way
//! to stdout or stderr so that it stays one line and can never be read as a workflow command.
//!
//! Why: the runner reads workflow commands from every line a step prints, on stdout and stderr
//! alike — a line that starts (after blanks) with `::`, or holds `##[` anywhere (the legacy form).
//! A table name or an API error message with a line break in it could otherwise start a line of
//! its own: `::add-mask::…`, `::stop-commands::…`, `::set-output …`. The binary's own commands are
//! built by [`crate::github::commands`]; everything else it prints passes [`escape_line`] (JSON
//! first through [`defuse_json`], which keeps it JSON).

use std::borrow::Cow;
use std::io::{self, Write};

/// A character that must never reach a log line as it is: C0 and C1 controls (CR, LF, ESC, NUL,
/// NEL, …), DEL, and the Unicode line and paragraph separators some viewers break lines at.
pub fn is_control(c: char) -> bool {
    c.is_control() || matches!(c, '\u{2028}' | '\u{2029}')
}

/// The rule for names: inputs, ids, patterns, manifest names, table names. The message names
/// the character, never the value (which the caller names by its input or place).
pub fn check_printable(s: &str) -> Result<(), String> {
    match s.chars().position(is_control) {
        None => Ok(()),
        Some(at) => {
            let c = s.chars().nth(at).unwrap_or_default();
            Err(format!(
                "contains the control character U+{:04X} at character {}: names, ids, paths \
                 and patterns must be printable",
                c as u32,
                at + 1
            ))
        }
    }
}

/// One control character, visibly: `\n`, `\r`, `\t`, or `\u{1b}`.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
    }
}

/// Escapes control characters only (see [`is_control`]); the rest stays as it is. For command
/// data, whose CR and LF the runner's own escaping has already taken care of.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_control(c) {
            push_escaped(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The runner's legacy command prefix, `##[`, read anywhere in a line: written `##\[`.
pub fn defuse_legacy(s: &str) -> String {
    s.replace("##[", "##\\[")
}

/// Text printed as one line that is not one of the binary's workflow commands: control
/// characters escaped (so it stays one line), a leading `::` and every `##[` defused (so the
/// runner never reads it as a command). Apply it to the whole line, after masking secrets: a
/// mask must see the value as it is.
pub fn escape_line(s: &str) -> Cow<'_, str> {
    let starts_command = s.trim_start().starts_with("::");
    if !starts_command && !s.contains("##[") && !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = defuse_legacy(&escape_controls(s));
    if starts_command {
        let blanks = out.len() - out.trim_start().len();
        out.insert(blanks, '\\');
    }
    Cow::Owned(out)
}

/// JSON text (compact or pretty) made safe for stdout without changing what a JSON reader reads:
/// in each line, `##[` becomes `##\u005b` and every control character serde leaves as it is
/// (DEL, the C1 controls, U+2028, U+2029) becomes a `\uXXXX` escape. Outside strings JSON has
/// none of these, and no line of JSON starts with `::`; each line still passes [`escape_line`]
/// last, which then leaves it as it is. Apply it after masking secrets.
pub fn defuse_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len() + 8);
    for (i, line) in json.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut safe = String::with_capacity(line.len());
        for c in line.chars() {
            if is_control(c) {
                // JSON's own escape: only characters of the Basic Multilingual Plane get here.
                safe.push_str(&format!("\\u{:04x}", c as u32));
            } else {
                safe.push(c);
            }
        }
        let safe = safe.replace("##[", "##\\u005b");
        out.push_str(&escape_line(&safe));
    }
    out
}

/// A writer for one log event at a time (tracing's fmt layer writes each event whole, then drops
/// the writer): the event is buffered and written as one escaped line when the writer is dropped
/// or flushed. Every dependency's log line passes here too.
pub struct EscapedLines<W: Write> {
    out: W,
    buf: Vec<u8>,
}

impl<W: Write> EscapedLines<W> {
    pub fn new(out: W) -> Self {
        EscapedLines {
            out,
            buf: Vec::new(),
        }
    }

    fn emit(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        // One event is one line: its own final newline ends it, any other is escaped.
        let body = text.strip_suffix('\n').unwrap_or(&text);
        let mut line = escape_line(body).into_owned();
        line.push('\n');
        self.out.write_all(line.as_bytes())?;
        self.out.flush()
    }
}

impl<W: Write> Write for EscapedLines<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.emit()
    }
}

impl<W: Write> Drop for EscapedLines<W> {
    fn drop(&mut self) {
        let _ = self.emit();
    }
}

/// The log's writer: stderr, one escaped line per event.
pub fn stderr_lines() -> EscapedLines<io::Stderr> {
    EscapedLines::new(io::stderr())
}

/// Prints one line of text on stdout through [`escape_line`]: the `println!` of the binary.
pub fn print_line(text: &str) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "{}", escape_line(text));
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_defused_and_still_reads_the_same() {
        let value = serde_json::json!({
            "detail": "denied\n::error::x ##[group]y \u{85}\u{2028}\u{7f}\r::add-mask::z",
            "table": "t##[endgroup]",
        });
        for text in [
            serde_json::to_string(&value).unwrap(),
            serde_json::to_string_pretty(&value).unwrap(),
        ] {
            let safe = defuse_json(&text);
            for line in safe.lines() {
                assert_eq!(escape_line(line), line, "{line}");
                assert!(!line.contains("##["), "{line}");
                assert!(!line.trim_start().starts_with("::"), "{line}");
                assert!(!line.chars().any(is_control), "{line:?}");
            }
            let back: serde_json::Value = serde_json::from_str(&safe).unwrap();
            assert_eq!(back, value);
        }
    }

    #[test]
    fn names_with_control_characters_are_refused_without_echoing_them() {
        assert!(check_printable("orders_v2 é 表").is_ok());
        for bad in [
            "a\nb",
            "a\rb",
            "\u{1b}[31m",
            "a\0",
            "a\u{85}",
            "x\u{2028}",
            "t\tab",
        ] {
            let e = check_printable(bad).unwrap_err();
            assert!(e.contains("control character U+"), "{bad:?}: {e}");
            assert!(!e.contains(bad), "{bad:?}: {e}");
        }
        assert!(check_printable("a\nb")
            .unwrap_err()
            .contains("U+000A at character 2"));
    }

    #[test]
    fn a_line_stays_one_line_and_never_a_command() {
        assert_eq!(escape_line("plain text: ok"), "plain text: ok");
        assert_eq!(
            escape_line("failed: x\n::add-mask::y"),
            "failed: x\\n::add-mask::y"
        );
        assert_eq!(
            escape_line("a\r\n::stop-commands::tok"),
            "a\\r\\n::stop-commands::tok"
        );
        assert_eq!(
            escape_line("::set-output name=a::b"),
            "\\::set-output name=a::b"
        );
        assert_eq!(escape_line("  ::error::x"), "  \\::error::x");
        assert_eq!(escape_line("see ##[add-mask]s"), "see ##\\[add-mask]s");
        assert_eq!(escape_line("\u{1b}[2J\u{0}"), "\\u{1b}[2J\\u{0}");
        assert_eq!(escape_line("tab\there"), "tab\\there");
    }

    #[test]
    fn each_event_is_written_as_one_escaped_line() {
        let mut out = Vec::new();
        {
            let mut w = EscapedLines::new(&mut out);
            w.write_all(b"INFO step failed: denied\n::add-mask::x")
                .unwrap();
            w.write_all(b" ##[stop-commands]t\n").unwrap();
        }
        {
            let mut w = EscapedLines::new(&mut out);
            w.write_all(b"next\n").unwrap();
        }
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "INFO step failed: denied\\n::add-mask::x ##\\[stop-commands]t\nnext\n"
        );
    }
}
