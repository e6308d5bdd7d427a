//! What a load parses fully. Every load reads the whole topic (the latest value of each key and
//! the log order need every message), but a run only acts on its own app's records in its own
//! environment: those are parsed into [`Record`](super::Record)s; another app's record in that
//! environment is read only as far as its `app`; records of other environments are kept as keys
//! and offsets, their values neither parsed nor held.

use super::format::Key;

/// The records a load parses fully: one environment's (or every environment's) of one app (or of
/// every app).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scope {
    environment_id: Option<String>,
    app: Option<String>,
}

impl Scope {
    /// Every record of every environment and app (the `track` commands' listings).
    pub fn all() -> Scope {
        Scope {
            environment_id: None,
            app: None,
        }
    }

    /// One app's records in one environment: what a run of that app acts on.
    pub fn app(environment_id: &str, app: &str) -> Scope {
        Scope::new(Some(environment_id), Some(app))
    }

    /// The records of `environment_id` (every environment when `None`) and `app` (every app when
    /// `None`).
    pub fn new(environment_id: Option<&str>, app: Option<&str>) -> Scope {
        Scope {
            environment_id: environment_id.map(str::to_string),
            app: app.map(str::to_string),
        }
    }

    pub fn environment_id(&self) -> Option<&str> {
        self.environment_id.as_deref()
    }

    pub fn app_name(&self) -> Option<&str> {
        self.app.as_deref()
    }

    pub(crate) fn has_environment(&self, environment_id: &str) -> bool {
        self.environment_id
            .as_deref()
            .is_none_or(|e| e == environment_id)
    }

    pub(crate) fn has_app(&self, app: &str) -> bool {
        self.app.as_deref().is_none_or(|a| a == app)
    }

    /// Whether everything `other` parses fully, this scope does too.
    pub(crate) fn covers(&self, other: &Scope) -> bool {
        let wider =
            |mine: &Option<String>, theirs: &Option<String>| mine.is_none() || mine == theirs;
        wider(&self.environment_id, &other.environment_id) && wider(&self.app, &other.app)
    }

    /// The narrowest scope that covers both.
    pub(crate) fn union(&self, other: &Scope) -> Scope {
        let both = |a: &Option<String>, b: &Option<String>| if a == b { a.clone() } else { None };
        Scope {
            environment_id: both(&self.environment_id, &other.environment_id),
            app: both(&self.app, &other.app),
        }
    }

    /// Where a key stands in this scope, from the key alone.
    pub(crate) fn place(&self, key: &str) -> Place {
        match Key::parse(key) {
            Key::Lease {
                environment_id,
                app,
            } => {
                if self.has_environment(environment_id) && self.has_app(app) {
                    Place::In
                } else {
                    Place::Out
                }
            }
            Key::Record { environment_id } if self.has_environment(environment_id) => {
                if self.app.is_none() {
                    Place::In
                } else {
                    Place::AppUnknown
                }
            }
            Key::Record { .. } => Place::Out,
            // A key in neither space belongs to no environment: only a scope of every
            // environment looks at it (and reports its value as invalid).
            Key::Other if self.environment_id.is_none() => Place::In,
            Key::Other => Place::Out,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "environment {}, app {}",
            self.environment_id.as_deref().unwrap_or("*"),
            self.app.as_deref().unwrap_or("*")
        )
    }
}

/// Where a key stands in a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// Parse its value fully.
    In,
    /// A statement record of the scope's environment: whether it is the scope's app is in its
    /// value.
    AppUnknown,
    /// Keep the key and offset only.
    Out,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_place_themselves_in_a_scope() {
        let run = Scope::app("env-1", "app");
        assert_eq!(run.place("env-1/app-x"), Place::AppUnknown);
        assert_eq!(run.place("env-2/app-x"), Place::Out);
        assert_eq!(run.place("lease/env-1/app/run-1"), Place::In);
        assert_eq!(run.place("lease/env-1/other/run-1"), Place::Out);
        assert_eq!(run.place("lease/env-2/app/run-1"), Place::Out);
        assert_eq!(run.place("garbage"), Place::Out);
        let env = Scope::new(Some("env-1"), None);
        assert_eq!(env.place("env-1/app-x"), Place::In);
        assert_eq!(env.place("lease/env-1/other/run-1"), Place::In);
        assert_eq!(env.place("env-2/app-x"), Place::Out);
        assert_eq!(Scope::all().place("garbage"), Place::In);
        assert_eq!(Scope::all().place("lease/short"), Place::In);
    }

    #[test]
    fn scopes_widen_to_cover_both() {
        let a = Scope::app("env-1", "a");
        let b = Scope::app("env-1", "b");
        let env = Scope::new(Some("env-1"), None);
        assert!(a.covers(&a));
        assert!(!a.covers(&b));
        assert!(env.covers(&a) && !a.covers(&env));
        assert_eq!(a.union(&b), env);
        assert_eq!(
            a.union(&Scope::app("env-2", "a")),
            Scope::new(None, Some("a"))
        );
        assert_eq!(a.union(&Scope::app("env-2", "b")), Scope::all());
        assert!(Scope::all().covers(&a) && Scope::all().covers(&Scope::all()));
    }
}
