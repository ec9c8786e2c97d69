//! What services act on: the catalog, the reference store and the stock ledger, and the rule
//! that a record's effect on them is applied when the record is published.

use std::collections::VecDeque;

use rand::Rng;

use crate::domain::events::{Event, Millis};
use crate::domain::ports::{ReferenceStore, RepositoryError, StockLedger};
use crate::domain::record::{Effect, Record};
use crate::domain::reference::catalog::{Catalog, User, COUNTRIES};
use crate::domain::reference::Segment;
use crate::domain::stock::{Applied, StockKey};

/// Sales kept for returns to refer to.
const RECENT_SALES: usize = 1_000;

/// An order's stock movement, remembered so a later return can name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Sale {
    pub order_id: String,
    pub key: StockKey,
    /// Units sold and not yet returned.
    pub quantity: i32,
}

pub struct World {
    pub catalog: Catalog,
    pub store: Box<dyn ReferenceStore>,
    pub ledger: Box<dyn StockLedger>,
    /// Chance that an order or interaction comes from a new customer (a sign-up).
    pub p_signup: f64,
    sales: VecDeque<Sale>,
    next_user: usize,
    /// What the last stock effect moved, for a transfer's inbound leg.
    last_moved: i32,
}

impl World {
    pub fn new(
        catalog: Catalog,
        store: Box<dyn ReferenceStore>,
        ledger: Box<dyn StockLedger>,
        p_signup: f64,
    ) -> Self {
        Self {
            next_user: catalog.next_user_number(),
            catalog,
            store,
            ledger,
            p_signup,
            sales: VecDeque::with_capacity(RECENT_SALES),
            last_moved: 0,
        }
    }

    /// A customer's index: usually an existing user, sometimes a sign-up, stored before use.
    pub fn customer<R: Rng>(
        &mut self,
        rng: &mut R,
        now_ms: Millis,
    ) -> Result<usize, RepositoryError> {
        if !rng.random_bool(self.p_signup) {
            return Ok(self.catalog.pick_user(rng));
        }
        let n = self.next_user;
        self.next_user += 1;
        let user = User {
            user_id: format!("U{n:06}"),
            email: format!("user{n}@example.com"),
            country: COUNTRIES[rng.random_range(0..COUNTRIES.len())].to_owned(),
            created_ms: now_ms,
        };
        let segment = Segment {
            user_id: user.user_id.clone(),
            segment: "New",
            lifetime_value_cents: 0,
        };
        self.store.insert_user(&user, &segment)?;
        self.catalog.users.push(user);
        Ok(self.catalog.users.len() - 1)
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
                fill(record, applied);
            }
            Some(Effect::StockInbound { key }) => {
                let applied = self.ledger.apply(key, -self.last_moved)?;
                fill(record, applied);
            }
            Some(Effect::Restate { key, reported }) => {
                let applied = self.ledger.restate(key, reported)?;
                fill(record, applied);
            }
            Some(Effect::Price { product, cents }) => {
                let p = &mut self.catalog.products[product as usize];
                self.store.update_price(&p.product_id, cents)?;
                p.price_cents = cents;
            }
        }
        Ok(())
    }
}

fn fill(record: &mut Record, applied: Applied) {
    if let Event::Inventory(change) = &mut record.event {
        change.previous_qty = applied.previous_qty;
        change.quantity_delta = applied.quantity_delta;
        change.new_qty = applied.new_qty;
    }
}
