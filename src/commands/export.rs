//! `export`: the app's tracked statements — adopted ones above all — written out as a manifest
//! and one SQL file per statement, so a Table API app can move under the manifest. Every
//! statement keeps its deployed name (`statement-name`), SQL, properties, pool, principal and
//! labels exactly, so a `buildup` from the exported manifest right after changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cli::Checked;
use crate::config::Credentials;
use crate::engine::records::{latest_per_logical, user_labels};
use crate::input::ConfigError;
use crate::tracker::{Record, Tracker};

use super::CommandError;

/// The manifest as written: the reader's format (`manifest`), with every statement pinned.
#[derive(Debug, Serialize)]
struct Exported {
    app: String,
    statements: Vec<ExportedStatement>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
struct ExportedStatement {
    name: String,
    statement_name: String,
    sql: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    properties: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compute_pool: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    principal: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
}

/// A logical name for a deployed name: `[a-z0-9-]` (a statement name may hold dots), unique.
fn logical_name(name: &str, taken: &mut BTreeSet<String>) -> String {
    let base: String = name
        .chars()
        .map(|c| if c == '.' { '-' } else { c })
        .collect();
    let mut candidate = base.clone();
    let mut n = 2;
    while !taken.insert(candidate.clone()) {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    candidate
}

/// The manifest's text and its SQL files (path relative to the manifest → SQL), for the app's
/// records: per logical name the latest one (as a buildup without a manifest wants), never the
/// action's own hidden statements.
pub fn exported(
    app: &str,
    records: &[&Record],
) -> Result<(String, Vec<(PathBuf, String)>), toml::ser::Error> {
    let latest = latest_per_logical(records.iter().copied());
    let mut taken = BTreeSet::new();
    let mut files = Vec::new();
    let mut statements = Vec::new();
    for (logical, r) in latest {
        let name = logical_name(&logical, &mut taken);
        let file = PathBuf::from("sql").join(format!("{name}.sql"));
        files.push((file.clone(), r.sql.clone()));
        statements.push(ExportedStatement {
            name,
            statement_name: r.statement_name.clone(),
            sql: file.to_string_lossy().into_owned(),
            properties: r.properties.clone(),
            compute_pool: r.compute_pool_id.clone(),
            principal: r.principal.clone(),
            labels: user_labels(&r.labels),
        });
    }
    let manifest = Exported {
        app: app.to_string(),
        statements,
    };
    let text = toml::to_string(&manifest)?;
    let header =
        "# Exported by ccaf-housekeeping from the tracker: each statement keeps the name it \
                  runs under.\n";
    Ok((format!("{header}{text}"), files))
}

pub async fn run(checked: Checked, manifest: PathBuf) -> Result<(), CommandError> {
    let app = checked.app.clone().ok_or_else(|| ConfigError::Missing {
        input: "app",
        hint: "export writes one app's statements: give app".into(),
    })?;
    let mut creds = Credentials::new(checked.credentials.clone());
    let flink = creds.flink().await?;
    let kafka = creds.kafka().await?;
    let tracker = Tracker::open(&kafka, &checked.tracker_topic, creds.tracker_key().await?).await?;
    let records = tracker
        .list(Some(&flink.environment_id), Some(&app))
        .await?;
    let records: Vec<&Record> = records.iter().collect();
    let (text, files) =
        exported(&app, &records).map_err(|e| CommandError::Output(std::io::Error::other(e)))?;
    write_all(&manifest, &text, &files).map_err(CommandError::Output)?;
    crate::text::print_line(&format!(
        "exported {} statements of {app} to {} (SQL files in {})",
        files.len(),
        manifest.display(),
        manifest
            .parent()
            .unwrap_or(Path::new("."))
            .join("sql")
            .display()
    ));
    Ok(())
}

/// Write the manifest and its SQL files, creating `sql/` beside it; a file that exists is not
/// overwritten (the inputs were checked for the manifest; a SQL file may be there).
fn write_all(manifest: &Path, text: &str, files: &[(PathBuf, String)]) -> std::io::Result<()> {
    let dir = manifest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir.join("sql"))?;
    for (file, sql) in files {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(dir.join(file))?;
        std::io::Write::write_all(&mut f, sql.as_bytes())?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(manifest)?;
    std::io::Write::write_all(&mut f, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracker::State;

    #[test]
    fn every_statement_is_pinned_and_reads_back_as_it_was() {
        let mut ddl = Record::new(
            "app",
            "env-1",
            "ctx.abc-plugin",
            "CREATE TABLE t (a INT)",
            State::Adopted,
        );
        ddl.properties = [("sql.current-catalog".to_string(), "my env".to_string())].into();
        ddl.compute_pool_id = Some("lfcp-1".into());
        let mut job = Record::new(
            "app",
            "env-1",
            "combined-1",
            "INSERT INTO t SELECT 1",
            State::Adopted,
        );
        job.labels = [
            ("user.confluent.io/team".to_string(), "x".to_string()),
            (crate::ownership::OWNER_LABEL.to_string(), "app".to_string()),
        ]
        .into();
        let mut hidden = Record::new(
            "app",
            "env-1",
            "app-drop-t-1",
            "DROP TABLE t",
            State::TornDown,
        );
        hidden.labels = [(
            crate::ownership::HIDDEN_LABEL.to_string(),
            "true".to_string(),
        )]
        .into();
        let (text, files) = exported("app", &[&ddl, &job, &hidden]).unwrap();
        assert_eq!(files.len(), 2, "{text}");
        let dir = std::env::temp_dir().join(format!("export-test-{}", rand::random::<u64>()));
        let path = dir.join("ccaf-housekeeping.toml");
        write_all(&path, &text, &files).unwrap();
        let m = crate::manifest::load(&path, &dir, None).unwrap();
        assert_eq!(m.app, "app");
        let by_name: BTreeMap<&str, &crate::manifest::ManifestStatement> = m
            .statements
            .iter()
            .map(|s| (s.statement_name.as_deref().unwrap(), s))
            .collect();
        let d = by_name["ctx.abc-plugin"];
        assert_eq!(d.name, "ctx-abc-plugin");
        assert_eq!(d.sql, ddl.sql);
        assert_eq!(d.properties, ddl.properties);
        assert_eq!(d.compute_pool.as_deref(), Some("lfcp-1"));
        let j = by_name["combined-1"];
        assert_eq!(
            j.labels,
            [("user.confluent.io/team".to_string(), "x".to_string())].into()
        );
        // Nothing is overwritten.
        assert!(write_all(&path, &text, &files).is_err());
        let _ = std::fs::remove_dir_all(dir);
    }
}
