//! Hostile SQL: whatever text arrives (a manifest's SQL file, a statement a client submits to the
//! simulator), the analyzer answers with an `Analysis` or a `ParseError` — it never panics and
//! never overflows its stack, however deep the nesting.

use std::fs;
use std::path::Path;

use flink_sql::{analyze, tokens, TableRef};
use proptest::prelude::*;

/// The stack a spawned thread gets by default (and libtest's test threads): the analyzer must fit
/// in it at its deepest, debug build included.
const SMALL_STACK: usize = 2 * 1024 * 1024;

/// Runs `f` on a thread with [`SMALL_STACK`]; a stack overflow aborts the test process.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(f)
        .expect("spawn")
        .join()
        .expect("the analyzer panicked")
}

/// Statement shapes that nest `depth` times, each through a different recursion of the walk.
fn nested_shapes(depth: usize) -> Vec<(&'static str, String)> {
    let r = |s: &str| s.repeat(depth);
    vec![
        ("parentheses", format!("SELECT {}1{}", r("("), r(")"))),
        ("bare parentheses", format!("{}SELECT 1{}", r("("), r(")"))),
        (
            "subqueries in FROM",
            format!("SELECT * FROM {}t{}", r("(SELECT * FROM "), r(")")),
        ),
        (
            "subqueries in IN",
            format!(
                "SELECT * FROM t WHERE a IN {}1{}",
                r("(SELECT a FROM t WHERE a IN ("),
                r("))")
            ),
        ),
        ("function calls", format!("SELECT {}x{}", r("f("), r(")"))),
        ("brackets", format!("SELECT a{}0{}", r("["), r("]"))),
        (
            "CASE",
            format!("SELECT {}1{} FROM t", r("CASE WHEN "), r(" THEN 1 END")),
        ),
        ("NOT", format!("SELECT * FROM t WHERE {}a", r("NOT "))),
        ("unary minus", format!("SELECT {}1", r("- "))),
        (
            "CTEs",
            format!("{}SELECT 1{}", r("WITH c AS ("), r(") SELECT * FROM c")),
        ),
        (
            "joins",
            format!("SELECT * FROM {}a{}", r("(a JOIN "), r(" ON x = y)")),
        ),
        (
            "INSERT of parentheses",
            format!("INSERT INTO s {}SELECT 1{}", r("("), r(")")),
        ),
        (
            "CREATE options",
            format!("CREATE FUNCTION f AS {}1{}", r("("), r(")")),
        ),
        (
            "unclosed",
            // Unbalanced: the balance check answers first, the walk never starts.
            format!("SELECT {}", r("(")),
        ),
    ]
}

#[test]
fn a_hundred_thousand_levels_of_nesting_are_an_error_not_a_stack_overflow() {
    for (shape, sql) in nested_shapes(100_000) {
        let result = on_small_stack(move || analyze(&sql));
        let e = result.expect_err(shape);
        if shape != "unclosed" {
            assert!(
                e.message.contains("Nesting too deep"),
                "{shape}: {}",
                e.message
            );
        }
    }
}

#[test]
fn nesting_is_refused_just_past_the_limit_and_fits_the_stack_up_to_it() {
    // Just below the limit every shape parses on a small stack (each level of a shape may count
    // more than one level of the walk, so "below" is per shape); past it, it is refused.
    for (shape, sql) in nested_shapes(45) {
        if shape == "unclosed" {
            continue;
        }
        on_small_stack(move || analyze(&sql))
            .unwrap_or_else(|e| panic!("{shape} at depth 45: {e}"));
    }
    for (shape, sql) in nested_shapes(201) {
        let e = on_small_stack(move || analyze(&sql)).expect_err(shape);
        if shape != "unclosed" {
            assert!(e.message.contains("Nesting too deep"), "{shape}: {e}");
        }
    }
    // The deepest a shape can go: one level of the walk per parenthesis, two for the query and
    // the innermost operand.
    let at_limit = format!("SELECT {}1{}", "(".repeat(198), ")".repeat(198));
    on_small_stack(move || analyze(&at_limit)).expect("198 parentheses parse");
}

#[test]
fn the_error_points_at_where_the_nesting_became_too_deep() {
    let sql = format!("SELECT {}1{}", "(".repeat(1000), ")".repeat(1000));
    let e = analyze(&sql).unwrap_err();
    assert_eq!(e.line, 1);
    // `SELECT ` is 7 characters; the query is one level, so the 200th parenthesis is refused.
    assert_eq!(e.column, 7 + 200, "{e}");
    assert!(
        e.to_string()
            .starts_with("SQL parse failed. Encountered \"(\" at line 1, column 207."),
        "{e}"
    );
}

/// Every way the analyzer is entered, checked to return rather than panic.
fn all_entry_points(text: &str) {
    let _ = analyze(text);
    let _ = tokens(text);
    let _ = TableRef::parse(text);
}

/// Pieces of Flink SQL, broken and whole, for token soups.
const PIECES: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "INSERT",
    "INTO",
    "CREATE",
    "TABLE",
    "DROP",
    "ALTER",
    "WITH",
    "AS",
    "ON",
    "JOIN",
    "LEFT",
    "LATERAL",
    "UNNEST",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "NOT",
    "IN",
    "IS",
    "NULL",
    "EXISTS",
    "INTERVAL",
    "EXECUTE",
    "STATEMENT",
    "SET",
    "BEGIN",
    "VALUES",
    "UNION",
    "ORDER",
    "BY",
    "GROUP",
    "MATCH_RECOGNIZE",
    "OVER",
    "PRIMARY",
    "KEY",
    "DISTRIBUTED",
    "INTO",
    "BUCKETS",
    "LIKE",
    "FOR",
    "SYSTEM_TIME",
    "TUMBLE",
    "(",
    ")",
    "[",
    "]",
    "<",
    ">",
    ",",
    ";",
    ".",
    "*",
    "=",
    "-",
    "+",
    "'",
    "''",
    "'x'",
    "`",
    "``",
    "`a b`",
    "\"",
    "--",
    "/*",
    "*/",
    "/*+",
    "\n",
    "\r",
    "\t",
    "\0",
    "$rowtime",
    "t",
    "a",
    "1",
    "1.5e3",
    "X'0A'",
    "é",
    "表",
    "🦀",
    "\u{202e}",
    "\u{2028}",
    "\u{feff}",
];

fn token_soup() -> impl Strategy<Value = String> {
    soup_of(PIECES.to_vec())
}

/// Pieces that can neither open nor close a string, quoted identifier or comment.
fn inert_soup() -> impl Strategy<Value = String> {
    soup_of(
        PIECES
            .iter()
            .copied()
            .filter(|p| !p.contains(['\'', '"', '`', '-', '/', '*']))
            .collect(),
    )
}

fn soup_of(pieces: Vec<&'static str>) -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(pieces), prop::bool::ANY), 0..200).prop_map(
        |pieces| {
            pieces
                .into_iter()
                .map(|(p, spaced)| {
                    if spaced {
                        format!("{p} ")
                    } else {
                        p.to_string()
                    }
                })
                .collect()
        },
    )
}

/// Deep nesting of random openers around a random middle, closed or not.
fn deep_nesting() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(
            prop::sample::select(
                &[
                    "(",
                    "[",
                    "f(",
                    "(SELECT ",
                    "CASE WHEN ",
                    "NOT ",
                    "- ",
                    "(SELECT * FROM ",
                    "WITH c AS (",
                    "x IN (",
                ][..],
            ),
            0..600,
        ),
        token_soup(),
        prop::bool::ANY,
    )
        .prop_map(|(openers, middle, closed)| {
            let mut sql = String::from("SELECT ");
            for o in &openers {
                sql.push_str(o);
            }
            sql.push_str(&middle);
            if closed {
                for o in openers.iter().rev() {
                    if o.ends_with('(') || o.ends_with("FROM ") || o.ends_with("SELECT ") {
                        sql.push(')');
                    } else if *o == "[" {
                        sql.push(']');
                    }
                }
            }
            sql
        })
}

/// The corpus's statements, one byte range cut out or a piece spliced in.
fn corpus_texts() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut texts: Vec<String> = fs::read_dir(dir)
        .expect("tests/corpus")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "sql"))
        .map(|e| fs::read_to_string(e.path()).expect("corpus file"))
        .collect();
    texts.sort();
    texts
}

fn mutated_corpus() -> impl Strategy<Value = String> {
    let texts = corpus_texts();
    (
        prop::sample::select(texts),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        prop::sample::select(PIECES),
    )
        .prop_map(|(text, at, len, piece)| {
            let chars: Vec<char> = text.chars().collect();
            let start = at.index(chars.len() + 1);
            let end = (start + len.index(8)).min(chars.len());
            let mut out: String = chars[..start].iter().collect();
            out.push_str(piece);
            out.extend(&chars[end..]);
            out
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        all_entry_points(&text);
    }

    #[test]
    fn token_soups_never_panic(text in token_soup()) {
        all_entry_points(&text);
    }

    #[test]
    fn deep_nesting_never_panics(text in deep_nesting()) {
        all_entry_points(&text);
    }

    #[test]
    fn broken_corpus_statements_never_panic(text in mutated_corpus()) {
        all_entry_points(&text);
    }

    #[test]
    fn unterminated_strings_comments_and_quotes_are_errors(
        head in inert_soup(),
        opener in prop::sample::select(&["'", "\"", "`", "/*", "X'"][..]),
        tail in "[^'\"`*]*",
    ) {
        let text = format!("{head} {opener}{tail}");
        prop_assert!(analyze(&text).is_err(), "{text:?}");
        prop_assert!(tokens(&text).is_err(), "{text:?}");
    }
}
