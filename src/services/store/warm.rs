//! The warm start: a run begins as if the world had been running, with the visitors an open
//! store would hold at this hour inside and its terminals staffed.

use rand::Rng;

use super::visits::{exit_before, LAST_ENTRY_MS, MAX_VISITORS_PER_STORE};
use super::StoreService;
use crate::domain::events::Millis;
use crate::domain::ports::RepositoryError;
use crate::domain::store::visits;
use crate::services::{Ctx, Emission};

impl StoreService {
    /// The world as if it had been running: every open store's terminals staffed and free,
    /// and the visitors it would hold at this hour inside, each somewhere in their trip. They
    /// enter the record now (a run never adds to the time before it began, which an earlier
    /// run may have published): their sessions are the run's backlog, the rest of their trip
    /// and shopping goes on as usual.
    pub(super) fn warm_stores(
        &mut self,
        ctx: &mut Ctx<'_>,
        now: Millis,
        out: &mut Emission,
    ) -> Result<(), RepositoryError> {
        self.refresh_minute(ctx, now);
        let total: f64 = self.weights.iter().sum();
        if total <= 0.0 {
            return Ok(());
        }
        let mut sessions = Vec::new();
        let rate = self.config.visits_per_minute * self.config.curve.at(now);
        let expected = rate * visits::MEAN_TRIP_MINUTES;
        let scale = (self.config.max_warm_visitors as f64 / expected.max(1.0)).min(1.0);
        for store in 0..self.weights.len() {
            let Some((_, close)) = ctx.world.catalog.stores[store].trading_day(now) else {
                continue;
            };
            if !self.open[store] {
                continue;
            }
            let inside = expected * scale * self.weights[store] / total;
            let inside = (inside.round() as usize).min(MAX_VISITORS_PER_STORE);
            let last_exit = close - LAST_ENTRY_MS / 3;
            if now + LAST_ENTRY_MS > close {
                continue;
            }
            for _ in 0..inside {
                // Somewhere in their trip: what is left of it from now, and of their shopping.
                let trip = i64::from(visits::trip_minutes(ctx.rng)) * 60_000;
                let left = trip - ctx.rng.random_range(0..trip);
                let exit = exit_before(ctx, now, left.max(10_000), last_exit);
                let kept = left as f64 / trip as f64;
                if let Some(session) = self.enter(ctx, store, (now, exit), kept)? {
                    sessions.push(session);
                }
            }
        }
        out.backlog.extend(sessions);
        // Then the tills open.
        let open: Vec<usize> = (0..self.open.len()).filter(|&s| self.open[s]).collect();
        for store in open {
            for terminal in self.terminals_of[store].clone() {
                if self.employees_of[store].iter().any(|&e| !self.on_shift[e]) {
                    self.log_in(ctx, store, terminal, now, out);
                    self.tills[terminal].free_at = now;
                }
            }
        }
        Ok(())
    }
}
