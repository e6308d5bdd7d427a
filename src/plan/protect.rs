//! `protect`: glob patterns of statements and tables the app never touches. The one home of how a
//! pattern matches — a statement by its deployed name ([`statement`]), a table by any spelling
//! of its one identity ([`table`]) — and of what the app's SQL may not do to a protected table:
//! drop, alter, create or write it ([`touches`]). A statement the run would submit or adopt that
//! does is bad input ([`check`], [`check_all`]): refused before anything changes, never half
//! done.
//!
//! Pure: the engine calls it on the snapshot (and on the statements `adopt` selects) before the
//! first change; the planner uses the same matching for what it tears down.

use std::collections::BTreeSet;
use std::fmt;

use flink_sql::TableRef;
use glob::Pattern;

use super::{Definition, Goal, Snapshot};
use crate::identity::Names;

/// The pattern that protects the statement deployed as `name`, if one does.
pub fn statement<'p>(patterns: &'p [Pattern], name: &str) -> Option<&'p Pattern> {
    patterns.iter().find(|p| p.matches(name))
}

/// The pattern that protects table `t` (an identity, [`Names::canonical`]), if one does. A
/// pattern may be written with ids or display names, with or without its catalog and database,
/// backquoted or not: the table is each of those spellings.
pub fn table<'p>(patterns: &'p [Pattern], t: &TableRef, names: &Names) -> Option<&'p Pattern> {
    let spelled = spellings(t, names);
    patterns
        .iter()
        .find(|p| spelled.iter().any(|s| p.matches(s)))
}

/// Every way a person may write `t`: by ids and by display names; `catalog.database.name`,
/// `database.name` and `name`; each plain, backquoted where needed (as SQL shows it) and
/// backquoted throughout.
fn spellings(t: &TableRef, names: &Names) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for t in [t.clone(), names.shown(t)] {
        let shorter = [
            t.clone(),
            TableRef {
                catalog: None,
                ..t.clone()
            },
            TableRef::new(&t.name),
        ];
        for t in shorter {
            let parts: Vec<&str> = [t.catalog.as_deref(), t.database.as_deref()]
                .into_iter()
                .flatten()
                .chain([t.name.as_str()])
                .collect();
            out.insert(parts.join("."));
            out.insert(
                parts
                    .iter()
                    .map(|p| format!("`{}`", p.replace('`', "``")))
                    .collect::<Vec<_>>()
                    .join("."),
            );
            out.insert(t.to_string());
        }
    }
    out
}

/// The catalog and database each pattern names, as `(catalog, database)` (a part with a wildcard
/// names none): spellings the run must know as identities, or a pattern by ids would miss a table
/// the SQL spells by display names, and the other way round.
pub fn places(patterns: &[Pattern]) -> Vec<(Option<String>, Option<String>)> {
    let named = |part: &str| {
        Some(part.to_string()).filter(|p| !p.is_empty() && !p.contains(['*', '?', '[']))
    };
    patterns
        .iter()
        .filter_map(|p| match parts(p.as_str()).as_slice() {
            [catalog, database, _] => Some((named(catalog), named(database))),
            [database, _] => Some((None, named(database))),
            _ => None,
        })
        .collect()
}

/// `a.b.c` split at the dots outside backquotes, backquotes undone (a doubled one is one).
fn parts(text: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' if quoted && chars.peek() == Some(&'`') => {
                chars.next();
                out.last_mut().unwrap().push('`');
            }
            '`' => quoted = !quoted,
            '.' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    out
}

/// What a statement's SQL does to a table that `protect` forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    Drops,
    Alters,
    Creates,
    Writes,
}

impl fmt::Display for Touch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Touch::Drops => "drops",
            Touch::Alters => "alters",
            Touch::Creates => "creates",
            Touch::Writes => "writes",
        })
    }
}

/// A protected table a statement's SQL changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub touch: Touch,
    pub table: TableRef,
    pub pattern: String,
}

impl Hit {
    /// "it writes table T (pattern 'P')", the table shown by its display names.
    pub fn said(&self, names: &Names) -> String {
        format!(
            "it {} table {}, which pattern '{}' protects",
            self.touch,
            names.shown(&self.table),
            self.pattern
        )
    }
}

/// The first protected table `d`'s SQL drops, alters, creates or writes — in that order, the
/// most destructive said first. Reads are not touches: reading a table changes nothing of it.
pub fn touches(patterns: &[Pattern], d: &Definition, names: &Names) -> Option<Hit> {
    let all = d.drops.iter().map(|t| (Touch::Drops, t));
    let all = all.chain(d.alters.iter().map(|t| (Touch::Alters, t)));
    let all = all.chain(d.creates.iter().map(|t| (Touch::Creates, t)));
    let mut all = all.chain(d.writes.iter().map(|t| (Touch::Writes, t)));
    all.find_map(|(touch, t)| {
        table(patterns, t, names).map(|p| Hit {
            touch,
            table: t.clone(),
            pattern: p.as_str().to_string(),
        })
    })
}

/// A statement the run would submit or adopt whose SQL changes a protected table: bad input of
/// `protect` (or of the manifest), refused before anything is changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Violation {
    /// The manifest's name for the statement.
    pub logical: String,
    /// Its deployed name.
    pub name: String,
    pub touch: Touch,
    /// The table as people know it ([`Names::shown`]).
    pub table: String,
    pub pattern: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "statement `{}`", self.logical)?;
        if self.name != self.logical {
            write!(f, " (deployed as `{}`)", self.name)?;
        }
        write!(
            f,
            " {} table {}, which pattern '{}' protects: nothing was changed; take the \
             statement out of the app or the table out of `protect`",
            self.touch, self.table, self.pattern
        )
    }
}

/// What `goal` would submit, checked against `patterns`: every statement a buildup or rebuild
/// builds from — the manifest's, or without one the tracker's definitions — whatever its live
/// phase, so that the verdict depends on the inputs alone. A teardown submits none of the app's
/// SQL: its own `DROP TABLE` statements are spared by [`table`] in the planner.
pub fn check(goal: Goal, snap: &Snapshot, patterns: &[Pattern]) -> Result<(), Violation> {
    match goal {
        Goal::Teardown => Ok(()),
        Goal::Buildup | Goal::Rebuild => check_all(&snap.desired, &snap.names, patterns),
    }
}

/// The first of `defs` whose SQL changes a protected table. A statement protected by its own name
/// is never submitted (the plan skips it), so it is not checked.
pub fn check_all<'a>(
    defs: impl IntoIterator<Item = &'a Definition>,
    names: &Names,
    patterns: &[Pattern],
) -> Result<(), Violation> {
    if patterns.is_empty() {
        return Ok(());
    }
    for d in defs {
        if statement(patterns, &d.name).is_some() {
            continue;
        }
        if let Some(hit) = touches(patterns, d, names) {
            return Err(Violation {
                logical: d.logical.clone(),
                name: d.name.clone(),
                touch: hit.touch,
                table: names.shown(&hit.table).to_string(),
                pattern: hit.pattern,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::engine::records::resolved_tables;

    /// Names that know the environment `env-1` as "my env" and its clusters `lkc-1` as
    /// "my-cluster" and `lkc-2` as "other".
    fn learnt() -> Names {
        let mut n = Names::new("env-1", Some("lkc-1"), &BTreeMap::new());
        let row = |c: &str, name: &str| {
            ["env-1", "my env", c, name]
                .map(serde_json::Value::from)
                .to_vec()
        };
        n.learn(&[row("lkc-1", "my-cluster"), row("lkc-2", "other")]);
        n
    }

    /// The statement as the snapshot makes it from SQL: its tables resolved against
    /// `sql.current-catalog` / `sql.current-database` (by ids unless given) as identities.
    fn stmt_in(sql: &str, catalog: &str, database: &str, names: &Names) -> Definition {
        let properties: BTreeMap<String, String> = [
            ("sql.current-catalog".to_string(), catalog.to_string()),
            ("sql.current-database".to_string(), database.to_string()),
        ]
        .into();
        let a = flink_sql::analyze(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        let t = resolved_tables(&a, &properties, names);
        Definition {
            logical: "job".into(),
            name: "app-job-1a2b3c4d".into(),
            sql: sql.into(),
            properties,
            compute_pool: String::new(),
            principal: String::new(),
            labels: BTreeMap::new(),
            creates: t.creates,
            writes: t.writes,
            reads: t.reads,
            drops: t.drops,
            alters: t.alters,
            depends_on: vec![],
            is_table_ddl: false,
            resumable: false,
            query_state: vec![],
            keyed: t.keyed,
            materialized: t.materialized,
        }
    }

    fn stmt(sql: &str) -> Definition {
        stmt_in(sql, "env-1", "lkc-1", &learnt())
    }

    fn patterns(ps: &[&str]) -> Vec<Pattern> {
        ps.iter().map(|p| Pattern::new(p).unwrap()).collect()
    }

    /// What the rule says of `sql` under `ps`: (what it does, the table's name, the pattern).
    fn hit(sql: &str, ps: &[&str]) -> Option<(Touch, String, String)> {
        touches(&patterns(ps), &stmt(sql), &learnt()).map(|h| (h.touch, h.table.name, h.pattern))
    }

    fn is(touch: Touch, table: &str, pattern: &str) -> Option<(Touch, String, String)> {
        Some((touch, table.to_string(), pattern.to_string()))
    }

    #[test]
    fn what_sql_drops_alters_creates_or_writes_is_a_touch() {
        let audit = ["audit_*"];
        assert_eq!(
            hit("DROP TABLE audit_log", &audit),
            is(Touch::Drops, "audit_log", "audit_*")
        );
        assert_eq!(
            hit("DROP TABLE IF EXISTS `audit_log`;", &audit),
            is(Touch::Drops, "audit_log", "audit_*")
        );
        assert_eq!(
            hit(
                "ALTER TABLE audit_log SET ('kafka.retention.time' = '1 d')",
                &audit
            ),
            is(Touch::Alters, "audit_log", "audit_*")
        );
        assert_eq!(
            hit("CREATE TABLE audit_log (id STRING)", &audit),
            is(Touch::Creates, "audit_log", "audit_*")
        );
        // A CTAS creates (and writes) its table: the creation is said.
        assert_eq!(
            hit("CREATE TABLE audit_copy AS SELECT * FROM src", &audit),
            is(Touch::Creates, "audit_copy", "audit_*")
        );
        assert_eq!(
            hit("INSERT INTO audit_log SELECT * FROM src", &audit),
            is(Touch::Writes, "audit_log", "audit_*")
        );
        // Every INSERT of a statement set writes.
        assert_eq!(
            hit(
                "EXECUTE STATEMENT SET BEGIN \
                 INSERT INTO sink SELECT * FROM src; \
                 INSERT INTO other_team.audit_log SELECT * FROM src; \
                 END",
                &audit
            ),
            is(Touch::Writes, "audit_log", "audit_*")
        );
    }

    #[test]
    fn reading_a_protected_table_or_naming_it_in_text_is_not_a_touch() {
        let log = ["audit_log"];
        assert_eq!(hit("SELECT * FROM audit_log", &log), None);
        assert_eq!(hit("INSERT INTO sink SELECT * FROM audit_log", &log), None);
        assert_eq!(
            hit("CREATE TABLE copy AS SELECT * FROM audit_log", &log),
            None
        );
        assert_eq!(
            hit(
                "INSERT INTO sink SELECT 'DROP TABLE audit_log' FROM src -- ALTER TABLE audit_log",
                &log
            ),
            None
        );
        // Names are compared whole.
        assert_eq!(hit("DROP TABLE audit_log_old", &log), None);
        assert_eq!(hit("DROP TABLE audit_log", &[]), None);
    }

    #[test]
    fn qualified_and_unqualified_names_are_the_table_they_resolve_to() {
        // Unqualified: in the statement's current catalog and database.
        let here = "INSERT INTO audit_log SELECT * FROM src";
        assert!(hit(here, &["env-1.lkc-1.audit_log"]).is_some());
        assert!(hit(here, &["lkc-1.audit_log"]).is_some());
        assert_eq!(hit(here, &["other_team.audit_log"]), None);
        // Qualified by database: another database of the current catalog.
        let there = "INSERT INTO other_team.audit_log SELECT * FROM src";
        assert!(hit(there, &["other_team.audit_*"]).is_some());
        assert!(hit(there, &["env-1.other_team.audit_log"]).is_some());
        assert!(hit(there, &["audit_log"]).is_some());
        assert_eq!(hit(there, &["lkc-1.audit_log"]), None);
        // Fully qualified, backquoted or not.
        let full = "DROP TABLE `env-1`.`lkc-2`.`audit_log`";
        assert!(hit(full, &["env-1.lkc-2.audit_log"]).is_some());
        assert!(hit(full, &["`env-1`.`lkc-2`.audit_log"]).is_some());
        assert!(hit(full, &["`env-1`.`lkc-2`.`audit_log`"]).is_some());
        assert_eq!(hit(full, &["env-1.lkc-1.audit_log"]), None);
    }

    #[test]
    fn a_pattern_by_display_names_or_ids_matches_the_one_identity() {
        let names = learnt();
        let by_names = "INSERT INTO `my env`.`my-cluster`.audit_log SELECT * FROM src";
        let by_ids = "INSERT INTO `env-1`.`lkc-1`.audit_log SELECT * FROM src";
        // Resolved from display-name properties too.
        let by_context = stmt_in(
            "ALTER TABLE audit_log SET ('k' = 'v')",
            "my env",
            "my-cluster",
            &names,
        );
        for pattern in [
            "env-1.lkc-1.audit_log",
            "`env-1`.`lkc-1`.audit_log",
            "my env.my-cluster.audit_*",
            "`my env`.`my-cluster`.audit_log",
            "my-cluster.audit_log",
            "*.my-cluster.*",
        ] {
            let ps = patterns(&[pattern]);
            for sql in [by_names, by_ids] {
                assert!(
                    touches(&ps, &stmt(sql), &names).is_some(),
                    "{pattern}: {sql}"
                );
            }
            assert!(touches(&ps, &by_context, &names).is_some(), "{pattern}");
        }
        // Another cluster of the environment is another table.
        let elsewhere = "INSERT INTO `my env`.other.audit_log SELECT * FROM src";
        assert_eq!(hit(elsewhere, &["my env.my-cluster.*"]), None);
        assert!(hit(elsewhere, &["env-1.lkc-2.audit_log"]).is_some());
    }

    #[test]
    fn a_pattern_names_the_places_the_run_must_know() {
        let ps = patterns(&[
            "audit_*",
            "env-1.lkc-1.audit_log",
            "`my env`.`my.cluster`.x",
            "my-cluster.audit_*",
            "*.lkc-2.*",
            "env-*.*.t",
        ]);
        let some = |s: &str| Some(s.to_string());
        assert_eq!(
            places(&ps),
            vec![
                (some("env-1"), some("lkc-1")),
                (some("my env"), some("my.cluster")),
                (None, some("my-cluster")),
                (None, some("lkc-2")),
                (None, None),
            ]
        );
        // What the run does with them: a pattern by ids beside SQL by display names needs the
        // names; one spelling throughout does not.
        let unknown = Names::new("env-1", Some("lkc-1"), &BTreeMap::new());
        let by_ids = places(&patterns(&["env-1.lkc-1.audit_log"]));
        let sql_by_names = [(Some("my env"), Some("my-cluster"))];
        fn spelled<'a>(
            ps: &'a [(Option<String>, Option<String>)],
            sql: [(Option<&'a str>, Option<&'a str>); 1],
        ) -> Vec<(Option<&'a str>, Option<&'a str>)> {
            ps.iter()
                .map(|(c, d)| (c.as_deref(), d.as_deref()))
                .chain(sql)
                .collect()
        }
        assert!(unknown.need_lookup(spelled(&by_ids, sql_by_names)));
        let by_names = places(&patterns(&["my env.my-cluster.audit_log"]));
        assert!(!unknown.need_lookup(spelled(&by_names, sql_by_names)));
    }

    fn snapshot_of(defs: Vec<Definition>) -> Snapshot {
        Snapshot {
            desired: defs,
            names: learnt(),
            ..Snapshot::default()
        }
    }

    #[test]
    fn what_a_buildup_or_rebuild_would_submit_is_checked_and_the_message_names_it_all() {
        let snap = snapshot_of(vec![
            stmt("CREATE TABLE src (id STRING)"),
            stmt("DROP TABLE other_team.audit_log"),
        ]);
        let ps = patterns(&["keep_*", "other_team.audit_*"]);
        for goal in [Goal::Buildup, Goal::Rebuild] {
            let v = check(goal, &snap, &ps).unwrap_err();
            assert_eq!(v.touch, Touch::Drops);
            assert_eq!(v.pattern, "other_team.audit_*");
            let said = v.to_string();
            for part in [
                "statement `job`",
                "app-job-1a2b3c4d",
                "drops table `my env`.other_team.audit_log",
                "pattern 'other_team.audit_*'",
                "nothing was changed",
            ] {
                assert!(said.contains(part), "{part:?} in {said}");
            }
        }
        // A teardown submits none of the app's SQL.
        assert_eq!(check(Goal::Teardown, &snap, &ps), Ok(()));
        // A statement protected by its own name is never submitted.
        let by_name = patterns(&["app-job-*", "audit_*"]);
        assert_eq!(check(Goal::Buildup, &snap, &by_name), Ok(()));
        assert_eq!(check(Goal::Buildup, &snap, &[]), Ok(()));
    }
}
