//! Weighted services: each turns random draws into records; the engine picks one per step by weight.

pub mod interactions;
pub mod inventory;
pub mod orders;
pub mod prices;
pub mod restock;
pub mod store;
pub mod world;

use rand::Rng;
use rand_pcg::Pcg64Mcg;

use crate::domain::events::Millis;
use crate::domain::ids::IdGen;
use crate::domain::ports::RepositoryError;
use crate::domain::record::Record;
pub use world::World;

/// The random generator every service draws from: small, fast and stable across versions.
pub type DetRng = Pcg64Mcg;

/// What a service may read, draw from and change while it emits.
pub struct Ctx<'a> {
    pub rng: &'a mut DetRng,
    pub ids: &'a mut IdGen,
    pub world: &'a mut World,
    /// Logical time of this step.
    pub now_ms: Millis,
}

/// Groups of records a service emitted, each due `delay_ms` after the emitting step (0 = now).
/// A group is published whole or not at all (an order and its sale, a transfer's two legs).
#[derive(Debug, Default)]
pub struct Emission {
    pub groups: Vec<(Millis, Vec<Record>)>,
    /// Records of what happened before the run began (a warm start's visitors entering), in
    /// event-time order: published first, at once, without waiting for the rate or moving time.
    pub backlog: Vec<Record>,
    /// Emptied groups of room for one and for two records, handed back after publishing and
    /// reused last-in first-out: a new group is written to memory the caches still hold, not
    /// to a fresh allocation. (A group is sized exactly: thousands wait in the schedule.)
    spare: [Vec<Vec<Record>>; 2],
}

/// Emptied groups kept for reuse, of each size; more are freed.
const SPARE_GROUPS: usize = 64;

impl Emission {
    pub fn now(&mut self, record: Record) {
        self.after(0, record);
    }

    pub fn group_now(&mut self, records: Vec<Record>) {
        self.groups.push((0, records));
    }

    /// Two records that go out together (an order and its sale, a transfer's two legs).
    pub fn pair_now(&mut self, first: Record, second: Record) {
        let mut group = self.spare_group(2);
        group.push(first);
        group.push(second);
        self.groups.push((0, group));
    }

    pub fn after(&mut self, delay_ms: Millis, record: Record) {
        let mut group = self.spare_group(1);
        group.push(record);
        self.groups.push((delay_ms, group));
    }

    pub fn records(&self) -> usize {
        self.groups.iter().map(|(_, g)| g.len()).sum()
    }

    /// A published group back for reuse.
    pub fn recycle(&mut self, mut group: Vec<Record>) {
        let Some(spare) = self.spare.get_mut(group.capacity().wrapping_sub(1)) else {
            return;
        };
        if spare.len() < SPARE_GROUPS {
            group.clear();
            spare.push(group);
        }
    }

    /// An empty group with room for exactly `size` (1 or 2) records.
    fn spare_group(&mut self, size: usize) -> Vec<Record> {
        self.spare[size - 1]
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(size))
    }
}

/// A generator of one family of records.
///
/// # Errors
/// [`RepositoryError`] when a port it needs (a sign-up insert) fails.
pub trait Service: Send {
    fn name(&self) -> &'static str;
    fn emit(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) -> Result<(), RepositoryError>;

    /// The run stops cleanly: what closes the service's open state (a terminal's logout).
    fn close(&mut self, _ctx: &mut Ctx<'_>, _out: &mut Emission) {}

    /// When the service next has something due that happens at its own time (a visitor's shelf
    /// event, a checkout), whether or not it is picked: [`Service::due`] then emits it.
    fn next_due(&self) -> Millis {
        Millis::MAX
    }

    /// Emits what is due by `ctx.now_ms` (see [`Service::next_due`]), and nothing else.
    ///
    /// # Errors
    /// [`RepositoryError`] when a port it needs fails.
    fn due(&mut self, _ctx: &mut Ctx<'_>, _out: &mut Emission) -> Result<(), RepositoryError> {
        Ok(())
    }

    /// The run starts: the state the world would be in had it been running (a store's
    /// visitors and staffed terminals), before anything else is emitted.
    ///
    /// # Errors
    /// [`RepositoryError`] when a port it needs fails.
    fn warm_up(&mut self, _ctx: &mut Ctx<'_>, _out: &mut Emission) -> Result<(), RepositoryError> {
        Ok(())
    }
}

/// Services with normalised weights; zero-weight services are never picked.
pub struct ServiceTable {
    cumulative: Vec<f64>,
    services: Vec<Box<dyn Service>>,
}

impl ServiceTable {
    /// # Panics
    /// When no weight is positive (configuration validation rules that out first).
    pub fn new(weighted: Vec<(f64, Box<dyn Service>)>) -> Self {
        let weighted: Vec<_> = weighted.into_iter().filter(|(w, _)| *w > 0.0).collect();
        let total: f64 = weighted.iter().map(|(w, _)| w).sum();
        assert!(total > 0.0, "at least one service weight must be positive");
        let mut acc = 0.0;
        let mut cumulative = Vec::with_capacity(weighted.len());
        let mut services = Vec::with_capacity(weighted.len());
        for (w, s) in weighted {
            acc += w / total;
            cumulative.push(acc);
            services.push(s);
        }
        Self {
            cumulative,
            services,
        }
    }

    /// The service for a uniform draw `u` in [0, 1).
    pub fn pick(&mut self, u: f64) -> &mut dyn Service {
        let i = self
            .cumulative
            .iter()
            .position(|&c| u < c)
            .unwrap_or(self.services.len() - 1);
        self.services[i].as_mut()
    }

    /// Every service warms up (see [`Service::warm_up`]).
    ///
    /// # Errors
    /// The first [`RepositoryError`] of a service.
    pub fn warm_up(
        &mut self,
        ctx: &mut Ctx<'_>,
        out: &mut Emission,
    ) -> Result<(), RepositoryError> {
        self.services
            .iter_mut()
            .try_for_each(|s| s.warm_up(ctx, out))
    }

    /// The earliest [`Service::next_due`] of the services.
    pub fn next_due(&self) -> Millis {
        self.services
            .iter()
            .map(|s| s.next_due())
            .min()
            .unwrap_or(Millis::MAX)
    }

    /// The services with something due by `ctx.now_ms` emit it (see [`Service::due`]).
    ///
    /// # Errors
    /// The first [`RepositoryError`] of a service.
    pub fn due(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) -> Result<(), RepositoryError> {
        let now = ctx.now_ms;
        self.services
            .iter_mut()
            .filter(|s| s.next_due() <= now)
            .try_for_each(|s| s.due(ctx, out))
    }

    /// Every service closes its open state (see [`Service::close`]).
    pub fn close(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) {
        for s in &mut self.services {
            s.close(ctx, out);
        }
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.services.iter().map(|s| s.name()).collect()
    }
}

/// One of `items`, drawn with probability proportional to its weight.
pub fn weighted<T: Copy, R: Rng>(rng: &mut R, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut r = rng.random_range(0..total);
    for &(item, w) in items {
        if r < w {
            return item;
        }
        r -= w;
    }
    items[items.len() - 1].0
}

/// Helpers for unit tests of services and the engine: a world on the memory adapters.
#[cfg(test)]
pub mod testing {
    use super::{Ctx, DetRng, Emission, Service, World};
    use crate::adapters::memory::{MemoryLedger, MemoryStore, NoJournal};
    use crate::domain::ids::IdGen;
    use crate::domain::ports::ReferenceStore;
    use crate::domain::record::Record;
    use crate::domain::reference::{SeedCounts, StoreLayout};
    use rand::SeedableRng;

    pub const COUNTS: SeedCounts = SeedCounts {
        users: 50,
        products: 30,
        warehouses: 4,
        suppliers: 8,
        stores: 3,
        terminals_per_store: 2,
        employees_per_store: 3,
        layout: StoreLayout::VARIED,
    };

    pub fn world(p_signup: f64) -> World {
        world_with(COUNTS, 1, p_signup)
    }

    /// A world and a seeded generator, to drive one service step by step.
    pub struct Harness {
        pub world: World,
        rng: DetRng,
        ids: IdGen,
    }

    impl Harness {
        pub fn new(p_signup: f64, seed: u64) -> Self {
            Self {
                world: world(p_signup),
                rng: DetRng::seed_from_u64(seed),
                ids: IdGen::new(seed),
            }
        }

        /// One step of `service`: its groups with their delays.
        pub fn emit(&mut self, service: &mut dyn Service) -> Vec<(i64, Vec<Record>)> {
            self.emit_at(service, 0)
        }

        /// One step of `service` at `now_ms`.
        pub fn emit_at(
            &mut self,
            service: &mut dyn Service,
            now_ms: i64,
        ) -> Vec<(i64, Vec<Record>)> {
            let mut out = Emission::default();
            let mut ctx = Ctx {
                rng: &mut self.rng,
                ids: &mut self.ids,
                world: &mut self.world,
                now_ms,
            };
            service
                .emit(&mut ctx, &mut out)
                .expect("memory adapters never fail");
            out.groups
        }
    }

    pub fn world_with(counts: SeedCounts, seed: u64, p_signup: f64) -> World {
        let mut store = MemoryStore::generate(counts, seed);
        let (catalog, levels) = store.load().expect("memory never fails");
        World::new(
            catalog,
            Box::new(store),
            Box::new(MemoryLedger::new(levels)),
            Box::new(NoJournal),
            p_signup,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str);
    impl Service for Named {
        fn name(&self) -> &'static str {
            self.0
        }
        fn emit(&mut self, _: &mut Ctx<'_>, _: &mut Emission) -> Result<(), RepositoryError> {
            Ok(())
        }
    }

    #[test]
    fn weights_are_normalised_and_zero_weights_never_picked() {
        let mut t = ServiceTable::new(vec![
            (3.0, Box::new(Named("a"))),
            (0.0, Box::new(Named("never"))),
            (1.0, Box::new(Named("b"))),
        ]);
        assert_eq!(t.names(), ["a", "b"]);
        assert_eq!(t.pick(0.0).name(), "a");
        assert_eq!(t.pick(0.749).name(), "a");
        assert_eq!(t.pick(0.75).name(), "b");
        assert_eq!(t.pick(0.999_999).name(), "b");
    }

    fn record(key: &str) -> Record {
        use crate::domain::events::{Event, Shipment};
        let shipment = Shipment {
            shipment_id: key.into(),
            order_id: key.into(),
            carrier: "UPS",
            eta_days: 1,
            ts: 0,
        };
        Record::new(key.into(), None, Event::Shipment(shipment))
    }

    /// Thousands of groups wait in the schedule: reuse must never leave one larger than it is.
    #[test]
    fn groups_are_reused_at_their_exact_size() {
        let mut out = Emission::default();
        out.after(5, record("a"));
        out.pair_now(record("b"), record("c"));
        out.group_now(vec![record("d"), record("e"), record("f")]);
        let sizes: Vec<(usize, usize)> = out
            .groups
            .iter()
            .map(|(_, g)| (g.len(), g.capacity()))
            .collect();
        assert_eq!(sizes, [(1, 1), (2, 2), (3, 3)]);
        let groups: Vec<Vec<Record>> = out.groups.drain(..).map(|(_, g)| g).collect();
        let at: Vec<*const Record> = groups.iter().map(|g| g.as_ptr()).collect();
        for group in groups {
            out.recycle(group);
        }
        out.now(record("g"));
        out.pair_now(record("h"), record("i"));
        out.now(record("j"));
        let got: Vec<(*const Record, usize, &str)> = out
            .groups
            .iter()
            .map(|(_, g)| (g.as_ptr(), g.capacity(), g[0].key.as_str()))
            .collect();
        assert_eq!(got[0], (at[0], 1, "g"), "the single is reused");
        assert_eq!(got[1], (at[1], 2, "h"), "the pair is reused");
        assert_ne!(got[2].0, at[2], "a group of three is not reused");
        assert_eq!(got[2].1, 1);
    }
}
