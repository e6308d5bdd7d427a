//! Cancellation. GitHub cancels a job by signalling the container — SIGINT, then SIGTERM, then
//! SIGKILL about ten seconds later — and the binary is PID 1 there, where the kernel applies no
//! default action: a signal nobody handles is ignored. So the binary handles both: the first
//! signal asks the run to stop (no step starts any more), the steps in flight get a short grace
//! to finish, then every wait ends and each step records where it stands. A second signal ends
//! the grace at once. The run then releases its lease, writes what it can of its report and exits
//! 130 (SIGINT) or 143 (SIGTERM).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;

/// How long steps in flight may go on after the first signal, unless `CCAF_CANCEL_GRACE` says
/// otherwise: well inside the runner's 7.5 s between SIGINT and SIGTERM.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

/// The signal that cancelled the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Signal {
    #[serde(rename = "SIGINT")]
    Interrupt,
    #[serde(rename = "SIGTERM")]
    Terminate,
}

impl Signal {
    /// The shell's convention: 128 + the signal's number.
    pub fn exit_code(self) -> i32 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Requested {
    signal: Signal,
    /// When the grace ends (a second signal moves it to now).
    grace_ends: Instant,
}

/// The run's cancellation state, shared by everything that waits. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Cancel {
    state: Arc<watch::Sender<Option<Requested>>>,
    grace: Duration,
}

impl Default for Cancel {
    fn default() -> Self {
        Cancel::new(DEFAULT_GRACE)
    }
}

impl Cancel {
    pub fn new(grace: Duration) -> Cancel {
        Cancel {
            state: Arc::new(watch::channel(None).0),
            grace,
        }
    }

    /// Ask the run to stop. The first call starts the grace; a later one ends it.
    pub fn request(&self, signal: Signal) {
        let now = Instant::now();
        self.state.send_modify(|s| match s {
            None => {
                *s = Some(Requested {
                    signal,
                    grace_ends: now + self.grace,
                })
            }
            Some(r) => r.grace_ends = r.grace_ends.min(now),
        });
    }

    /// The signal that cancelled the run, once one has.
    pub fn requested(&self) -> Option<Signal> {
        self.state.borrow().map(|r| r.signal)
    }

    /// Resolves when the run is asked to stop.
    pub async fn until_requested(&self) -> Signal {
        let mut rx = self.state.subscribe();
        loop {
            if let Some(r) = *rx.borrow_and_update() {
                return r.signal;
            }
            if rx.changed().await.is_err() {
                // The sender lives as long as `self`: never reached, but never a busy loop.
                std::future::pending::<()>().await;
            }
        }
    }

    /// Resolves when the grace after the first signal is over: waits end there.
    pub async fn until_grace_over(&self) -> Signal {
        let mut rx = self.state.subscribe();
        loop {
            let current = *rx.borrow_and_update();
            match current {
                Some(r) if Instant::now() >= r.grace_ends => return r.signal,
                Some(r) => {
                    // A second signal (a change) may end the grace early.
                    tokio::select! {
                        _ = tokio::time::sleep_until(r.grace_ends) => {}
                        _ = rx.changed() => {}
                    }
                }
                None => {
                    if rx.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }

    /// Whether the grace is over (nothing may be changed any more, only recorded).
    pub fn grace_over(&self) -> Option<Signal> {
        self.state
            .borrow()
            .filter(|r| Instant::now() >= r.grace_ends)
            .map(|r| r.signal)
    }
}

/// SIGINT and SIGTERM as they arrive. Polled by the task that runs the command (not a spawned
/// one), so a signal is seen whatever the runtime's worker threads are doing.
pub struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Install the handlers (from inside a tokio runtime). One that cannot be installed is
    /// logged and never fires.
    pub fn install() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let install = |kind: SignalKind, which: Signal| match signal(kind) {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::warn!(signal = %which, error = %e, "cannot handle the signal");
                    None
                }
            };
            Signals {
                interrupt: install(SignalKind::interrupt(), Signal::Interrupt),
                terminate: install(SignalKind::terminate(), Signal::Terminate),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next signal.
    pub async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
                let received = match s {
                    Some(s) => s.recv().await.is_some(),
                    None => false,
                };
                if !received {
                    // No handler, or its stream ended: it never fires.
                    std::future::pending::<()>().await;
                }
            }
            tokio::select! {
                () = one(&mut self.interrupt) => Signal::Interrupt,
                () = one(&mut self.terminate) => Signal::Terminate,
            }
        }
        #[cfg(not(unix))]
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_grace_runs_from_the_first_signal_and_a_second_ends_it() {
        let c = Cancel::new(Duration::from_secs(600));
        assert_eq!(c.requested(), None);
        assert_eq!(c.grace_over(), None);
        c.request(Signal::Interrupt);
        assert_eq!(c.until_requested().await, Signal::Interrupt);
        assert_eq!(c.grace_over(), None, "the grace has only begun");
        let waiter = tokio::spawn({
            let c = c.clone();
            async move { c.until_grace_over().await }
        });
        c.request(Signal::Terminate);
        // The first signal names the cancellation; the second only ends the grace.
        assert_eq!(waiter.await.unwrap(), Signal::Interrupt);
        assert_eq!(c.grace_over(), Some(Signal::Interrupt));
    }

    #[tokio::test]
    async fn the_grace_ends_by_itself() {
        let c = Cancel::new(Duration::from_millis(20));
        c.request(Signal::Terminate);
        assert_eq!(c.until_grace_over().await, Signal::Terminate);
        assert_eq!(c.grace_over(), Some(Signal::Terminate));
    }

    #[test]
    fn exit_codes_follow_the_shell() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
    }
}
