//! Refunds: part of one line of an earlier transaction of the store, never more than is left
//! of it; restockable goods go back to its stock.

use compact_str::format_compact;
use rand::Rng;

use super::{store_change, with_change, StoreService};
use crate::domain::events::{Event, Millis, Refund};
use crate::domain::record::{Effect, Record};
use crate::domain::reference::catalog::cents_to_usd;
use crate::domain::stock::StockKey;
use crate::domain::store::events::{RefundReason, StoreChangeType};
use crate::domain::Text;
use crate::services::{Ctx, Emission};

const REASONS: [RefundReason; 5] = [
    RefundReason::Defective,
    RefundReason::WrongItem,
    RefundReason::NotAsDescribed,
    RefundReason::ChangedMind,
    RefundReason::DamagedShipping,
];

impl StoreService {
    /// A refund now, at an open store, of part of one line of one of its transactions paid
    /// between `REFUND_DELAY_MIN` and `REFUND_DELAY_MAX` ago, for at most what is left of that
    /// line; restockable goods go back to its stock.
    pub(super) fn refund(&self, ctx: &mut Ctx<'_>, store: usize, now: Millis, out: &mut Emission) {
        let (lo, hi) = self.config.refund_delay_ms;
        let Some(r) = ctx.world.refunds.take(ctx.rng, store, now - hi, now - lo) else {
            return;
        };
        let key = StockKey {
            location: ctx.world.catalog.store_location(store),
            product: r.product,
        };
        let reason = REASONS[ctx.rng.random_range(0..REASONS.len())];
        let refund_id = ctx.ids.next("rfd");
        let mut refund = Record::new(
            r.transaction_id.clone(),
            None,
            Event::Refund(Refund {
                refund_id: refund_id.clone(),
                original_transaction_id: r.transaction_id,
                product_id: Text::from(
                    ctx.world.catalog.products[r.product as usize]
                        .product_id
                        .as_str(),
                ),
                store_id: Text::from(ctx.world.catalog.stores[store].store_id.as_str()),
                customer_id: r.customer_id,
                refund_amount: cents_to_usd(r.cents),
                reason,
                timestamp: now,
                quantity: r.units,
            }),
        );
        refund.at = Some(now);
        refund.effect = Some(Effect::Refund);
        let mut group = vec![refund];
        if reason.restockable() {
            let effect = Effect::Stock {
                key,
                requested: r.units,
            };
            let back = store_change(ctx, key, StoreChangeType::Return, effect);
            let mut back = with_change(back, |c| {
                c.refund_id = Some(refund_id);
                c.reason = Some(format_compact!("{} refund", reason.as_str()));
            });
            back.at = Some(now);
            group.push(back);
        }
        out.group_now(group);
    }
}
