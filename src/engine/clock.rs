//! Time in the engine: a logical clock that orders records reproducibly, and the stamps they carry.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::domain::events::Millis;
use crate::domain::ports::Clock;

/// Logical step when unthrottled: follow-ups are scheduled as if at 1,000 records per second,
/// so a payment (10 ms - 2 s after its order) comes within 2,000 records of it.
const UNTHROTTLED_STEP_NS: i64 = 1_000_000;

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as Millis)
    }
}

/// Follow-ups (a payment 10 ms-2 s after its order) are scheduled on a logical clock that advances
/// by 1/`TARGET_EPS` per record, so the order of records depends only on the seed, never on how
/// fast the machine is. Records are stamped with wall-clock time, never before an earlier stamp.
pub struct EventClock {
    wall: Box<dyn Clock>,
    logical_ns: i64,
    step_ns: i64,
    last_stamp: Millis,
}

impl EventClock {
    pub fn new(wall: Box<dyn Clock>, target_eps: f64) -> Self {
        let step_ns = if target_eps > 0.0 {
            ((1e9 / target_eps).round() as i64).max(1)
        } else {
            UNTHROTTLED_STEP_NS
        };
        let start = wall.now_ms();
        Self {
            wall,
            logical_ns: start * 1_000_000,
            step_ns,
            last_stamp: start,
        }
    }

    pub fn logical_ns(&self) -> i64 {
        self.logical_ns
    }

    /// Moves logical time on by one record.
    pub fn advance(&mut self) {
        self.logical_ns += self.step_ns;
    }

    /// The event time for the record about to be published.
    pub fn stamp(&mut self) -> Millis {
        self.last_stamp = self.last_stamp.max(self.wall.now_ms());
        self.last_stamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    struct Manual(Arc<AtomicI64>);
    impl Clock for Manual {
        fn now_ms(&self) -> Millis {
            self.0.load(Ordering::SeqCst)
        }
    }

    #[test]
    fn stamps_never_go_backwards_even_if_the_wall_clock_does() {
        let t = Arc::new(AtomicI64::new(1_000));
        let mut c = EventClock::new(Box::new(Manual(t.clone())), 10.0);
        assert_eq!(c.stamp(), 1_000);
        t.store(900, Ordering::SeqCst);
        assert_eq!(c.stamp(), 1_000);
        t.store(1_500, Ordering::SeqCst);
        assert_eq!(c.stamp(), 1_500);
    }

    #[test]
    fn logical_time_advances_by_one_over_the_rate() {
        let mut c = EventClock::new(Box::new(Manual(Arc::new(AtomicI64::new(0)))), 4.0);
        c.advance();
        c.advance();
        assert_eq!(c.logical_ns(), 500_000_000);
    }
}
