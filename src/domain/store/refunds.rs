//! The refundable past: each store's recent transactions with what is left to refund of each
//! line, so a refund always names a real line and never exceeds what was paid for it (rule 2),
//! however many refunds a line gets and whichever run they fall in.

use std::collections::VecDeque;

use rand::Rng;
use rustc_hash::FxHashMap;

use super::refund_cents;
use crate::domain::events::Millis;
use crate::domain::Text;

/// What is left to refund of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoldLine {
    /// Catalog index of the product.
    pub product: u32,
    pub units: i32,
    pub cents: i64,
}

/// A paid transaction of a store, as far as refunds are concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sold {
    pub transaction_id: Text,
    pub customer_id: Option<Text>,
    pub at: Millis,
    pub lines: Vec<SoldLine>,
}

/// A refund drawn from the book: `units` of a line, worth `cents` back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refundable {
    pub transaction_id: Text,
    pub customer_id: Option<Text>,
    pub product: u32,
    pub units: i32,
    pub cents: i64,
}

/// A line of a past transaction as read back at start-up (from the tables or the topic), with
/// what is left to refund of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastLine {
    pub store_id: String,
    pub transaction_id: String,
    pub customer_id: Option<String>,
    pub at: Millis,
    pub product_id: String,
    pub units: i32,
    pub cents: i64,
}

/// A refund already made, as read back at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PastRefund {
    pub transaction_id: String,
    pub product_id: String,
    pub units: i32,
    pub cents: i64,
}

/// Each store's transactions in event-time order, at most `cap` per store (the oldest go first).
#[derive(Debug, Clone, Default)]
pub struct RefundBook {
    stores: Vec<VecDeque<Sold>>,
    cap: usize,
}

impl RefundBook {
    pub fn new(stores: usize, cap: usize) -> Self {
        Self {
            stores: vec![VecDeque::new(); stores],
            cap: cap.max(1),
        }
    }

    /// The book of transactions read back at start-up, net of the refunds already made of them.
    /// Refunds of transactions it does not hold (older than its window) are ignored, and so are
    /// stores and products `store_of` and `product_of` do not know.
    pub fn rebuild(
        stores: usize,
        cap: usize,
        lines: Vec<PastLine>,
        refunds: &[PastRefund],
        store_of: impl Fn(&str) -> Option<usize>,
        product_of: impl Fn(&str) -> Option<u32>,
    ) -> Self {
        let mut index: FxHashMap<String, usize> = FxHashMap::default();
        let mut sold: Vec<(usize, Sold)> = Vec::new();
        for l in lines {
            let (Some(store), Some(product)) = (store_of(&l.store_id), product_of(&l.product_id))
            else {
                continue;
            };
            let i = *index.entry(l.transaction_id.clone()).or_insert_with(|| {
                sold.push((
                    store,
                    Sold {
                        transaction_id: l.transaction_id.as_str().into(),
                        customer_id: l.customer_id.as_deref().map(Text::from),
                        at: l.at,
                        lines: Vec::new(),
                    },
                ));
                sold.len() - 1
            });
            sold[i].1.lines.push(SoldLine {
                product,
                units: l.units,
                cents: l.cents,
            });
        }
        for r in refunds {
            let (Some(&i), Some(product)) =
                (index.get(&r.transaction_id), product_of(&r.product_id))
            else {
                continue;
            };
            if let Some(line) = sold[i].1.lines.iter_mut().find(|l| l.product == product) {
                line.units = (line.units - r.units).max(0);
                line.cents = (line.cents - r.cents).max(0);
            }
        }
        sold.sort_by_key(|(_, s)| s.at);
        let mut book = Self::new(stores, cap);
        for (store, s) in sold.into_iter().filter(|(st, _)| *st < stores) {
            book.sold(store, s);
        }
        book
    }

    /// A transaction of `store` was paid (at or after every earlier one of the store).
    pub fn sold(&mut self, store: usize, sold: Sold) {
        let Some(q) = self.stores.get_mut(store) else {
            return;
        };
        if q.len() == self.cap {
            q.pop_front();
        }
        q.push_back(sold);
    }

    /// Transactions held, over all stores.
    pub fn len(&self) -> usize {
        self.stores.iter().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A refund of part of one line of a transaction of `store` paid between `from` and `to`
    /// (inclusive), taken off the book at once. The last units of a line take exactly what is
    /// left of it, so the refunds of a line add up to at most its total. Transactions older
    /// than `from` can no longer be drawn and leave the book.
    pub fn take<R: Rng>(
        &mut self,
        rng: &mut R,
        store: usize,
        from: Millis,
        to: Millis,
    ) -> Option<Refundable> {
        let q = self.stores.get_mut(store)?;
        while q.front().is_some_and(|s| s.at < from) {
            q.pop_front();
        }
        let end = q.partition_point(|s| s.at <= to);
        if end == 0 {
            return None;
        }
        let sold = &mut q[rng.random_range(0..end)];
        let open: Vec<usize> = (0..sold.lines.len())
            .filter(|&i| sold.lines[i].units > 0)
            .collect();
        if open.is_empty() {
            return None;
        }
        let line = &mut sold.lines[open[rng.random_range(0..open.len())]];
        let units = rng.random_range(1..=line.units);
        let cents = match units == line.units {
            true => line.cents,
            false => refund_cents(line.cents, line.units, units),
        };
        line.units -= units;
        line.cents -= cents;
        Some(Refundable {
            transaction_id: sold.transaction_id.clone(),
            customer_id: sold.customer_id.clone(),
            product: line.product,
            units,
            cents,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    fn sold(id: &str, at: Millis, lines: &[(u32, i32, i64)]) -> Sold {
        Sold {
            transaction_id: id.into(),
            customer_id: None,
            at,
            lines: lines
                .iter()
                .map(|&(product, units, cents)| SoldLine {
                    product,
                    units,
                    cents,
                })
                .collect(),
        }
    }

    #[test]
    fn refunds_of_a_line_add_up_to_its_total_and_stop_there() {
        let mut book = RefundBook::new(1, 10);
        book.sold(0, sold("t1", 100, &[(7, 3, 1001)]));
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let (mut units, mut cents) = (0, 0);
        while let Some(r) = book.take(&mut rng, 0, 0, 1_000) {
            assert_eq!((r.transaction_id.as_str(), r.product), ("t1", 7));
            units += r.units;
            cents += r.cents;
        }
        assert_eq!((units, cents), (3, 1001));
    }

    #[test]
    fn only_transactions_paid_in_the_window_are_drawn_and_older_ones_leave() {
        let mut book = RefundBook::new(2, 10);
        book.sold(0, sold("old", 100, &[(1, 1, 500)]));
        book.sold(0, sold("mid", 200, &[(1, 1, 500)]));
        book.sold(0, sold("new", 300, &[(1, 1, 500)]));
        book.sold(1, sold("other", 200, &[(1, 1, 500)]));
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let r = book.take(&mut rng, 0, 150, 250).expect("one in the window");
        assert_eq!(r.transaction_id, "mid");
        assert_eq!(book.len(), 3, "the one before the window left");
        assert_eq!(book.take(&mut rng, 0, 150, 250), None, "mid is refunded");
        assert_eq!(book.take(&mut rng, 0, 150, 150), None);
    }

    #[test]
    fn each_store_keeps_at_most_its_cap() {
        let mut book = RefundBook::new(1, 2);
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            book.sold(0, sold(id, i as Millis, &[(1, 1, 100)]));
        }
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let mut drawn: Vec<Text> = std::iter::from_fn(|| book.take(&mut rng, 0, 0, 10))
            .map(|r| r.transaction_id)
            .collect();
        drawn.sort();
        assert_eq!(drawn, ["b", "c"]);
    }

    fn past(id: &str, at: Millis, product: &str, units: i32, cents: i64) -> PastLine {
        PastLine {
            store_id: "S1".into(),
            transaction_id: id.into(),
            customer_id: None,
            at,
            product_id: product.into(),
            units,
            cents,
        }
    }

    #[test]
    fn a_rebuilt_book_is_net_of_earlier_refunds_and_in_time_order() {
        let refund = |id: &str| PastRefund {
            transaction_id: id.into(),
            product_id: "P4".into(),
            units: 1,
            cents: 300,
        };
        let lines = vec![
            past("t2", 200, "P4", 2, 1000),
            past("t2", 200, "P9", 1, 10),
            past("t1", 100, "P5", 1, 50),
            past("unknown", 100, "P-none", 1, 50),
        ];
        let mut book = RefundBook::rebuild(
            1,
            10,
            lines,
            &[refund("t2"), refund("gone")],
            |s| (s == "S1").then_some(0),
            |p| p.strip_prefix('P').and_then(|n| n.parse().ok()),
        );
        assert_eq!(book.len(), 2);
        let mut rng = Pcg64Mcg::seed_from_u64(9);
        assert_eq!(
            book.take(&mut rng, 0, 0, 150).map(|r| r.transaction_id),
            Some("t1".into())
        );
        let mut left: Vec<(u32, i32, i64)> =
            std::iter::from_fn(|| book.take(&mut rng, 0, 150, 250))
                .map(|r| (r.product, r.units, r.cents))
                .collect();
        left.sort();
        let units: i32 = left.iter().filter(|l| l.0 == 4).map(|l| l.1).sum();
        let cents: i64 = left.iter().filter(|l| l.0 == 4).map(|l| l.2).sum();
        assert_eq!(
            (units, cents),
            (1, 700),
            "what is left of P4 after one refund"
        );
        assert_eq!(book.len(), 1, "t1 left the book once the window passed it");
    }
}
