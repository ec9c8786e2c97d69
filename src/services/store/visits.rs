//! Visits: a visitor enters an open store with what they come to buy, their foot-traffic
//! session published at entry; their shelf events fill the cart at their own times; an
//! identified visitor is a local of the store (or a traveller) who may be there then.

use rand::Rng;

use super::{weighted, Cart, StoreService, QUANTITIES};
use crate::domain::events::{Event, Millis};
use crate::domain::ports::RepositoryError;
use crate::domain::record::Record;
use crate::domain::stock::StockKey;
use crate::domain::store::customers::P_TRAVELLER;
use crate::domain::store::visits::{self, FootTraffic, ShelfEvent, ShelfEventType};
use crate::domain::Text;
use crate::services::{Ctx, Emission};

/// No visit starts in a store's last 15 minutes; every visit ends 5 minutes before closing.
pub(super) const LAST_ENTRY_MS: Millis = 15 * 60_000;

/// Chance per item of a cart that one more unit is picked up and put back later (the pos_producer.py POS simulator).
pub(super) const P_PUTBACK: f64 = 0.15;

/// Shelf events released per step at most.
pub(super) const SHELF_EVENTS_PER_STEP: usize = 32;

/// Visitors a store holds at once (bounds memory in unthrottled real-time runs); at capacity
/// nobody else enters until someone leaves.
pub(super) const MAX_VISITORS_PER_STORE: usize = 1_000;

/// A visit between its entry and its checkout.
pub(super) struct Visit {
    pub(super) store: usize,
    /// The identified customer (a user), if any.
    pub(super) customer: Option<Text>,
    /// The foot-traffic `customer_id`: the user, or an anonymous visitor id.
    pub(super) visitor: Text,
    pub(super) visit_id: Text,
    pub(super) entry: Millis,
    /// What the shelf events put in the cart.
    pub(super) cart: Cart,
    /// Its shelf events, in time order, and how many went out.
    pub(super) actions: Vec<visits::ShelfAction>,
    pub(super) next: usize,
}

/// Visits cut short by closing end over its last 20 minutes, not all at once.
const CLOSING_SPREAD_MS: Millis = 20 * 60_000;

/// The exit of a visit from `entry` lasting `trip` ms; one that would end after `last_exit`
/// leaves at a random time in the closing spread before it (at least a minute after entering).
pub(super) fn exit_before(
    ctx: &mut Ctx<'_>,
    entry: Millis,
    trip: Millis,
    last_exit: Millis,
) -> Millis {
    let planned = entry + trip;
    if planned <= last_exit {
        return planned;
    }
    let earliest = (last_exit - CLOSING_SPREAD_MS)
        .max(entry + 60_000)
        .min(last_exit);
    ctx.rng.random_range(earliest..=last_exit)
}

/// A shelf event of a visit: `quantity` of `product` picked up or put back at `at`.
fn shelf_event(ctx: &mut Ctx<'_>, visit: &Visit, action: visits::ShelfAction) -> Record {
    let kind = match action.pickup {
        true => ShelfEventType::Pickup,
        false => ShelfEventType::Putback,
    };
    let mut record = Record::new(
        visit.visitor.clone(),
        None,
        Event::Shelf(ShelfEvent {
            event_type: kind,
            customer_id: visit.visitor.clone(),
            item_id: Text::from(
                ctx.world.catalog.products[action.product as usize]
                    .product_id
                    .as_str(),
            ),
            weight: f64::from(action.quantity) * visits::unit_grams(action.product),
            quantity: action.quantity,
            timestamp: action.at,
            store_id: Text::from(ctx.world.catalog.stores[visit.store].store_id.as_str()),
            visit_id: visit.visit_id.clone(),
            event_id: ctx.ids.next("shv"),
        }),
    );
    record.at = Some(action.at);
    record
}

/// Putbacks, just before the exit, of what a visitor's cart holds but will not buy (what ran
/// out while they shopped, found at their exit: published then, not after their queue).
pub(super) fn put_back(
    ctx: &mut Ctx<'_>,
    visit: &Visit,
    left: &[(StockKey, i32)],
    exit: Millis,
) -> Vec<Record> {
    let at = (exit - 1).max(visit.entry);
    left.iter()
        .filter(|(_, q)| *q > 0)
        .map(|&(key, quantity)| {
            let action = visits::ShelfAction {
                at,
                product: key.product,
                quantity,
                pickup: false,
            };
            shelf_event(ctx, visit, action)
        })
        .collect()
}

impl StoreService {
    /// What a visitor comes to buy: lines from what the store has on hand (out-of-stock
    /// products are skipped, and a line never takes more than is available).
    fn wanted(&self, ctx: &mut Ctx<'_>, store: usize) -> Cart {
        let wanted = ctx
            .rng
            .random_range(self.config.lines_min..=self.config.lines_max);
        let location = ctx.world.catalog.store_location(store);
        let stocked = ctx.world.catalog.store_products[store].len();
        let mut cart: Cart = Vec::with_capacity(wanted);
        if stocked == 0 {
            return cart;
        }
        for _ in 0..wanted {
            let p = ctx.world.catalog.store_products[store][ctx.rng.random_range(0..stocked)];
            let key = StockKey {
                location,
                product: p,
            };
            let drawn = weighted(ctx.rng, &QUANTITIES);
            if cart.iter().any(|(k, _)| *k == key) {
                continue;
            }
            let quantity = drawn.min(self.on_shelf(ctx, key));
            if quantity > 0 {
                cart.push((key, quantity));
            }
        }
        cart
    }

    /// A visitor enters an open store (not in its last 15 minutes): the foot-traffic session
    /// now with its planned exit, the shelf events that fill the cart at their times, and a
    /// checkout due at the exit.
    pub(super) fn start_visit(
        &mut self,
        ctx: &mut Ctx<'_>,
        store: usize,
        now: Millis,
        out: &mut Emission,
    ) -> Result<(), RepositoryError> {
        if self.visits[store].len() >= MAX_VISITORS_PER_STORE {
            return Ok(());
        }
        let Some((_, close)) = ctx.world.catalog.stores[store].trading_day(now) else {
            return Ok(());
        };
        let last_exit = close - LAST_ENTRY_MS / 3;
        if now + LAST_ENTRY_MS > close {
            return Ok(());
        }
        let trip = i64::from(visits::trip_minutes(ctx.rng)) * 60_000;
        let exit = exit_before(ctx, now, trip, last_exit);
        if let Some(session) = self.enter(ctx, store, (now, exit), 1.0)? {
            out.now(session);
        }
        Ok(())
    }

    /// A visitor in `store` from `span.0` to `span.1`: what they come to buy (`kept` of the lines, at least one: a warm start's visitor has done part of their
    /// shopping), who they are, and their shelf events. The foot-traffic session to publish,
    /// unless nothing they want is on the shelf.
    pub(super) fn enter(
        &mut self,
        ctx: &mut Ctx<'_>,
        store: usize,
        (entry, exit): (Millis, Millis),
        kept: f64,
    ) -> Result<Option<Record>, RepositoryError> {
        let mut cart = self.wanted(ctx, store);
        if cart.is_empty() {
            return Ok(None);
        }
        cart.truncate(((cart.len() as f64 * kept).ceil() as usize).max(1));
        let customer = match ctx.rng.random_bool(self.config.p_identified) {
            true => self.identified(ctx, store, entry, exit),
            false => None,
        };
        let visitor = customer.clone().unwrap_or_else(|| ctx.ids.next("anon"));
        let visit_id = ctx.ids.next("vst");
        let store_id = Text::from(ctx.world.catalog.stores[store].store_id.as_str());
        let mut session = Record::new(
            visitor.clone(),
            None,
            Event::Foot(FootTraffic {
                event_type: "foot_traffic",
                customer_id: visitor.clone(),
                entry_time: entry,
                exit_time: exit,
                trip_duration_minutes: ((exit - entry) / 60_000) as i32,
                weekday: visits::weekday(entry),
                time_slot: visits::time_slot(entry),
                store_id: store_id.clone(),
                visit_id: visit_id.clone(),
            }),
        );
        session.at = Some(entry);
        let units: Vec<(u32, i32)> = cart.iter().map(|(k, q)| (k.product, *q)).collect();
        let actions = visits::plan_shelf(ctx.rng, entry, exit, &units, P_PUTBACK);
        let seq = self.visit_seq;
        self.visit_seq += 1;
        if let Some(first) = actions.first() {
            self.shelf.insert((first.at, seq, exit, store));
        }
        self.next_exit[store] = self.next_exit[store].min(exit);
        let visit = Visit {
            store,
            customer,
            visitor,
            visit_id,
            entry,
            cart,
            actions,
            next: 0,
        };
        self.visits[store].insert((exit, seq), visit);
        Ok(Some(session))
    }

    /// The identified customer of a visit to `store` from `entry` to `exit`, if one may come:
    /// usually a local drawn by visit frequency, sometimes a traveller from another of this
    /// instance's cities; never one who is elsewhere, still travelling or back sooner than their
    /// habit. Three tries, else the visitor stays anonymous. (Customers sign up online: see
    /// [`crate::services::World::customer`]; a sign-up shops in stores once they are locals.)
    fn identified(
        &mut self,
        ctx: &mut Ctx<'_>,
        store: usize,
        entry: Millis,
        exit: Millis,
    ) -> Option<Text> {
        let chosen = (0..3).find_map(|_| {
            let u = match ctx.rng.random_bool(P_TRAVELLER) {
                true => self.traveller(ctx, store)?,
                false => ctx.world.locals.pick(ctx.rng, store)?,
            };
            let id = ctx.world.catalog.users.user_id(u);
            let stores = &ctx.world.catalog.stores;
            self.whereabouts
                .may_visit(u, &id, stores, store, entry)
                .then_some(u)
        });
        chosen.map(|u| {
            self.whereabouts.visit(u, store, entry, exit);
            ctx.world.catalog.users.user_id(u)
        })
    }

    /// A local of another store this instance trades in (a shard keeps each customer's
    /// whereabouts to itself), drawn by visit frequency.
    fn traveller(&self, ctx: &mut Ctx<'_>, store: usize) -> Option<usize> {
        let shard = ctx.world.catalog.shard;
        let homes: Vec<usize> = (0..self.visits.len())
            .filter(|&s| s != store && shard.owns(s) && ctx.world.locals.count(s) > 0)
            .collect();
        let home = *homes.get(ctx.rng.random_range(0..homes.len().max(1)))?;
        ctx.world.locals.pick(ctx.rng, home)
    }

    /// The shelf events of visits that are due by `now` (a bounded number per step), each at
    /// its own time; a visit's next one is due after it.
    pub(super) fn release_shelf(&mut self, ctx: &mut Ctx<'_>, now: Millis, out: &mut Emission) {
        for _ in 0..SHELF_EVENTS_PER_STEP {
            let Some(&(at, seq, exit, store)) = self.shelf.first() else {
                break;
            };
            if at > now {
                break;
            }
            self.shelf.pop_first();
            let Some(visit) = self.visits[store].get_mut(&(exit, seq)) else {
                continue;
            };
            let action = visit.actions[visit.next];
            visit.next += 1;
            if let Some(next) = visit.actions.get(visit.next) {
                self.shelf.insert((next.at, seq, exit, store));
            }
            out.group_now(vec![shelf_event(ctx, visit, action)]);
        }
    }
}
