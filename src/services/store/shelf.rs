//! Shelf changes: damage found on the shelf and stock-takes at an open store.

use rand::Rng;

use super::{store_change, with_change, StoreService};
use crate::domain::events::Millis;
use crate::domain::record::Effect;
use crate::domain::stock::StockKey;
use crate::domain::store::events::StoreChangeType;
use crate::services::{Ctx, Emission};

impl StoreService {
    /// Shelf damage or a stock-take at an open store; neither takes what is in a queueing
    /// visitor's cart.
    pub(super) fn shelf_change(
        &self,
        ctx: &mut Ctx<'_>,
        store: usize,
        now: Millis,
        out: &mut Emission,
    ) {
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
        let requested = requested.max(-self.on_shelf(ctx, key));
        if requested == 0 && kind == StoreChangeType::Damage {
            return;
        }
        let record = store_change(ctx, key, kind, Effect::Stock { key, requested });
        let mut record = with_change(record, |c| c.reason = Some(reason.into()));
        record.at = Some(now);
        out.now(record);
    }
}
