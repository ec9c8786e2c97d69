//! Real-time pacing: a capped token bucket (governor) whose cost per record follows the diurnal
//! curve, or fixed gaps; simulated runs are not paced at all.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::clock::EventClock;
use super::stop::Stopper;

/// Longest single sleep, so a stop request is seen quickly.
const MAX_NAP: Duration = Duration::from_millis(50);
/// Bucket cells per record at the peak rate, and the cap on cells per second.
const MAX_SCALE: f64 = 1_000.0;
const MAX_CELLS_PER_SEC: f64 = 1e8;

pub enum Pacer {
    /// As fast as the sink allows.
    Free,
    Bucket(Bucket),
    /// Wait until the wall clock reaches the logical time since the start.
    Gaps {
        started: Instant,
    },
}

/// A record at multiplier `m` costs `scale * peak / m` cells of a bucket refilled at
/// `eps * peak * scale` cells per second, so records flow at `eps * m` per second and a burst
/// after a stall is at most `burst` records, whatever the time of day.
pub struct Bucket {
    eps: f64,
    limiter: DefaultDirectRateLimiter,
    scale: f64,
    peak: f64,
    max_cost: u32,
    clock: DefaultClock,
}

impl Pacer {
    /// `eps` records/s (0 = free) times a multiplier between `trough` and `peak`; `burst` records.
    pub fn rate(eps: f64, burst: u32, peak: f64, trough: f64) -> Self {
        if eps <= 0.0 {
            return Pacer::Free;
        }
        let scale = (MAX_CELLS_PER_SEC / (eps * peak)).clamp(1.0, MAX_SCALE);
        let max_cost = (scale * peak / trough).ceil() as u32;
        let capacity = (f64::from(burst.max(1)) * scale)
            .ceil()
            .max(f64::from(max_cost)) as u32;
        let period =
            Duration::from_secs_f64(1.0 / (eps * peak * scale)).max(Duration::from_nanos(1));
        let quota = Quota::with_period(period)
            .expect("period is positive")
            .allow_burst(NonZeroU32::new(capacity).unwrap_or(NonZeroU32::MIN));
        let limiter = RateLimiter::direct(quota);
        // Start empty: a run does not open with a burst.
        let _ = limiter.check_n(NonZeroU32::new(capacity).unwrap_or(NonZeroU32::MIN));
        Pacer::Bucket(Bucket {
            eps,
            limiter,
            scale,
            peak,
            max_cost,
            clock: DefaultClock::default(),
        })
    }

    pub fn gaps() -> Self {
        Pacer::Gaps {
            started: Instant::now(),
        }
    }

    /// Records per second aimed at when the diurnal multiplier is `multiplier`; 0 when not
    /// paced by a rate (unthrottled, simulated, or gaps).
    pub fn target_rate(&self, multiplier: f64) -> f64 {
        match self {
            Pacer::Bucket(b) => b.eps * multiplier,
            Pacer::Free | Pacer::Gaps { .. } => 0.0,
        }
    }

    /// Waits until the record at the clock's logical time may go. False if a stop came first.
    pub fn acquire(&self, clock: &EventClock, stop: &Stopper) -> bool {
        match self {
            Pacer::Free => true,
            Pacer::Bucket(b) => b.acquire(clock.multiplier(), stop),
            Pacer::Gaps { started } => wait_until(*started + clock.since_start(), stop),
        }
    }
}

impl Bucket {
    fn acquire(&self, multiplier: f64, stop: &Stopper) -> bool {
        let cost = ((self.scale * self.peak / multiplier).round() as u32).clamp(1, self.max_cost);
        let cells = NonZeroU32::new(cost).unwrap_or(NonZeroU32::MIN);
        loop {
            match self.limiter.check_n(cells) {
                Ok(Ok(())) => return true,
                Ok(Err(not_until)) => {
                    if stop.requested().is_some() {
                        return false;
                    }
                    std::thread::sleep(not_until.wait_time_from(self.clock.now()).min(MAX_NAP));
                }
                Err(_) => unreachable!("the bucket holds the costliest record"),
            }
        }
    }
}

fn wait_until(deadline: Instant, stop: &Stopper) -> bool {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        if stop.requested().is_some() {
            return false;
        }
        std::thread::sleep((deadline - now).min(MAX_NAP));
    }
}
