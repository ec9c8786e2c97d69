//! Inventory changes: restocks from a product's suppliers at their cost, damage, returns of
//! recent sales, transfers (an outbound and a matching inbound change) and audit adjustments.

use rand::Rng;

use super::{weighted, Ctx, Emission, Service};
use crate::domain::events::{ChangeType, Event, InventoryChange};
use crate::domain::ports::RepositoryError;
use crate::domain::record::{Effect, Record};
use crate::domain::reference::catalog::cents_to_usd;
use crate::domain::stock::{location_key, StockKey};
use crate::domain::Text;
use compact_str::format_compact;

const FULL_MIX: [(ChangeType, u32); 5] = [
    (ChangeType::Restock, 30),
    (ChangeType::Damage, 10),
    (ChangeType::Return, 15),
    (ChangeType::Transfer, 15),
    (ChangeType::Adjustment, 30),
];
/// Background mutations (`P_UPDATE_INVENTORY`): what happens to stock without a customer.
const BACKGROUND_MIX: [(ChangeType, u32); 2] =
    [(ChangeType::Adjustment, 70), (ChangeType::Damage, 30)];

pub struct InventoryService {
    mix: &'static [(ChangeType, u32)],
}

impl InventoryService {
    pub fn new() -> Self {
        Self { mix: &FULL_MIX }
    }

    pub fn background() -> Self {
        Self {
            mix: &BACKGROUND_MIX,
        }
    }
}

impl Default for InventoryService {
    fn default() -> Self {
        Self::new()
    }
}

/// A change record whose quantities are filled in when its effect is applied.
pub fn change(ctx: &mut Ctx<'_>, key: StockKey, kind: ChangeType, effect: Effect) -> Record {
    let (warehouse_id, product_id) = ctx.world.catalog.location_ids(key);
    let (warehouse_id, product_id) = (Text::from(warehouse_id), Text::from(product_id));
    let mut record = Record::new(
        location_key(&warehouse_id, &product_id),
        None,
        Event::Inventory(InventoryChange {
            change_id: ctx.ids.next("chg"),
            warehouse_id,
            product_id,
            change_type: kind,
            quantity_delta: 0,
            previous_qty: 0,
            new_qty: 0,
            reason: None,
            order_id: None,
            supplier_id: None,
            cost_per_unit: None,
            ts: 0,
        }),
    );
    record.effect = Some(effect);
    record
}

/// The record with its warehouse change edited (reason, order, supplier...).
pub fn with(mut record: Record, edit: impl FnOnce(&mut InventoryChange)) -> Record {
    if let Event::Inventory(c) = &mut record.event {
        edit(c);
    }
    record
}

impl Service for InventoryService {
    fn name(&self) -> &'static str {
        "inventory"
    }

    fn emit(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) -> Result<(), RepositoryError> {
        let p = ctx.world.catalog.pick_product(ctx.rng);
        let stocked = &ctx.world.catalog.stocked_at[p];
        if stocked.is_empty() {
            return Ok(());
        }
        let key = StockKey {
            location: stocked[ctx.rng.random_range(0..stocked.len())],
            product: p as u32,
        };
        let stock = |requested| Effect::Stock { key, requested };
        let kind = weighted(ctx.rng, self.mix);
        let record = match kind {
            // A product nobody supplies (possible in a user's own tables) gets an audit instead.
            ChangeType::Restock if !ctx.world.catalog.offers[p].is_empty() => {
                let offers = &ctx.world.catalog.offers[p];
                let offer = offers[ctx.rng.random_range(0..offers.len())].clone();
                let qty = ctx.rng.random_range(50..=200);
                with(change(ctx, key, kind, stock(qty)), |c| {
                    c.supplier_id = Some(offer.supplier_id.as_str().into());
                    c.cost_per_unit = Some(cents_to_usd(offer.cost_cents));
                    c.reason = Some("supplier restock".into());
                })
            }
            ChangeType::Return => return self.customer_return(ctx, out),
            ChangeType::Transfer => return transfer(ctx, key, out),
            ChangeType::Damage => {
                let qty = ctx.rng.random_range(1..=5);
                with(change(ctx, key, kind, stock(-qty)), |c| {
                    c.reason = Some("damaged in warehouse".into())
                })
            }
            ChangeType::Adjustment | ChangeType::Restock | ChangeType::Sale => {
                let qty = ctx.rng.random_range(-10..=10);
                with(change(ctx, key, ChangeType::Adjustment, stock(qty)), |c| {
                    c.reason = Some("inventory audit".into())
                })
            }
        };
        out.now(record);
        Ok(())
    }
}

impl InventoryService {
    /// Part of a recent sale comes back to the warehouse it left, naming its order.
    fn customer_return(
        &mut self,
        ctx: &mut Ctx<'_>,
        out: &mut Emission,
    ) -> Result<(), RepositoryError> {
        let Some((sale, qty)) = ctx.world.take_return(ctx.rng) else {
            return Ok(());
        };
        let record = change(
            ctx,
            sale.key,
            ChangeType::Return,
            Effect::Stock {
                key: sale.key,
                requested: qty,
            },
        );
        out.now(with(record, |c| {
            c.order_id = Some(sale.order_id);
            c.reason = Some("customer return".into());
        }));
        Ok(())
    }
}

/// Stock leaves one warehouse and the same amount arrives at another, as one group.
fn transfer(ctx: &mut Ctx<'_>, from: StockKey, out: &mut Emission) -> Result<(), RepositoryError> {
    let others: Vec<u32> = ctx.world.catalog.stocked_at[from.product as usize]
        .iter()
        .copied()
        .filter(|w| *w != from.location)
        .collect();
    if others.is_empty() {
        return Ok(());
    }
    let to = StockKey {
        location: others[ctx.rng.random_range(0..others.len())],
        product: from.product,
    };
    let (from_id, to_id) = (
        ctx.world.catalog.warehouses[from.location as usize].clone(),
        ctx.world.catalog.warehouses[to.location as usize].clone(),
    );
    let qty = ctx.rng.random_range(1..=20);
    let outbound = change(
        ctx,
        from,
        ChangeType::Transfer,
        Effect::Stock {
            key: from,
            requested: -qty,
        },
    );
    let inbound = change(
        ctx,
        to,
        ChangeType::Transfer,
        Effect::StockInbound { key: to },
    );
    out.pair_now(
        with(outbound, |c| {
            c.reason = Some(format_compact!("transfer to {to_id}"))
        }),
        with(inbound, |c| {
            c.reason = Some(format_compact!("transfer from {from_id}"))
        }),
    );
    Ok(())
}

/// Stock someone else changed since it was last reported (found at start-up): one ADJUSTMENT
/// each, from the reported level to the row as it is, so every chain stays gapless.
pub struct Restatements {
    /// Keys with the level last reported for them.
    pub reported: Vec<(StockKey, i32)>,
}

impl Service for Restatements {
    fn name(&self) -> &'static str {
        "restatements"
    }

    fn emit(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) -> Result<(), RepositoryError> {
        for (key, reported) in std::mem::take(&mut self.reported) {
            let record = change(
                ctx,
                key,
                ChangeType::Adjustment,
                Effect::Restate { key, reported },
            );
            out.now(with(record, |c| {
                c.reason = Some("changed outside retailgen".into())
            }));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::testing::Harness;

    #[test]
    fn stock_changed_by_someone_else_is_bridged_from_the_reported_level() {
        let mut h = Harness::new(0.0, 4);
        let key = StockKey {
            location: h.world.catalog.stocked_at[0][0],
            product: 0,
        };
        let now = h.world.ledger.level(key).unwrap().qty;
        let mut svc = Restatements {
            reported: vec![(key, now + 7)],
        };
        let groups = h.emit(&mut svc);
        let [(0, group)] = &groups[..] else {
            panic!("one group now: {groups:?}")
        };
        let mut record = group[0].clone();
        h.world.settle(&mut record).unwrap();
        let Event::Inventory(c) = record.event else {
            panic!("an inventory change")
        };
        assert_eq!(
            (c.change_type, c.previous_qty, c.quantity_delta, c.new_qty),
            (ChangeType::Adjustment, now + 7, -7, now)
        );
        assert!(h.emit(&mut svc).is_empty(), "only once");
    }

    #[test]
    fn a_product_nobody_supplies_is_audited_not_restocked() {
        let mut h = Harness::new(0.0, 4);
        h.world.catalog.offers.iter_mut().for_each(Vec::clear);
        let mut svc = InventoryService::new();
        for _ in 0..500 {
            for (_, group) in h.emit(&mut svc) {
                for r in group {
                    let Event::Inventory(c) = r.event else {
                        panic!("inventory only")
                    };
                    assert_ne!(c.change_type, ChangeType::Restock);
                }
            }
        }
    }
}
