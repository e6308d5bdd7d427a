//! The tokenizer.
//!
//! Everything the structural walk in `parser` decides rests on tokens, never on substrings of the
//! statement: that is what keeps a table name inside a string literal or a comment from counting as
//! a reference, and `hello` from matching `hello_world`.

use crate::ParseError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    /// A bare word: a keyword or an unquoted identifier (`$rowtime` included). Which one it is
    /// depends on where it stands, so the lexer does not decide.
    Word,
    /// A backquoted identifier; `text` holds the name without quotes, doubled backquotes undone.
    QuotedIdent,
    /// A string literal; `text` holds the value, doubled quotes undone.
    Str,
    Number,
    /// Operators and punctuation, one or two characters.
    Symbol,
    /// Always the last token, so the parser never runs off the end.
    Eof,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    pub(crate) kind: TokenKind,
    pub(crate) text: String,
    /// The token exactly as written: used in error messages and to render data types as written.
    pub(crate) raw: String,
    /// 1-based position of the first character.
    pub(crate) line: u32,
    pub(crate) column: u32,
}

/// Two-character operators. `>>` is deliberately absent: Flink has no shift operator, and reading
/// `ARRAY<ARRAY<INT>>` needs the two closing brackets apart.
const TWO_CHAR_SYMBOLS: &[&str] = &["<>", "<=", ">=", "!=", "||", "=>", "::", "=="];

struct Lexer {
    chars: Vec<char>,
    i: usize,
    line: u32,
    column: u32,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i + ahead).copied()
    }

    fn bump(&mut self) -> char {
        let c = self.chars[self.i];
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        c
    }

    fn raw_from(&self, start: usize) -> String {
        self.chars[start..self.i].iter().collect()
    }

    /// Reads a quoted run (string literal or backquoted identifier) whose opening quote is the
    /// current character; a doubled quote stands for one quote character.
    fn quoted(
        &mut self,
        quote: char,
        line: u32,
        column: u32,
        what: &str,
    ) -> Result<String, ParseError> {
        self.bump();
        let mut value = String::new();
        loop {
            match self.peek(0) {
                None => return Err(lexical_error(line, column, &format!("Unterminated {what}"))),
                Some(c) if c == quote => {
                    self.bump();
                    if self.peek(0) == Some(quote) {
                        self.bump();
                        value.push(quote);
                    } else {
                        return Ok(value);
                    }
                }
                Some(_) => value.push(self.bump()),
            }
        }
    }
}

fn lexical_error(line: u32, column: u32, what: &str) -> ParseError {
    ParseError {
        message: format!("Lexical error at line {line}, column {column}. {what}."),
        line,
        column,
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_ident_part(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Splits `sql` into tokens, dropping whitespace and comments (optimizer hints `/*+ ... */` are
/// comments too). The result always ends with one `Eof` token placed just after the last token.
pub(crate) fn tokenize(sql: &str) -> Result<Vec<Token>, ParseError> {
    let mut lx = Lexer {
        chars: sql.chars().collect(),
        i: 0,
        line: 1,
        column: 1,
    };
    let mut tokens = Vec::new();
    // Where the end of input is reported: just after the last token, not after trailing comments.
    let mut end = (1, 1);
    while let Some(c) = lx.peek(0) {
        if c.is_whitespace() {
            lx.bump();
            continue;
        }
        let (line, column, start) = (lx.line, lx.column, lx.i);
        if c == '-' && lx.peek(1) == Some('-') {
            while lx.peek(0).is_some_and(|c| c != '\n') {
                lx.bump();
            }
            continue;
        }
        if c == '/' && lx.peek(1) == Some('*') {
            lx.bump();
            lx.bump();
            loop {
                match lx.peek(0) {
                    None => return Err(lexical_error(line, column, "Unterminated comment")),
                    Some('*') if lx.peek(1) == Some('/') => {
                        lx.bump();
                        lx.bump();
                        break;
                    }
                    Some(_) => {
                        lx.bump();
                    }
                }
            }
            continue;
        }
        let (kind, text) = if c == '\'' || c == '"' {
            // Flink quotes identifiers with backquotes; a double-quoted run is read as a string so
            // that it can never be taken for a table name.
            (
                TokenKind::Str,
                lx.quoted(c, line, column, "string literal")?,
            )
        } else if c == '`' {
            let name = lx.quoted('`', line, column, "quoted identifier")?;
            if name.is_empty() {
                return Err(lexical_error(line, column, "Zero-length quoted identifier"));
            }
            (TokenKind::QuotedIdent, name)
        } else if c.is_ascii_digit() {
            while lx.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                lx.bump();
            }
            if lx.peek(0) == Some('.') && lx.peek(1).is_some_and(|c| c.is_ascii_digit()) {
                lx.bump();
                while lx.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                    lx.bump();
                }
            }
            let exponent = match (lx.peek(0), lx.peek(1), lx.peek(2)) {
                (Some('e' | 'E'), Some(d), _) if d.is_ascii_digit() => true,
                (Some('e' | 'E'), Some('+' | '-'), Some(d)) if d.is_ascii_digit() => true,
                _ => false,
            };
            if exponent {
                lx.bump();
                if matches!(lx.peek(0), Some('+' | '-')) {
                    lx.bump();
                }
                while lx.peek(0).is_some_and(|c| c.is_ascii_digit()) {
                    lx.bump();
                }
            }
            (TokenKind::Number, lx.raw_from(start))
        } else if is_ident_start(c) {
            while lx.peek(0).is_some_and(is_ident_part) {
                lx.bump();
            }
            let word = lx.raw_from(start);
            // X'0A' (binary) and N'...' (national) literals are strings with a one-letter prefix.
            if lx.peek(0) == Some('\'') && matches!(word.as_str(), "x" | "X" | "n" | "N") {
                (
                    TokenKind::Str,
                    lx.quoted('\'', line, column, "string literal")?,
                )
            } else {
                (TokenKind::Word, word)
            }
        } else {
            let pair: String = [Some(c), lx.peek(1)].iter().flatten().collect();
            if TWO_CHAR_SYMBOLS.contains(&pair.as_str()) {
                lx.bump();
            }
            lx.bump();
            (TokenKind::Symbol, lx.raw_from(start))
        };
        tokens.push(Token {
            kind,
            text,
            raw: lx.raw_from(start),
            line,
            column,
        });
        end = (lx.line, lx.column);
    }
    tokens.push(Token {
        kind: TokenKind::Eof,
        text: String::new(),
        raw: String::new(),
        line: end.0,
        column: end.1,
    });
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds_and_texts(sql: &str) -> Vec<(TokenKind, String)> {
        tokenize(sql)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, t.text))
            .collect()
    }

    fn w(s: &str) -> (TokenKind, String) {
        (TokenKind::Word, s.to_string())
    }

    fn sym(s: &str) -> (TokenKind, String) {
        (TokenKind::Symbol, s.to_string())
    }

    fn eof() -> (TokenKind, String) {
        (TokenKind::Eof, String::new())
    }

    #[test]
    fn words_numbers_and_symbols() {
        assert_eq!(
            kinds_and_texts("select a1, 12.5e3 FROM t where x<>1 and y<=2||'z'"),
            vec![
                w("select"),
                w("a1"),
                sym(","),
                (TokenKind::Number, "12.5e3".into()),
                w("FROM"),
                w("t"),
                w("where"),
                w("x"),
                sym("<>"),
                (TokenKind::Number, "1".into()),
                w("and"),
                w("y"),
                sym("<="),
                (TokenKind::Number, "2".into()),
                sym("||"),
                (TokenKind::Str, "z".into()),
                eof(),
            ]
        );
    }

    #[test]
    fn whole_identifiers_only() {
        assert_eq!(
            kinds_and_texts("hello_world"),
            vec![w("hello_world"), eof()]
        );
        assert_eq!(
            kinds_and_texts("hello.world"),
            vec![w("hello"), sym("."), w("world"), eof()]
        );
    }

    #[test]
    fn dollar_identifiers_are_words() {
        assert_eq!(
            kinds_and_texts("o.$rowtime"),
            vec![w("o"), sym("."), w("$rowtime"), eof()]
        );
    }

    #[test]
    fn comments_and_hints_are_dropped() {
        assert_eq!(
            kinds_and_texts("a -- orders\n/* b FROM c */ d /*+ OPTIONS('k'='v') */ e"),
            vec![w("a"), w("d"), w("e"), eof()]
        );
    }

    #[test]
    fn string_literals_undo_doubled_quotes() {
        let tokens = tokenize("'it''s' ''").unwrap();
        assert_eq!(tokens[0].kind, TokenKind::Str);
        assert_eq!(tokens[0].text, "it's");
        assert_eq!(tokens[0].raw, "'it''s'");
        assert_eq!(tokens[1].text, "");
        assert_eq!(tokens[2].kind, TokenKind::Eof);
    }

    #[test]
    fn prefixed_string_literals() {
        assert_eq!(
            kinds_and_texts("X'0A' x"),
            vec![(TokenKind::Str, "0A".into()), w("x"), eof()]
        );
    }

    #[test]
    fn backquoted_identifiers() {
        let tokens = tokenize("`my-env`.`my ``odd`` table`").unwrap();
        assert_eq!(tokens[0].kind, TokenKind::QuotedIdent);
        assert_eq!(tokens[0].text, "my-env");
        assert_eq!(tokens[1].text, ".");
        assert_eq!(tokens[2].text, "my `odd` table");
        assert_eq!(tokens[2].raw, "`my ``odd`` table`");
    }

    #[test]
    fn angle_brackets_stay_apart() {
        assert_eq!(
            kinds_and_texts("ARRAY<ARRAY<INT>>"),
            vec![
                w("ARRAY"),
                sym("<"),
                w("ARRAY"),
                sym("<"),
                w("INT"),
                sym(">"),
                sym(">"),
                eof()
            ]
        );
    }

    #[test]
    fn positions_are_one_based_and_count_lines() {
        let tokens = tokenize("SELECT\n  `a`,\n\t'x'").unwrap();
        let positions: Vec<(u32, u32)> = tokens.iter().map(|t| (t.line, t.column)).collect();
        // The Eof sits just after the last token.
        assert_eq!(positions, vec![(1, 1), (2, 3), (2, 6), (3, 2), (3, 5)]);
    }

    #[test]
    fn eof_ignores_trailing_comments() {
        let tokens = tokenize("x -- trailing\n\n").unwrap();
        assert_eq!((tokens[1].line, tokens[1].column), (1, 2));
        let tokens = tokenize("  -- only a comment").unwrap();
        assert_eq!(tokens.len(), 1);
        assert_eq!((tokens[0].line, tokens[0].column), (1, 1));
    }

    #[test]
    fn unterminated_runs_are_errors_at_their_start() {
        let e = tokenize("SELECT 'abc").unwrap_err();
        assert_eq!((e.line, e.column), (1, 8));
        assert_eq!(
            e.message,
            "Lexical error at line 1, column 8. Unterminated string literal."
        );
        let e = tokenize("a\n /* never closed").unwrap_err();
        assert_eq!((e.line, e.column), (2, 2));
        assert!(
            e.message.ends_with("Unterminated comment."),
            "{}",
            e.message
        );
        let e = tokenize("`abc").unwrap_err();
        assert!(
            e.message.ends_with("Unterminated quoted identifier."),
            "{}",
            e.message
        );
        let e = tokenize("a ``").unwrap_err();
        assert_eq!((e.line, e.column), (1, 3));
    }
}
