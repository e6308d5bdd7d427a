//! A picture of the app as the run left it: a Mermaid flowchart of statements and tables, edges
//! for what each statement creates, reads and writes, each node styled by what happened to it.
//!
//! Names never reach Mermaid's syntax: node ids are generated (`s0`, `t0`, …) and every label is a
//! quoted `["…"]` label whose characters outside a small safe set are written as Mermaid's
//! numeric entities (`#35;`, `#34;`, `#96;`), so no name can end the label, the diagram or the
//! Markdown code block around it. Above [`MAX_NODES`] the diagram would be unreadable: a summary
//! line stands in for it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::report::{Kind, RunReport, Status};

/// Most nodes drawn; more and a line says how many there are instead.
pub const MAX_NODES: usize = 60;

/// What happened to a node, one class each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fate {
    /// Only planned (a plan or dry run), or a table nothing happened to.
    Untouched,
    Unchanged,
    TornDown,
    Rebuilt,
    /// A materialized table evolved in place (and the statement that evolved it).
    Evolved,
    Dropped,
    Failed,
}

impl Fate {
    pub const ALL: &'static [Fate] = &[
        Fate::Untouched,
        Fate::Unchanged,
        Fate::TornDown,
        Fate::Rebuilt,
        Fate::Evolved,
        Fate::Dropped,
        Fate::Failed,
    ];

    fn class(self) -> &'static str {
        match self {
            Fate::Untouched => "untouched",
            Fate::Unchanged => "unchanged",
            Fate::TornDown => "tornDown",
            Fate::Rebuilt => "rebuilt",
            Fate::Evolved => "evolved",
            Fate::Dropped => "dropped",
            Fate::Failed => "failed",
        }
    }

    fn style(self) -> &'static str {
        match self {
            Fate::Untouched => "fill:#f6f8fa,stroke:#8c959f,color:#24292f",
            Fate::Unchanged => "fill:#ddf4ff,stroke:#54aeff,color:#0a3069",
            Fate::TornDown => "fill:#fff8c5,stroke:#d4a72c,color:#4d2d00",
            Fate::Rebuilt => "fill:#dafbe1,stroke:#4ac26b,color:#044f1e",
            Fate::Evolved => "fill:#fbefff,stroke:#c297ff,color:#512a97",
            Fate::Dropped => "fill:#eaeef2,stroke:#6e7781,color:#24292f,stroke-dasharray:4 3",
            Fate::Failed => "fill:#ffebe9,stroke:#ff8182,color:#82071e",
        }
    }
}

/// The diagram, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Diagram {
    /// No statement in the report.
    Empty,
    /// More than [`MAX_NODES`] nodes: a line for the Markdown instead.
    TooLarge { statements: usize, tables: usize },
    /// The Mermaid text (without the code fence).
    Flowchart(String),
}

impl Diagram {
    /// The Markdown for it: a fenced `mermaid` block, a line, or nothing.
    pub fn markdown(&self) -> String {
        match self {
            Diagram::Empty => String::new(),
            Diagram::TooLarge { statements, tables } => format!(
                "_The app's diagram is left out: {statements} statements and {tables} tables are \
                 more than {MAX_NODES} nodes._\n\n"
            ),
            Diagram::Flowchart(text) => format!("```mermaid\n{text}```\n\n"),
        }
    }
}

/// What became of a statement over its steps (a rebuild has two): a failure wins, then a build
/// up, then a teardown.
fn statement_fate(fates: &mut BTreeMap<String, Fate>, name: &str, fate: Fate) {
    let f = fates.entry(name.to_string()).or_insert(fate);
    *f = (*f).max(fate);
}

pub fn diagram(report: &RunReport) -> Diagram {
    let mut statements: BTreeMap<String, Fate> = BTreeMap::new();
    let mut tables: BTreeMap<String, Fate> = BTreeMap::new();
    // (statement, table, verb): drawn statement → table for creates/writes, table → statement for
    // reads.
    let mut edges: Vec<(String, String, &'static str)> = Vec::new();
    for s in &report.steps {
        let fate = match s.status {
            Status::Failed | Status::Refused | Status::Blocked | Status::Cancelled => Fate::Failed,
            Status::Done if s.action == crate::report::Action::DropTable => Fate::Dropped,
            Status::Done if s.action == crate::report::Action::Evolve => Fate::Evolved,
            Status::Done if s.action.builds_up() => Fate::Rebuilt,
            Status::Done if s.action.tears_down() => Fate::TornDown,
            Status::Unchanged => Fate::Unchanged,
            Status::Done | Status::Planned => Fate::Untouched,
        };
        match s.kind {
            Kind::Statement => {
                statement_fate(&mut statements, &s.name, fate);
                for t in &s.tables.creates {
                    edges.push((s.name.clone(), t.clone(), "creates"));
                }
                for t in &s.tables.writes {
                    if !s.tables.creates.contains(t) {
                        edges.push((s.name.clone(), t.clone(), "writes"));
                    }
                }
                for t in &s.tables.reads {
                    edges.push((s.name.clone(), t.clone(), "reads"));
                }
                for t in s
                    .tables
                    .creates
                    .iter()
                    .chain(&s.tables.writes)
                    .chain(&s.tables.reads)
                {
                    tables.entry(t.clone()).or_insert(Fate::Untouched);
                }
                // The table is what evolved: the same topic, a new version of its query.
                if fate == Fate::Evolved {
                    for t in &s.tables.creates {
                        if let Some(f) = tables.get_mut(t) {
                            *f = (*f).max(fate);
                        }
                    }
                }
            }
            Kind::Table => {
                let t = tables.entry(s.name.clone()).or_insert(fate);
                *t = (*t).max(fate);
            }
        }
    }
    if statements.is_empty() {
        return Diagram::Empty;
    }
    if statements.len() + tables.len() > MAX_NODES {
        return Diagram::TooLarge {
            statements: statements.len(),
            tables: tables.len(),
        };
    }
    edges.sort();
    edges.dedup();

    // Ids by position, never by name; statements and tables apart (a table may share a name).
    let sid: BTreeMap<&str, String> = statements
        .keys()
        .enumerate()
        .map(|(i, n)| (n.as_str(), format!("s{i}")))
        .collect();
    let tid: BTreeMap<&str, String> = tables
        .keys()
        .enumerate()
        .map(|(i, n)| (n.as_str(), format!("t{i}")))
        .collect();
    let mut out = String::from("flowchart LR\n");
    for name in statements.keys() {
        let _ = writeln!(out, "  {}[\"{}\"]", sid[name.as_str()], label(name));
    }
    for name in tables.keys() {
        // A table is drawn as a cylinder: `[("…")]`.
        let _ = writeln!(out, "  {}[(\"{}\")]", tid[name.as_str()], label(name));
    }
    for (statement, table, verb) in &edges {
        let (Some(s), Some(t)) = (sid.get(statement.as_str()), tid.get(table.as_str())) else {
            continue;
        };
        let _ = match *verb {
            "creates" => writeln!(out, "  {s} -.->|creates| {t}"),
            "reads" => writeln!(out, "  {t} -->|reads| {s}"),
            _ => writeln!(out, "  {s} -->|{verb}| {t}"),
        };
    }
    for fate in Fate::ALL {
        let _ = writeln!(out, "  classDef {} {}", fate.class(), fate.style());
    }
    for &fate in Fate::ALL {
        let members: Vec<&str> = statements
            .iter()
            .filter(|(_, f)| **f == fate)
            .map(|(n, _)| sid[n.as_str()].as_str())
            .chain(
                tables
                    .iter()
                    .filter(|(_, f)| **f == fate)
                    .map(|(n, _)| tid[n.as_str()].as_str()),
            )
            .collect();
        if !members.is_empty() {
            let _ = writeln!(out, "  class {} {}", members.join(","), fate.class());
        }
    }
    Diagram::Flowchart(out)
}

/// A name as the text of a quoted Mermaid label: safe characters as they are, every other one as
/// a `#<code>;` entity (`#` itself included, so a name cannot spell an entity). The safe set
/// holds the characters of Confluent's keys and secrets (base64's `+`, `/`, `=` included), so the
/// [`super::Masker`], which runs over the finished Markdown, still finds a secret in a label.
pub fn label(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric()
            || matches!(c, ' ' | '_' | '-' | '.' | '/' | ':' | '$' | '@' | '+' | '=')
        {
            out.push(c);
        } else {
            let _ = write!(out, "#{};", c as u32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Outcome, Removed, StepReport, TableUse};

    fn step(action: &str, kind: Kind, name: &str, status: Status) -> StepReport {
        StepReport {
            stage: if action == "create" {
                "buildup"
            } else {
                "teardown"
            }
            .parse()
            .unwrap(),
            action: action.parse().unwrap(),
            kind,
            name: name.into(),
            logical_name: None,
            status,
            reason: String::new(),
            phase_before: None,
            phase_after: None,
            duration_ms: 0,
            removed: Removed::default(),
            tables: TableUse::default(),
            error: None,
            retries: Vec::new(),
        }
    }

    fn report(steps: Vec<StepReport>) -> RunReport {
        RunReport {
            version: 1,
            command: crate::command::Command::Rebuild,
            plan_for: None,
            app: "app".into(),
            environment_id: "env".into(),
            dry_run: false,
            started_at: chrono::Utc::now(),
            duration_ms: 0,
            outcome: Outcome::Succeeded,
            cancelled_by: None,
            steps,
            notes: vec![],
            apis: vec![],
            spent: None,
            untrusted: vec![],
            untracked: vec![],
        }
    }

    #[test]
    fn an_evolved_materialized_table_is_drawn_evolved_with_its_statement() {
        let mut mt = step("evolve", Kind::Statement, "app-big-2", Status::Done);
        mt.stage = crate::report::Stage::Buildup;
        mt.tables = TableUse {
            creates: vec!["big".into()],
            reads: vec!["src".into()],
            writes: vec!["big".into()],
        };
        let Diagram::Flowchart(text) = diagram(&report(vec![mt])) else {
            panic!("no diagram");
        };
        // Statements s0; tables big (t0) and src (t1).
        assert!(text.contains("class s0,t0 evolved"), "{text}");
        assert!(text.contains("class t1 untouched"), "{text}");
    }

    #[test]
    fn labels_cannot_break_out() {
        assert_eq!(label("a-b_c.d"), "a-b_c.d");
        assert_eq!(label("x\"]`#quot;"), "x#34;#93;#96;#35;quot#59;");
        assert_eq!(label("```"), "#96;#96;#96;");
    }

    #[test]
    fn nodes_edges_and_fates() {
        let mut job = step("delete", Kind::Statement, "app-job", Status::Done);
        job.tables = TableUse {
            creates: vec![],
            reads: vec!["src".into()],
            writes: vec!["sink".into()],
        };
        let mut again = job.clone();
        again.action = crate::report::Action::Create;
        again.stage = crate::report::Stage::Buildup;
        let drop = step("drop_table", Kind::Table, "sink", Status::Done);
        let Diagram::Flowchart(text) = diagram(&report(vec![job, drop, again])) else {
            panic!("no diagram");
        };
        assert!(text.contains("s0[\"app-job\"]"), "{text}");
        assert!(text.contains("t0[(\"sink\")]"), "{text}");
        assert!(text.contains("t1 -->|reads| s0"), "{text}");
        assert!(text.contains("s0 -->|writes| t0"), "{text}");
        assert!(text.contains("class s0 rebuilt"), "{text}");
        assert!(text.contains("class t0 dropped"), "{text}");
    }

    #[test]
    fn too_many_nodes_is_a_line() {
        let steps = (0..=MAX_NODES)
            .map(|i| step("delete", Kind::Statement, &format!("s{i}"), Status::Done))
            .collect();
        let d = diagram(&report(steps));
        assert_eq!(
            d,
            Diagram::TooLarge {
                statements: MAX_NODES + 1,
                tables: 0
            }
        );
        assert!(!d.markdown().contains("```"));
        assert_eq!(diagram(&report(vec![])), Diagram::Empty);
    }
}
