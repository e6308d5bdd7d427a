//! The corpus: hand-written statements with their expected analysis in a header comment. It is the
//! truth for both consumers of this crate; see `tests/corpus/README.md` for the format.

use std::fs;
use std::path::{Path, PathBuf};

use flink_sql::{analyze, Analysis, Column, TableRef};

/// The corpus must not quietly shrink.
const MIN_STATEMENTS: usize = 100;

/// Headers every non-error file must have.
const REQUIRED: &[&str] = &[
    "kind", "creates", "writes", "reads", "drops", "alters", "stateful",
];
/// Headers compared only when present (`key` is required when the statement creates a table).
const OPTIONAL: &[&str] = &[
    "key",
    "columns",
    "primary-key",
    "distributed-by",
    "buckets",
    "options",
    "like",
    "materialized",
    "start-mode",
    "query",
    "watermark",
    "query-columns",
    "evolves",
];

fn corpus_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("tests/corpus exists")
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort();
    files
}

/// The `-- name: value` lines of the leading comment block, in order. Other leading comment lines
/// are free text.
fn headers(sql: &str) -> Result<Vec<(String, String)>, String> {
    let mut found = Vec::new();
    for line in sql.lines() {
        let Some(rest) = line.strip_prefix("--") else {
            break;
        };
        let rest = rest.trim();
        let Some((name, value)) = rest.split_once(':') else {
            continue;
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
            continue;
        }
        let known = REQUIRED.contains(&name)
            || OPTIONAL.contains(&name)
            || ["error", "at", "source"].contains(&name);
        if !known {
            return Err(format!("unknown header {name:?}"));
        }
        if found.iter().any(|(n, _): &(String, String)| n == name) {
            return Err(format!("header {name:?} given twice"));
        }
        found.push((name.to_string(), value.trim().to_string()));
    }
    Ok(found)
}

fn join<T: ToString>(items: &[T], separator: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(separator)
}

fn tables(tables: &[TableRef]) -> String {
    join(tables, ", ")
}

fn render_column(column: &Column) -> String {
    let mut parts = vec![column.name.clone()];
    if !column.data_type.is_empty() {
        parts.push(column.data_type.clone());
    }
    if !column.nullable {
        parts.push("NOT NULL".into());
    }
    if column.computed {
        parts.push("computed".into());
    }
    parts.join(" ")
}

/// What a header says about `analysis`, rendered the way the corpus writes it.
fn actual(analysis: &Analysis, header: &str) -> String {
    let created = analysis.creates.first().or(analysis.evolves.first());
    let materialized = created.and_then(|c| c.materialized.as_ref());
    match header {
        "kind" => analysis.kind.sql_kind().to_string(),
        "creates" => join(
            &analysis
                .creates
                .iter()
                .map(|c| {
                    let suffix = if c.if_not_exists {
                        " (if not exists)"
                    } else {
                        ""
                    };
                    format!("{}{suffix}", c.table)
                })
                .collect::<Vec<_>>(),
            ", ",
        ),
        "drops" => join(
            &analysis
                .drops
                .iter()
                .map(|d| {
                    let suffix = if d.if_exists { " (if exists)" } else { "" };
                    format!("{}{suffix}", d.table)
                })
                .collect::<Vec<_>>(),
            ", ",
        ),
        "alters" => tables(&analysis.alters),
        "writes" => tables(&analysis.writes),
        "reads" => tables(&analysis.reads),
        "stateful" => join(
            &analysis
                .stateful
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>(),
            ", ",
        ),
        "key" => created.map_or(String::new(), |c| join(c.key_columns(), ", ")),
        "columns" => created.map_or(String::new(), |c| {
            join(
                &c.columns.iter().map(render_column).collect::<Vec<_>>(),
                " | ",
            )
        }),
        "primary-key" => created.map_or(String::new(), |c| join(&c.primary_key, ", ")),
        "distributed-by" => created.map_or(String::new(), |c| join(&c.distributed_by, ", ")),
        "buckets" => created
            .and_then(|c| c.buckets)
            .map_or(String::new(), |n| n.to_string()),
        "options" => created.map_or(String::new(), |c| {
            join(
                &c.options
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>(),
                ", ",
            )
        }),
        "like" => created
            .and_then(|c| c.like.as_ref())
            .map_or(String::new(), ToString::to_string),
        // `create` or `or-alter`: how the statement declares its materialized table.
        "materialized" => materialized.map_or(String::new(), |m| {
            if m.or_alter { "or-alter" } else { "create" }.to_string()
        }),
        "start-mode" => materialized
            .and_then(|m| m.start_mode.as_ref())
            .map_or(String::new(), |s| s.as_sql()),
        "query" => materialized.map_or(String::new(), |m| m.query.clone()),
        "watermark" => materialized
            .and_then(|m| m.watermark.clone())
            .unwrap_or_default(),
        // `?` when the text cannot tell (`SELECT *`).
        "query-columns" => materialized.map_or(String::new(), |m| match &m.query_columns {
            Some(cols) => join(cols, ", "),
            None => "?".into(),
        }),
        "evolves" => join(
            &analysis
                .evolves
                .iter()
                .map(|c| c.table.to_string())
                .collect::<Vec<_>>(),
            ", ",
        ),
        other => unreachable!("header {other} is checked by headers()"),
    }
}

/// Checks one file; returns what is wrong with it.
fn check(path: &Path) -> Vec<String> {
    let sql = fs::read_to_string(path).expect("readable corpus file");
    let expected = match headers(&sql) {
        Ok(expected) => expected,
        Err(e) => return vec![e],
    };
    let get = |name: &str| {
        expected
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let mut problems = Vec::new();
    // `source: PATH` (from the workspace root): the statement is that file, e.g. the demo app's
    // SQL, so the corpus checks what the project ships rather than a copy of it.
    let result = match get("source") {
        Some(source) => {
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            match fs::read_to_string(root.join(source)) {
                Ok(text) => analyze(&text),
                Err(e) => return vec![format!("source {source}: {e}")],
            }
        }
        None => analyze(&sql),
    };

    if let Some(error) = get("error") {
        if expected.iter().any(|(n, _)| n != "error" && n != "at") {
            problems.push("an error file takes only `error` and `at` headers".into());
        }
        let Some(at) = get("at") else {
            return vec!["an error file needs an `at: line:column` header".into()];
        };
        match result {
            Ok(analysis) => problems.push(format!("expected an error, parsed as {analysis:?}")),
            Err(e) => {
                let shown = e.to_string();
                if !shown.contains(error) {
                    problems.push(format!("error {shown:?} does not contain {error:?}"));
                }
                let position = format!("{}:{}", e.line, e.column);
                if position != at {
                    problems.push(format!("error at {position}, expected at {at} ({shown})"));
                }
            }
        }
        return problems;
    }

    for name in REQUIRED {
        if get(name).is_none() {
            problems.push(format!("missing header {name:?}"));
        }
    }
    let analysis = match result {
        Ok(analysis) => analysis,
        Err(e) => {
            problems.push(format!("unexpected error: {e}"));
            return problems;
        }
    };
    if !analysis.creates.is_empty() && get("key").is_none() {
        problems.push("a statement that creates a table needs a `key` header".into());
    }
    for (name, want) in expected.iter().filter(|(n, _)| n != "source") {
        let got = actual(&analysis, name);
        if &got != want {
            problems.push(format!("{name}: expected {want:?}, got {got:?}"));
        }
    }
    problems
}

#[test]
fn corpus() {
    let files = corpus_files();
    let mut failures = Vec::new();
    for path in &files {
        let problems = check(path);
        if !problems.is_empty() {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            failures.push(format!("{name}:\n    {}", problems.join("\n    ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus files fail:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    assert!(
        files.len() >= MIN_STATEMENTS,
        "the corpus has {} statements, fewer than {MIN_STATEMENTS}",
        files.len()
    );
}

#[test]
fn header_reader_rejects_typos() {
    assert!(headers("-- kidn: SELECT\nSELECT 1").is_err());
    assert!(headers("-- kind: SELECT\n-- kind: SELECT\nSELECT 1").is_err());
    let parsed = headers(
        "-- Some prose: with a colon? no, capitalised\n-- reads: a, b\nSELECT 1\n-- kind: x",
    )
    .unwrap();
    assert_eq!(parsed, vec![("reads".to_string(), "a, b".to_string())]);
}
