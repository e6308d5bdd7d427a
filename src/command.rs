//! What a run is asked to do, as types. The action's `command` input and the CLI's subcommands
//! parse into a [`Command`] once; the engine's request, the run report and every reporter carry
//! it as itself, so a new command is a compile error wherever it must be handled.

use serde::{Deserialize, Serialize};

/// The words of an enum as inputs, the report's JSON and the reporters write them: one table per
/// enum, so parsing and printing cannot disagree.
macro_rules! spelled {
    ($ty:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $word),+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<$ty, String> {
                $ty::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let words: Vec<&str> = $ty::ALL.iter().map(|v| v.as_str()).collect();
                    format!("'{s}' is not one of {}", words.join(", "))
                })
            }
        }
    };
}
pub(crate) use spelled;

/// A housekeeping command: one run that plans, maybe changes, and reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::Subcommand)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Show what teardown, buildup or rebuild (`--plan-for`) would do; change nothing.
    Plan,
    /// Delete the app's statements (readers first), then drop the tables they created.
    Teardown,
    /// Converge the app to its definitions: create what is missing, replace what changed.
    Buildup,
    /// Teardown of everything the app has, then buildup from scratch, in one run.
    Rebuild,
    /// Record live statements (`--adopt NAME,prefix*`) as the app's.
    Adopt,
}

spelled!(Command {
    Plan => "plan",
    Teardown => "teardown",
    Buildup => "buildup",
    Rebuild => "rebuild",
    Adopt => "adopt",
});

/// What a plan converges the app to: the three commands that change statements (and what `plan`
/// and a dry run plan for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    Teardown,
    Buildup,
    Rebuild,
}

spelled!(Goal {
    Teardown => "teardown",
    Buildup => "buildup",
    Rebuild => "rebuild",
});

impl From<Goal> for Command {
    fn from(g: Goal) -> Command {
        match g {
            Goal::Teardown => Command::Teardown,
            Goal::Buildup => Command::Buildup,
            Goal::Rebuild => Command::Rebuild,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_read_back_as_written() {
        for c in Command::ALL {
            assert_eq!(c.as_str().parse::<Command>().unwrap(), *c);
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        for g in Goal::ALL {
            assert_eq!(Command::from(*g).as_str(), g.as_str());
            assert_eq!(serde_json::to_value(g).unwrap(), g.as_str());
        }
        let err = "deploy".parse::<Goal>().unwrap_err();
        assert_eq!(err, "'deploy' is not one of teardown, buildup, rebuild");
    }
}
