//! The dependency graph between an app's statements: explicit `depends-on`, plus what the tables
//! imply — the statement that creates a table before every statement that uses it, and the
//! statements that write a table before those that read it (producers before consumers).
//!
//! Buildup runs the graph forwards; teardown runs it backwards (readers before writers, writers
//! before the DDL that created their table, tables last).

use std::collections::{BTreeMap, BTreeSet};

use flink_sql::TableRef;

/// What one statement contributes to the graph. Table names are already resolved against the
/// statement's `sql.current-catalog` / `sql.current-database`.
#[derive(Debug, Clone, Default)]
pub struct Node {
    pub name: String,
    pub creates: Vec<TableRef>,
    pub writes: Vec<TableRef>,
    pub reads: Vec<TableRef>,
    pub depends_on: Vec<String>,
}

/// Why one statement comes before another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Explicit,
    Creates(TableRef),
    Produces(TableRef),
}

/// Edges `before -> after` over node indices.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    names: Vec<String>,
    after: Vec<BTreeMap<usize, Reason>>,
    before: Vec<BTreeSet<usize>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("statement '{from}' depends on '{to}', which is not a statement of the app")]
    UnknownDependency { from: String, to: String },
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
}

impl Graph {
    /// Build the graph; an explicit dependency on an unknown name is an error.
    pub fn build(nodes: &[Node]) -> Result<Graph, GraphError> {
        let index: BTreeMap<&str, usize> = nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.as_str(), i))
            .collect();
        let mut g = Graph {
            names: nodes.iter().map(|n| n.name.clone()).collect(),
            after: vec![BTreeMap::new(); nodes.len()],
            before: vec![BTreeSet::new(); nodes.len()],
        };
        for (i, n) in nodes.iter().enumerate() {
            for dep in &n.depends_on {
                let Some(&j) = index.get(dep.as_str()) else {
                    return Err(GraphError::UnknownDependency {
                        from: n.name.clone(),
                        to: dep.clone(),
                    });
                };
                g.add(j, i, Reason::Explicit);
            }
        }
        for (i, user) in nodes.iter().enumerate() {
            for (j, other) in nodes.iter().enumerate() {
                if i == j {
                    continue;
                }
                let uses = |t: &TableRef| user.reads.contains(t) || user.writes.contains(t);
                if let Some(t) = other.creates.iter().find(|t| uses(t)) {
                    // A CTAS both creates and writes its table; it is the creator, not a user.
                    if !user.creates.contains(t) {
                        g.add(j, i, Reason::Creates(t.clone()));
                        continue;
                    }
                }
                if let Some(t) = other
                    .writes
                    .iter()
                    .find(|t| user.reads.contains(t) && !user.writes.contains(t))
                {
                    g.add(j, i, Reason::Produces(t.clone()));
                }
            }
        }
        g.topological().map(|_| g)
    }

    fn add(&mut self, before: usize, after: usize, reason: Reason) {
        self.after[before].entry(after).or_insert(reason);
        self.before[after].insert(before);
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The statements that must come before `i` (in buildup order).
    pub fn predecessors(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        self.before[i].iter().copied()
    }

    /// The statements that must come after `i`, with why.
    pub fn successors(&self, i: usize) -> impl Iterator<Item = (usize, &Reason)> + '_ {
        self.after[i].iter().map(|(j, r)| (*j, r))
    }

    /// A buildup order (Kahn's algorithm, ties broken by input order so plans are stable), or
    /// the names along one cycle.
    pub fn topological(&self) -> Result<Vec<usize>, GraphError> {
        let mut indegree: Vec<usize> = self.before.iter().map(BTreeSet::len).collect();
        let mut ready: BTreeSet<usize> = (0..self.len()).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(self.len());
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &j in self.after[i].keys() {
                indegree[j] -= 1;
                if indegree[j] == 0 {
                    ready.insert(j);
                }
            }
        }
        if order.len() == self.len() {
            Ok(order)
        } else {
            Err(GraphError::Cycle(self.find_cycle(&indegree)))
        }
    }

    /// Walk predecessors among the nodes left over by Kahn's algorithm until one repeats.
    fn find_cycle(&self, indegree: &[usize]) -> Vec<String> {
        let Some(start) = (0..self.len()).find(|&i| indegree[i] > 0) else {
            return Vec::new();
        };
        let mut path = vec![start];
        let mut at = start;
        loop {
            let Some(prev) = self.before[at].iter().copied().find(|&p| indegree[p] > 0) else {
                return path.iter().map(|&i| self.names[i].clone()).collect();
            };
            if let Some(pos) = path.iter().position(|&p| p == prev) {
                let mut cycle: Vec<String> = path[pos..]
                    .iter()
                    .rev()
                    .map(|&i| self.names[i].clone())
                    .collect();
                cycle.push(cycle[0].clone());
                return cycle;
            }
            path.push(prev);
            at = prev;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str) -> TableRef {
        TableRef::new(name)
    }

    fn node(name: &str, creates: &[&str], writes: &[&str], reads: &[&str]) -> Node {
        Node {
            name: name.into(),
            creates: creates.iter().map(|n| t(n)).collect(),
            writes: writes.iter().map(|n| t(n)).collect(),
            reads: reads.iter().map(|n| t(n)).collect(),
            depends_on: vec![],
        }
    }

    fn names(order: &[usize], nodes: &[Node]) -> Vec<String> {
        order.iter().map(|&i| nodes[i].name.clone()).collect()
    }

    #[test]
    fn tables_order_creators_then_producers_then_consumers() {
        // Listed in the worst order on purpose.
        let nodes = vec![
            node("report", &[], &[], &["enriched"]),
            node("enrich", &[], &["enriched"], &["orders"]),
            node("enriched-ddl", &["enriched"], &[], &[]),
            node("orders-ddl", &["orders"], &[], &[]),
        ];
        let g = Graph::build(&nodes).unwrap();
        let order = names(&g.topological().unwrap(), &nodes);
        let pos = |n: &str| order.iter().position(|x| x == n).unwrap();
        assert!(pos("enriched-ddl") < pos("enrich"));
        assert!(pos("orders-ddl") < pos("enrich"));
        assert!(pos("enrich") < pos("report"));
        assert!(pos("enriched-ddl") < pos("report"));
        let reasons: Vec<&Reason> = g.successors(2).map(|(_, r)| r).collect();
        assert!(reasons.contains(&&Reason::Creates(t("enriched"))));
    }

    #[test]
    fn ctas_is_the_creator_of_its_own_table() {
        let nodes = vec![
            node("ctas", &["out"], &["out"], &["src"]),
            node("reader", &[], &[], &["out"]),
        ];
        let g = Graph::build(&nodes).unwrap();
        assert_eq!(g.topological().unwrap(), vec![0, 1]);
    }

    #[test]
    fn explicit_dependencies_and_their_errors() {
        let mut nodes = vec![node("a", &[], &[], &[]), node("b", &[], &[], &[])];
        nodes[0].depends_on = vec!["b".into()];
        let g = Graph::build(&nodes).unwrap();
        assert_eq!(g.topological().unwrap(), vec![1, 0]);

        nodes[1].depends_on = vec!["a".into()];
        match Graph::build(&nodes) {
            Err(GraphError::Cycle(c)) => {
                assert_eq!(c.len(), 3, "{c:?}");
                assert_eq!(c.first(), c.last());
            }
            other => panic!("expected a cycle, got {other:?}"),
        }
        nodes[1].depends_on = vec!["nope".into()];
        assert_eq!(
            Graph::build(&nodes).unwrap_err(),
            GraphError::UnknownDependency {
                from: "b".into(),
                to: "nope".into()
            }
        );
    }

    #[test]
    fn a_data_flow_loop_is_a_cycle() {
        let nodes = vec![
            node("x", &[], &["t1"], &["t2"]),
            node("y", &[], &["t2"], &["t1"]),
        ];
        assert!(matches!(Graph::build(&nodes), Err(GraphError::Cycle(_))));
    }
}
