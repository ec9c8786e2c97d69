//! The restock loop: a crossing below a reorder point brings one alert at once and, after the
//! lead time, a replenishment: a store gets a transfer from the warehouse holding most of the
//! product (or a supplier delivery if none holds it), a warehouse a supplier restock.

use compact_str::format_compact;

use super::inventory::{change, with};
use super::store::{store_change, with_change};
use super::world::Crossing;
use super::Ctx;
use crate::domain::events::{ChangeType, Event, Millis, RestockAlert};
use crate::domain::record::{Effect, Record};
use crate::domain::reference::catalog::{cents_to_usd, Offer};
use crate::domain::stock::alerts::severity;
use crate::domain::stock::{location_key, StockKey};
use crate::domain::store::events::StoreChangeType;
use crate::domain::Text;

pub struct Restocker {
    /// From the alert to the replenishment.
    pub lead_ms: Millis,
}

/// What a crossing brings: the alert (published with the change) and the replenishment group.
pub struct Reaction {
    pub alert: Record,
    pub replenishment: Option<(Millis, Vec<Record>)>,
}

impl Restocker {
    pub fn react(&self, ctx: &mut Ctx<'_>, crossing: Crossing) -> Reaction {
        let key = crossing.key;
        let catalog = &ctx.world.catalog;
        let store = catalog.store_at(key.location);
        let p = key.product as usize;
        let source = match store {
            Some(_) => richest_warehouse(ctx, key),
            None => None,
        };
        let offer = cheapest(&ctx.world.catalog.offers[p]).cloned();
        let (location_id, product_id) = ctx.world.catalog.location_ids(key);
        let (location_id, product_id) = (Text::from(location_id), Text::from(product_id));
        let supplier = match (source, &offer) {
            (Some(w), _) => Text::from(ctx.world.catalog.warehouses[w.location as usize].as_str()),
            (None, Some(o)) => Text::from(o.supplier_id.as_str()),
            (None, None) => "none".into(),
        };
        let current = crossing.applied.new_qty;
        let alert = Record::new(
            location_key(&location_id, &product_id),
            None,
            Event::Alert(RestockAlert {
                alert_id: ctx.ids.next("alr"),
                store_id: store.map(|_| location_id.clone()),
                warehouse_id: store.is_none().then(|| location_id.clone()),
                product_id,
                current_quantity: current,
                reorder_point: crossing.reorder.point,
                supplier,
                alert_type: "low_stock",
                severity: severity(current),
                timestamp: 0,
                event_type: "restock_alert",
                event_version: "1.0",
            }),
        );
        let qty = crossing.reorder.qty;
        let group = match (store, source, offer) {
            (Some(_), Some(from), _) => Some(transfer(ctx, from, key, qty)),
            (_, None, Some(offer)) => Some(vec![supplier_restock(ctx, key, qty, offer)]),
            _ => None,
        };
        // A store receives while it is open; warehouses work around the clock.
        let now = ctx.now_ms;
        let due = match store {
            Some(s) => ctx.world.catalog.stores[s].next_open(now + self.lead_ms.max(1)),
            None => now + self.lead_ms.max(1),
        };
        let replenishment = group.map(|mut g| {
            if store.is_some() {
                g.iter_mut().for_each(|r| r.at = Some(due));
            }
            (due - now, g)
        });
        Reaction {
            alert,
            replenishment,
        }
    }
}

/// The warehouse with the most available stock of the key's product, if any has some.
fn richest_warehouse(ctx: &Ctx<'_>, key: StockKey) -> Option<StockKey> {
    ctx.world.catalog.stocked_at[key.product as usize]
        .iter()
        .map(|&w| StockKey {
            location: w,
            product: key.product,
        })
        .filter_map(|k| Some((ctx.world.ledger.level(k)?.available(), k)))
        .filter(|(available, _)| *available > 0)
        .max_by_key(|(available, k)| (*available, std::cmp::Reverse(k.location)))
        .map(|(_, k)| k)
}

fn cheapest(offers: &[Offer]) -> Option<&Offer> {
    offers
        .iter()
        .min_by_key(|o| (o.cost_cents, o.supplier_id.clone()))
}

/// A warehouse TRANSFER out and the store's TRANSFER_IN of what left, as one group.
fn transfer(ctx: &mut Ctx<'_>, from: StockKey, to: StockKey, qty: i32) -> Vec<Record> {
    let store_id = Text::from(ctx.world.catalog.location_id(to.location));
    let warehouse_id = Text::from(ctx.world.catalog.warehouses[from.location as usize].as_str());
    let outbound = change(
        ctx,
        from,
        ChangeType::Transfer,
        Effect::Stock {
            key: from,
            requested: -qty,
        },
    );
    let inbound = store_change(
        ctx,
        to,
        StoreChangeType::TransferIn,
        Effect::StockInbound { key: to },
    );
    vec![
        with(outbound, |c| {
            c.reason = Some(format_compact!("transfer to {store_id}"))
        }),
        with_change(inbound, |c| {
            c.warehouse_id = Some(warehouse_id);
            c.reason = Some("replenishment".into());
        }),
    ]
}

/// A supplier delivers `qty` to a warehouse (RESTOCK at its cost) or straight to a store.
fn supplier_restock(ctx: &mut Ctx<'_>, key: StockKey, qty: i32, offer: Offer) -> Record {
    let effect = Effect::Stock {
        key,
        requested: qty,
    };
    match ctx.world.catalog.store_at(key.location) {
        Some(_) => with_change(
            store_change(ctx, key, StoreChangeType::Restock, effect),
            |c| c.reason = Some(format_compact!("delivered by {}", offer.supplier_id)),
        ),
        None => with(change(ctx, key, ChangeType::Restock, effect), |c| {
            c.supplier_id = Some(offer.supplier_id.as_str().into());
            c.cost_per_unit = Some(cents_to_usd(offer.cost_cents));
            c.reason = Some("reorder point reached".into());
        }),
    }
}
