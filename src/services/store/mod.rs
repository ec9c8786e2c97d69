//! The store world: terminal shifts (`shifts`), visits by locals and travellers (`visits`), a
//! warm start (`warm`), checkouts at a terminal after the exit (`checkout`), refunds of earlier
//! transactions (`refunds`), shelf damage and stock-takes (`shelf`). Stores trade only while
//! open in their own time zone, and their traffic follows the diurnal curve in local time; this
//! module holds the service's state and picks what each step does.

mod checkout;
mod refunds;
mod shelf;
mod shifts;
mod visits;
mod warm;

use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;
use rustc_hash::FxHashMap;

use super::{weighted, Ctx, Emission, Service};
use crate::domain::events::{Event, Millis, StoreInventoryChange};
use crate::domain::ports::RepositoryError;
use crate::domain::record::{Effect, Record};
use crate::domain::reference::catalog::Catalog;
use crate::domain::stock::{location_key, StockKey};
use crate::domain::store::customers::Whereabouts;
use crate::domain::store::events::StoreChangeType;
use crate::domain::traffic::DiurnalCurve;
use crate::domain::Text;
use visits::Visit;

/// Units per basket line, by weight.
const QUANTITIES: [(i32, u32); 3] = [(1, 60), (2, 30), (3, 10)];
/// Share of store steps that are a shelf event (damage, stock-take) instead of a basket.
const P_SHELF_CHANGE: f64 = 0.03;

/// How baskets, customers and refunds are drawn.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub lines_min: usize,
    pub lines_max: usize,
    pub p_identified: f64,
    pub refund_probability: f64,
    pub refund_delay_ms: (Millis, Millis),
    /// The diurnal curve; each store follows it in its own time zone.
    pub curve: DiurnalCurve,
    /// Visits starting per minute over all open stores at this rate (an estimate from the
    /// target rate and the weights): how many visitors a warm start puts inside.
    pub visits_per_minute: f64,
    /// Visitors a warm start puts inside at most (a `--count` run keeps room for the rest).
    pub max_warm_visitors: usize,
}

#[derive(Debug, Clone, Copy, Default)]
struct Till {
    /// The employee logged in, if any.
    employee: Option<usize>,
    shift_end: Millis,
    /// The time of the terminal's last event (login or payment).
    last_event: Millis,
    /// When the next basket may start.
    free_at: Millis,
}

pub struct StoreService {
    config: StoreConfig,
    tills: Vec<Till>,
    on_shift: Vec<bool>,
    /// Terminals and employees of each store.
    terminals_of: Vec<Vec<usize>>,
    employees_of: Vec<Vec<usize>>,
    curves: Vec<DiurnalCurve>,
    /// Each store's pick weight (its local multiplier while open, else 0) in the minute
    /// `weights_minute`; opening hours are whole minutes and the curve moves slowly.
    weights: Vec<f64>,
    open: Vec<bool>,
    weights_minute: Option<Millis>,
    /// The earliest shift end of a logged-in terminal: nobody is due to log out before it.
    next_shift_end: Millis,
    /// Each store's visits, by (planned exit, sequence), and the earliest exit among them.
    visits: Vec<BTreeMap<(Millis, u64), Visit>>,
    next_exit: Vec<Millis>,
    /// Each store's last visit settled at its exit (its cart checked against the shelf, what
    /// ran out put back then): visits up to it are queueing for a till.
    settled: Vec<(Millis, u64)>,
    /// Units in the carts of visitors queueing for a till: theirs already, so neither a later
    /// visitor nor shelf damage takes them.
    queued: FxHashMap<StockKey, i32>,
    visit_seq: u64,
    /// The next shelf event of each visit: (its time, the visit's sequence, exit and store).
    shelf: BTreeSet<(Millis, u64, Millis, usize)>,
    /// Where identified customers were last: one place at a time, at their own frequency.
    whereabouts: Whereabouts,
}

impl StoreService {
    pub fn new(config: StoreConfig, catalog: &Catalog) -> Self {
        let mut terminals_of = vec![Vec::new(); catalog.stores.len()];
        for (i, t) in catalog.terminals.iter().enumerate() {
            terminals_of[t.store].push(i);
        }
        let mut employees_of = vec![Vec::new(); catalog.stores.len()];
        for (i, e) in catalog.employees.iter().enumerate() {
            employees_of[e.store].push(i);
        }
        let curves: Vec<DiurnalCurve> = catalog
            .stores
            .iter()
            .map(|s| DiurnalCurve {
                tz: s.timezone,
                ..config.curve.clone()
            })
            .collect();
        Self {
            config,
            tills: vec![Till::default(); catalog.terminals.len()],
            on_shift: vec![false; catalog.employees.len()],
            terminals_of,
            employees_of,
            weights: vec![0.0; curves.len()],
            open: vec![false; curves.len()],
            curves,
            weights_minute: None,
            next_shift_end: Millis::MAX,
            visits: (0..catalog.stores.len()).map(|_| BTreeMap::new()).collect(),
            next_exit: vec![Millis::MAX; catalog.stores.len()],
            settled: vec![(Millis::MIN, 0); catalog.stores.len()],
            queued: FxHashMap::default(),
            visit_seq: 0,
            shelf: BTreeSet::new(),
            whereabouts: Whereabouts::default(),
        }
    }
}

/// A store stock change whose quantities are filled in when its effect is applied.
pub fn store_change(
    ctx: &mut Ctx<'_>,
    key: StockKey,
    kind: StoreChangeType,
    effect: Effect,
) -> Record {
    let (store_id, product_id) = ctx.world.catalog.location_ids(key);
    let (store_id, product_id) = (Text::from(store_id), Text::from(product_id));
    let mut record = Record::new(
        location_key(&store_id, &product_id),
        None,
        Event::StoreInventory(StoreInventoryChange {
            change_id: ctx.ids.next("sch"),
            store_id,
            product_id,
            change_type: kind,
            quantity_delta: 0,
            previous_qty: 0,
            new_qty: 0,
            reason: None,
            transaction_id: None,
            refund_id: None,
            warehouse_id: None,
            timestamp: 0,
        }),
    );
    record.effect = Some(effect);
    record
}

/// The record with its store change edited (reason, transaction, refund...).
pub fn with_change(mut record: Record, edit: impl FnOnce(&mut StoreInventoryChange)) -> Record {
    if let Event::StoreInventory(c) = &mut record.event {
        edit(c);
    }
    record
}

/// Units of each store stock key (what a visitor holds, or could not have).
type Cart = Vec<(StockKey, i32)>;

impl Service for StoreService {
    fn name(&self) -> &'static str {
        "store"
    }

    fn emit(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) -> Result<(), RepositoryError> {
        let now = ctx.now_ms;
        self.due(ctx, out)?;
        let Some(store) = self.pick_store(ctx) else {
            return Ok(());
        };
        if ctx.rng.random_bool(P_SHELF_CHANGE) {
            self.shelf_change(ctx, store, now, out);
            return Ok(());
        }
        let tills = &self.tills;
        let closed = self.terminals_of[store]
            .iter()
            .copied()
            .find(|&t| tills[t].employee.is_none() && tills[t].free_at <= now);
        match closed {
            Some(terminal) if self.employees_of[store].iter().any(|&e| !self.on_shift[e]) => {
                self.log_in(ctx, store, terminal, now, out);
            }
            _ => self.start_visit(ctx, store, now, out)?,
        }
        Ok(())
    }

    /// The next shelf event, exit or shift end.
    fn next_due(&self) -> Millis {
        let shelf = self.shelf.first().map_or(Millis::MAX, |s| s.0);
        let exit = self.next_exit.iter().copied().min().unwrap_or(Millis::MAX);
        shelf.min(exit).min(self.next_shift_end)
    }

    /// Shifts that end, shelf events and checkouts that are due.
    fn due(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) -> Result<(), RepositoryError> {
        let now = ctx.now_ms;
        self.refresh_minute(ctx, now);
        self.end_shifts(ctx, now, out);
        self.release_shelf(ctx, now, out);
        self.check_out_due(ctx, now, out)
    }

    fn warm_up(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) -> Result<(), RepositoryError> {
        let now = ctx.now_ms;
        self.warm_stores(ctx, now, out)
    }

    /// A clean stop logs every employee still on shift out: at the shift's end if it has
    /// passed, else now.
    fn close(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) {
        let now = ctx.now_ms;
        for terminal in 0..self.tills.len() {
            let at = self.tills[terminal].shift_end.min(now);
            self.log_out(ctx, terminal, at, out);
        }
        self.next_shift_end = Millis::MAX;
    }
}

impl StoreService {
    /// Units of `key` on the shelf: available, less what queueing visitors hold.
    fn on_shelf(&self, ctx: &Ctx<'_>, key: StockKey) -> i32 {
        let available = ctx.world.ledger.level(key).map_or(0, |l| l.available());
        (available - self.queued.get(&key).copied().unwrap_or(0)).max(0)
    }

    /// Adds `units` of `cart` (negative: removes them) to what queueing visitors hold.
    fn hold(&mut self, cart: &[(StockKey, i32)], units: i32) {
        for &(key, q) in cart {
            let held = self.queued.entry(key).or_default();
            *held += q * units;
            if *held <= 0 {
                self.queued.remove(&key);
            }
        }
    }

    /// Each store's open state and pick weight in the minute of `now` (opening hours are
    /// whole minutes; the curve moves slowly).
    fn refresh_minute(&mut self, ctx: &Ctx<'_>, now: Millis) {
        let minute = now.div_euclid(60_000);
        if self.weights_minute != Some(minute) {
            let start = minute * 60_000;
            let stores = &ctx.world.catalog.stores;
            let shard = ctx.world.catalog.shard;
            for (i, (s, c)) in stores.iter().zip(&self.curves).enumerate() {
                // Another shard's store is never open here: its terminals, visits and stock
                // have one writer.
                self.open[i] = shard.owns(i) && s.is_open(start);
                self.weights[i] = if self.open[i] { c.at(start) } else { 0.0 };
            }
            self.weights_minute = Some(minute);
        }
    }

    /// An open store, drawn by its local diurnal multiplier (as `refresh_minute` took it at
    /// the start of the minute).
    fn pick_store(&self, ctx: &mut Ctx<'_>) -> Option<usize> {
        let total: f64 = self.weights.iter().sum();
        if total <= 0.0 {
            return None;
        }
        let mut r = ctx.rng.random_range(0.0..total);
        for (i, w) in self.weights.iter().enumerate() {
            if r < *w {
                return Some(i);
            }
            r -= w;
        }
        self.weights.iter().rposition(|w| *w > 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::IdGen;
    use crate::services::testing::world;
    use crate::services::DetRng;
    use rand::SeedableRng;

    /// 2024-07-01T16:00:00Z: New York 12:00, London 17:00, Berlin 18:00 (the test world's stores),
    /// a minute's start.
    const AFTERNOON: Millis = 1_719_849_600_000;

    fn service(catalog: &Catalog) -> StoreService {
        let config = StoreConfig {
            lines_min: 2,
            lines_max: 4,
            p_identified: 0.5,
            refund_probability: 0.1,
            refund_delay_ms: (1, 2),
            visits_per_minute: 10.0,
            max_warm_visitors: 1_000,
            curve: DiurnalCurve {
                min: 0.2,
                max: 2.0,
                peak_hour: 19.0,
                tz: chrono_tz::UTC,
                weekdays: None,
            },
        };
        StoreService::new(config, catalog)
    }

    /// How often each store is picked at `now`, out of `n` picks.
    fn picks(now: Millis, n: usize) -> (Vec<f64>, StoreService, crate::services::World) {
        picks_of(crate::domain::reference::shard::Shard::WHOLE, now, n)
    }

    /// The same, for shard `shard` of the world.
    fn picks_of(
        shard: crate::domain::reference::shard::Shard,
        now: Millis,
        n: usize,
    ) -> (Vec<f64>, StoreService, crate::services::World) {
        let mut w = world(0.0);
        w.catalog = w.catalog.clone().sharded(shard);
        let mut service = service(&w.catalog);
        let (mut rng, mut ids) = (DetRng::seed_from_u64(4), IdGen::new(4));
        let mut ctx = Ctx {
            rng: &mut rng,
            ids: &mut ids,
            world: &mut w,
            now_ms: now,
        };
        let mut counts = vec![0.0; service.curves.len()];
        for _ in 0..n {
            service.refresh_minute(&ctx, now);
            if let Some(s) = service.pick_store(&mut ctx) {
                counts[s] += 1.0 / n as f64;
            }
        }
        (counts, service, w)
    }

    #[test]
    fn open_stores_are_picked_by_their_local_diurnal_multiplier() {
        let (shares, service, w) = picks(AFTERNOON, 40_000);
        let stores = &w.catalog.stores;
        assert!(stores.iter().all(|s| s.is_open(AFTERNOON)), "all open then");
        let local: Vec<f64> = service.curves.iter().map(|c| c.at(AFTERNOON)).collect();
        let total: f64 = local.iter().sum();
        for (i, share) in shares.iter().enumerate() {
            let expected = local[i] / total;
            assert!(
                (share - expected).abs() < 0.015,
                "{}: picked {share:.3}, its local multiplier's share is {expected:.3}",
                stores[i].store_id
            );
        }
        // The same hour of the day weighs differently in different zones.
        assert!(
            local[2] > local[0] * 1.2,
            "Berlin nearer its peak than New York"
        );
    }

    #[test]
    fn a_shard_trades_only_in_its_own_stores() {
        use crate::domain::reference::shard::Shard;
        for index in 0..2 {
            let (shares, _, w) = picks_of(Shard { index, count: 2 }, AFTERNOON, 2_000);
            for (s, share) in shares.iter().enumerate() {
                let owned = s % 2 == index as usize;
                assert_eq!(*share > 0.0, owned, "{}", w.catalog.stores[s].store_id);
            }
        }
    }

    #[test]
    fn a_closed_store_is_never_picked() {
        // 06:00Z: 02:00 in New York (closed), 07:00 in London, 08:00 in Berlin.
        let early = AFTERNOON - 10 * 3_600_000;
        let (shares, _, w) = picks(early, 2_000);
        for (s, share) in w.catalog.stores.iter().zip(&shares) {
            assert_eq!(*share > 0.0, s.is_open(early), "{}", s.store_id);
        }
    }
}
