//! What services act on: the catalog, the reference store and the stock ledger, and the rule
//! that a record's effect on them is applied when the record is published (noting every crossing
//! of a reorder point it causes).

use std::collections::VecDeque;

use rand::Rng;
use rustc_hash::FxHashMap;

use crate::domain::events::{Event, Millis};
use crate::domain::ports::{ReferenceStore, RepositoryError, SalesJournal, StockLedger};
use crate::domain::record::{Effect, Record};
use crate::domain::reference::catalog::{
    signup_id, usd_to_cents, Catalog, Reorder, User, COUNTRIES,
};
use crate::domain::reference::stores::{iso_week, week_span};
use crate::domain::reference::Segment;
use crate::domain::stock::alerts::crosses_below;
use crate::domain::stock::{Applied, StockKey};
use crate::domain::store::customers::{self, Locals};
use crate::domain::store::refunds::{PastLine, PastRefund, RefundBook, Sold, SoldLine};
use crate::domain::Text;

/// From a sign-up to the first event naming the customer: seconds to a minute and a half, well
/// past the group commit of their row (at most two batches, which the engine waits for).
pub const SIGN_UP_TO_FIRST_EVENT_MS: (Millis, Millis) = (15_000, 90_000);

/// Sales kept for returns to refer to.
const RECENT_SALES: usize = 1_000;
/// Store transactions kept for refunds to draw on, over all stores (bounds memory; a store
/// keeps at least [`MIN_REFUNDABLE_PER_STORE`]).
const REFUNDABLE_TRANSACTIONS: usize = 40_000;
const MIN_REFUNDABLE_PER_STORE: usize = 100;

/// How many transactions each of `stores` stores keeps refundable.
fn refundable_per_store(stores: usize) -> usize {
    (REFUNDABLE_TRANSACTIONS / stores.max(1)).max(MIN_REFUNDABLE_PER_STORE)
}

/// An order's stock movement, remembered so a later return can name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sale {
    pub order_id: Text,
    pub key: StockKey,
    /// Units sold and not yet returned.
    pub quantity: i32,
}

/// A change took a location's stock below its reorder point: an alert and a replenishment follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crossing {
    pub key: StockKey,
    pub applied: Applied,
    pub reorder: Reorder,
}

pub struct World {
    pub catalog: Catalog,
    pub store: Box<dyn ReferenceStore>,
    pub ledger: Box<dyn StockLedger>,
    pub journal: Box<dyn SalesJournal>,
    /// The stores' recent transactions, with what is left to refund of each line.
    pub refunds: RefundBook,
    /// Chance that an order or interaction comes from a new customer (a sign-up).
    pub p_signup: f64,
    /// Each store's locals (the customers who live in its city), sign-ups included.
    pub locals: Locals,
    /// The countries users live in, by store (see [`customers::home_countries`]).
    homes: Vec<&'static str>,
    /// Sign-ups whose rows are written but who have not shopped yet: (when they may, index).
    fresh: VecDeque<(Millis, usize)>,
    sales: VecDeque<Sale>,
    /// What the last stock effect moved, for a transfer's inbound leg.
    last_moved: i32,
    /// Crossings of reorder points since the engine last took them.
    crossings: Vec<Crossing>,
    /// The UTC span [start, end) of the ISO week the discounts are of, and the discounts (whole
    /// percent) by store stock key.
    week_span: (Millis, Millis),
    discounts: FxHashMap<StockKey, i64>,
    /// Catalog index of each product id.
    product_at: FxHashMap<String, u32>,
}

impl World {
    pub fn new(
        catalog: Catalog,
        store: Box<dyn ReferenceStore>,
        ledger: Box<dyn StockLedger>,
        journal: Box<dyn SalesJournal>,
        p_signup: f64,
    ) -> Self {
        let stores = catalog.stores.len();
        let mut locals = Locals::new(stores);
        for u in 0..catalog.users.len() {
            let id = catalog.users.user_id(u);
            let home = customers::home_store(&id, catalog.users.country(u), &catalog.stores);
            if let Some(s) = home {
                locals.add(s, u, &id);
            }
        }
        let homes = customers::home_countries(&catalog.stores);
        Self {
            locals,
            homes,
            fresh: VecDeque::new(),
            product_at: catalog
                .products
                .iter()
                .enumerate()
                .map(|(i, p)| (p.product_id.clone(), i as u32))
                .collect(),
            catalog,
            store,
            ledger,
            journal,
            refunds: RefundBook::new(stores, refundable_per_store(stores)),
            p_signup,
            sales: VecDeque::with_capacity(RECENT_SALES),
            last_moved: 0,
            crossings: Vec::new(),
            week_span: (0, 0),
            discounts: FxHashMap::default(),
        }
    }

    /// The refundable transactions read back at start-up (from the tables or the topics); only
    /// this shard's stores refund.
    pub fn restore_refunds(&mut self, lines: Vec<PastLine>, refunds: &[PastRefund]) {
        let shard = self.catalog.shard;
        let stores: FxHashMap<&str, usize> = (0..self.catalog.stores.len())
            .filter(|&s| shard.owns(s))
            .map(|s| (self.catalog.stores[s].store_id.as_str(), s))
            .collect();
        let n = self.catalog.stores.len();
        self.refunds = RefundBook::rebuild(
            n,
            refundable_per_store(n),
            lines,
            refunds,
            |s| stores.get(s).copied(),
            |p| self.product_at.get(p).copied(),
        );
    }

    /// The catalog index of a product id.
    pub fn product_index(&self, product_id: &str) -> Option<u32> {
        self.product_at.get(product_id).copied()
    }

    /// The crossings of reorder points the last settled records caused.
    pub fn take_crossings(&mut self) -> Vec<Crossing> {
        std::mem::take(&mut self.crossings)
    }

    /// The discount (whole percent) of a store stock key at `t`; a new ISO week's discounts are
    /// read from the reference store when it begins (a week's rows can change between weeks).
    pub fn discount_pct(&mut self, key: StockKey, t: Millis) -> Result<i64, RepositoryError> {
        if !(self.week_span.0..self.week_span.1).contains(&t) {
            // A span is exactly one ISO week: leaving it means another week.
            self.load_discounts(&iso_week(t))?;
            self.week_span = week_span(t);
        }
        Ok(self.discounts.get(&key).copied().unwrap_or(0))
    }

    /// The discounts of ISO week `week`, by store stock key.
    fn load_discounts(&mut self, week: &str) -> Result<(), RepositoryError> {
        let rows = self.store.discounts(week)?;
        let stores: FxHashMap<&str, u32> = (0..self.catalog.stores.len())
            .map(|s| {
                let id = self.catalog.stores[s].store_id.as_str();
                (id, self.catalog.store_location(s))
            })
            .collect();
        self.discounts = rows
            .iter()
            .filter_map(|(s, p, pct)| {
                let key = StockKey {
                    location: *stores.get(s.as_str())?,
                    product: *self.product_at.get(p.as_str())?,
                };
                Some((key, (*pct).clamp(0, 95)))
            })
            .collect();
        Ok(())
    }

    /// Notes a crossing of the key's reorder point, if the change made one.
    fn watch(&mut self, key: StockKey, applied: Applied) {
        if let Some(reorder) = self.catalog.reorder(key) {
            if crosses_below(applied, reorder.point) {
                self.crossings.push(Crossing {
                    key,
                    applied,
                    reorder,
                });
            }
        }
    }

    /// A customer's index: usually an existing user. Sometimes someone signs up: their row is
    /// stored now and they shop from [`SIGN_UP_TO_FIRST_EVENT_MS`] later (the first event naming
    /// them comes after their row is committed, even by a group commit), so this event is an
    /// existing user's; the next event once that time has come is theirs.
    pub fn customer<R: Rng>(
        &mut self,
        rng: &mut R,
        now_ms: Millis,
    ) -> Result<usize, RepositoryError> {
        if let Some(&(ready, u)) = self.fresh.front() {
            if ready <= now_ms {
                self.fresh.pop_front();
                return Ok(u);
            }
        }
        if rng.random_bool(self.p_signup) {
            let country = customers::draw_country(rng, &self.homes, &COUNTRIES);
            let u = self.sign_up(country, now_ms)?;
            let (lo, hi) = SIGN_UP_TO_FIRST_EVENT_MS;
            self.fresh
                .push_back((now_ms + rng.random_range(lo..=hi), u));
        }
        Ok(self.catalog.pick_user(rng))
    }

    /// A new customer of `country` (one of [`COUNTRIES`], else the first), stored before use
    /// and, where a store is in their country, one of its locals.
    pub fn sign_up(&mut self, country: &str, now_ms: Millis) -> Result<usize, RepositoryError> {
        let n = self.catalog.users.next_number();
        let country = COUNTRIES.iter().position(|c| *c == country).unwrap_or(0);
        let user = User {
            user_id: signup_id(n).into(),
            email: format!("user{n}@example.com"),
            country: COUNTRIES[country].to_owned(),
            created_ms: now_ms,
        };
        let segment = Segment {
            user_id: user.user_id.clone(),
            segment: "New",
            lifetime_value_cents: 0,
        };
        self.store.insert_user(&user, &segment)?;
        let u = self.catalog.users.sign_up(country);
        if let Some(s) = customers::home_store(&user.user_id, &user.country, &self.catalog.stores) {
            self.locals.add(s, u, &user.user_id);
        }
        Ok(u)
    }

    pub fn remember_sale(&mut self, sale: Sale) {
        if self.sales.len() == RECENT_SALES {
            self.sales.pop_front();
        }
        self.sales.push_back(sale);
    }

    /// A return of part of a recent sale: the sale and how many units come back. Units once
    /// returned are not returned again, so returns never exceed what was sold.
    pub fn take_return<R: Rng>(&mut self, rng: &mut R) -> Option<(Sale, i32)> {
        if self.sales.is_empty() {
            return None;
        }
        let i = rng.random_range(0..self.sales.len());
        let sale = &mut self.sales[i];
        let units = rng.random_range(1..=sale.quantity);
        sale.quantity -= units;
        let sale = match sale.quantity {
            0 => self.sales.remove(i).expect("index in range"),
            _ => sale.clone(),
        };
        Some((sale, units))
    }

    /// Applies the record's effect through the ports and writes what happened into the record.
    pub fn settle(&mut self, record: &mut Record) -> Result<(), RepositoryError> {
        match record.effect.take() {
            None => {}
            Some(Effect::Stock { key, requested }) => {
                let applied = self.ledger.apply(key, requested)?;
                self.last_moved = applied.quantity_delta;
                self.watch(key, applied);
                fill(record, applied);
            }
            Some(Effect::StockInbound { key }) => {
                let applied = self.ledger.apply(key, -self.last_moved)?;
                fill(record, applied);
            }
            Some(Effect::Restate { key, reported }) => {
                let applied = self.ledger.restate(key, reported)?;
                self.watch(key, applied);
                fill(record, applied);
            }
            Some(Effect::Price { product, percent }) => {
                let p = &mut self.catalog.products[product as usize];
                let (old, cents) = (p.price_cents, super::prices::moved(p.price_cents, percent));
                self.store
                    .update_price(&p.product_id, cents, record.event.ts())?;
                p.price_cents = cents;
                if let Event::Price(change) = &mut record.event {
                    super::prices::fill(change, old, cents);
                }
            }
            Some(Effect::Sale { store }) => {
                if let Event::Transaction(t) = &record.event {
                    self.journal.transaction(t)?;
                    let lines = t
                        .items
                        .iter()
                        .filter_map(|i| {
                            Some(SoldLine {
                                product: self.product_index(&i.item_id)?,
                                units: i.quantity,
                                cents: usd_to_cents(i.total_price),
                            })
                        })
                        .collect();
                    let sold = Sold {
                        transaction_id: t.transaction_id.clone(),
                        customer_id: t.customer_id.clone(),
                        at: t.timestamp,
                        lines,
                    };
                    self.refunds.sold(store as usize, sold);
                }
            }
            Some(Effect::Refund) => {
                if let Event::Refund(r) = &record.event {
                    self.journal.refund(r)?;
                }
            }
        }
        Ok(())
    }
}

fn fill(record: &mut Record, applied: Applied) {
    match &mut record.event {
        Event::Inventory(change) => {
            change.previous_qty = applied.previous_qty;
            change.quantity_delta = applied.quantity_delta;
            change.new_qty = applied.new_qty;
        }
        Event::StoreInventory(change) => {
            change.previous_qty = applied.previous_qty;
            change.quantity_delta = applied.quantity_delta;
            change.new_qty = applied.new_qty;
        }
        _ => {}
    }
}
