//! Price changes: a product's price moves by -5%..+5%, in the reference store and on the topic together.

use rand::Rng;

use super::{Ctx, Emission, Service};
use crate::domain::events::{Event, PriceChange, PriceReason};
use crate::domain::ports::RepositoryError;
use crate::domain::record::{Effect, Record};
use crate::domain::reference::catalog::cents_to_usd;

const FACTORS: [f64; 4] = [0.95, 0.97, 1.03, 1.05];

pub struct PriceService;

impl Service for PriceService {
    fn name(&self) -> &'static str {
        "prices"
    }

    fn emit(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) -> Result<(), RepositoryError> {
        let p = ctx.world.catalog.pick_product(ctx.rng);
        let product = &ctx.world.catalog.products[p];
        let old = product.price_cents;
        let factor = FACTORS[ctx.rng.random_range(0..FACTORS.len())];
        let new = ((old as f64 * factor).round() as i64).max(1);
        let reason = match (factor < 1.0, ctx.rng.random_bool(0.5)) {
            (true, true) => PriceReason::Promotion,
            (true, false) => PriceReason::Clearance,
            (false, true) => PriceReason::CostChange,
            (false, false) => PriceReason::Seasonal,
        };
        let mut record = Record::new(
            product.product_id.as_str().into(),
            None,
            Event::Price(PriceChange {
                price_change_id: ctx.ids.next("prc"),
                product_id: product.product_id.as_str().into(),
                old_price: cents_to_usd(old),
                new_price: cents_to_usd(new),
                change_pct: ((new - old) as f64 / old as f64 * 10_000.0).round() / 100.0,
                reason,
                effective_date: 0,
                ts: 0,
            }),
        );
        record.effect = Some(Effect::Price {
            product: p as u32,
            cents: new,
        });
        out.now(record);
        Ok(())
    }
}
