//! Time in the engine: a logical clock that orders records reproducibly, and the stamps they carry.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::Rng;

use crate::domain::events::Millis;
use crate::domain::ports::Clock;
use crate::domain::traffic::DiurnalCurve;

/// Logical step when unthrottled: follow-ups are scheduled as if at 1,000 records per second,
/// so a payment (10 ms - 2 s after its order) comes within 2,000 records of it.
const UNTHROTTLED_STEP_NS: f64 = 1_000_000.0;
/// The diurnal multiplier is re-read once per logical second (it changes far slower).
const CURVE_REFRESH_NS: i64 = 1_000_000_000;

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

/// What a record's event time is.
pub enum Stamping {
    /// Wall-clock time at publishing, never earlier than the previous stamp.
    Wall(Box<dyn Clock>),
    /// The logical clock itself (`--from`/`--to` backfills): byte-for-byte reproducible.
    Simulated,
}

/// How far logical time moves per record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spacing {
    /// 1 / (eps x diurnal multiplier); eps 0 = unthrottled.
    Rate { eps: f64 },
    /// A uniform random gap in [min, max] milliseconds.
    Gaps { min_ms: f64, max_ms: f64 },
}

/// Follow-ups (a payment 10 ms-2 s after its order) are scheduled on a logical clock that only
/// the seed and configuration move, so the order of records never depends on machine speed.
pub struct EventClock {
    stamping: Stamping,
    spacing: Spacing,
    curve: DiurnalCurve,
    start_ns: i64,
    logical_ns: i64,
    last_stamp: Millis,
    multiplier: f64,
    multiplier_at_ns: i64,
    /// Unthrottled, nothing waits between two records but the sink, and publishing moves
    /// logical time on: stamps taken between two advances share one read of the wall clock.
    reuse_wall: bool,
    /// The last stamp was read from the wall clock since logical time last moved.
    wall_fresh: bool,
}

impl EventClock {
    pub fn new(
        stamping: Stamping,
        spacing: Spacing,
        curve: DiurnalCurve,
        start_ms: Millis,
    ) -> Self {
        let start_ns = start_ms * 1_000_000;
        Self {
            multiplier: curve.at(start_ms),
            stamping,
            spacing,
            curve,
            start_ns,
            logical_ns: start_ns,
            last_stamp: start_ms,
            multiplier_at_ns: start_ns,
            reuse_wall: matches!(spacing, Spacing::Rate { eps } if eps <= 0.0),
            wall_fresh: false,
        }
    }

    pub fn logical_ns(&self) -> i64 {
        self.logical_ns
    }

    /// Logical time since the start.
    pub fn since_start(&self) -> Duration {
        Duration::from_nanos((self.logical_ns - self.start_ns).max(0) as u64)
    }

    /// The diurnal multiplier now (logical time).
    pub fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// Moves logical time on by one record.
    pub fn advance<R: Rng>(&mut self, rng: &mut R) {
        let step = match self.spacing {
            Spacing::Rate { eps } if eps > 0.0 => 1e9 / (eps * self.multiplier),
            Spacing::Rate { .. } => UNTHROTTLED_STEP_NS,
            Spacing::Gaps { min_ms, max_ms } => rng.random_range(min_ms..=max_ms) * 1e6,
        };
        self.logical_ns += (step.round() as i64).max(1);
        self.wall_fresh = false;
        if self.logical_ns - self.multiplier_at_ns >= CURVE_REFRESH_NS {
            self.multiplier = self.curve.at(self.logical_ns / 1_000_000);
            self.multiplier_at_ns = self.logical_ns;
        }
    }

    /// The event time for the record about to be published.
    pub fn stamp(&mut self) -> Millis {
        let now = match &self.stamping {
            Stamping::Wall(_) if self.wall_fresh => return self.last_stamp,
            Stamping::Wall(wall) => {
                self.wall_fresh = self.reuse_wall;
                wall.now_ms()
            }
            Stamping::Simulated => self.logical_ns / 1_000_000,
        };
        self.last_stamp = self.last_stamp.max(now);
        self.last_stamp
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::DetRng;
    use rand::SeedableRng;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    struct Manual(Arc<AtomicI64>);
    impl Clock for Manual {
        fn now_ms(&self) -> Millis {
            self.0.load(Ordering::SeqCst)
        }
    }

    fn rng() -> DetRng {
        DetRng::seed_from_u64(1)
    }

    #[test]
    fn wall_stamps_never_go_backwards_even_if_the_wall_clock_does() {
        let t = Arc::new(AtomicI64::new(1_000));
        let wall = Stamping::Wall(Box::new(Manual(t.clone())));
        let mut c = EventClock::new(
            wall,
            Spacing::Rate { eps: 10.0 },
            DiurnalCurve::flat(),
            1_000,
        );
        assert_eq!(c.stamp(), 1_000);
        t.store(900, Ordering::SeqCst);
        assert_eq!(c.stamp(), 1_000);
        t.store(1_500, Ordering::SeqCst);
        assert_eq!(c.stamp(), 1_500);
    }

    #[test]
    fn unthrottled_stamps_between_two_advances_share_one_read_of_the_wall_clock() {
        let t = Arc::new(AtomicI64::new(1_000));
        let clock = |eps| {
            let wall = Stamping::Wall(Box::new(Manual(t.clone())));
            EventClock::new(wall, Spacing::Rate { eps }, DiurnalCurve::flat(), 1_000)
        };
        let (mut free, mut paced) = (clock(0.0), clock(10.0));
        assert_eq!((free.stamp(), paced.stamp()), (1_000, 1_000));
        t.store(1_200, Ordering::SeqCst);
        // A paced run may have waited for its turn since: it reads the clock every time.
        assert_eq!((free.stamp(), paced.stamp()), (1_000, 1_200));
        free.advance(&mut rng());
        assert_eq!(free.stamp(), 1_200);
    }

    #[test]
    fn logical_time_advances_by_one_over_the_rate_and_simulated_stamps_follow_it() {
        let mut c = EventClock::new(
            Stamping::Simulated,
            Spacing::Rate { eps: 4.0 },
            DiurnalCurve::flat(),
            0,
        );
        c.advance(&mut rng());
        c.advance(&mut rng());
        assert_eq!(c.logical_ns(), 500_000_000);
        assert_eq!(c.stamp(), 500);
    }

    #[test]
    fn gaps_stay_within_their_bounds() {
        let spacing = Spacing::Gaps {
            min_ms: 10_000.0,
            max_ms: 60_000.0,
        };
        let mut c = EventClock::new(Stamping::Simulated, spacing, DiurnalCurve::flat(), 0);
        let mut r = rng();
        let mut prev = 0;
        for _ in 0..1_000 {
            c.advance(&mut r);
            let gap = c.logical_ns() - prev;
            assert!((10_000_000_000..=60_000_000_000).contains(&gap), "{gap}");
            prev = c.logical_ns();
        }
    }
}
