//! Price changes: a product's price moves by -5%..+5%, in the reference store and on the topic together.

use rand::Rng;

use super::{Ctx, Emission, Service};
use crate::domain::events::{Event, PriceChange, PriceReason};
use crate::domain::ports::RepositoryError;
use crate::domain::record::{Effect, Record};
use crate::domain::reference::catalog::cents_to_usd;

/// The moves a price makes, in percent.
const MOVES: [i8; 4] = [-5, -3, 3, 5];

/// A price moved by `percent` (one of the moves), to the cent (never below one cent).
pub fn moved(old_cents: i64, percent: i8) -> i64 {
    let factor = match percent {
        -5 => 0.95,
        -3 => 0.97,
        3 => 1.03,
        5 => 1.05,
        other => 1.0 + f64::from(other) / 100.0,
    };
    ((old_cents as f64 * factor).round() as i64).max(1)
}

/// A price change's figures (old, new, change in percent to two decimals).
pub fn fill(change: &mut PriceChange, old_cents: i64, new_cents: i64) {
    change.old_price = cents_to_usd(old_cents);
    change.new_price = cents_to_usd(new_cents);
    change.change_pct =
        ((new_cents - old_cents) as f64 / old_cents as f64 * 10_000.0).round() / 100.0;
}

pub struct PriceService;

impl Service for PriceService {
    fn name(&self) -> &'static str {
        "prices"
    }

    fn emit(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) -> Result<(), RepositoryError> {
        let p = ctx.world.catalog.pick_product(ctx.rng);
        let product = &ctx.world.catalog.products[p];
        let old = product.price_cents;
        let percent = MOVES[ctx.rng.random_range(0..MOVES.len())];
        let new = moved(old, percent);
        let reason = match (percent < 0, ctx.rng.random_bool(0.5)) {
            (true, true) => PriceReason::Promotion,
            (true, false) => PriceReason::Clearance,
            (false, true) => PriceReason::CostChange,
            (false, false) => PriceReason::Seasonal,
        };
        let mut change = PriceChange {
            price_change_id: ctx.ids.next("prc"),
            product_id: product.product_id.as_str().into(),
            old_price: 0.0,
            new_price: 0.0,
            change_pct: 0.0,
            reason,
            effective_date: 0,
            ts: 0,
        };
        // As of now; settled again when published, from the price it has then.
        fill(&mut change, old, new);
        let mut record = Record::new(
            product.product_id.as_str().into(),
            None,
            Event::Price(change),
        );
        record.effect = Some(Effect::Price {
            product: p as u32,
            percent,
        });
        out.now(record);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reference::catalog::usd_to_cents;
    use crate::services::testing::Harness;

    #[test]
    fn changes_of_one_product_decided_before_either_is_published_still_chain() {
        let mut h = Harness::new(0.0, 4);
        h.world.catalog.products.truncate(1);
        let start = h.world.catalog.products[0].price_cents;
        // Both decided from the same price, as when one step's records bring two of them.
        let mut decided: Vec<Record> = (0..2)
            .flat_map(|_| h.emit(&mut PriceService))
            .flat_map(|(_, group)| group)
            .collect();
        assert_eq!(decided.len(), 2);
        let mut last = start;
        for r in &mut decided {
            h.world.settle(r).unwrap();
            let Event::Price(c) = &r.event else {
                panic!("a price change")
            };
            assert_eq!(c.old_price, cents_to_usd(last), "old = the last new");
            let new = usd_to_cents(c.new_price);
            assert_ne!(new, last, "a move");
            last = new;
        }
        assert_eq!(h.world.catalog.products[0].price_cents, last);
    }
}
