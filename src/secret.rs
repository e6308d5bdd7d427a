//! The [`Secret`] type every credential is wrapped in at birth, and the hook that masks it in the
//! log the moment it is created. A leaf: every module that holds a credential (the clients, the
//! tracker's key, the inputs) depends on it, and it on nothing of the crate.

use std::fmt;
use std::sync::OnceLock;

/// A credential. Its value is never printed: no `Display`, a redacting `Debug`; read it with
/// [`Secret::expose`] at the one place it is sent.
#[derive(Clone)]
pub struct Secret(Box<str>);

/// How a credential is masked in the log the moment it is created. The binary sets it inside
/// GitHub Actions (to print `::add-mask::`); this module knows nothing of GitHub.
static MASK: OnceLock<fn(&str)> = OnceLock::new();

/// From now on every credential is passed to `mask` the moment it is created (or read as one).
pub fn mask_with(mask: fn(&str)) {
    let _ = MASK.set(mask);
}

fn mask(value: &str) {
    if let Some(mask) = MASK.get() {
        if !value.trim().is_empty() {
            mask(value);
        }
    }
}

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        let value: String = value.into();
        mask(&value);
        Secret(value.into_boxed_str())
    }

    /// Wrap a value that is not (or not yet known to be) a credential but travels the same path
    /// as one — a direct input standing in for a secret's key, a key of a JSON secret before it
    /// is known which keys are secret: no `::add-mask::`.
    pub(crate) fn plain(value: impl Into<String>) -> Secret {
        Secret(value.into().into_boxed_str())
    }

    /// This value is a credential: mask it in the GitHub Actions log from now on (a no-op
    /// outside Actions, and for a value masked already it only repeats the mask).
    pub(crate) fn masked(self) -> Secret {
        mask(&self.0);
        self
    }

    /// The value, for the one place that sends it (an auth header, a SASL config).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How clap reads a credential input: wrapped from the start, so that the input structs' `Debug`
/// never shows it. Not masked yet (the mask hook is installed after parsing); the checked input
/// is (`cli`).
impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret::plain(s))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}
