//! Store rules: POS sequences per terminal (a basket only between a login and its logout, at
//! most one open), transactions equal to what their POS events said (lines, subtotal, tax,
//! payment) with lines at the price in effect, refunds naming a line and never above what was
//! paid for it, and visits (shelf events inside their visit, putbacks of what was picked, a
//! checkout's lines the net of its shelf events), and people (no customer in two visits at once
//! or back in another store sooner than a trip allows; a store's identified customers mostly
//! its locals).
//!
//! State, keyed by ids' positions and numbered names: per terminal its session; per basket a
//! digest of what its POS events said (16 bytes and a slot, until its transaction); per
//! transaction its store, time and what is left to refund per line (about 40 bytes and 20 per
//! item); per visit its store, span and net cart (about 56 bytes and 8 per item); per identified
//! customer where they were last and how often they visited each store.

use std::hash::Hasher;

use apache_avro::types::Value;
use rustc_hash::{FxHashMap, FxHasher};

use super::commerce::Commerce;
use super::ids::{key, Names};
use super::value::{cents, int, items, number, text};
use super::{At, Seen, Tally};
use crate::domain::store::customers::MIN_TRIP_MS;
use crate::domain::stream::Stream;

/// A store's identified visits by customers who shop mostly elsewhere may be at most this share
/// (travellers and chance), once it has [`LOCALS_MIN_VISITS`] of them.
const MAX_AWAY_SHARE: f64 = 0.2;
const LOCALS_MIN_VISITS: u64 = 20;

/// What an open basket's POS events said so far: its lines (item, qty, line total cents) as a
/// running hash, its subtotal and tax.
#[derive(Default, Clone)]
struct Said {
    lines: FxHasher,
    subtotal: Option<i64>,
    tax: Option<i64>,
}

impl Said {
    fn line(&mut self, item: &str, qty: i64, total: i64) {
        self.lines.write(item.as_bytes());
        self.lines.write_u8(0xff);
        self.lines.write_i64(qty);
        self.lines.write_i64(total);
    }

    /// The whole basket as one digest, with what was paid.
    fn digest(&self, paid: Option<i64>) -> u64 {
        let mut h = self.lines.clone();
        for part in [self.subtotal, self.tax, paid] {
            h.write_u8(u8::from(part.is_some()));
            h.write_i64(part.unwrap_or(0));
        }
        h.finish()
    }
}

#[derive(Debug, Default)]
struct Terminal {
    logged_in: bool,
    basket: Option<u64>,
}

/// A visit: its store, when (unless late), and its net cart (item, units).
#[derive(Debug, Default)]
struct Visit {
    store: u32,
    span: Option<(i64, i64)>,
    cart: Vec<(u32, i32)>,
}

/// A transaction's store, time (unless moved) and, per item, the (units, cents) paid and not
/// yet refunded.
struct Paid {
    store: u32,
    ts: Option<i64>,
    lines: Box<[(u32, i64, i64)]>,
}

pub struct Store {
    terminals: FxHashMap<String, Terminal>,
    /// Open baskets, and the digests of those paid (until their transaction).
    open: FxHashMap<u64, Said>,
    said: FxHashMap<u64, u64>,
    paid: FxHashMap<u64, Paid>,
    visits: FxHashMap<u64, Visit>,
    stores: Names,
    items: Names,
    sequences: Tally,
    transactions: Tally,
    refunds: Tally,
    visits_rule: Tally,
    /// Each identified customer's latest visit (exit, store) and visits per store.
    whereabouts: FxHashMap<u64, (i64, u32)>,
    stores_of: FxHashMap<u64, Vec<(u32, u32)>>,
    one_place: Tally,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            terminals: FxHashMap::default(),
            open: FxHashMap::default(),
            said: FxHashMap::default(),
            paid: FxHashMap::default(),
            visits: FxHashMap::default(),
            stores: Names::default(),
            items: Names::default(),
            sequences: Tally::new("POS sequences (login, one basket, logout)"),
            transactions: Tally::new("transactions = their POS events"),
            refunds: Tally::new("refunds name a line, within what was paid"),
            visits_rule: Tally::new("visits (shelf events, putbacks, checkout)"),
            whereabouts: FxHashMap::default(),
            stores_of: FxHashMap::default(),
            one_place: Tally::new("a customer is in one place at a time"),
        }
    }
}

impl Store {
    pub fn see(&mut self, r: &Seen<'_>, v: &Value, commerce: &mut Commerce) {
        match r.stream {
            Stream::PosEvents => self.pos_event(r, v),
            Stream::PosTransactions => self.transaction(r, v, commerce),
            Stream::Refunds => self.refund(r, v, commerce),
            Stream::FootTraffic => self.visit(r, v),
            Stream::ShelfEvents => self.shelf_event(r, v),
            _ => {}
        }
    }

    fn pos_event(&mut self, r: &Seen<'_>, v: &Value) {
        let terminal = self
            .terminals
            .entry(text(v, "terminal_id").unwrap_or_default().to_owned())
            .or_default();
        let kind = text(v, "event_type").unwrap_or_default();
        let basket = text(v, "basket_id");
        let basket_key = basket.map(key);
        let (ok, why) = match kind {
            // A login at a terminal still logged in starts a new run's session (the run before
            // stopped without logging out); never with a basket open.
            "employee_login" => (terminal.basket.is_none(), "a login with a basket open"),
            "employee_logout" => (
                terminal.logged_in && terminal.basket.is_none(),
                "a logout while logged out or with a basket open",
            ),
            "basket_started" => (
                terminal.logged_in && terminal.basket.is_none(),
                "a basket started while logged out or with another open",
            ),
            _ => (
                terminal.logged_in && terminal.basket == basket_key && basket.is_some(),
                "an event of a basket that is not the open one",
            ),
        };
        self.sequences
            .check(ok, r.at, || format!("{why} ({kind} of {basket:?})"));
        match kind {
            "employee_login" => terminal.logged_in = true,
            "employee_logout" => terminal.logged_in = false,
            "basket_started" => {
                // A basket left open (a violation above) says what it said, unpaid.
                if let Some(left) = terminal
                    .basket
                    .take()
                    .and_then(|b| self.open.remove_entry(&b))
                {
                    self.said.insert(left.0, left.1.digest(None));
                }
                terminal.basket = basket_key;
                if let Some(b) = basket_key {
                    self.open.insert(b, Said::default());
                }
            }
            _ => {}
        }
        let Some(b) = basket_key else {
            return;
        };
        match kind {
            "item_added" => {
                if let Some(said) = self.open.get_mut(&b) {
                    said.line(
                        text(v, "item_id").unwrap_or_default(),
                        int(v, "quantity").unwrap_or(0),
                        cents(v, "line_total").unwrap_or(0),
                    );
                }
            }
            "subtotal_calculated" => {
                if let Some(said) = self.open.get_mut(&b) {
                    said.subtotal = cents(v, "subtotal");
                    said.tax = cents(v, "tax");
                }
            }
            "payment_completed" => {
                if let Some(said) = self.open.remove(&b) {
                    self.said.insert(b, said.digest(cents(v, "amount")));
                }
                terminal.basket = None;
            }
            _ => {}
        }
    }

    fn transaction(&mut self, r: &Seen<'_>, v: &Value, commerce: &mut Commerce) {
        let basket = text(v, "basket_id").unwrap_or_default();
        let basket_key = key(basket);
        let said = self
            .said
            .remove(&basket_key)
            .or_else(|| self.open.remove(&basket_key).map(|open| open.digest(None)));
        self.transactions.check(said.is_some(), r.at, || {
            format!("basket {basket} has no POS events")
        });
        let mut lines = Said::default();
        let mut bought: Vec<(u32, i64)> = Vec::new();
        let mut paid: Vec<(u32, i64, i64)> = Vec::new();
        let mut sum = 0;
        for line in items(v, "items") {
            let (item, qty) = (
                text(line, "item_id").unwrap_or_default(),
                int(line, "quantity").unwrap_or(0),
            );
            let (unit, discount, total) = (
                cents(line, "unit_price").unwrap_or(0),
                number(line, "discount").unwrap_or(0.0),
                cents(line, "total_price").unwrap_or(0),
            );
            // In hundredths of a cent: a whole-percent discount, rounded to the cent.
            let exact = qty * unit * (100 - (discount * 100.0).round() as i64);
            self.transactions
                .check((total * 100 - exact).abs() <= 50, r.at, || {
                    format!("line {item}: {total} cents is not {qty} x {unit} x (1 - {discount})")
                });
            if !r.late() {
                if let Some(t) = int(v, "timestamp") {
                    commerce.check_price(r.at, item, t, unit);
                }
            }
            sum += total;
            lines.line(item, qty, total);
            let n = self.items.number(item);
            match paid.iter_mut().find(|(i, _, _)| *i == n) {
                Some(e) => *e = (n, e.1 + qty, e.2 + total),
                None => paid.push((n, qty, total)),
            }
            bought.push((n, qty));
        }
        let (subtotal, tax, amount) = (
            cents(v, "subtotal").unwrap_or(i64::MIN),
            cents(v, "tax").unwrap_or(i64::MIN),
            cents(v, "amount").unwrap_or(i64::MIN),
        );
        self.transactions
            .check(subtotal == sum && amount == subtotal + tax, r.at, || {
                format!("subtotal {subtotal} (lines {sum}) + tax {tax} is not {amount}")
            });
        if let Some(said) = said {
            lines.subtotal = Some(subtotal);
            lines.tax = Some(tax);
            let same = said == lines.digest(Some(amount));
            self.transactions.check(same, r.at, || {
                format!("basket {basket}: the transaction is not what its POS events said")
            });
        }
        let store = self.stores.number(text(v, "store_id").unwrap_or_default());
        if let Some(visit_id) = text(v, "visit_id") {
            self.checkout(r, visit_id, store, bought);
        }
        let id = key(text(v, "transaction_id").unwrap_or_default());
        let ts = (!r.late()).then(|| int(v, "timestamp")).flatten();
        self.paid.insert(
            id,
            Paid {
                store,
                ts,
                lines: paid.into_boxed_slice(),
            },
        );
    }

    fn checkout(&mut self, r: &Seen<'_>, visit_id: &str, store: u32, mut bought: Vec<(u32, i64)>) {
        let Some(visit) = self.visits.remove(&key(visit_id)) else {
            return self.visits_rule.check(false, r.at, || {
                format!("a checkout of visit {visit_id}, which is not on the foot-traffic topic")
            });
        };
        bought.sort_unstable();
        let mut cart: Vec<(u32, i64)> = visit
            .cart
            .iter()
            .filter(|(_, q)| *q > 0)
            .map(|&(i, q)| (i, i64::from(q)))
            .collect();
        cart.sort_unstable();
        let (items, stores) = (&self.items, &self.stores);
        let named = |lines: &[(u32, i64)]| -> Vec<(String, i64)> {
            let mut named: Vec<_> = lines
                .iter()
                .map(|&(i, q)| (items.name(i).to_owned(), q))
                .collect();
            named.sort_unstable();
            named
        };
        self.visits_rule
            .check(bought == cart && store == visit.store, r.at, || {
                format!(
                    "visit {visit_id}: bought {:?} at {}, its cart was {:?} at {}",
                    named(&bought),
                    stores.name(store),
                    named(&cart),
                    stores.name(visit.store)
                )
            });
    }

    fn refund(&mut self, r: &Seen<'_>, v: &Value, commerce: &mut Commerce) {
        let transaction = text(v, "original_transaction_id").unwrap_or_default();
        let product = text(v, "product_id").unwrap_or_default();
        let store = text(v, "store_id").unwrap_or_default();
        let (store_n, item_n) = (self.stores.number(store), self.items.number(product));
        let sale = self
            .paid
            .get_mut(&key(transaction))
            .filter(|p| p.store == store_n);
        let sold_at = sale.as_ref().and_then(|p| p.ts);
        let line = sale.and_then(|p| p.lines.iter_mut().find(|(i, _, _)| *i == item_n));
        let refunded_at = (!r.late()).then(|| int(v, "timestamp")).flatten();
        if let (Some(sold), Some(back)) = (sold_at, refunded_at) {
            commerce.causality.check(back >= sold, r.at, || {
                format!("a refund at {back}, before its transaction at {sold}")
            });
        }
        let Some(left) = line else {
            return self.refunds.check(false, r.at, || {
                format!("a refund of {product} in transaction {transaction} at {store}, which has no such line")
            });
        };
        let (qty, amount) = (
            int(v, "quantity").unwrap_or(i64::MAX),
            cents(v, "refund_amount").unwrap_or(i64::MAX),
        );
        left.1 = left.1.saturating_sub(qty);
        left.2 = left.2.saturating_sub(amount);
        let within = left.1 >= 0 && left.2 >= 0;
        self.refunds.check(within, r.at, || {
            format!("{transaction}/{product}: refunded beyond what was paid")
        });
    }

    fn visit(&mut self, r: &Seen<'_>, v: &Value) {
        let span = match (r.late(), int(v, "entry_time"), int(v, "exit_time")) {
            (false, Some(entry), Some(exit)) => Some((entry, exit)),
            _ => None,
        };
        if let Some((entry, exit)) = span {
            self.visits_rule.check(entry < exit, r.at, || {
                "a visit that ends before it starts".into()
            });
        }
        let customer = text(v, "customer_id").unwrap_or_default();
        let store = self.stores.number(text(v, "store_id").unwrap_or_default());
        if !customer.starts_with("anon") {
            self.whereabouts_of(r.at, customer, store, span);
        }
        self.visits.insert(
            key(text(v, "visit_id").unwrap_or_default()),
            Visit {
                store,
                span,
                cart: Vec::new(),
            },
        );
    }

    /// An identified customer's visit to `store` over `span` (unknown for a late record, whose
    /// time was moved): after their last visit, and a trip later if that was another store.
    fn whereabouts_of(&mut self, at: At<'_>, customer: &str, store: u32, span: Option<(i64, i64)>) {
        let who = key(customer);
        let visited = self.stores_of.entry(who).or_default();
        match visited.iter_mut().find(|(s, _)| *s == store) {
            Some(e) => e.1 += 1,
            None => visited.push((store, 1)),
        }
        let Some((entry, exit)) = span else {
            return;
        };
        // A first visit is where the customer was, so far.
        let (last_exit, last_store) = self
            .whereabouts
            .get(&who)
            .copied()
            .unwrap_or((i64::MIN, store));
        let trip = if last_store == store { 0 } else { MIN_TRIP_MS };
        let ok = entry >= last_exit.saturating_add(trip);
        let stores = &self.stores;
        self.one_place.check(ok, at, || {
            format!(
                "{customer} enters {} at {entry}, {} ms after leaving {} \
                 (at least {trip} ms)",
                stores.name(store),
                entry.saturating_sub(last_exit),
                stores.name(last_store)
            )
        });
        if exit > last_exit {
            self.whereabouts.insert(who, (exit, store));
        }
    }

    /// Per store: the share of its identified visits made by customers who shop mostly there.
    fn locals(&self) -> Tally {
        let mut tally = Tally::new("a store's identified customers are mostly its locals");
        let mut by_store: FxHashMap<&str, (u64, u64)> = FxHashMap::default();
        for visited in self.stores_of.values() {
            let home = visited
                .iter()
                .map(|&(s, n)| (self.stores.name(s), n))
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .map(|(s, _)| s);
            for &(store, n) in visited {
                let name = self.stores.name(store);
                let e = by_store.entry(name).or_default();
                e.0 += u64::from(n);
                if Some(name) != home {
                    e.1 += u64::from(n);
                }
            }
        }
        let mut stores: Vec<_> = by_store.into_iter().collect();
        stores.sort_unstable();
        let nowhere = At {
            topic: "foot-traffic",
            partition: 0,
            offset: 0,
        };
        for (store, (visits, away)) in stores {
            if visits < LOCALS_MIN_VISITS {
                continue;
            }
            let share = away as f64 / visits as f64;
            tally.check(share <= MAX_AWAY_SHARE, nowhere, || {
                format!("{store}: {away} of {visits} identified visits by customers who shop mostly elsewhere")
            });
        }
        tally
    }

    fn shelf_event(&mut self, r: &Seen<'_>, v: &Value) {
        let visit_id = text(v, "visit_id").unwrap_or_default();
        let Some(visit) = self.visits.get_mut(&key(visit_id)) else {
            return self.visits_rule.check(false, r.at, || {
                format!("a shelf event of visit {visit_id}, which is not on the foot-traffic topic")
            });
        };
        if let (false, Some((entry, exit)), Some(t)) = (r.late(), visit.span, int(v, "timestamp")) {
            self.visits_rule
                .check((entry..=exit).contains(&t), r.at, || {
                    format!("a shelf event at {t}, outside its visit {entry}..{exit}")
                });
        }
        let item = self.items.number(text(v, "item_id").unwrap_or_default());
        let at = match visit.cart.iter().position(|(i, _)| *i == item) {
            Some(at) => at,
            None => {
                visit.cart.push((item, 0));
                visit.cart.len() - 1
            }
        };
        let held = &mut visit.cart[at].1;
        let qty = i32::try_from(int(v, "quantity").unwrap_or(0)).unwrap_or(i32::MAX);
        match text(v, "event_type") {
            Some("pickup") => *held = held.saturating_add(qty),
            Some("putback") => {
                let ok = *held >= qty;
                *held = held.saturating_sub(qty);
                self.visits_rule.check(ok, r.at, || {
                    format!("a putback of {qty} while {} were held", *held + qty)
                });
            }
            other => self.visits_rule.check(false, r.at, || {
                format!("an unknown shelf event type {other:?}")
            }),
        }
    }

    /// Every record of `stream` has been seen: what only its readers needed can go.
    pub fn done(&mut self, stream: Stream) {
        match stream {
            // Checkouts (on the transactions topic) were the last to look at visits.
            Stream::PosTransactions => {
                self.visits = FxHashMap::default();
                self.said = FxHashMap::default();
                self.open = FxHashMap::default();
            }
            Stream::Refunds => self.paid = FxHashMap::default(),
            _ => {}
        }
    }

    /// Entries held, and their heap bytes (about).
    pub fn state(&self) -> (u64, usize) {
        let cart_items: usize = self.visits.values().map(|v| v.cart.capacity()).sum();
        let paid_lines: usize = self.paid.values().map(|p| p.lines.len()).sum();
        let entries = self.open.len()
            + self.said.len()
            + self.paid.len()
            + self.visits.len()
            + self.whereabouts.len()
            + self.stores_of.len()
            + self.terminals.len();
        let bytes = self.open.capacity() * 33
            + self.said.capacity() * 17
            + self.paid.capacity() * 49
            + paid_lines * 24
            + self.visits.capacity() * 57
            + cart_items * 8
            + self.whereabouts.capacity() * 25
            + self.stores_of.capacity() * 33
            + self.terminals.capacity() * 48;
        (entries as u64, bytes)
    }

    /// The rules' tallies so far (the locals rule is decided at the end).
    pub fn tallies(&self) -> Vec<&Tally> {
        vec![
            &self.sequences,
            &self.transactions,
            &self.refunds,
            &self.visits_rule,
            &self.one_place,
        ]
    }

    pub fn finish(self) -> Vec<Tally> {
        let locals = self.locals();
        vec![
            self.sequences,
            self.transactions,
            self.refunds,
            self.visits_rule,
            self.one_place,
            locals,
        ]
    }
}
