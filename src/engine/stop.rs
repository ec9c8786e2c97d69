//! When a run ends: record count, duration, Ctrl+C/SIGTERM, or the sink closing.

use std::fmt;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    Count,
    Duration,
    Signal,
    SinkClosed,
    /// The simulated clock reached `--to`.
    SpanEnd,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Count => "record count reached",
            Self::Duration => "duration elapsed",
            Self::Signal => "interrupted",
            Self::SinkClosed => "sink closed by its reader",
            Self::SpanEnd => "end of the simulated span (--to) reached",
        })
    }
}

/// Stop requests that come from outside the record loop: a signal (the token) or the clock.
#[derive(Debug, Clone)]
pub struct Stopper {
    cancel: CancellationToken,
    deadline: Option<Instant>,
}

impl Stopper {
    pub fn new(cancel: CancellationToken, duration: Option<Duration>) -> Self {
        Self {
            cancel,
            deadline: duration.map(|d| Instant::now() + d),
        }
    }

    pub fn requested(&self) -> Option<StopReason> {
        if self.cancel.is_cancelled() {
            return Some(StopReason::Signal);
        }
        match self.deadline {
            Some(d) if Instant::now() >= d => Some(StopReason::Duration),
            _ => None,
        }
    }
}
