//! E-commerce rules: prices in effect (the price-change chain, orders and store lines at the
//! price of their moment), order arithmetic, and payments and shipments naming their order.
//! State: each product's price changes (32 bytes each), and each order's amount and times (24
//! bytes and a map slot, keyed by its id's position) until the topics naming orders are read.

use apache_avro::types::Value;
use rustc_hash::FxHashMap;

use super::ids::key;
use super::value::{cents, int, text};
use super::{At, Seen, Tally};
use crate::domain::events::Millis;
use crate::domain::stream::Stream;

/// A price change: when it happened (a late one: somewhere between its neighbours), the prices.
#[derive(Debug, Clone, Copy)]
struct Change {
    earliest: Millis,
    latest: Millis,
    old: i64,
    new: i64,
}

/// Each product's price changes in the order they were made (their partition's order).
#[derive(Debug, Default)]
pub struct Prices {
    by_product: FxHashMap<String, Vec<Change>>,
    /// Products whose last change was late: its time is bounded by the next on-time one.
    open_late: FxHashMap<String, usize>,
}

impl Prices {
    fn add(&mut self, product: &str, ts: Option<Millis>, old: i64, new: i64) {
        let changes = self.by_product.entry(product.to_owned()).or_default();
        // A late change happened after the one before it, whose own time may be a range.
        let before = changes.last().map_or(Millis::MIN, |c| c.earliest);
        let change = match ts {
            Some(t) => Change {
                earliest: t,
                latest: t,
                old,
                new,
            },
            None => Change {
                earliest: before,
                latest: Millis::MAX,
                old,
                new,
            },
        };
        if let Some(t) = ts {
            // Late changes before this one happened before it.
            if let Some(from) = self.open_late.remove(product) {
                for c in &mut changes[from..] {
                    c.latest = c.latest.min(t);
                }
            }
        } else {
            self.open_late
                .entry(product.to_owned())
                .or_insert(changes.len());
        }
        changes.push(change);
    }

    /// The prices (cents) that may have been in effect at `t`; `None` when the topic never
    /// changed the product's price (its price is not known from the topics).
    pub fn at(&self, product: &str, t: Millis) -> Option<Vec<i64>> {
        let changes = self.by_product.get(product)?;
        let surely = changes.iter().rposition(|c| c.latest < t);
        let maybe = changes.iter().rposition(|c| c.earliest <= t);
        let after = |i: Option<usize>| match i {
            Some(i) => changes[i].new,
            None => changes[0].old,
        };
        let mut allowed = vec![after(surely)];
        if let Some(last) = maybe {
            let first = surely.map_or(0, |s| s + 1);
            allowed.extend((first..=last).map(|i| changes[i].new));
        }
        Some(allowed)
    }
}

/// No time known (a shifted late record's was moved).
const UNKNOWN: Millis = Millis::MIN;
/// Not settled.
const UNSETTLED: Millis = Millis::MIN + 1;

/// An order as the payments and shipments need it.
#[derive(Debug, Clone, Copy)]
struct OrderSeen {
    amount: i64,
    /// Its event time ([`UNKNOWN`] unless known).
    ts: Millis,
    /// Its settled payment's time ([`UNSETTLED`], [`UNKNOWN`] or the time).
    settled: Millis,
}

fn known(t: Millis) -> Option<Millis> {
    (t != UNKNOWN && t != UNSETTLED).then_some(t)
}

pub struct Commerce {
    pub prices: Prices,
    orders: FxHashMap<u64, OrderSeen>,
    chain: Tally,
    in_effect: Tally,
    arithmetic: Tally,
    references: Tally,
    /// Shared with the store rules: what is named happened before what names it.
    pub causality: Tally,
}

impl Default for Commerce {
    fn default() -> Self {
        Self {
            prices: Prices::default(),
            orders: FxHashMap::default(),
            chain: Tally::new("price changes chain (old = last new)"),
            in_effect: Tally::new("prices in effect (orders, store lines)"),
            arithmetic: Tally::new("order arithmetic (amount = qty x price)"),
            references: Tally::new("payments and shipments name orders"),
            causality: Tally::new("causes come first in event time"),
        }
    }
}

impl Commerce {
    /// Checks a price (cents) of `product` at `t` against the price changes.
    pub fn check_price(&mut self, at: At<'_>, product: &str, t: Millis, price: i64) {
        if let Some(allowed) = self.prices.at(product, t) {
            self.in_effect.check(allowed.contains(&price), at, || {
                format!("{product} at {price} cents; in effect then: {allowed:?}")
            });
        }
    }

    pub fn see(&mut self, r: &Seen<'_>, v: &Value) {
        let at = r.at;
        match r.stream {
            Stream::PriceChanges => {
                let (Some(product), Some(old), Some(new)) = (
                    text(v, "product_id"),
                    cents(v, "old_price"),
                    cents(v, "new_price"),
                ) else {
                    return self
                        .chain
                        .check(false, at, || "a price change without prices".into());
                };
                let last = self
                    .prices
                    .by_product
                    .get(product)
                    .and_then(|c| c.last())
                    .map(|c| c.new);
                self.chain.check(last.is_none_or(|l| l == old), at, || {
                    format!("{product}: old price {old} cents, the last change said {last:?}")
                });
                let ts = (!r.late()).then(|| int(v, "ts")).flatten();
                self.prices.add(product, ts, old, new);
            }
            Stream::Orders => {
                let id = key(text(v, "order_id").unwrap_or_default());
                let (amount, qty, unit) = (
                    cents(v, "amount").unwrap_or(i64::MIN),
                    int(v, "quantity").unwrap_or(0),
                    cents(v, "unit_price"),
                );
                if let Some(unit) = unit {
                    self.arithmetic
                        .check((qty * unit - amount).abs() <= 1, at, || {
                            format!("amount {amount} cents is not {qty} x {unit}")
                        });
                    if let (false, Some(product), Some(ts)) =
                        (r.late(), text(v, "product_id"), int(v, "ts"))
                    {
                        self.check_price(at, product, ts, unit);
                    }
                }
                let ts = (!r.late()).then(|| int(v, "ts")).flatten();
                self.orders.insert(
                    id,
                    OrderSeen {
                        amount,
                        ts: ts.unwrap_or(UNKNOWN),
                        settled: UNSETTLED,
                    },
                );
            }
            Stream::Payments => {
                let order = text(v, "order_id").unwrap_or_default();
                let found = self.orders.get_mut(&key(order));
                self.references.check(found.is_some(), at, || {
                    format!("a payment of order {order}, which is not on the orders topic")
                });
                if let Some(o) = found {
                    let amount = cents(v, "amount");
                    let expected = o.amount;
                    self.arithmetic.check(amount == Some(expected), at, || {
                        format!("payment of {amount:?} cents for an order of {expected}")
                    });
                    let ts = (!r.late()).then(|| int(v, "ts")).flatten();
                    if let (Some(paid), Some(ordered)) = (ts, known(o.ts)) {
                        self.causality.check(paid >= ordered, at, || {
                            format!("a payment at {paid}, before its order at {ordered}")
                        });
                    }
                    if text(v, "status") == Some("SETTLED") {
                        o.settled = ts.unwrap_or(UNKNOWN);
                    }
                }
            }
            Stream::Shipments => {
                let order = text(v, "order_id").unwrap_or_default();
                let settled = self
                    .orders
                    .get(&key(order))
                    .map(|o| o.settled)
                    .filter(|s| *s != UNSETTLED);
                self.references.check(settled.is_some(), at, || {
                    format!("a shipment of order {order}, which has no settled payment")
                });
                let ts = (!r.late()).then(|| int(v, "ts")).flatten();
                if let (Some(shipped), Some(paid)) = (ts, settled.and_then(known)) {
                    self.causality.check(shipped >= paid, at, || {
                        format!("a shipment at {shipped}, before its settled payment at {paid}")
                    });
                }
            }
            _ => {}
        }
    }

    /// Every record of `stream` has been seen: what only its readers needed can go.
    pub fn done(&mut self, stream: Stream) {
        match stream {
            // Only shipments name orders now, and only settled ones.
            Stream::Payments => self.orders.retain(|_, o| o.settled != UNSETTLED),
            Stream::Shipments => self.orders = FxHashMap::default(),
            _ => {}
        }
    }

    /// Entries held, and their heap bytes (about).
    pub fn state(&self) -> (u64, usize) {
        let changes: usize = self.prices.by_product.values().map(Vec::len).sum();
        (
            (self.orders.len() + changes) as u64,
            self.orders.capacity() * 33 + changes * 32 + self.prices.by_product.len() * 64,
        )
    }

    /// The rules' tallies so far.
    pub fn tallies(&self) -> Vec<&Tally> {
        vec![
            &self.chain,
            &self.in_effect,
            &self.arithmetic,
            &self.references,
            &self.causality,
        ]
    }

    pub fn finish(self) -> Vec<Tally> {
        vec![
            self.chain,
            self.in_effect,
            self.arithmetic,
            self.references,
            self.causality,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_price_in_effect_is_the_last_change_before_with_ties_and_late_changes_either_side() {
        let mut p = Prices::default();
        p.add("P1", Some(100), 1000, 900);
        p.add("P1", None, 900, 800); // late: between 100 and 300
        p.add("P1", Some(300), 800, 700);
        p.add("P1", None, 700, 600); // two late ones in a row: both between 300 and 500
        p.add("P1", None, 600, 500);
        p.add("P1", Some(500), 500, 400);
        assert_eq!(p.at("P1", 400), Some(vec![700, 600, 500]));
        assert_eq!(p.at("P1", 50), Some(vec![1000]));
        assert_eq!(p.at("P1", 100), Some(vec![1000, 900, 800]));
        assert_eq!(p.at("P1", 200), Some(vec![900, 800]));
        // The late ones after 300 may have come in the same millisecond, or any time before 500.
        assert_eq!(p.at("P1", 300), Some(vec![900, 800, 700, 600, 500]));
        assert_eq!(p.at("P1", 301), Some(vec![700, 600, 500]));
        assert_eq!(p.at("P1", 501), Some(vec![400]));
        assert_eq!(p.at("P2", 301), None);
    }
}
