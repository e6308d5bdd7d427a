//! A step's time, shared by every way a step waits and tries again.

use std::time::{Duration, Instant};

/// A step's time: when it started and when its `timeout` is over.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Budget {
    started: Instant,
    deadline: Instant,
}

impl Budget {
    pub(crate) fn new(timeout: Duration) -> Budget {
        let started = Instant::now();
        Budget {
            started,
            deadline: started + timeout,
        }
    }

    pub(crate) fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Whether a pause of `pause` still leaves time to try again.
    pub(crate) fn allows(&self, pause: Duration) -> bool {
        Instant::now() + pause < self.deadline
    }

    pub(crate) fn at_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }
}
