//! The engine: picks services by weight, schedules their records, paces and publishes them, and stops cleanly.

pub mod clock;
pub mod pacing;
pub mod schedule;
pub mod stop;

use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};

use crate::domain::catalog::Catalog;
use crate::domain::ids::IdGen;
use crate::domain::ports::{EventPublisher, PublishError, TopicReport};
use crate::domain::stream::Stream;
use crate::services::{Ctx, DetRng, Emission, ServiceTable};
use clock::EventClock;
use pacing::Pacer;
use schedule::Schedule;
pub use stop::{StopReason, Stopper};

/// How often (in records) the engine looks at the clock for `--duration` when it never waits.
const STOP_CHECK_EVERY: u64 = 64;

pub struct EngineConfig {
    pub seed: u64,
    pub target_eps: f64,
    pub max_pending: usize,
    pub count: Option<u64>,
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub records: u64,
    pub per_stream: [u64; Stream::COUNT],
    pub stop: StopReason,
    pub elapsed: Duration,
    /// Follow-ups scheduled for after the stop, never generated as records.
    pub unsent_follow_ups: usize,
    pub topics: Vec<TopicReport>,
}

#[derive(Debug, thiserror::Error)]
#[error("publishing failed after {records} records: {source}")]
pub struct EngineError {
    pub records: u64,
    #[source]
    pub source: PublishError,
}

pub struct Engine {
    services: ServiceTable,
    catalog: Catalog,
    publisher: Box<dyn EventPublisher>,
    clock: EventClock,
    pacer: Pacer,
    schedule: Schedule,
    rng: DetRng,
    ids: IdGen,
    count: Option<u64>,
}

impl Engine {
    pub fn new(
        config: &EngineConfig,
        services: ServiceTable,
        catalog: Catalog,
        publisher: Box<dyn EventPublisher>,
        clock: EventClock,
    ) -> Self {
        Self {
            services,
            catalog,
            publisher,
            clock,
            pacer: Pacer::new(config.target_eps),
            schedule: Schedule::new(config.max_pending),
            rng: DetRng::seed_from_u64(config.seed),
            ids: IdGen::new(config.seed),
            count: config.count,
        }
    }

    /// Runs until a stop condition, then flushes the sink. Blocking: call it off the async runtime.
    pub fn run(mut self, stopper: &Stopper) -> Result<RunReport, EngineError> {
        let started = Instant::now();
        let mut emission = Emission::default();
        let mut per_stream = [0u64; Stream::COUNT];
        let mut records = 0u64;
        let stop = loop {
            if self.count.is_some_and(|c| records >= c) {
                break StopReason::Count;
            }
            if records % STOP_CHECK_EVERY == 0 {
                if let Some(reason) = stopper.requested() {
                    break reason;
                }
            }
            let Some(mut record) = self.schedule.pop_due(self.clock.logical_ns()) else {
                self.step(&mut emission);
                continue;
            };
            if !self.pacer.acquire(stopper) {
                break stopper.requested().unwrap_or(StopReason::Signal);
            }
            record.event.set_ts(self.clock.stamp());
            match self.publisher.publish(&record) {
                Ok(()) => {}
                Err(PublishError::Closed) => break StopReason::SinkClosed,
                Err(source) => {
                    let _ = self.publisher.flush();
                    return Err(EngineError { records, source });
                }
            }
            records += 1;
            per_stream[record.stream().index()] += 1;
            self.clock.advance();
        };
        let topics = self
            .publisher
            .flush()
            .map_err(|source| EngineError { records, source })?;
        Ok(RunReport {
            records,
            per_stream,
            stop,
            elapsed: started.elapsed(),
            unsent_follow_ups: self.schedule.len(),
            topics,
        })
    }

    /// One service pick: its records join the schedule at their due times.
    fn step(&mut self, emission: &mut Emission) {
        let now = self.clock.logical_ns();
        let u: f64 = self.rng.random();
        let service = self.services.pick(u);
        let mut ctx = Ctx {
            rng: &mut self.rng,
            ids: &mut self.ids,
            catalog: &self.catalog,
        };
        service.emit(&mut ctx, emission);
        for (delay_ms, record) in emission.records.drain(..) {
            self.schedule.push(now + delay_ms * 1_000_000, record);
        }
    }
}

#[cfg(test)]
mod tests;
