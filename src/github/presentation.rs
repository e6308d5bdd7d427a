//! Where the run is watched from, which decides how it is shown: the one word the live display,
//! the workflow commands and the summary share.

/// Where the run is watched from, which decides how it is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presentation {
    /// GitHub's runner: workflow commands (groups, annotations, masks).
    Actions,
    /// A person at a terminal: plain lines with the counts so far, and a status line redrawn
    /// under them.
    Terminal,
    /// A pipe or a file: plain lines.
    Plain,
}

impl Presentation {
    /// `GITHUB_ACTIONS` (as `cli::RunEnv` read it), else whether stdout is a terminal.
    pub fn from_parts(github_actions: Option<&str>, terminal: bool) -> Presentation {
        match (github_actions, terminal) {
            (Some("true"), _) => Presentation::Actions,
            (_, true) => Presentation::Terminal,
            (_, false) => Presentation::Plain,
        }
    }

    /// Whether workflow commands may be printed.
    pub fn commands(self) -> bool {
        self == Presentation::Actions
    }
}
