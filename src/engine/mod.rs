//! The engine: picks services by weight, schedules their records, paces, injects labelled
//! faults, publishes, and stops cleanly.

pub mod clock;
pub mod pacing;
mod recent;
pub mod schedule;
pub mod stop;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::distr::Bernoulli;
use rand::{Rng, SeedableRng};

use crate::domain::chance;
use crate::domain::events::Millis;
use crate::domain::faults::{bad_copy, Fault, FaultDraws, FaultPolicy, LateMode};
use crate::domain::ids::IdGen;
use crate::domain::ports::{EventPublisher, PublishError, RepositoryError, TopicReport};
use crate::domain::record::Record;
use crate::domain::stock::StockKey;
use crate::domain::stream::Stream;
use crate::domain::totals::BusinessTotals;
use crate::observe::{Closing, RunStats};
use crate::services::restock::Restocker;
use crate::services::{Ctx, DetRng, Emission, Service, ServiceTable, World};
use clock::EventClock;
use pacing::Pacer;
use recent::Recent;
use schedule::Schedule;
pub use stop::{StopReason, Stopper};

/// How often (in records) the engine looks at the clock for `--duration` when it never waits.
const STOP_CHECK_EVERY: u64 = 64;
/// Groups dropped in a row at the end of `--count` before giving up on filling the last slot.
const MAX_DROPPED_GROUPS: u32 = 10_000;

/// Empty steps in a row after which each further one moves logical time by a record's spacing
/// (an occasional empty step does not, so it never changes the rate).
const IDLE_STEPS_BEFORE_TICK: u32 = 16;

pub struct EngineConfig {
    pub seed: u64,
    /// Runs the target recorded before this one (0 on a fresh target): part of the id space.
    pub run: u32,
    pub max_pending: usize,
    pub count: Option<u64>,
    /// Simulated runs stop when logical time reaches this.
    pub end_ms: Option<Millis>,
    pub faults: FaultPolicy,
    /// Which instance of a sharded run this is (0 of 1 when not sharded).
    pub shard: u32,
}

/// What a finished run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub records: u64,
    pub per_stream: [u64; Stream::COUNT],
    /// Records per (stream, `dq` label), e.g. `(Orders, "bad:truncated_body")`.
    pub faults: BTreeMap<(Stream, String), u64>,
    pub stop: StopReason,
    pub elapsed: Duration,
    /// Follow-ups scheduled for after the stop, never generated as records.
    pub unsent_follow_ups: usize,
    pub topics: Vec<TopicReport>,
}

#[derive(Debug, thiserror::Error)]
#[error("the run failed after {records} records: {source}")]
pub struct EngineError {
    pub records: u64,
    #[source]
    pub source: Failure,
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error(transparent)]
    Publish(#[from] PublishError),
    #[error(transparent)]
    Store(#[from] RepositoryError),
}

/// A record's place in its group: the group's event time once set, and how many follow it.
struct Part<'a> {
    stamp: &'a mut Option<Millis>,
    rest: u64,
}

/// Why a send did not happen.
enum Halt {
    Stop(StopReason),
    Fail(Failure),
}

/// A sink whose reader went away ends the run quietly; any other error fails it.
fn halt(e: PublishError) -> Halt {
    match e {
        PublishError::Closed => Halt::Stop(StopReason::SinkClosed),
        e => Halt::Fail(e.into()),
    }
}

/// What generates records: weighted services, background mutations with their chance per
/// generated record, the world they act on, and services that emit once before anything else
/// (changes found at start-up, such as stock someone else moved).
pub struct Generators {
    pub services: ServiceTable,
    pub background: Vec<(f64, Box<dyn Service>)>,
    pub world: World,
    pub initial: Vec<Box<dyn Service>>,
    /// What follows a crossing below a reorder point.
    pub restocker: Restocker,
}

#[derive(Default)]
struct Tally {
    records: u64,
    per_stream: [u64; Stream::COUNT],
    faults: BTreeMap<(Stream, String), u64>,
}

pub struct Engine {
    services: ServiceTable,
    background: Vec<(Bernoulli, Box<dyn Service>)>,
    world: World,
    publisher: Box<dyn EventPublisher>,
    clock: EventClock,
    pacer: Pacer,
    /// Groups by due time, each with its family: the groups one service call emitted (an
    /// order and its later payment and shipment).
    schedule: Schedule<(u64, Vec<Record>)>,
    families: u64,
    /// Families with a group dropped at the end of `--count`: their later groups are dropped
    /// too (a payment never goes out without its order).
    dropped_families: Vec<u64>,
    rng: DetRng,
    ids: IdGen,
    count: Option<u64>,
    end_ns: Option<i64>,
    faults: FaultDraws,
    recent: Recent,
    tally: Tally,
    dropped_groups: u32,
    idle_steps: u32,
    /// The logical time (ms) before which [`Engine::tick`] does not look again.
    next_tick_ms: Millis,
    /// Emitted once, before the first step.
    initial: Vec<Box<dyn Service>>,
    restocker: Restocker,
    /// Live figures for `/metrics` and progress, if anyone reads them.
    stats: Option<Arc<RunStats>>,
    /// Business totals of what is published, for the run manifest, if one is written.
    totals: Option<BusinessTotals>,
    /// Late records held back (`LATE_MODE=delay`), by (due event time, order drawn): each goes
    /// out once the stream's event time reaches its due time.
    held: BTreeMap<(Millis, u64), Record>,
    held_seq: u64,
    /// This run's number: held records are numbered apart from other runs' (see `held_id`).
    run: u32,
    /// The latest event time published of an unlabelled record.
    stream_time: Millis,
}

impl Engine {
    pub fn new(
        config: EngineConfig,
        generators: Generators,
        publisher: Box<dyn EventPublisher>,
        clock: EventClock,
        pacer: Pacer,
    ) -> Self {
        Self {
            services: generators.services,
            background: generators
                .background
                .into_iter()
                .map(|(p, service)| (chance(p), service))
                .collect(),
            world: generators.world,
            publisher,
            clock,
            pacer,
            schedule: Schedule::new(config.max_pending),
            rng: DetRng::seed_from_u64(shard_seed(run_seed(config.seed, config.run), config.shard)),
            ids: IdGen::for_shard(config.seed, config.run, config.shard),
            count: config.count,
            end_ns: config.end_ms.map(|ms| ms * 1_000_000),
            faults: config.faults.draws(),
            recent: Recent::default(),
            tally: Tally::default(),
            dropped_groups: 0,
            families: 0,
            dropped_families: Vec::new(),
            idle_steps: 0,
            next_tick_ms: Millis::MIN,
            initial: generators.initial,
            restocker: generators.restocker,
            stats: None,
            totals: None,
            held: BTreeMap::new(),
            held_seq: 0,
            run: config.run,
            stream_time: Millis::MIN,
        }
    }

    /// Records published, and held back to be (they count against `--count` already).
    fn spent(&self) -> u64 {
        self.tally.records + self.held.len() as u64
    }

    /// Publishes the held late records whose due time the stream has reached (all of them with
    /// `all`: a stop), in due order; each a group of its own.
    fn release_late(&mut self, all: bool) -> Result<(), Halt> {
        while self
            .held
            .first_key_value()
            .is_some_and(|((due, _), _)| all || *due <= self.stream_time)
        {
            self.release_first()?;
        }
        Ok(())
    }

    /// Publishes the held late record due first, as a group of its own.
    fn release_first(&mut self) -> Result<(), Halt> {
        let Some(((_, seq), record)) = self.held.pop_first() else {
            return Ok(());
        };
        self.publisher
            .release(&record, held_id(self.run, seq))
            .map_err(halt)?;
        self.count_published(&record, false);
        self.publisher.end_group().map_err(halt)
    }

    /// Whether a held late record is due.
    fn late_due(&self) -> bool {
        self.held
            .first_key_value()
            .is_some_and(|((due, _), _)| *due <= self.stream_time)
    }

    /// Keeps business totals of what is published; `stats` gets them, with the stock per
    /// location, when the run ends or fails (see [`Engine::observed_by`]).
    pub fn with_totals(mut self) -> Self {
        let zones = self.world.catalog.stores.iter();
        self.totals = Some(BusinessTotals::new(
            zones.map(|s| (s.store_id.clone(), s.timezone)),
        ));
        self
    }

    /// Keeps `stats` up to date while running: records and faults per stream, the target rate,
    /// pending follow-ups and logical time.
    pub fn observed_by(mut self, stats: Arc<RunStats>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// Runs until a stop condition, then flushes the sink. Blocking: call it off the async runtime.
    pub fn run(mut self, stopper: &Stopper) -> Result<RunReport, EngineError> {
        let result = self.drive(stopper);
        if let (Some(stats), Some(totals)) = (&self.stats, self.totals.take()) {
            stats.close(Closing {
                totals,
                stock: self.stock_by_location(),
            });
        }
        result
    }

    /// Units on hand per location (warehouse, then store ids), from the canonical stock.
    fn stock_by_location(&self) -> BTreeMap<String, i64> {
        let catalog = &self.world.catalog;
        let ledger = &self.world.ledger;
        let warehouses = catalog.warehouses.len();
        let mut stock = BTreeMap::new();
        let mut add = |name: &str, location: usize, product: u32| {
            let key = StockKey {
                location: location as u32,
                product,
            };
            let units = ledger.level(key).map_or(0, |l| i64::from(l.qty));
            *stock.entry(name.to_owned()).or_insert(0) += units;
        };
        for (product, at) in catalog.stocked_at.iter().enumerate() {
            for &w in at {
                add(&catalog.warehouses[w as usize], w as usize, product as u32);
            }
        }
        for (s, products) in catalog.store_products.iter().enumerate() {
            for &product in products {
                add(&catalog.stores[s].store_id, warehouses + s, product);
            }
        }
        stock
    }

    fn drive(&mut self, stopper: &Stopper) -> Result<RunReport, EngineError> {
        let started = Instant::now();
        let mut emission = Emission::default();
        if let Err(e) = self.start_up(&mut emission) {
            return Err(EngineError {
                records: 0,
                source: e.into(),
            });
        }
        if let Err(Halt::Fail(source)) = self.publish_backlog(&mut emission) {
            let _ = self.publisher.flush();
            return Err(EngineError {
                records: self.tally.records,
                source,
            });
        }
        let stop = loop {
            if let Some(reason) = self.stop_due(stopper) {
                break reason;
            }
            if self.late_due() {
                if let Err(e) = self.release_late(false) {
                    match e {
                        Halt::Stop(reason) => break reason,
                        Halt::Fail(source) => {
                            let _ = self.publisher.flush();
                            return Err(EngineError {
                                records: self.tally.records,
                                source,
                            });
                        }
                    }
                }
            }
            if let Err(e) = self.tick(&mut emission) {
                let _ = self.publisher.flush();
                return Err(EngineError {
                    records: self.tally.records,
                    source: e.into(),
                });
            }
            let next = match self.schedule.pop_due(self.clock.logical_ns()) {
                Some((family, mut group)) => {
                    let sent = self.emit_group(family, &mut group, stopper);
                    emission.recycle(group);
                    sent
                }
                None => self.step(&mut emission).map_err(|e| Halt::Fail(e.into())),
            };
            match next {
                Ok(()) => {}
                Err(Halt::Stop(reason)) => break reason,
                Err(Halt::Fail(source)) => {
                    let _ = self.publisher.flush();
                    return Err(EngineError {
                        records: self.tally.records,
                        source,
                    });
                }
            }
        };
        if matches!(
            stop,
            StopReason::Duration | StopReason::Signal | StopReason::SpanEnd
        ) {
            if let Err(Halt::Fail(source)) = self.close() {
                let _ = self.publisher.flush();
                return Err(EngineError {
                    records: self.tally.records,
                    source,
                });
            }
        }
        // Held late records are flushed by any stop, still labelled.
        if let Err(Halt::Fail(source)) = self.release_late(true) {
            let _ = self.publisher.flush();
            return Err(EngineError {
                records: self.tally.records,
                source,
            });
        }
        let records = self.tally.records;
        let failed = |source: Failure| EngineError { records, source };
        let topics = self.publisher.flush().map_err(|e| failed(e.into()))?;
        Ok(RunReport {
            records,
            per_stream: self.tally.per_stream,
            faults: std::mem::take(&mut self.tally.faults),
            stop,
            elapsed: started.elapsed(),
            unsent_follow_ups: self.schedule.len(),
            topics,
        })
    }

    /// A clean stop: the services close their open state (terminals log out), published at
    /// once and without faults; a `--to` span keeps them inside it. A `--count` stop has no room
    /// for them.
    fn close(&mut self) -> Result<(), Halt> {
        let mut emission = Emission::default();
        let mut now = self.clock.stamp();
        if let Some(end_ns) = self.end_ns {
            now = now.min(end_ns / 1_000_000 - 1);
        }
        let mut ctx = Ctx {
            rng: &mut self.rng,
            ids: &mut self.ids,
            world: &mut self.world,
            now_ms: now,
        };
        self.services.close(&mut ctx, &mut emission);
        for (_, group) in emission.groups {
            for mut record in group {
                record.event.set_ts(record.at.unwrap_or(now));
                self.world
                    .settle(&mut record)
                    .map_err(|e| Halt::Fail(e.into()))?;
                self.publish(&record)?;
            }
            self.publisher.end_group().map_err(halt)?;
        }
        Ok(())
    }

    fn stop_due(&self, stopper: &Stopper) -> Option<StopReason> {
        if self.count.is_some_and(|c| self.spent() >= c) {
            return Some(StopReason::Count);
        }
        if self
            .end_ns
            .is_some_and(|end| self.clock.logical_ns() >= end)
        {
            return Some(StopReason::SpanEnd);
        }
        if self.tally.records % STOP_CHECK_EVERY != 0 {
            return None;
        }
        self.report_progress();
        stopper.requested()
    }

    /// Tells the live figures what only the engine knows (every `STOP_CHECK_EVERY` records).
    fn report_progress(&self) {
        if let Some(stats) = &self.stats {
            stats.set_pending_follow_ups(self.schedule.len());
            stats.set_logical_ms(self.clock.logical_ns() / 1_000_000);
            stats.set_target_rate(self.pacer.target_rate(self.clock.multiplier()));
        }
    }

    /// The start-up services' groups, due before anything generated.
    fn start_up(&mut self, emission: &mut Emission) -> Result<(), RepositoryError> {
        let now = self.clock.logical_ns();
        let mut ctx = Ctx {
            rng: &mut self.rng,
            ids: &mut self.ids,
            world: &mut self.world,
            now_ms: self.clock.stamp(),
        };
        for service in &mut self.initial {
            service.emit(&mut ctx, emission)?;
        }
        self.services.warm_up(&mut ctx, emission)?;
        self.schedule_groups(now, emission);
        Ok(())
    }

    /// The warm start's records of what happened before the run (see [`Emission::backlog`]):
    /// published first, in their order, at their own times, neither paced nor moving time.
    fn publish_backlog(&mut self, emission: &mut Emission) -> Result<(), Halt> {
        for mut record in std::mem::take(&mut emission.backlog) {
            let at = record.at.unwrap_or_else(|| self.clock.stamp());
            record.event.set_ts(at);
            self.world
                .settle(&mut record)
                .map_err(|e| Halt::Fail(e.into()))?;
            self.publisher.publish(&record).map_err(halt)?;
            self.count_published(&record, true);
            self.publisher.end_group().map_err(halt)?;
        }
        Ok(())
    }

    /// Emitted groups join the schedule at their due times (0 delay: at once), as one family.
    fn schedule_groups(&mut self, now_ns: i64, emission: &mut Emission) {
        let family = self.new_family();
        for (delay_ms, group) in emission.groups.drain(..) {
            match delay_ms {
                0 => self.schedule.push_now((family, group)),
                _ => self
                    .schedule
                    .push(now_ns + delay_ms * 1_000_000, (family, group)),
            }
        }
    }

    fn new_family(&mut self) -> u64 {
        self.families += 1;
        self.families
    }

    /// What the services have due at their own times (a visitor's shelf event, a checkout) joins
    /// the schedule between groups, not only when its service is picked: a step publishing many
    /// records moves time on by each of them, and what fell due meanwhile goes out then. Looked
    /// at once per logical second at most.
    fn tick(&mut self, emission: &mut Emission) -> Result<(), RepositoryError> {
        let logical_ms = self.clock.logical_ns() / 1_000_000;
        if logical_ms < self.next_tick_ms {
            return Ok(());
        }
        self.next_tick_ms = logical_ms + 1_000;
        let now_ms = self.clock.stamp();
        if self.services.next_due() > now_ms {
            return Ok(());
        }
        let mut ctx = Ctx {
            rng: &mut self.rng,
            ids: &mut self.ids,
            world: &mut self.world,
            now_ms,
        };
        self.services.due(&mut ctx, emission)?;
        // In due order with what else is due (not ahead of it, as a step's groups go: a step
        // runs only when nothing is due), so a backlog drains oldest first.
        let now_ns = self.clock.logical_ns();
        let family = self.new_family();
        for (delay_ms, group) in emission.groups.drain(..) {
            self.schedule
                .push(now_ns + delay_ms * 1_000_000, (family, group));
        }
        Ok(())
    }

    /// One service pick, then the background mutations each of its records may trigger;
    /// their groups join the schedule at their due times.
    /// Steps that keep emitting nothing (every store closed, nothing in stock) move logical time
    /// on, so a run whose services are all idle for a while reaches the time they are not.
    fn step(&mut self, emission: &mut Emission) -> Result<(), RepositoryError> {
        let now = self.clock.logical_ns();
        let u: f64 = self.rng.random();
        let mut ctx = Ctx {
            rng: &mut self.rng,
            ids: &mut self.ids,
            world: &mut self.world,
            now_ms: self.clock.stamp(),
        };
        self.services.pick(u).emit(&mut ctx, emission)?;
        for _ in 0..emission.records() {
            for (p, service) in &mut self.background {
                if ctx.rng.sample(*p) {
                    service.emit(&mut ctx, emission)?;
                }
            }
        }
        self.idle_steps = match emission.groups.is_empty() {
            true => self.idle_steps + 1,
            false => 0,
        };
        if self.idle_steps > IDLE_STEPS_BEFORE_TICK {
            self.clock.advance(&mut self.rng);
        }
        self.schedule_groups(now, emission);
        Ok(())
    }

    /// Publishes a group whole. One that does not fit in what is left of `--count` is dropped
    /// unpublished (its effects were never applied) so a single record can fill the last slot;
    /// so are its family's later groups, which would name what was never published (smaller
    /// records filling the last slots move logical time on, so they do come due).
    fn emit_group(
        &mut self,
        family: u64,
        group: &mut [Record],
        stopper: &Stopper,
    ) -> Result<(), Halt> {
        if self.dropped_families.contains(&family) {
            return Ok(());
        }
        // Room for the group and the restock alerts its stock changes may bring.
        let alerts = group.iter().filter(|r| r.may_cross()).count() as u64;
        if self
            .count
            .is_some_and(|c| self.spent() + group.len() as u64 + alerts > c)
        {
            self.dropped_families.push(family);
            self.dropped_groups += 1;
            return match self.dropped_groups > MAX_DROPPED_GROUPS {
                true => Err(Halt::Stop(StopReason::Count)),
                false => Ok(()),
            };
        }
        self.dropped_groups = 0;
        // The records of a group happen at one instant: they share its event time. Once the
        // group has begun it is finished, even if a stop arrives, and keeps room for its rest.
        let mut stamp = None;
        let mut rest = group.len() as u64 + alerts;
        for record in group {
            rest -= 1 + u64::from(record.may_cross());
            let part = Part {
                stamp: &mut stamp,
                rest,
            };
            self.emit(record, stopper, part)?;
        }
        self.publisher.end_group().map_err(halt)
    }

    /// Sends a due record (its effect applied) with its faults, then the restock alerts its
    /// stock change brought, each with its faults too.
    fn emit(&mut self, record: &mut Record, stopper: &Stopper, part: Part<'_>) -> Result<(), Halt> {
        let started = part.stamp.is_some();
        self.admit(stopper, started)?;
        // What must stay free under `--count` beside this record's extras: the rest of the
        // group and the alert this record may bring.
        let reserved = part.rest + u64::from(record.may_cross());
        // Effects know their event time (a price change is kept with the moment it took effect).
        let stamp = *part.stamp.get_or_insert_with(|| self.clock.stamp());
        let at = record.at.unwrap_or(stamp);
        record.event.set_ts(at);
        self.world
            .settle(record)
            .map_err(|e| Halt::Fail(e.into()))?;
        self.send_faulted(record, stopper, reserved)?;
        self.restock(at, stopper, part.rest)
    }

    /// Sends a record, maybe late, then maybe a bad copy of it and a duplicate of a recent one,
    /// as room under `--count` beside `reserved` allows.
    fn send_faulted(
        &mut self,
        record: &mut Record,
        stopper: &Stopper,
        reserved: u64,
    ) -> Result<(), Halt> {
        match self.faults.draw_late(&mut self.rng, record.stream()) {
            Some(delay_ms) if self.faults.late_mode == LateMode::Delay => {
                record.fault = Some(Fault::Late { delay_ms });
                self.hold_late(record.clone(), delay_ms)?;
                self.clock.advance(&mut self.rng);
            }
            Some(delay_ms) => {
                record.event.set_ts(record.event.ts() - delay_ms);
                record.fault = Some(Fault::Late { delay_ms });
                self.publish(record)?;
            }
            None => self.publish(record)?,
        }
        if let Some(kind) = self.faults.draw_bad(&mut self.rng, record.stream()) {
            let bad = bad_copy(record, kind, &mut self.ids, &mut self.rng);
            self.send_extra(&bad, stopper, reserved)?;
        }
        if self.faults.duplicates() {
            if self.faults.draw_duplicate(&mut self.rng) {
                if let Some(mut again) = self.recent.pick(&mut self.rng) {
                    again.fault = Some(Fault::Duplicate);
                    self.send_extra(&again, stopper, reserved)?;
                }
            }
            // Only unlabelled records are re-sent: a duplicate of a late one would hide its label.
            if record.fault.is_none() {
                self.recent.remember(record);
            }
        }
        Ok(())
    }

    /// The alert of each crossing the last record caused goes out after it (at its time, with
    /// its faults); the replenishment is scheduled after the lead time.
    fn restock(&mut self, at: Millis, stopper: &Stopper, reserved: u64) -> Result<(), Halt> {
        for crossing in self.world.take_crossings() {
            let mut ctx = Ctx {
                rng: &mut self.rng,
                ids: &mut self.ids,
                world: &mut self.world,
                now_ms: at,
            };
            let reaction = self.restocker.react(&mut ctx, crossing);
            let mut alert = reaction.alert;
            alert.event.set_ts(at);
            self.send_faulted(&mut alert, stopper, reserved)?;
            if let Some((delay_ms, group)) = reaction.replenishment {
                // Due after the lead time from the crossing's own time (which may be behind the
                // clock: a checkout's stock change), so it goes out at the time it says.
                let due = ((at + delay_ms) * 1_000_000).max(self.clock.logical_ns());
                let family = self.new_family();
                self.schedule.push(due, (family, group));
            }
        }
        Ok(())
    }

    /// Holds a late record back until the stream's event time is `delay_ms` past its own; at
    /// the bound (`MAX_HELD_LATE`, so memory stays bounded at any rate), the earliest due goes
    /// out first, still labelled.
    fn hold_late(&mut self, record: Record, delay_ms: Millis) -> Result<(), Halt> {
        if self.held.len() >= self.faults.max_held {
            self.release_first()?;
        }
        // Live figures count the fault when it is drawn (its record is on its way).
        if let Some(stats) = &self.stats {
            stats.fault(record.stream(), "late".to_owned());
        }
        let due = record.event.ts() + delay_ms;
        self.held_seq += 1;
        // Held with the group that applied its effect (a durable sink commits them together).
        self.publisher
            .hold(&record, held_id(self.run, self.held_seq))
            .map_err(halt)?;
        self.held.insert((due, self.held_seq), record);
        Ok(())
    }

    /// An extra record (bad copy, duplicate) goes out only if there is room under `--count`
    /// beside the `rest` of its group; a stop ends it quietly, the group goes on.
    fn send_extra(&mut self, record: &Record, stopper: &Stopper, rest: u64) -> Result<(), Halt> {
        if self.count.is_some_and(|c| self.spent() + rest >= c) {
            return Ok(());
        }
        if !self.pacer.acquire(&self.clock, stopper) {
            return Ok(());
        }
        self.publish(record)
    }

    /// Waits for the record's turn. A stop ends the run here, unless the record continues a
    /// group already begun: that one goes out at once, so no group is ever left half sent.
    fn admit(&mut self, stopper: &Stopper, continues_group: bool) -> Result<(), Halt> {
        if self.pacer.acquire(&self.clock, stopper) || continues_group {
            return Ok(());
        }
        Err(Halt::Stop(
            stopper.requested().unwrap_or(StopReason::Signal),
        ))
    }

    fn publish(&mut self, record: &Record) -> Result<(), Halt> {
        self.publisher.publish(record).map_err(halt)?;
        self.count_published(record, true);
        self.clock.advance(&mut self.rng);
        Ok(())
    }

    /// Counts a published record in the tallies, live figures and business totals (its fault
    /// in the live figures unless `fault_live` is false: a held late record's was counted
    /// when it was drawn).
    fn count_published(&mut self, record: &Record, fault_live: bool) {
        if record.fault.is_none() {
            self.stream_time = self.stream_time.max(record.event.ts());
        }
        let stream = record.stream();
        self.tally.records += 1;
        self.tally.per_stream[stream.index()] += 1;
        if let Some(stats) = &self.stats {
            stats.produced(stream);
        }
        if let Some(totals) = &mut self.totals {
            totals.add(record);
        }
        if let Some(fault) = record.fault {
            let label = fault.to_string();
            if let (Some(stats), true) = (&self.stats, fault_live) {
                stats.fault(stream, label.clone());
            }
            *self.tally.faults.entry((stream, label)).or_default() += 1;
        }
    }
}

/// The id of run `run`'s `seq`-th held late record: the run number above, the count below.
fn held_id(run: u32, seq: u64) -> i64 {
    (i64::from(run) << 40) | seq as i64
}

/// The random stream of shard `shard` of a run: shard 0's is the run's own, others differ.
pub fn shard_seed(seed: u64, shard: u32) -> u64 {
    match shard {
        0 => seed,
        n => {
            seed ^ u64::from(n)
                .wrapping_mul(0xd1b5_4a32_d192_ed03)
                .rotate_left(17)
        }
    }
}

/// The random stream of run `run`: run 0 is the seed's own, later runs continue differently.
pub fn run_seed(seed: u64, run: u32) -> u64 {
    match run {
        0 => seed,
        n => seed ^ u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15),
    }
}

#[cfg(test)]
mod tests;
