//! The store world: terminal shifts (login, baskets one after another, logout at the shift's
//! end); visits (a foot-traffic session, shelf events at their times, a checkout at a terminal
//! after the exit: the basket's POS events, transaction and SALE changes as one group); refunds
//! of earlier transactions; shelf damage and stock-takes. Stores trade only while open in their
//! own time zone, and their traffic follows the diurnal curve in local time.

use compact_str::format_compact;
use std::collections::{BTreeMap, BTreeSet};

use rand::Rng;

use super::{weighted, Ctx, Emission, Service};
use crate::domain::events::{
    Event, Millis, PosEvent, PosTransaction, Refund, StoreInventoryChange,
};
use crate::domain::ports::RepositoryError;
use crate::domain::record::{Effect, Record};
use crate::domain::reference::catalog::{cents_to_usd, Catalog};
use crate::domain::stock::{location_key, StockKey};
use crate::domain::store::customers::{Whereabouts, P_TRAVELLER};
use crate::domain::store::events::{
    PosEventType, PosLineItem, RefundReason, StoreChangeType, TenderType,
};
use crate::domain::store::visits::{self, FootTraffic, ShelfEvent, ShelfEventType};
use crate::domain::store::{line_total_cents, tax_cents};
use crate::domain::traffic::DiurnalCurve;
use crate::domain::Text;

const QUANTITIES: [(i32, u32); 3] = [(1, 60), (2, 30), (3, 10)];
const TENDERS: [(TenderType, u32); 4] = [
    (TenderType::CreditCard, 45),
    (TenderType::DebitCard, 30),
    (TenderType::Cash, 15),
    (TenderType::MobilePayment, 10),
];
const REASONS: [RefundReason; 5] = [
    RefundReason::Defective,
    RefundReason::WrongItem,
    RefundReason::NotAsDescribed,
    RefundReason::ChangedMind,
    RefundReason::DamagedShipping,
];
/// Share of store steps that are a shelf event (damage, stock-take) instead of a basket.
const P_SHELF_CHANGE: f64 = 0.03;
/// A trading day longer than this is worked in two shifts.
const SINGLE_SHIFT_MS: Millis = 9 * 3_600_000;
/// No visit starts in a store's last 15 minutes; every visit ends 5 minutes before closing.
const LAST_ENTRY_MS: Millis = 15 * 60_000;
/// Chance per item of a cart that one more unit is picked up and put back later (reference 001).
const P_PUTBACK: f64 = 0.15;
/// Visits checked out per step at most (the rest wait for the next step).
const CHECKOUTS_PER_STEP: usize = 8;
/// Shelf events released per step at most.
const SHELF_EVENTS_PER_STEP: usize = 32;
/// A basket's POS events (published together at its payment) span at most this: no record
/// is published more than 2 minutes of event time behind the stream.
const MAX_BASKET_SPAN_MS: Millis = 100_000;
/// Visitors a store holds at once (bounds memory in unthrottled real-time runs); at capacity
/// nobody else enters until someone leaves.
const MAX_VISITORS_PER_STORE: usize = 1_000;

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

/// A POS event record of a terminal at a fixed time.
fn pos(ctx: &mut Ctx<'_>, terminal: usize, kind: PosEventType, at: Millis) -> Record {
    let t = &ctx.world.catalog.terminals[terminal];
    let store_id = &ctx.world.catalog.stores[t.store].store_id;
    let event = PosEvent::at(ctx.ids.next("pev"), kind, store_id, &t.terminal_id);
    let mut record = Record::new(t.terminal_id.as_str().into(), None, Event::Pos(event));
    record.at = Some(at);
    record
}

fn with_pos(mut record: Record, edit: impl FnOnce(&mut PosEvent)) -> Record {
    if let Event::Pos(e) = &mut record.event {
        edit(e);
    }
    record
}

/// Units of each store stock key (what a visitor holds, or could not have).
type Cart = Vec<(StockKey, i32)>;

/// A visit between its entry and its checkout.
struct Visit {
    store: usize,
    /// The identified customer (a user), if any.
    customer: Option<Text>,
    /// The foot-traffic `customer_id`: the user, or an anonymous visitor id.
    visitor: Text,
    visit_id: Text,
    entry: Millis,
    /// What the shelf events put in the cart.
    cart: Cart,
    /// Its shelf events, in time order, and how many went out.
    actions: Vec<visits::ShelfAction>,
    next: usize,
}

/// Visits cut short by closing end over its last 20 minutes, not all at once.
const CLOSING_SPREAD_MS: Millis = 20 * 60_000;

/// The exit of a visit from `entry` lasting `trip` ms; one that would end after `last_exit`
/// leaves at a random time in the closing spread before it (at least a minute after entering).
fn exit_before(ctx: &mut Ctx<'_>, entry: Millis, trip: Millis, last_exit: Millis) -> Millis {
    let planned = entry + trip;
    if planned <= last_exit {
        return planned;
    }
    let earliest = (last_exit - CLOSING_SPREAD_MS)
        .max(entry + 60_000)
        .min(last_exit);
    ctx.rng.random_range(earliest..=last_exit)
}

/// Who pays a basket, after which visit.
struct Buyer {
    customer: Option<Text>,
    visit_id: Text,
}

/// A shelf event of a visit: `quantity` of `product` picked up or put back at `at`.
fn shelf_event(ctx: &mut Ctx<'_>, visit: &Visit, action: visits::ShelfAction) -> Record {
    let kind = match action.pickup {
        true => ShelfEventType::Pickup,
        false => ShelfEventType::Putback,
    };
    let mut record = Record::new(
        visit.visitor.clone(),
        None,
        Event::Shelf(ShelfEvent {
            event_type: kind,
            customer_id: visit.visitor.clone(),
            item_id: Text::from(
                ctx.world.catalog.products[action.product as usize]
                    .product_id
                    .as_str(),
            ),
            weight: f64::from(action.quantity) * visits::unit_grams(action.product),
            quantity: action.quantity,
            timestamp: action.at,
            store_id: Text::from(ctx.world.catalog.stores[visit.store].store_id.as_str()),
            visit_id: visit.visit_id.clone(),
            event_id: ctx.ids.next("shv"),
        }),
    );
    record.at = Some(action.at);
    record
}

/// Putbacks, just before the exit, of what a visitor's cart holds but will not buy.
fn put_back(
    ctx: &mut Ctx<'_>,
    visit: &Visit,
    left: &[(StockKey, i32)],
    exit: Millis,
) -> Vec<Record> {
    let at = (exit - 1).max(visit.entry);
    left.iter()
        .filter(|(_, q)| *q > 0)
        .map(|&(key, quantity)| {
            let action = visits::ShelfAction {
                at,
                product: key.product,
                quantity,
                pickup: false,
            };
            shelf_event(ctx, visit, action)
        })
        .collect()
}

/// One basket line as decided.
struct Line {
    key: StockKey,
    quantity: i32,
    unit_cents: i64,
    discount_pct: i64,
    total_cents: i64,
}

impl Service for StoreService {
    fn name(&self) -> &'static str {
        "store"
    }

    fn emit(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) -> Result<(), RepositoryError> {
        let now = ctx.now_ms;
        self.refresh_minute(ctx, now);
        self.end_shifts(ctx, now, out);
        self.release_shelf(ctx, now, out);
        self.check_out_due(ctx, now, out)?;
        let Some(store) = self.pick_store(ctx) else {
            return Ok(());
        };
        if ctx.rng.random_bool(P_SHELF_CHANGE) {
            Self::shelf_change(ctx, store, now, out);
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
    /// Logs out every employee whose shift is over, at the shift's end.
    fn end_shifts(&mut self, ctx: &mut Ctx<'_>, now: Millis, out: &mut Emission) {
        if now < self.next_shift_end {
            return;
        }
        for terminal in 0..self.tills.len() {
            let till = self.tills[terminal];
            if till.employee.is_some() && till.shift_end <= now {
                self.log_out(ctx, terminal, till.shift_end, out);
            }
        }
        self.next_shift_end = self
            .tills
            .iter()
            .filter(|t| t.employee.is_some())
            .map(|t| t.shift_end)
            .min()
            .unwrap_or(Millis::MAX);
    }

    /// The terminal's employee logs out at `at` (after the terminal's last event).
    fn log_out(&mut self, ctx: &mut Ctx<'_>, terminal: usize, at: Millis, out: &mut Emission) {
        let till = self.tills[terminal];
        let Some(employee) = till.employee else {
            return;
        };
        let at = at.max(till.last_event + 1);
        let employee_id = Text::from(ctx.world.catalog.employees[employee].employee_id.as_str());
        let record = pos(ctx, terminal, PosEventType::EmployeeLogout, at);
        out.group_now(vec![with_pos(record, |e| {
            e.employee_id = Some(employee_id)
        })]);
        self.on_shift[employee] = false;
        self.tills[terminal] = Till {
            employee: None,
            last_event: at,
            free_at: at,
            shift_end: at,
        };
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

    /// An employee not on shift logs in; the shift ends at closing, or at mid-day on a long day.
    fn log_in(
        &mut self,
        ctx: &mut Ctx<'_>,
        store: usize,
        terminal: usize,
        now: Millis,
        out: &mut Emission,
    ) {
        let idle: Vec<usize> = self.employees_of[store]
            .iter()
            .copied()
            .filter(|&e| !self.on_shift[e])
            .collect();
        let Some((open, close)) = ctx.world.catalog.stores[store].trading_day(now) else {
            return;
        };
        if idle.is_empty() {
            return;
        }
        let employee = idle[ctx.rng.random_range(0..idle.len())];
        let mid = open + (close - open) / 2;
        let shift_end = if close - open > SINGLE_SHIFT_MS && now < mid {
            mid
        } else {
            close
        };
        let employee_id = Text::from(ctx.world.catalog.employees[employee].employee_id.as_str());
        let record = pos(ctx, terminal, PosEventType::EmployeeLogin, now);
        out.group_now(vec![with_pos(record, |e| {
            e.employee_id = Some(employee_id)
        })]);
        self.on_shift[employee] = true;
        self.next_shift_end = self.next_shift_end.min(shift_end);
        self.tills[terminal] = Till {
            employee: Some(employee),
            shift_end,
            last_event: now,
            free_at: now + ctx.rng.random_range(30_000..=120_000),
        };
    }

    /// What a visitor comes to buy: lines from what the store has on hand (out-of-stock
    /// products are skipped, and a line never takes more than is available).
    fn wanted(&self, ctx: &mut Ctx<'_>, store: usize) -> Cart {
        let wanted = ctx
            .rng
            .random_range(self.config.lines_min..=self.config.lines_max);
        let location = ctx.world.catalog.store_location(store);
        let stocked = ctx.world.catalog.store_products[store].len();
        let mut cart: Cart = Vec::with_capacity(wanted);
        if stocked == 0 {
            return cart;
        }
        for _ in 0..wanted {
            let p = ctx.world.catalog.store_products[store][ctx.rng.random_range(0..stocked)];
            let key = StockKey {
                location,
                product: p,
            };
            let drawn = weighted(ctx.rng, &QUANTITIES);
            if cart.iter().any(|(k, _)| *k == key) {
                continue;
            }
            let available = ctx.world.ledger.level(key).map_or(0, |l| l.available());
            let quantity = drawn.min(available);
            if quantity > 0 {
                cart.push((key, quantity));
            }
        }
        cart
    }

    /// The cart's lines at the price in effect at `now` times (1 - the week's discount), each
    /// taking at most what is on hand; and what could not be had.
    fn priced(
        ctx: &mut Ctx<'_>,
        cart: &[(StockKey, i32)],
        now: Millis,
    ) -> Result<(Vec<Line>, Cart), RepositoryError> {
        let mut lines = Vec::with_capacity(cart.len());
        let mut short = Vec::new();
        for &(key, wanted) in cart {
            let available = ctx.world.ledger.level(key).map_or(0, |l| l.available());
            let quantity = wanted.min(available).max(0);
            if quantity < wanted {
                short.push((key, wanted - quantity));
            }
            if quantity == 0 {
                continue;
            }
            let unit_cents = ctx.world.catalog.products[key.product as usize].price_cents;
            let discount_pct = ctx.world.discount_pct(key, now)?;
            lines.push(Line {
                key,
                quantity,
                unit_cents,
                discount_pct,
                total_cents: line_total_cents(quantity, unit_cents, discount_pct),
            });
        }
        Ok((lines, short))
    }

    /// A visitor enters an open store (not in its last 15 minutes): the foot-traffic session
    /// now with its planned exit, the shelf events that fill the cart at their times, and a
    /// checkout due at the exit.
    fn start_visit(
        &mut self,
        ctx: &mut Ctx<'_>,
        store: usize,
        now: Millis,
        out: &mut Emission,
    ) -> Result<(), RepositoryError> {
        if self.visits[store].len() >= MAX_VISITORS_PER_STORE {
            return Ok(());
        }
        let Some((_, close)) = ctx.world.catalog.stores[store].trading_day(now) else {
            return Ok(());
        };
        let last_exit = close - LAST_ENTRY_MS / 3;
        if now + LAST_ENTRY_MS > close {
            return Ok(());
        }
        let trip = i64::from(visits::trip_minutes(ctx.rng)) * 60_000;
        let exit = exit_before(ctx, now, trip, last_exit);
        if let Some(session) = self.enter(ctx, store, (now, exit), 1.0)? {
            out.now(session);
        }
        Ok(())
    }

    /// A visitor in `store` from `span.0` to `span.1`: what they come to buy (`kept` of the lines, at least one: a warm start's visitor has done part of their
    /// shopping), who they are, and their shelf events. The foot-traffic session to publish,
    /// unless nothing they want is on the shelf.
    fn enter(
        &mut self,
        ctx: &mut Ctx<'_>,
        store: usize,
        (entry, exit): (Millis, Millis),
        kept: f64,
    ) -> Result<Option<Record>, RepositoryError> {
        let mut cart = self.wanted(ctx, store);
        if cart.is_empty() {
            return Ok(None);
        }
        cart.truncate(((cart.len() as f64 * kept).ceil() as usize).max(1));
        let customer = match ctx.rng.random_bool(self.config.p_identified) {
            true => self.identified(ctx, store, entry, exit),
            false => None,
        };
        let visitor = customer.clone().unwrap_or_else(|| ctx.ids.next("anon"));
        let visit_id = ctx.ids.next("vst");
        let store_id = Text::from(ctx.world.catalog.stores[store].store_id.as_str());
        let mut session = Record::new(
            visitor.clone(),
            None,
            Event::Foot(FootTraffic {
                event_type: "foot_traffic",
                customer_id: visitor.clone(),
                entry_time: entry,
                exit_time: exit,
                trip_duration_minutes: ((exit - entry) / 60_000) as i32,
                weekday: visits::weekday(entry),
                time_slot: visits::time_slot(entry),
                store_id: store_id.clone(),
                visit_id: visit_id.clone(),
            }),
        );
        session.at = Some(entry);
        let units: Vec<(u32, i32)> = cart.iter().map(|(k, q)| (k.product, *q)).collect();
        let actions = visits::plan_shelf(ctx.rng, entry, exit, &units, P_PUTBACK);
        let seq = self.visit_seq;
        self.visit_seq += 1;
        if let Some(first) = actions.first() {
            self.shelf.insert((first.at, seq, exit, store));
        }
        self.next_exit[store] = self.next_exit[store].min(exit);
        let visit = Visit {
            store,
            customer,
            visitor,
            visit_id,
            entry,
            cart,
            actions,
            next: 0,
        };
        self.visits[store].insert((exit, seq), visit);
        Ok(Some(session))
    }

    /// The world as if it had been running: every open store's terminals staffed and free,
    /// and the visitors it would hold at this hour inside, each somewhere in their trip. They
    /// enter the record now (a run never adds to the time before it began, which an earlier
    /// run may have published): their sessions are the run's backlog, the rest of their trip
    /// and shopping goes on as usual.
    fn warm_stores(
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

    /// The identified customer of a visit to `store` from `entry` to `exit`, if one may come:
    /// usually a local drawn by visit frequency, sometimes a traveller from another of this
    /// instance's cities; never one who is elsewhere, still travelling or back sooner than their
    /// habit. Three tries, else the visitor stays anonymous. (Customers sign up online: see
    /// [`crate::services::World::customer`]; a sign-up shops in stores once they are locals.)
    fn identified(
        &mut self,
        ctx: &mut Ctx<'_>,
        store: usize,
        entry: Millis,
        exit: Millis,
    ) -> Option<Text> {
        let chosen = (0..3).find_map(|_| {
            let u = match ctx.rng.random_bool(P_TRAVELLER) {
                true => self.traveller(ctx, store)?,
                false => ctx.world.locals.pick(ctx.rng, store)?,
            };
            let id = ctx.world.catalog.users.user_id(u);
            let stores = &ctx.world.catalog.stores;
            self.whereabouts
                .may_visit(u, &id, stores, store, entry)
                .then_some(u)
        });
        chosen.map(|u| {
            self.whereabouts.visit(u, store, entry, exit);
            ctx.world.catalog.users.user_id(u)
        })
    }

    /// A local of another store this instance trades in (a shard keeps each customer's
    /// whereabouts to itself), drawn by visit frequency.
    fn traveller(&self, ctx: &mut Ctx<'_>, store: usize) -> Option<usize> {
        let shard = ctx.world.catalog.shard;
        let homes: Vec<usize> = (0..self.visits.len())
            .filter(|&s| s != store && shard.owns(s) && ctx.world.locals.count(s) > 0)
            .collect();
        let home = *homes.get(ctx.rng.random_range(0..homes.len().max(1)))?;
        ctx.world.locals.pick(ctx.rng, home)
    }

    /// The shelf events of visits that are due by `now` (a bounded number per step), each at
    /// its own time; a visit's next one is due after it.
    fn release_shelf(&mut self, ctx: &mut Ctx<'_>, now: Millis, out: &mut Emission) {
        for _ in 0..SHELF_EVENTS_PER_STEP {
            let Some(&(at, seq, exit, store)) = self.shelf.first() else {
                break;
            };
            if at > now {
                break;
            }
            self.shelf.pop_first();
            let Some(visit) = self.visits[store].get_mut(&(exit, seq)) else {
                continue;
            };
            let action = visit.actions[visit.next];
            visit.next += 1;
            if let Some(next) = visit.actions.get(visit.next) {
                self.shelf.insert((next.at, seq, exit, store));
            }
            out.group_now(vec![shelf_event(ctx, visit, action)]);
        }
    }

    /// Visits past their exit check out at a free terminal of their store, each store's in exit
    /// order (a few per step); one whose store has closed without serving it leaves its goods
    /// behind.
    fn check_out_due(
        &mut self,
        ctx: &mut Ctx<'_>,
        now: Millis,
        out: &mut Emission,
    ) -> Result<(), RepositoryError> {
        for store in 0..self.visits.len() {
            if self.next_exit[store] > now {
                continue;
            }
            for _ in 0..CHECKOUTS_PER_STEP {
                let Some((key, visit)) = self.visits[store].first_key_value() else {
                    break;
                };
                // In exit order; the earliest waits for its last shelf events to go out.
                if key.0 > now || visit.next < visit.actions.len() {
                    break;
                }
                let tills = &self.tills;
                let terminal = self.terminals_of[store]
                    .iter()
                    .copied()
                    .find(|&t| tills[t].employee.is_some() && tills[t].free_at <= now);
                if terminal.is_none() && self.open[store] {
                    break;
                }
                let Some(((exit, _), visit)) = self.visits[store].pop_first() else {
                    break;
                };
                self.next_exit[store] = self.visits[store]
                    .first_key_value()
                    .map_or(Millis::MAX, |(k, _)| k.0);
                match terminal {
                    Some(t) => self.check_out(ctx, t, visit, exit, now, out)?,
                    None => {
                        // Closed with nobody to serve it: everything goes back on the shelf.
                        out.group_now(put_back(ctx, &visit, &visit.cart, exit));
                    }
                }
            }
        }
        Ok(())
    }

    /// A visit's checkout at `terminal`: its cart priced now, what is no longer on hand put
    /// back on the shelf just before the exit (so the shelf events still net to the basket).
    fn check_out(
        &mut self,
        ctx: &mut Ctx<'_>,
        terminal: usize,
        visit: Visit,
        exit: Millis,
        now: Millis,
        out: &mut Emission,
    ) -> Result<(), RepositoryError> {
        let (lines, short) = Self::priced(ctx, &visit.cart, now)?;
        let mut group = put_back(ctx, &visit, &short, exit);
        if lines.is_empty() {
            if !group.is_empty() {
                out.group_now(group);
            }
            return Ok(());
        }
        let Some(employee) = self.tills[terminal].employee else {
            return Ok(());
        };
        let buyer = Buyer {
            customer: visit.customer,
            visit_id: visit.visit_id,
        };
        self.basket(
            ctx,
            visit.store,
            terminal,
            employee,
            now,
            lines,
            buyer,
            &mut group,
        )?;
        out.group_now(group);
        if ctx.rng.random_bool(self.config.refund_probability) {
            self.refund(ctx, visit.store, now, out);
        }
        Ok(())
    }

    /// One basket at a terminal, ending with its payment now: its POS events (scans seconds
    /// apart), its transaction and its SALE changes, added to `group`.
    #[allow(clippy::too_many_arguments)]
    fn basket(
        &mut self,
        ctx: &mut Ctx<'_>,
        store: usize,
        terminal: usize,
        employee: usize,
        now: Millis,
        lines: Vec<Line>,
        buyer: Buyer,
        group: &mut Vec<Record>,
    ) -> Result<(), RepositoryError> {
        let Buyer { customer, visit_id } = buyer;
        // Gaps before each event after basket_started, then scaled to fit since the last event.
        let mut gaps: Vec<Millis> = Vec::with_capacity(lines.len() + 4);
        if customer.is_some() {
            gaps.push(ctx.rng.random_range(5_000..=20_000));
        }
        gaps.extend((0..lines.len()).map(|_| ctx.rng.random_range(3_000..=15_000)));
        gaps.push(ctx.rng.random_range(2_000..=5_000));
        gaps.push(ctx.rng.random_range(10_000..=40_000));
        let total: Millis = gaps.iter().sum();
        // A basket spans at most MAX_BASKET_SPAN_MS, its POS events published at its payment.
        let room = (now - self.tills[terminal].last_event - 1).min(MAX_BASKET_SPAN_MS);
        if room < total {
            gaps.iter_mut().for_each(|g| *g = *g * room / total);
        }
        let start = now - gaps.iter().sum::<Millis>();
        let mut times = gaps.iter().scan(start, |t, g| {
            *t += g;
            Some(*t)
        });

        let subtotal: i64 = lines.iter().map(|l| l.total_cents).sum();
        let rate = ctx.world.catalog.stores[store].tax_rate_bp;
        let tax = tax_cents(subtotal, rate);
        let tender = weighted(ctx.rng, &TENDERS);
        let basket_id = ctx.ids.next("bsk");
        let employee_id = Text::from(ctx.world.catalog.employees[employee].employee_id.as_str());
        group.reserve(lines.len() * 2 + 5);

        let r = pos(ctx, terminal, PosEventType::BasketStarted, start);
        group.push(with_pos(r, |e| {
            e.basket_id = Some(basket_id.clone());
            e.employee_id = Some(employee_id.clone());
        }));
        if let Some(c) = &customer {
            let at = times.next().unwrap_or(now);
            let r = pos(ctx, terminal, PosEventType::CustomerIdentified, at);
            group.push(with_pos(r, |e| {
                e.basket_id = Some(basket_id.clone());
                e.customer_id = Some(c.clone());
            }));
        }
        let mut items = Vec::with_capacity(lines.len());
        for l in &lines {
            let at = times.next().unwrap_or(now);
            let item = PosLineItem {
                item_id: Text::from(
                    ctx.world.catalog.products[l.key.product as usize]
                        .product_id
                        .as_str(),
                ),
                quantity: l.quantity,
                unit_price: cents_to_usd(l.unit_cents),
                discount: l.discount_pct as f64 / 100.0,
                total_price: cents_to_usd(l.total_cents),
            };
            let r = pos(ctx, terminal, PosEventType::ItemAdded, at);
            group.push(with_pos(r, |e| {
                e.basket_id = Some(basket_id.clone());
                e.item_id = Some(item.item_id.clone());
                e.quantity = Some(item.quantity);
                e.price = Some(item.unit_price);
                e.discount = Some(item.discount);
                e.line_total = Some(item.total_price);
            }));
            items.push(item);
        }
        let at = times.next().unwrap_or(now);
        let r = pos(ctx, terminal, PosEventType::SubtotalCalculated, at);
        group.push(with_pos(r, |e| {
            e.basket_id = Some(basket_id.clone());
            e.subtotal = Some(cents_to_usd(subtotal));
            e.tax = Some(cents_to_usd(tax));
        }));
        let r = pos(ctx, terminal, PosEventType::PaymentCompleted, now);
        group.push(with_pos(r, |e| {
            e.basket_id = Some(basket_id.clone());
            e.amount = Some(cents_to_usd(subtotal + tax));
            e.payment_method = Some(tender);
        }));

        let transaction_id = ctx.ids.next("txn");
        let t = &ctx.world.catalog.terminals[terminal];
        let mut transaction = Record::new(
            transaction_id.clone(),
            None,
            Event::Transaction(PosTransaction {
                event_type: "pos_transaction",
                transaction_id: transaction_id.clone(),
                customer_id: customer,
                timestamp: now,
                items,
                store_id: Text::from(ctx.world.catalog.stores[store].store_id.as_str()),
                terminal_id: Text::from(t.terminal_id.as_str()),
                employee_id,
                basket_id,
                subtotal: cents_to_usd(subtotal),
                tax: cents_to_usd(tax),
                amount: cents_to_usd(subtotal + tax),
                payment_method: tender,
                visit_id: Some(visit_id),
            }),
        );
        transaction.at = Some(now);
        transaction.effect = Some(Effect::Sale {
            store: store as u32,
        });
        group.push(transaction);
        for l in &lines {
            let effect = Effect::Stock {
                key: l.key,
                requested: -l.quantity,
            };
            let sale = store_change(ctx, l.key, StoreChangeType::Sale, effect);
            let mut sale = with_change(sale, |c| c.transaction_id = Some(transaction_id.clone()));
            sale.at = Some(now);
            group.push(sale);
        }
        self.tills[terminal].last_event = now;
        // With visitors waiting, the next is served at once; else the till idles a while.
        let pause = match self.next_exit[store] <= now {
            true => ctx.rng.random_range(2_000..=10_000),
            false => ctx.rng.random_range(5_000..=60_000),
        };
        self.tills[terminal].free_at = now + pause;
        Ok(())
    }

    /// A refund now, at an open store, of part of one line of one of its transactions paid
    /// between `REFUND_DELAY_MIN` and `REFUND_DELAY_MAX` ago, for at most what is left of that
    /// line; restockable goods go back to its stock.
    fn refund(&self, ctx: &mut Ctx<'_>, store: usize, now: Millis, out: &mut Emission) {
        let (lo, hi) = self.config.refund_delay_ms;
        let Some(r) = ctx.world.refunds.take(ctx.rng, store, now - hi, now - lo) else {
            return;
        };
        let key = StockKey {
            location: ctx.world.catalog.store_location(store),
            product: r.product,
        };
        let reason = REASONS[ctx.rng.random_range(0..REASONS.len())];
        let refund_id = ctx.ids.next("rfd");
        let mut refund = Record::new(
            r.transaction_id.clone(),
            None,
            Event::Refund(Refund {
                refund_id: refund_id.clone(),
                original_transaction_id: r.transaction_id,
                product_id: Text::from(
                    ctx.world.catalog.products[r.product as usize]
                        .product_id
                        .as_str(),
                ),
                store_id: Text::from(ctx.world.catalog.stores[store].store_id.as_str()),
                customer_id: r.customer_id,
                refund_amount: cents_to_usd(r.cents),
                reason,
                timestamp: now,
                quantity: r.units,
            }),
        );
        refund.at = Some(now);
        refund.effect = Some(Effect::Refund);
        let mut group = vec![refund];
        if reason.restockable() {
            let effect = Effect::Stock {
                key,
                requested: r.units,
            };
            let back = store_change(ctx, key, StoreChangeType::Return, effect);
            let mut back = with_change(back, |c| {
                c.refund_id = Some(refund_id);
                c.reason = Some(format_compact!("{} refund", reason.as_str()));
            });
            back.at = Some(now);
            group.push(back);
        }
        out.group_now(group);
    }
}

impl StoreService {
    /// Shelf damage or a stock-take at an open store.
    fn shelf_change(ctx: &mut Ctx<'_>, store: usize, now: Millis, out: &mut Emission) {
        let products = &ctx.world.catalog.store_products[store];
        if products.is_empty() {
            return;
        }
        let key = StockKey {
            location: ctx.world.catalog.store_location(store),
            product: products[ctx.rng.random_range(0..products.len())],
        };
        let (kind, requested, reason) = if ctx.rng.random_bool(0.6) {
            (
                StoreChangeType::Damage,
                -ctx.rng.random_range(1..=3),
                "damaged on the shelf",
            )
        } else {
            (
                StoreChangeType::Adjustment,
                ctx.rng.random_range(-3..=3),
                "stock-take",
            )
        };
        let record = store_change(ctx, key, kind, Effect::Stock { key, requested });
        let mut record = with_change(record, |c| c.reason = Some(reason.into()));
        record.at = Some(now);
        out.now(record);
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
