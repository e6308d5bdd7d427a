//! The manifest (`ccaf-housekeeping.toml`): an app's desired statements, read and validated
//! completely before anything runs. Every problem is collected and reported at once, each naming
//! its place (`statements[2] "combined"`), so one run of the action shows everything to fix.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use flink_sql::Analysis;
use serde::Deserialize;

use crate::deps::{self, Graph};
use crate::naming::valid_logical_name;

pub const DEFAULT_FILE: &str = "ccaf-housekeeping.toml";

/// The largest manifest read (bytes): far beyond any real one, small enough that a hostile file
/// cannot tie up memory or time.
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
/// The largest SQL file read (bytes), per file.
pub const MAX_SQL_BYTES: u64 = 1024 * 1024;
/// The most one manifest may make the run read from its SQL files (bytes), each file counted
/// every time a statement names it: 16 such files of the largest size. Without it, a manifest
/// naming one 1 MiB file ten thousand times would have the run read (and hold) 10 GiB.
pub const MAX_SQL_TOTAL_BYTES: u64 = 16 * MAX_SQL_BYTES;
/// The longest statement text the statements API takes (`spec.statement`, 131 072 characters).
pub const MAX_STATEMENT_CHARS: usize = 131_072;

/// Why a file the manifest names (or the manifest itself) is not read. The path is shown as it was
/// named.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("'{}' is an absolute path: name the file relative to the manifest", path.display())]
    Absolute { path: PathBuf },
    #[error("'{}' is outside the workspace (after `..` and symbolic links are resolved)", path.display())]
    OutsideWorkspace { path: PathBuf },
    #[error("'{}' is {kind}, not a regular file", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("'{}' is larger than the limit of {limit} bytes", path.display())]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("'{}' is not UTF-8 text", path.display())]
    NotText { path: PathBuf },
    #[error("'{}' cannot be read", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Reads a file the run was told to read, only if it is a regular file of at most `limit` bytes
/// inside `workspace` once `..` and symbolic links are resolved: a manifest from a pull request
/// must not make the action read `/etc/…`, a device, a FIFO (which would block) or a huge file.
/// Errors show the file as `named` (by the input or the manifest).
pub fn read_workspace_file(
    workspace: &Path,
    path: &Path,
    named: &Path,
    limit: u64,
) -> Result<String, FileError> {
    use std::io::Read;
    let io = |source| FileError::Io {
        path: named.to_path_buf(),
        source,
    };
    let root = workspace.canonicalize().map_err(io)?;
    let real = path.canonicalize().map_err(io)?;
    let path = named;
    if !real.starts_with(&root) {
        return Err(FileError::OutsideWorkspace {
            path: path.to_path_buf(),
        });
    }
    let kind = std::fs::metadata(&real).map_err(io)?.file_type();
    if !kind.is_file() {
        return Err(FileError::NotRegular {
            path: path.to_path_buf(),
            kind: file_kind(kind),
        });
    }
    let too_large = || FileError::TooLarge {
        path: path.to_path_buf(),
        limit,
    };
    let file = std::fs::File::open(&real).map_err(io)?;
    if file.metadata().map_err(io)?.len() > limit {
        return Err(too_large());
    }
    // Read one byte past the limit: a file that grows after the check is still caught.
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|_| FileError::NotText {
        path: path.to_path_buf(),
    })
}

fn file_kind(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "not a regular file"
    }
}

/// A validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub path: PathBuf,
    pub app: String,
    pub catalog: Option<String>,
    pub database: Option<String>,
    pub compute_pool: Option<String>,
    pub principal: Option<String>,
    pub statements: Vec<ManifestStatement>,
}

#[derive(Debug, Clone)]
pub struct ManifestStatement {
    /// The logical name, `[a-z0-9-]`.
    pub name: String,
    /// The deployed statement's name, when the manifest pins it (a statement the app adopted
    /// and `export`ed keeps the name it runs under); else `<app>-<name>-<hash>`.
    pub statement_name: Option<String>,
    /// The SQL text, from the file or inline.
    pub sql: String,
    /// Where the SQL came from: a file relative to the manifest, or `None` when inline.
    pub sql_file: Option<PathBuf>,
    /// The statement's own properties (catalog/database defaults are added by [`Manifest::properties_of`]).
    pub properties: BTreeMap<String, String>,
    /// Its own compute pool and principal (else the manifest's, else the credentials').
    pub compute_pool: Option<String>,
    pub principal: Option<String>,
    /// Labels it carries besides the app's ownership label.
    pub labels: BTreeMap<String, String>,
    pub depends_on: Vec<String>,
    pub analysis: Analysis,
}

impl Manifest {
    /// The properties a statement is deployed with: its own, plus the manifest's catalog and
    /// database as `sql.current-catalog` / `sql.current-database` unless it sets them itself.
    pub fn properties_of(&self, s: &ManifestStatement) -> BTreeMap<String, String> {
        let mut p = s.properties.clone();
        // A statement pinned to its deployed name is deployed exactly as written.
        if s.statement_name.is_some() {
            return p;
        }
        if let Some(c) = &self.catalog {
            p.entry("sql.current-catalog".into())
                .or_insert_with(|| c.clone());
        }
        if let Some(d) = &self.database {
            p.entry("sql.current-database".into())
                .or_insert_with(|| d.clone());
        }
        p
    }
}

/// One problem, with the place it was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub place: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot use the manifest")]
    Read {
        #[source]
        source: FileError,
    },
    #[error("the manifest {} is not valid TOML: {message}", path.display())]
    Syntax { path: PathBuf, message: String },
    #[error("the manifest {} is invalid:\n{}", path.display(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawManifest {
    app: Option<String>,
    catalog: Option<String>,
    database: Option<String>,
    compute_pool: Option<String>,
    principal: Option<String>,
    #[serde(default)]
    statements: Vec<RawStatement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct RawStatement {
    name: String,
    statement_name: Option<String>,
    sql: Option<String>,
    query: Option<String>,
    #[serde(default)]
    properties: BTreeMap<String, toml::Value>,
    compute_pool: Option<String>,
    principal: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    depends_on: Vec<String>,
}

/// Read and validate a manifest inside `workspace`; `app` (the input) overrides the manifest's
/// `app`.
pub fn load(path: &Path, workspace: &Path, app: Option<&str>) -> Result<Manifest, ManifestError> {
    let text = read_workspace_file(workspace, path, path, MAX_MANIFEST_BYTES)
        .map_err(|source| ManifestError::Read { source })?;
    parse(&text, path, workspace, app)
}

/// Validate manifest text; SQL files are read relative to `path`'s directory, and only inside
/// `workspace`.
pub fn parse(
    text: &str,
    path: &Path,
    workspace: &Path,
    app: Option<&str>,
) -> Result<Manifest, ManifestError> {
    let raw: RawManifest = toml::from_str(text).map_err(|e| ManifestError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut problems = Problems::default();
    let app = app_name(app.map(str::to_string).or(raw.app), &mut problems);
    for (key, value) in [("catalog", &raw.catalog), ("database", &raw.database)] {
        if let Some(Err(e)) = value.as_deref().map(printable) {
            problems.add(key.into(), e);
        }
    }
    for (key, id) in [
        ("compute-pool", &raw.compute_pool),
        ("principal", &raw.principal),
    ] {
        if let Some(Err(e)) = id.as_deref().map(crate::form::validate_id) {
            problems.add(key.into(), e);
        }
    }
    let mut budget = SqlBudget::default();
    let mut seen = BTreeSet::new();
    let mut pinned_names = BTreeSet::new();
    let mut statements = Vec::new();
    for (i, s) in raw.statements.into_iter().enumerate() {
        if !valid_logical_name(&s.name) {
            problems.add(
                format!("statements[{i}].name"),
                format!("'{}' is not a valid statement name: use lower-case letters, digits and '-', starting and ending with a letter or digit", s.name),
            );
        }
        if !seen.insert(s.name.clone()) {
            problems.add(
                format!("statements[{i}] \"{}\"", s.name),
                format!("duplicate statement name '{}'", s.name),
            );
        }
        if let Some(pinned) = &s.statement_name {
            if !pinned_names.insert(pinned.clone()) {
                problems.add(
                    format!("statements[{i}] \"{}\".statement-name", s.name),
                    format!("'{pinned}' is pinned by another statement too"),
                );
            }
        }
        if let Some(statement) = parse_statement(i, s, base, workspace, &mut budget, &mut problems)
        {
            statements.push(statement);
        }
    }
    let manifest = Manifest {
        path: path.to_path_buf(),
        app,
        catalog: raw.catalog,
        database: raw.database,
        compute_pool: raw.compute_pool,
        principal: raw.principal,
        statements,
    };
    // The order of statements is only checked once each statement is sound.
    if problems.0.is_empty() {
        if let Err(e) = Graph::build(&dependency_nodes(&manifest)) {
            problems.add("statements".into(), e.to_string());
        }
    }
    if problems.0.is_empty() {
        Ok(manifest)
    } else {
        Err(ManifestError::Invalid {
            path: path.to_path_buf(),
            problems: problems.0,
        })
    }
}

/// What the manifest's SQL files have made the run read so far ([`MAX_SQL_TOTAL_BYTES`]).
#[derive(Default)]
struct SqlBudget {
    read: u64,
    /// Past the limit: the problem is said once, and no further file is read.
    spent: bool,
}

impl SqlBudget {
    /// Whether another file may be read; the first refusal is a problem at `place`.
    fn allows(&mut self, place: &str, problems: &mut Problems) -> bool {
        if self.spent {
            return false;
        }
        if self.read > MAX_SQL_TOTAL_BYTES {
            self.spent = true;
            problems.add(
                place.to_string(),
                format!(
                    "the manifest's SQL files add up to more than the limit of \
                     {MAX_SQL_TOTAL_BYTES} bytes (each file counted every time a statement \
                     names it); no further file is read"
                ),
            );
            return false;
        }
        true
    }
}

/// Every problem of a manifest, each with its place: all are reported at once.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn add(&mut self, place: String, message: String) {
        self.0.push(Problem { place, message });
    }
}

/// The app's name: the input's, else the manifest's.
fn app_name(app: Option<String>, problems: &mut Problems) -> String {
    match app {
        Some(a) if valid_logical_name(&a) => a,
        Some(a) => {
            problems.add(
                "app".into(),
                format!("'{a}' is not a valid app name: use lower-case letters, digits and '-', starting and ending with a letter or digit"),
            );
            a
        }
        None => {
            problems.add(
                "app".into(),
                "missing: set `app` in the manifest or the `app` input".into(),
            );
            String::new()
        }
    }
}

/// One `[[statements]]` entry checked completely but for its name: its SQL (read and
/// analysed), properties, pool, principal and labels. `None` when it cannot be used at all; its problems
/// are in `problems` either way.
fn parse_statement(
    i: usize,
    s: RawStatement,
    base: &Path,
    workspace: &Path,
    budget: &mut SqlBudget,
    problems: &mut Problems,
) -> Option<ManifestStatement> {
    let place = format!("statements[{i}] \"{}\"", s.name);
    if let Some(Err(e)) = s
        .statement_name
        .as_deref()
        .map(crate::naming::check_statement_name)
    {
        problems.add(format!("{place}.statement-name"), e);
    }
    let (sql, sql_file) = statement_sql(s.sql, s.query, base, workspace, &place, budget, problems)?;
    for dependency in &s.depends_on {
        if let Err(e) = printable(dependency) {
            problems.add(format!("{place}.depends-on"), e);
        }
    }
    let properties = statement_properties(s.properties, &place, problems);
    for (input, id) in [
        ("compute-pool", &s.compute_pool),
        ("principal", &s.principal),
    ] {
        if let Some(Err(e)) = id.as_deref().map(crate::form::validate_id) {
            problems.add(
                format!("{place}.{input}"),
                format!("'{}' {e}", id.as_deref().unwrap_or_default()),
            );
        }
    }
    for (k, v) in &s.labels {
        if let Err(e) = validate_label(k, v) {
            problems.add(format!("{place}.labels.{k}"), e);
        }
    }
    let source = sql_file
        .as_ref()
        .map(|f| format!(" ({})", f.display()))
        .unwrap_or_default();
    let analysis = match flink_sql::analyze(&sql) {
        Ok(a) => a,
        Err(e) => {
            problems.add(format!("{place}{source}"), e.to_string());
            return None;
        }
    };
    // The smaller of the documented limits (the spec's; the concepts page says 4 MB, §F.16).
    let length = sql.chars().count();
    if length > MAX_STATEMENT_CHARS {
        problems.add(
            format!("{place}{source}"),
            format!(
                "the statement is {length} characters long; the statements API takes at most \
                 {MAX_STATEMENT_CHARS}"
            ),
        );
        return None;
    }
    // Table names become topic and subject names and are printed: no control characters.
    for table in tables_of(&analysis) {
        let parts = [&table.catalog, &table.database].into_iter().flatten();
        if let Some(Err(e)) = parts
            .chain([&table.name])
            .map(|p| printable(p))
            .find(Result::is_err)
        {
            problems.add(
                format!("{place}{source}"),
                format!(
                    "table {} {e}",
                    crate::text::escape_controls(&table.to_string())
                ),
            );
            return None;
        }
    }
    Some(ManifestStatement {
        name: s.name,
        statement_name: s.statement_name,
        sql,
        sql_file,
        properties,
        compute_pool: s.compute_pool,
        principal: s.principal,
        labels: s.labels,
        depends_on: s.depends_on,
        analysis,
    })
}

/// Every table a statement names.
fn tables_of(a: &Analysis) -> impl Iterator<Item = &flink_sql::TableRef> {
    a.creates
        .iter()
        .map(|c| &c.table)
        .chain(a.creates.iter().filter_map(|c| c.like.as_ref()))
        .chain(a.drops.iter().map(|d| &d.table))
        .chain(&a.writes)
        .chain(&a.reads)
}

/// The rule for names (`text::check_printable`), as a manifest problem's message.
fn printable(s: &str) -> Result<(), String> {
    crate::text::check_printable(s)
}

/// A statement's SQL: the file `sql` names (relative to the manifest, inside the workspace), or
/// the inline `query`.
fn statement_sql(
    sql: Option<String>,
    query: Option<String>,
    base: &Path,
    workspace: &Path,
    place: &str,
    budget: &mut SqlBudget,
    problems: &mut Problems,
) -> Option<(String, Option<PathBuf>)> {
    match (sql, query) {
        (Some(_), Some(_)) => {
            problems.add(
                place.to_string(),
                "give either `sql` (a file) or `query` (inline SQL), not both".into(),
            );
            None
        }
        (None, None) => {
            problems.add(
                place.to_string(),
                "missing `sql` (a file) or `query` (inline SQL)".into(),
            );
            None
        }
        (None, Some(q)) => Some((q, None)),
        (Some(file), None) => {
            if !budget.allows(place, problems) {
                return None;
            }
            let named = PathBuf::from(&file);
            let read = if let Err(e) = printable(&file) {
                Err(e)
            } else if named.is_absolute() {
                Err(FileError::Absolute {
                    path: named.clone(),
                }
                .to_string())
            } else {
                let path = base.join(&named);
                read_workspace_file(workspace, &path, &named, MAX_SQL_BYTES).map_err(|e| {
                    // With the cause, e.g. no such file.
                    match std::error::Error::source(&e) {
                        Some(cause) => format!("{e}: {cause}"),
                        None => e.to_string(),
                    }
                })
            };
            match read {
                Ok(text) => {
                    budget.read += text.len() as u64;
                    // Checked before the next read, and here for the last one.
                    if !budget.allows(place, problems) {
                        return None;
                    }
                    Some((text, Some(named)))
                }
                Err(e) => {
                    problems.add(place.to_string(), format!("SQL file {e}"));
                    None
                }
            }
        }
    }
}

/// Statement properties as the API takes them: strings (numbers and booleans written as text).
fn statement_properties(
    raw: BTreeMap<String, toml::Value>,
    place: &str,
    problems: &mut Problems,
) -> BTreeMap<String, String> {
    let mut properties = BTreeMap::new();
    for (k, v) in raw {
        if let Err(e) = printable(&k) {
            problems.add(format!("{place}.properties"), format!("a key {e}"));
            continue;
        }
        let value = match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(n) => n.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                problems.add(
                    format!("{place}.properties.{k}"),
                    format!(
                        "must be a string, number or boolean, not {}",
                        other.type_str()
                    ),
                );
                continue;
            }
        };
        if let Err(e) = printable(&value) {
            problems.add(format!("{place}.properties.{k}"), e);
            continue;
        }
        properties.insert(k, value);
    }
    properties
}

/// A statement label: `[prefix/]name` (the prefix a DNS name, the name up to 63 of
/// `[A-Za-z0-9._-]`), a value of up to 63 of the same; never the tool's own labels.
fn validate_label(key: &str, value: &str) -> Result<(), String> {
    let part = |s: &str| {
        !s.is_empty()
            && s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    };
    let (prefix, name) = key.rsplit_once('/').unwrap_or(("", key));
    let prefix_ok = prefix.is_empty()
        || (prefix.len() <= 253
            && prefix.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    if !prefix_ok || !part(name) {
        return Err(format!(
            "'{key}' is not a label key: `[prefix/]name`, the name 1 to 63 of letters, digits, '.', '_', '-'"
        ));
    }
    if !(value.is_empty() || part(value)) {
        return Err("a label value is up to 63 of letters, digits, '.', '_', '-'".into());
    }
    if key == crate::ownership::OWNER_LABEL || key == crate::ownership::HIDDEN_LABEL {
        return Err(format!("'{key}' is set by ccaf-housekeeping itself"));
    }
    Ok(())
}

/// The manifest's statements as dependency-graph nodes, tables resolved per statement.
pub fn dependency_nodes(m: &Manifest) -> Vec<deps::Node> {
    m.statements
        .iter()
        .map(|s| {
            let props = m.properties_of(s);
            let cat = props.get("sql.current-catalog").map(String::as_str);
            let db = props.get("sql.current-database").map(String::as_str);
            let resolve = |ts: &mut dyn Iterator<Item = &flink_sql::TableRef>| {
                ts.map(|t| t.resolve(cat, db)).collect()
            };
            deps::Node {
                name: s.name.clone(),
                creates: resolve(&mut s.analysis.creates.iter().map(|c| &c.table)),
                writes: resolve(&mut s.analysis.writes.iter()),
                reads: resolve(&mut s.analysis.reads.iter()),
                depends_on: s.depends_on.clone(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn dir_with(files: &[(&str, &str)]) -> Dir {
        let d = std::env::temp_dir().join(format!("manifest-test-{}", rand::random::<u64>()));
        std::fs::create_dir_all(d.join("sql")).unwrap();
        for (name, text) in files {
            let mut f = std::fs::File::create(d.join(name)).unwrap();
            f.write_all(text.as_bytes()).unwrap();
        }
        Dir(d)
    }

    fn problems(text: &str, files: &[(&str, &str)]) -> Vec<String> {
        let d = dir_with(files);
        match parse(text, &d.0.join(DEFAULT_FILE), &d.0, None) {
            Err(ManifestError::Invalid { problems, .. }) => {
                problems.into_iter().map(|p| p.to_string()).collect()
            }
            Err(e) => vec![e.to_string()],
            Ok(_) => vec![],
        }
    }

    const SINK: &str = "CREATE TABLE flight_avro (a STRING)";

    #[test]
    fn a_valid_manifest_reads_files_and_inline_sql() {
        let d = dir_with(&[("sql/flight_avro.sql", SINK)]);
        let text = r#"
app = "flight-consolidator"
catalog = "env"
database = "cluster"

[[statements]]
name = "combined"
query = "INSERT INTO flight_avro SELECT a FROM skyone_avro"
properties = { "sql.local-time-zone" = "UTC", "parallelism" = 2 }

[[statements]]
name = "flight-avro"
sql = "sql/flight_avro.sql"
"#;
        let m = parse(text, &d.0.join(DEFAULT_FILE), &d.0, None).unwrap();
        assert_eq!(m.app, "flight-consolidator");
        assert_eq!(m.statements.len(), 2);
        assert_eq!(m.statements[1].sql, SINK);
        assert_eq!(
            m.statements[1].sql_file,
            Some(PathBuf::from("sql/flight_avro.sql"))
        );
        let props = m.properties_of(&m.statements[0]);
        assert_eq!(props["sql.current-catalog"], "env");
        assert_eq!(props["parallelism"], "2");
        // The sink comes first although listed second: it creates what the job writes.
        let g = Graph::build(&dependency_nodes(&m)).unwrap();
        assert_eq!(g.topological().unwrap(), vec![1, 0]);
        // The app input overrides the manifest.
        let m = parse(text, &d.0.join(DEFAULT_FILE), &d.0, Some("other-app")).unwrap();
        assert_eq!(m.app, "other-app");
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let text = r#"
app = "Bad_App"

[[statements]]
name = "dup"
query = "SELECT 1"

[[statements]]
name = "dup"
query = "SELECT 1"

[[statements]]
name = "No"
query = "SELECT 1"

[[statements]]
name = "missing-file"
sql = "sql/nope.sql"

[[statements]]
name = "both"
sql = "a.sql"
query = "SELECT 1"

[[statements]]
name = "typo"
query = "SELECT * FORM t"
"#;
        let p = problems(text, &[]);
        let has = |needle: &str| p.iter().any(|x| x.contains(needle));
        assert!(has("app: 'Bad_App' is not a valid app name"), "{p:#?}");
        assert!(
            has("statements[1] \"dup\": duplicate statement name 'dup'"),
            "{p:#?}"
        );
        assert!(
            has("statements[2].name: 'No' is not a valid statement name"),
            "{p:#?}"
        );
        assert!(
            has("statements[3] \"missing-file\": SQL file 'sql/nope.sql' cannot be read: No such file"),
            "{p:#?}"
        );
        assert!(has("statements[4] \"both\": give either"), "{p:#?}");
        assert!(has("statements[5] \"typo\": SQL parse failed"), "{p:#?}");
        assert_eq!(p.len(), 6, "{p:#?}");
    }

    #[test]
    fn a_statement_longer_than_the_api_takes_is_refused() {
        let long = format!(
            "INSERT INTO t SELECT id FROM s WHERE note <> '{}'",
            "x".repeat(MAX_STATEMENT_CHARS)
        );
        let text = "app = \"a\"\n[[statements]]\nname = \"long\"\nsql = \"sql/long.sql\"\n";
        let p = problems(text, &[("sql/long.sql", &long)]);
        assert!(
            p.iter().any(|x| x.contains("takes at most 131072")),
            "{p:#?}"
        );
    }

    #[test]
    fn a_manifest_reads_at_most_16_mib_of_sql_in_all_each_file_counted_each_time_it_is_named() {
        // The largest SQL file there may be (its length is a problem of its own).
        let sql = format!("SELECT 1 -- {}", "x".repeat(MAX_SQL_BYTES as usize - 12));
        assert_eq!(sql.len() as u64, MAX_SQL_BYTES);
        let manifest = |n: usize| {
            let mut text = "app = \"a\"\n".to_string();
            for i in 0..n {
                text.push_str(&format!(
                    "[[statements]]\nname = \"s{i}\"\nsql = \"sql/big.sql\"\n"
                ));
            }
            text
        };
        let over_the_total = |p: &[String]| {
            p.iter()
                .filter(|x| x.contains("add up to more than the limit of 16777216 bytes"))
                .cloned()
                .collect::<Vec<_>>()
        };
        let p = problems(&manifest(16), &[("sql/big.sql", &sql)]);
        assert!(over_the_total(&p).is_empty(), "{p:#?}");
        // Ten thousand names of the file: the 17th is one too many, and nothing more is read.
        let p = problems(&manifest(10_000), &[("sql/big.sql", &sql)]);
        let total = over_the_total(&p);
        assert_eq!(total.len(), 1, "{p:#?}");
        assert!(total[0].starts_with("statements[16] \"s16\""), "{total:?}");
        assert_eq!(p.len(), 17, "16 statements too long, one over the total");
    }

    #[test]
    fn sql_files_are_regular_files_of_at_most_a_mib_inside_the_workspace() {
        let outside = dir_with(&[("secret.sql", SINK)]);
        let d = dir_with(&[
            ("sql/ok.sql", SINK),
            ("sql/big.sql", &"-".repeat(MAX_SQL_BYTES as usize + 1)),
        ]);
        std::os::unix::fs::symlink(outside.0.join("secret.sql"), d.0.join("sql/link.sql")).unwrap();
        std::os::unix::fs::symlink(d.0.join("sql/ok.sql"), d.0.join("sql/inside.sql")).unwrap();
        std::fs::create_dir(d.0.join("sql/dir.sql")).unwrap();
        let fifo = std::process::Command::new("mkfifo")
            .arg(d.0.join("sql/fifo.sql"))
            .status()
            .unwrap();
        assert!(fifo.success());
        let escape = format!(
            "../{}/secret.sql",
            outside.0.file_name().unwrap().to_string_lossy()
        );
        let absolute = outside.0.join("secret.sql").display().to_string();
        let entries = [
            ("absolute", absolute.as_str(), "is an absolute path"),
            ("dotdot", escape.as_str(), "is outside the workspace"),
            ("link", "sql/link.sql", "is outside the workspace"),
            ("dir", "sql/dir.sql", "is a directory, not a regular file"),
            ("fifo", "sql/fifo.sql", "is a FIFO, not a regular file"),
            (
                "big",
                "sql/big.sql",
                "is larger than the limit of 1048576 bytes",
            ),
            ("device", "/dev/zero", "is an absolute path"),
        ];
        let mut text = String::from("app = \"a\"\n");
        for (name, file, _) in entries {
            text.push_str(&format!(
                "[[statements]]\nname = \"{name}\"\nsql = '{file}'\n"
            ));
        }
        // Inside the workspace, `..` and links are fine.
        text.push_str("[[statements]]\nname = \"via-link\"\nsql = \"sql/../sql/inside.sql\"\n");
        let p = match parse(&text, &d.0.join(DEFAULT_FILE), &d.0, None) {
            Err(ManifestError::Invalid { problems, .. }) => problems,
            other => panic!("{other:?}"),
        };
        assert_eq!(p.len(), entries.len(), "{p:#?}");
        for (i, ((name, file, why), problem)) in entries.iter().zip(&p).enumerate() {
            assert_eq!(problem.place, format!("statements[{i}] \"{name}\""));
            let expected = format!("SQL file '{file}' {why}");
            assert!(problem.message.starts_with(&expected), "{problem}");
        }
    }

    #[test]
    fn the_manifest_itself_is_a_regular_file_of_at_most_a_mib_inside_the_workspace() {
        let d = dir_with(&[(
            "big.toml",
            &format!("app = \"a\"\n#{}", "x".repeat(MAX_MANIFEST_BYTES as usize)),
        )]);
        let e = load(&d.0.join("big.toml"), &d.0, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot use the manifest"), "{e}");
        let e = std::error::Error::source(&load(&d.0.join("big.toml"), &d.0, None).unwrap_err())
            .unwrap()
            .to_string();
        assert!(
            e.ends_with("is larger than the limit of 1048576 bytes"),
            "{e}"
        );
        let other = dir_with(&[(DEFAULT_FILE, "app = \"a\"\n")]);
        let e = load(&other.0.join(DEFAULT_FILE), &d.0, None).unwrap_err();
        assert!(
            matches!(
                e,
                ManifestError::Read {
                    source: FileError::OutsideWorkspace { .. }
                }
            ),
            "{e:?}"
        );
        let e = load(&d.0.join("sql"), &d.0, None).unwrap_err();
        assert!(
            matches!(
                e,
                ManifestError::Read {
                    source: FileError::NotRegular { .. }
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn names_with_control_characters_are_problems() {
        let text = "app = \"a\"\ncatalog = \"env\\n::add-mask::x\"\ndatabase = \"db\\u001b\"\nprincipal = \"sa\\r\"\n\
            [[statements]]\nname = \"t\"\nquery = \"CREATE TABLE `a\\n::stop-commands::x` (a INT)\"\n\
            [[statements]]\nname = \"p\"\nquery = \"SELECT 1\"\nproperties = { \"k\" = \"v\\r\\n\" }\ndepends-on = [\"t\\u0000\"]\n\
            [[statements]]\nname = \"r\"\nquery = \"INSERT INTO s SELECT * FROM `db\\u2028`.x\"\n";
        let p = problems(text, &[]);
        let has = |needle: &str| p.iter().any(|x| x.contains(needle));
        assert!(
            has("catalog: contains the control character U+000A"),
            "{p:#?}"
        );
        assert!(
            has("database: contains the control character U+001B"),
            "{p:#?}"
        );
        assert!(
            has("principal: contains the control character U+000D"),
            "{p:#?}"
        );
        assert!(has("statements[0] \"t\": table `a\\n::stop-commands::x` contains the control character U+000A"), "{p:#?}");
        assert!(
            has("statements[1] \"p\".properties.k: contains the control character U+000D"),
            "{p:#?}"
        );
        assert!(
            has("statements[1] \"p\".depends-on: contains the control character U+0000"),
            "{p:#?}"
        );
        assert!(has("statements[2] \"r\": table `"), "{p:#?}");
        assert_eq!(p.len(), 7, "{p:#?}");
    }

    #[test]
    fn unknown_keys_cycles_and_unknown_dependencies_are_errors() {
        let unknown = problems("app = \"a\"\ncompute_pool = \"x\"\n", &[]);
        assert!(
            unknown[0].contains("unknown field `compute_pool`"),
            "{unknown:?}"
        );
        assert!(unknown[0].contains("line 2"), "{unknown:?}");
        let unknown = problems(
            "app = \"a\"\n[[statements]]\nname = \"x\"\nquery = \"SELECT 1\"\ndepend-on = []\n",
            &[],
        );
        assert!(
            unknown[0].contains("unknown field `depend-on`"),
            "{unknown:?}"
        );

        let cycle = problems(
            r#"
app = "a"
[[statements]]
name = "x"
query = "SELECT 1"
depends-on = ["y"]
[[statements]]
name = "y"
query = "SELECT 1"
depends-on = ["x"]
"#,
            &[],
        );
        assert_eq!(cycle.len(), 1);
        assert!(
            cycle[0].starts_with("statements: dependency cycle: "),
            "{cycle:?}"
        );
        let unknown_dep = problems(
            "app = \"a\"\n[[statements]]\nname = \"x\"\nquery = \"SELECT 1\"\ndepends-on = [\"nope\"]\n",
            &[],
        );
        assert!(
            unknown_dep[0].contains("'x' depends on 'nope'"),
            "{unknown_dep:?}"
        );
        let no_app = problems("[[statements]]\nname = \"x\"\nquery = \"SELECT 1\"\n", &[]);
        assert!(no_app[0].starts_with("app: missing"), "{no_app:?}");
    }

    #[test]
    fn a_data_flow_loop_between_statements_is_a_cycle() {
        let p = problems(
            &format!(
                "app = \"a\"\n[[statements]]\nname = \"x\"\nquery = \"{}\"\n[[statements]]\nname = \"y\"\nquery = \"{}\"\n",
                "INSERT INTO t1 SELECT * FROM t2", "INSERT INTO t2 SELECT * FROM t1"
            ),
            &[],
        );
        assert!(p[0].contains("dependency cycle"), "{p:?}");
    }

    #[test]
    fn a_statement_may_set_its_own_pool_principal_and_labels() {
        let d = dir_with(&[]);
        let text = r#"
app = "app"
compute-pool = "lfcp-default"

[[statements]]
name = "job"
query = "SELECT 1"
compute-pool = "lfcp-big"
principal = "sa-runner"
labels = { "user.confluent.io/team" = "flights", "tier" = "gold" }
"#;
        let m = parse(text, &d.0.join(DEFAULT_FILE), &d.0, None).unwrap();
        let s = &m.statements[0];
        assert_eq!(s.compute_pool.as_deref(), Some("lfcp-big"));
        assert_eq!(s.principal.as_deref(), Some("sa-runner"));
        assert_eq!(s.labels["user.confluent.io/team"], "flights");
        assert_eq!(s.labels["tier"], "gold");

        let bad = r#"
app = "app"

[[statements]]
name = "job"
query = "SELECT 1"
principal = "sa/evil"
labels = { "user.confluent.io/ccaf-housekeeping" = "other", "bad key!" = "x", "ok" = "not ok!" }
"#;
        let p = problems(bad, &[]);
        let has = |needle: &str| p.iter().any(|x| x.contains(needle));
        assert!(has("statements[0] \"job\".principal"), "{p:?}");
        assert!(has("set by ccaf-housekeeping itself"), "{p:?}");
        assert!(has("'bad key!' is not a label key"), "{p:?}");
        assert!(has("a label value"), "{p:?}");
    }
}
