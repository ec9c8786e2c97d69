//! Store rules: POS sequences per terminal (a basket only between a login and its logout, at
//! most one open), transactions equal to what their POS events said (lines, subtotal, tax,
//! payment) with lines at the price in effect, refunds naming a line and never above what was
//! paid for it, and visits (shelf events inside their visit, putbacks of what was picked, a
//! checkout's lines the net of its shelf events), and people (no customer in two visits at once
//! or back in another store sooner than a trip allows; a store's identified customers mostly
//! its locals).

use std::collections::HashMap;

use apache_avro::types::Value;
use rustc_hash::FxHashMap;

use super::commerce::Commerce;
use super::value::{cents, int, items, number, text};
use super::{At, Seen, Tally};
use crate::domain::store::customers::MIN_TRIP_MS;
use crate::domain::stream::Stream;

/// A store's identified visits by customers who shop mostly elsewhere may be at most this share
/// (travellers and chance), once it has [`LOCALS_MIN_VISITS`] of them.
const MAX_AWAY_SHARE: f64 = 0.2;
const LOCALS_MIN_VISITS: u64 = 20;

/// What a basket's POS events said: (item, qty, line total cents) per line, subtotal, tax, paid.
#[derive(Debug, Default, Clone)]
struct Said {
    lines: Vec<(String, i64, i64)>,
    subtotal: Option<i64>,
    tax: Option<i64>,
    paid: Option<i64>,
}

#[derive(Debug, Default)]
struct Terminal {
    logged_in: bool,
    basket: Option<String>,
}

/// A visit: its store, when (unless late), and its net cart by item.
#[derive(Debug, Default)]
struct Visit {
    store: String,
    span: Option<(i64, i64)>,
    cart: HashMap<String, i64>,
}

/// A transaction's store, time (unless moved) and, per item, the (units, cents) paid and not
/// yet refunded.
type Paid = (String, Option<i64>, HashMap<String, (i64, i64)>);

pub struct Store {
    terminals: FxHashMap<String, Terminal>,
    said: FxHashMap<String, Said>,
    paid: FxHashMap<String, Paid>,
    visits: FxHashMap<String, Visit>,
    sequences: Tally,
    transactions: Tally,
    refunds: Tally,
    visits_rule: Tally,
    /// Each identified customer's latest visit (exit, store) and visits per store.
    whereabouts: FxHashMap<String, (i64, String)>,
    stores_of: FxHashMap<String, FxHashMap<String, u64>>,
    one_place: Tally,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            terminals: FxHashMap::default(),
            said: FxHashMap::default(),
            paid: FxHashMap::default(),
            visits: FxHashMap::default(),
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
                terminal.logged_in && terminal.basket.as_deref() == basket && basket.is_some(),
                "an event of a basket that is not the open one",
            ),
        };
        self.sequences
            .check(ok, r.at, || format!("{why} ({kind} of {basket:?})"));
        match kind {
            "employee_login" => terminal.logged_in = true,
            "employee_logout" => terminal.logged_in = false,
            "basket_started" => {
                terminal.basket = basket.map(str::to_owned);
                if let Some(b) = basket {
                    self.said.insert(b.to_owned(), Said::default());
                }
            }
            _ => {}
        }
        let Some(said) = basket.and_then(|b| self.said.get_mut(b)) else {
            return;
        };
        match kind {
            "item_added" => said.lines.push((
                text(v, "item_id").unwrap_or_default().to_owned(),
                int(v, "quantity").unwrap_or(0),
                cents(v, "line_total").unwrap_or(0),
            )),
            "subtotal_calculated" => {
                said.subtotal = cents(v, "subtotal");
                said.tax = cents(v, "tax");
            }
            "payment_completed" => {
                said.paid = cents(v, "amount");
                terminal.basket = None;
            }
            _ => {}
        }
    }

    fn transaction(&mut self, r: &Seen<'_>, v: &Value, commerce: &mut Commerce) {
        let basket = text(v, "basket_id").unwrap_or_default();
        let said = self.said.get(basket).cloned();
        self.transactions.check(said.is_some(), r.at, || {
            format!("basket {basket} has no POS events")
        });
        let mut lines = Vec::new();
        let mut paid = HashMap::new();
        let mut sum = 0;
        for line in items(v, "items") {
            let (item, qty) = (
                text(line, "item_id").unwrap_or_default().to_owned(),
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
                    commerce.check_price(r.at, &item, t, unit);
                }
            }
            sum += total;
            let e = paid.entry(item.clone()).or_insert((0, 0));
            *e = (e.0 + qty, e.1 + total);
            lines.push((item, qty, total));
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
            let same = said.lines == lines
                && said.subtotal == Some(subtotal)
                && said.tax == Some(tax)
                && said.paid == Some(amount);
            self.transactions.check(same, r.at, || {
                format!("basket {basket}: the transaction is not what its POS events said")
            });
        }
        if let Some(visit_id) = text(v, "visit_id") {
            self.checkout(r, v, visit_id, &lines);
        }
        let store = text(v, "store_id").unwrap_or_default().to_owned();
        let id = text(v, "transaction_id").unwrap_or_default().to_owned();
        let ts = (!r.late()).then(|| int(v, "timestamp")).flatten();
        self.paid.insert(id, (store, ts, paid));
    }

    fn checkout(&mut self, r: &Seen<'_>, v: &Value, visit_id: &str, lines: &[(String, i64, i64)]) {
        let Some(visit) = self.visits.get(visit_id) else {
            return self.visits_rule.check(false, r.at, || {
                format!("a checkout of visit {visit_id}, which is not on the foot-traffic topic")
            });
        };
        let mut bought: Vec<(&str, i64)> = lines.iter().map(|(i, q, _)| (i.as_str(), *q)).collect();
        bought.sort_unstable();
        let mut cart: Vec<(&str, i64)> = visit
            .cart
            .iter()
            .filter(|(_, q)| **q > 0)
            .map(|(i, q)| (i.as_str(), *q))
            .collect();
        cart.sort_unstable();
        let store = text(v, "store_id").unwrap_or_default();
        self.visits_rule
            .check(bought == cart && store == visit.store, r.at, || {
                format!(
                    "visit {visit_id}: bought {bought:?} at {store}, its cart was {cart:?} at {}",
                    visit.store
                )
            });
    }

    fn refund(&mut self, r: &Seen<'_>, v: &Value, commerce: &mut Commerce) {
        let transaction = text(v, "original_transaction_id").unwrap_or_default();
        let product = text(v, "product_id").unwrap_or_default();
        let store = text(v, "store_id").unwrap_or_default();
        let line = self
            .paid
            .get_mut(transaction)
            .filter(|(s, _, _)| s == store);
        let sold_at = line.as_ref().and_then(|(_, ts, _)| *ts);
        let line = line.and_then(|(_, _, lines)| lines.get_mut(product));
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
        left.0 -= qty;
        left.1 -= amount;
        let within = left.0 >= 0 && left.1 >= 0;
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
        let store = text(v, "store_id").unwrap_or_default();
        if !customer.starts_with("anon") {
            self.whereabouts_of(r.at, customer, store, span);
        }
        self.visits.insert(
            text(v, "visit_id").unwrap_or_default().to_owned(),
            Visit {
                store: text(v, "store_id").unwrap_or_default().to_owned(),
                span,
                cart: HashMap::new(),
            },
        );
    }

    /// An identified customer's visit to `store` over `span` (unknown for a late record, whose
    /// time was moved): after their last visit, and a trip later if that was another store.
    fn whereabouts_of(
        &mut self,
        at: At<'_>,
        customer: &str,
        store: &str,
        span: Option<(i64, i64)>,
    ) {
        *self
            .stores_of
            .entry(customer.to_owned())
            .or_default()
            .entry(store.to_owned())
            .or_default() += 1;
        let Some((entry, exit)) = span else {
            return;
        };
        // A first visit is where the customer was, so far.
        let (last_exit, last_store) = self
            .whereabouts
            .get(customer)
            .map_or((i64::MIN, store), |(exit, s)| (*exit, s.as_str()));
        let trip = if last_store == store { 0 } else { MIN_TRIP_MS };
        let ok = entry >= last_exit.saturating_add(trip);
        self.one_place.check(ok, at, || {
            format!(
                "{customer} enters {store} at {entry}, {} ms after leaving {last_store} \
                 (at least {trip} ms)",
                entry.saturating_sub(last_exit)
            )
        });
        let latest = self.whereabouts.get(customer).map_or(i64::MIN, |l| l.0);
        if exit > latest {
            self.whereabouts
                .insert(customer.to_owned(), (exit, store.to_owned()));
        }
    }

    /// Per store: the share of its identified visits made by customers who shop mostly there.
    fn locals(&self) -> Tally {
        let mut tally = Tally::new("a store's identified customers are mostly its locals");
        let mut by_store: FxHashMap<&str, (u64, u64)> = FxHashMap::default();
        for stores in self.stores_of.values() {
            let home = stores
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(s, _)| s.as_str());
            for (store, n) in stores {
                let e = by_store.entry(store).or_default();
                e.0 += n;
                if Some(store.as_str()) != home {
                    e.1 += n;
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
        let Some(visit) = self.visits.get_mut(visit_id) else {
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
        let held = visit
            .cart
            .entry(text(v, "item_id").unwrap_or_default().to_owned())
            .or_default();
        let qty = int(v, "quantity").unwrap_or(0);
        match text(v, "event_type") {
            Some("pickup") => *held += qty,
            Some("putback") => {
                let ok = *held >= qty;
                *held -= qty;
                self.visits_rule.check(ok, r.at, || {
                    format!("a putback of {qty} while {} were held", *held + qty)
                });
            }
            other => self.visits_rule.check(false, r.at, || {
                format!("an unknown shelf event type {other:?}")
            }),
        }
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
