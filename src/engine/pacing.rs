//! Pacing: a capped token bucket (governor) of records per second.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::stop::Stopper;

/// Longest single sleep, so a stop request is seen quickly.
const MAX_NAP: Duration = Duration::from_millis(50);

pub struct Pacer {
    limiter: Option<DefaultDirectRateLimiter>,
    clock: DefaultClock,
}

impl Pacer {
    /// `eps` records per second with a burst of one second's worth; `eps == 0` never waits.
    pub fn new(eps: f64) -> Self {
        let limiter = (eps > 0.0).then(|| {
            let burst = NonZeroU32::new(eps.ceil().min(f64::from(u32::MAX)) as u32)
                .unwrap_or(NonZeroU32::MIN);
            let period = Duration::from_secs_f64(1.0 / eps).max(Duration::from_nanos(1));
            let quota = Quota::with_period(period)
                .expect("period is positive")
                .allow_burst(burst);
            RateLimiter::direct(quota)
        });
        Self {
            limiter,
            clock: DefaultClock::default(),
        }
    }

    /// Waits for one record's token. Returns false when a stop was requested while waiting.
    pub fn acquire(&self, stop: &Stopper) -> bool {
        let Some(limiter) = &self.limiter else {
            return true;
        };
        loop {
            match limiter.check() {
                Ok(()) => return true,
                Err(not_until) => {
                    if stop.requested().is_some() {
                        return false;
                    }
                    let wait = not_until.wait_time_from(self.clock.now());
                    std::thread::sleep(wait.min(MAX_NAP));
                }
            }
        }
    }
}
