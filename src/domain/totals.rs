//! Business totals of what a run published, for the run manifest a pipeline's results are
//! checked against: orders and revenue per UTC day and currency; transactions, revenue, refunds
//! and units per store and local day. Records labelled bad or duplicate are not counted (late
//! ones are: they are valid, only late). Amounts are summed in cents, so totals are exact.

use std::collections::{BTreeMap, HashMap};

use chrono::TimeZone;
use chrono_tz::Tz;
use serde::Serialize;

use super::events::{Event, Millis};
use super::faults::Fault;
use super::record::Record;

/// Orders of one UTC day in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OrderDay {
    pub orders: u64,
    pub revenue_cents: i64,
}

/// A store's sales and refunds of one local day.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StoreDay {
    pub transactions: u64,
    pub revenue_cents: i64,
    pub units_sold: i64,
    pub refunds: u64,
    pub refunded_cents: i64,
    pub units_refunded: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BusinessTotals {
    /// By UTC day (`2024-03-01`), then currency.
    pub orders: BTreeMap<String, BTreeMap<String, OrderDay>>,
    /// By store id, then the store's local day.
    pub stores: BTreeMap<String, BTreeMap<String, StoreDay>>,
    #[serde(skip)]
    zones: HashMap<String, Tz>,
}

fn cents(amount: f64) -> i64 {
    (amount * 100.0).round() as i64
}

/// The calendar day (`2024-03-01`) of `ms` in `tz`.
pub fn day(ms: Millis, tz: Tz) -> String {
    match tz.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%Y-%m-%d").to_string(),
        None => "invalid".to_owned(),
    }
}

impl BusinessTotals {
    /// Totals whose store days are local to each store's time zone.
    pub fn new(zones: impl IntoIterator<Item = (String, Tz)>) -> Self {
        Self {
            zones: zones.into_iter().collect(),
            ..Self::default()
        }
    }

    fn store_day(&mut self, store_id: &str, ms: Millis) -> &mut StoreDay {
        let tz = self.zones.get(store_id).copied().unwrap_or(Tz::UTC);
        self.stores
            .entry(store_id.to_owned())
            .or_default()
            .entry(day(ms, tz))
            .or_default()
    }

    /// Counts a published record, unless it is labelled bad or duplicate.
    pub fn add(&mut self, record: &Record) {
        if matches!(record.fault, Some(Fault::Bad(_) | Fault::Duplicate)) {
            return;
        }
        match &record.event {
            Event::Order(o) => {
                let day = self
                    .orders
                    .entry(day(o.ts, Tz::UTC))
                    .or_default()
                    .entry(o.currency.to_owned())
                    .or_default();
                day.orders += 1;
                day.revenue_cents += cents(o.amount);
            }
            Event::Transaction(t) => {
                let units = t.items.iter().map(|l| i64::from(l.quantity)).sum::<i64>();
                let day = self.store_day(&t.store_id, t.timestamp);
                day.transactions += 1;
                day.revenue_cents += cents(t.amount);
                day.units_sold += units;
            }
            Event::Refund(r) => {
                let day = self.store_day(&r.store_id, r.timestamp);
                day.refunds += 1;
                day.refunded_cents += cents(r.refund_amount);
                day.units_refunded += i64::from(r.quantity);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{Order, Refund};
    use crate::domain::faults::BadKind;
    use crate::domain::store::events::RefundReason;

    fn order(ts: Millis, amount: f64, currency: &'static str) -> Record {
        Record::new(
            "O1".into(),
            None,
            Event::Order(Order {
                order_id: "O1".into(),
                user_id: "U1".into(),
                product_id: "P1".into(),
                amount,
                currency,
                ts,
                quantity: 1,
                unit_price: Some(amount),
            }),
        )
    }

    #[test]
    fn orders_are_summed_in_cents_per_utc_day_and_currency_without_bad_or_duplicate_ones() {
        let mut t = BusinessTotals::new([]);
        let day_one = 1_709_251_200_000; // 2024-03-01T00:00:00Z
        t.add(&order(day_one, 0.1, "EUR"));
        t.add(&order(day_one + 3_600_000, 0.2, "EUR"));
        t.add(&order(day_one - 1, 5.0, "EUR"));
        t.add(&order(day_one, 7.0, "USD"));
        let mut bad = order(day_one, 100.0, "EUR");
        bad.fault = Some(Fault::Bad(BadKind::NonPositiveAmount));
        t.add(&bad);
        let mut again = order(day_one, 100.0, "EUR");
        again.fault = Some(Fault::Duplicate);
        t.add(&again);
        let mut late = order(day_one, 1.0, "EUR");
        late.fault = Some(Fault::Late { delay_ms: 60_000 });
        t.add(&late);
        let march_1 = &t.orders["2024-03-01"];
        assert_eq!(
            march_1["EUR"],
            OrderDay {
                orders: 3,
                revenue_cents: 130
            }
        );
        assert_eq!(march_1["USD"].revenue_cents, 700);
        assert_eq!(t.orders["2024-02-29"]["EUR"].orders, 1);
    }

    #[test]
    fn refunds_count_on_the_stores_local_day() {
        let mut t = BusinessTotals::new([("STORE-001".to_owned(), chrono_tz::America::New_York)]);
        // 2024-03-01T03:00:00Z is still February 29th in New York.
        let refund = Record::new(
            "R1".into(),
            None,
            Event::Refund(Refund {
                refund_id: "R1".into(),
                original_transaction_id: "T1".into(),
                product_id: "P1".into(),
                store_id: "STORE-001".into(),
                customer_id: None,
                refund_amount: 12.34,
                reason: RefundReason::Defective,
                timestamp: 1_709_262_000_000,
                quantity: 2,
            }),
        );
        t.add(&refund);
        let day = &t.stores["STORE-001"]["2024-02-29"];
        assert_eq!(
            (day.refunds, day.refunded_cents, day.units_refunded),
            (1, 1234, 2)
        );
    }
}
