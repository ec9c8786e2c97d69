//! Checkout: a visit past its exit settles its cart with the shelf, then is served at a free
//! terminal of its store (queueing while all are busy): the basket's POS events at the times
//! they happened, its transaction and one SALE per line, published as one group at the payment.

use std::ops::Bound;

use rand::Rng;

use super::shifts::{pos, with_pos};
use super::visits::{put_back, Visit};
use super::{store_change, weighted, with_change, Cart, StoreService};
use crate::domain::events::{Event, Millis, PosTransaction};
use crate::domain::ports::RepositoryError;
use crate::domain::record::{Effect, Record};
use crate::domain::reference::catalog::cents_to_usd;
use crate::domain::stock::StockKey;
use crate::domain::store::events::{PosEventType, PosLineItem, StoreChangeType, TenderType};
use crate::domain::store::{line_total_cents, tax_cents};
use crate::domain::Text;
use crate::services::{Ctx, Emission};

const TENDERS: [(TenderType, u32); 4] = [
    (TenderType::CreditCard, 45),
    (TenderType::DebitCard, 30),
    (TenderType::Cash, 15),
    (TenderType::MobilePayment, 10),
];

/// Visits checked out per step at most (the rest wait for the next step).
const CHECKOUTS_PER_STEP: usize = 8;

/// Visits settled at their exit per step and store at most.
const SETTLED_PER_STEP: usize = 32;

/// A basket's POS events (published together at its payment) span at most this: no record
/// is published more than 2 minutes of event time behind the stream.
const MAX_BASKET_SPAN_MS: Millis = 100_000;

/// Who pays a basket, after which visit.
struct Buyer {
    customer: Option<Text>,
    visit_id: Text,
}

/// One basket line as decided.
struct Line {
    key: StockKey,
    quantity: i32,
    unit_cents: i64,
    discount_pct: i64,
    total_cents: i64,
}

impl StoreService {
    /// The cart's lines at the price in effect at `now` times (1 - the week's discount), each
    /// taking at most what is on hand; and what could not be had.
    fn priced(
        ctx: &mut Ctx<'_>,
        cart: &[(StockKey, i32)],
        now: Millis,
    ) -> Result<(Vec<Line>, Cart), RepositoryError> {
        let mut lines = Vec::with_capacity(cart.len());
        let mut short = Vec::new();
        for &(key, wanted) in cart {
            let available = ctx.world.ledger.level(key).map_or(0, |l| l.available());
            let quantity = wanted.min(available).max(0);
            if quantity < wanted {
                short.push((key, wanted - quantity));
            }
            if quantity == 0 {
                continue;
            }
            let unit_cents = ctx.world.catalog.products[key.product as usize].price_cents;
            let discount_pct = ctx.world.discount_pct(key, now)?;
            lines.push(Line {
                key,
                quantity,
                unit_cents,
                discount_pct,
                total_cents: line_total_cents(quantity, unit_cents, discount_pct),
            });
        }
        Ok((lines, short))
    }

    /// Visits past their exit (once their last shelf events are out) settle in exit order: a
    /// cart line the shelf no longer holds (another visitor's checkout took it while they
    /// shopped) is put back now, just before the exit, and the rest is theirs while they queue.
    fn settle_due(&mut self, ctx: &mut Ctx<'_>, store: usize, now: Millis, out: &mut Emission) {
        let from = (Bound::Excluded(self.settled[store]), Bound::Unbounded);
        let due: Vec<(Millis, u64)> = self.visits[store]
            .range(from)
            .take_while(|(k, v)| k.0 <= now && v.next == v.actions.len())
            .take(SETTLED_PER_STEP)
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            let Some(visit) = self.visits[store].get_mut(&key) else {
                continue;
            };
            let mut cart = std::mem::take(&mut visit.cart);
            let mut short = Vec::new();
            for line in &mut cart {
                let kept = line.1.min(self.on_shelf(ctx, line.0));
                if kept < line.1 {
                    short.push((line.0, line.1 - kept));
                    line.1 = kept;
                }
            }
            cart.retain(|l| l.1 > 0);
            self.hold(&cart, 1);
            self.settled[store] = key;
            let Some(visit) = self.visits[store].get_mut(&key) else {
                continue;
            };
            visit.cart = cart;
            if !short.is_empty() {
                out.group_now(put_back(ctx, visit, &short, key.0));
            }
        }
    }

    /// Visits past their exit check out at a free terminal of their store, each store's in exit
    /// order (a few per step); one whose store has closed without serving it leaves its goods
    /// behind.
    pub(super) fn check_out_due(
        &mut self,
        ctx: &mut Ctx<'_>,
        now: Millis,
        out: &mut Emission,
    ) -> Result<(), RepositoryError> {
        for store in 0..self.visits.len() {
            if self.next_exit[store] > now {
                continue;
            }
            self.settle_due(ctx, store, now, out);
            for _ in 0..CHECKOUTS_PER_STEP {
                let Some((key, _)) = self.visits[store].first_key_value() else {
                    break;
                };
                // In exit order, once settled.
                if *key > self.settled[store] {
                    break;
                }
                let tills = &self.tills;
                let staffed = self.terminals_of[store]
                    .iter()
                    .filter(|&&t| tills[t].employee.is_some());
                let terminal = staffed.clone().copied().find(|&t| tills[t].free_at <= now);
                // The queue waits for a till; after closing, while a cashier still serves it.
                if terminal.is_none() && (self.open[store] || staffed.count() > 0) {
                    break;
                }
                let Some(((exit, _), visit)) = self.visits[store].pop_first() else {
                    break;
                };
                self.hold(&visit.cart, -1);
                self.next_exit[store] = self.visits[store]
                    .first_key_value()
                    .map_or(Millis::MAX, |(k, _)| k.0);
                match terminal {
                    Some(t) => self.check_out(ctx, t, visit, exit, now, out)?,
                    None => {
                        // Closed with nobody to serve it: everything goes back on the shelf.
                        out.group_now(put_back(ctx, &visit, &visit.cart, exit));
                    }
                }
            }
        }
        Ok(())
    }

    /// A visit's checkout at `terminal`: its settled cart priced now (what is no longer on hand,
    /// which only someone else's change of the stock can cause, put back just before the exit,
    /// so the shelf events still net to the basket).
    fn check_out(
        &mut self,
        ctx: &mut Ctx<'_>,
        terminal: usize,
        visit: Visit,
        exit: Millis,
        now: Millis,
        out: &mut Emission,
    ) -> Result<(), RepositoryError> {
        let (lines, short) = Self::priced(ctx, &visit.cart, now)?;
        let mut group = put_back(ctx, &visit, &short, exit);
        if lines.is_empty() {
            if !group.is_empty() {
                out.group_now(group);
            }
            return Ok(());
        }
        let Some(employee) = self.tills[terminal].employee else {
            return Ok(());
        };
        let buyer = Buyer {
            customer: visit.customer,
            visit_id: visit.visit_id,
        };
        self.basket(
            ctx,
            visit.store,
            terminal,
            employee,
            now,
            lines,
            buyer,
            &mut group,
        )?;
        out.group_now(group);
        // The service desk takes refunds while the store is open (not while it serves its
        // closing queue).
        if ctx.rng.random_bool(self.config.refund_probability) && self.open[visit.store] {
            self.refund(ctx, visit.store, now, out);
        }
        Ok(())
    }

    /// One basket at a terminal, ending with its payment now: its POS events (scans seconds
    /// apart), its transaction and its SALE changes, added to `group`.
    #[allow(clippy::too_many_arguments)]
    fn basket(
        &mut self,
        ctx: &mut Ctx<'_>,
        store: usize,
        terminal: usize,
        employee: usize,
        now: Millis,
        lines: Vec<Line>,
        buyer: Buyer,
        group: &mut Vec<Record>,
    ) -> Result<(), RepositoryError> {
        let Buyer { customer, visit_id } = buyer;
        // Gaps before each event after basket_started, then scaled to fit since the last event.
        let mut gaps: Vec<Millis> = Vec::with_capacity(lines.len() + 4);
        if customer.is_some() {
            gaps.push(ctx.rng.random_range(5_000..=20_000));
        }
        gaps.extend((0..lines.len()).map(|_| ctx.rng.random_range(3_000..=15_000)));
        gaps.push(ctx.rng.random_range(2_000..=5_000));
        gaps.push(ctx.rng.random_range(10_000..=40_000));
        let total: Millis = gaps.iter().sum();
        // A basket spans at most MAX_BASKET_SPAN_MS, its POS events published at its payment.
        let room = (now - self.tills[terminal].last_event - 1).min(MAX_BASKET_SPAN_MS);
        if room < total {
            gaps.iter_mut().for_each(|g| *g = *g * room / total);
        }
        let start = now - gaps.iter().sum::<Millis>();
        let mut times = gaps.iter().scan(start, |t, g| {
            *t += g;
            Some(*t)
        });

        let subtotal: i64 = lines.iter().map(|l| l.total_cents).sum();
        let rate = ctx.world.catalog.stores[store].tax_rate_bp;
        let tax = tax_cents(subtotal, rate);
        let tender = weighted(ctx.rng, &TENDERS);
        let basket_id = ctx.ids.next("bsk");
        let employee_id = Text::from(ctx.world.catalog.employees[employee].employee_id.as_str());
        group.reserve(lines.len() * 2 + 5);

        let r = pos(ctx, terminal, PosEventType::BasketStarted, start);
        group.push(with_pos(r, |e| {
            e.basket_id = Some(basket_id.clone());
            e.employee_id = Some(employee_id.clone());
        }));
        if let Some(c) = &customer {
            let at = times.next().unwrap_or(now);
            let r = pos(ctx, terminal, PosEventType::CustomerIdentified, at);
            group.push(with_pos(r, |e| {
                e.basket_id = Some(basket_id.clone());
                e.customer_id = Some(c.clone());
            }));
        }
        let mut items = Vec::with_capacity(lines.len());
        for l in &lines {
            let at = times.next().unwrap_or(now);
            let item = PosLineItem {
                item_id: Text::from(
                    ctx.world.catalog.products[l.key.product as usize]
                        .product_id
                        .as_str(),
                ),
                quantity: l.quantity,
                unit_price: cents_to_usd(l.unit_cents),
                discount: l.discount_pct as f64 / 100.0,
                total_price: cents_to_usd(l.total_cents),
            };
            let r = pos(ctx, terminal, PosEventType::ItemAdded, at);
            group.push(with_pos(r, |e| {
                e.basket_id = Some(basket_id.clone());
                e.item_id = Some(item.item_id.clone());
                e.quantity = Some(item.quantity);
                e.price = Some(item.unit_price);
                e.discount = Some(item.discount);
                e.line_total = Some(item.total_price);
            }));
            items.push(item);
        }
        let at = times.next().unwrap_or(now);
        let r = pos(ctx, terminal, PosEventType::SubtotalCalculated, at);
        group.push(with_pos(r, |e| {
            e.basket_id = Some(basket_id.clone());
            e.subtotal = Some(cents_to_usd(subtotal));
            e.tax = Some(cents_to_usd(tax));
        }));
        let r = pos(ctx, terminal, PosEventType::PaymentCompleted, now);
        group.push(with_pos(r, |e| {
            e.basket_id = Some(basket_id.clone());
            e.amount = Some(cents_to_usd(subtotal + tax));
            e.payment_method = Some(tender);
        }));

        let transaction_id = ctx.ids.next("txn");
        let t = &ctx.world.catalog.terminals[terminal];
        let mut transaction = Record::new(
            transaction_id.clone(),
            None,
            Event::Transaction(PosTransaction {
                event_type: "pos_transaction",
                transaction_id: transaction_id.clone(),
                customer_id: customer,
                timestamp: now,
                items,
                store_id: Text::from(ctx.world.catalog.stores[store].store_id.as_str()),
                terminal_id: Text::from(t.terminal_id.as_str()),
                employee_id,
                basket_id,
                subtotal: cents_to_usd(subtotal),
                tax: cents_to_usd(tax),
                amount: cents_to_usd(subtotal + tax),
                payment_method: tender,
                visit_id: Some(visit_id),
            }),
        );
        transaction.at = Some(now);
        transaction.effect = Some(Effect::Sale {
            store: store as u32,
        });
        group.push(transaction);
        for l in &lines {
            let effect = Effect::Stock {
                key: l.key,
                requested: -l.quantity,
            };
            let sale = store_change(ctx, l.key, StoreChangeType::Sale, effect);
            let mut sale = with_change(sale, |c| c.transaction_id = Some(transaction_id.clone()));
            sale.at = Some(now);
            group.push(sale);
        }
        self.tills[terminal].last_event = now;
        // With visitors waiting, the next is served at once; else the till idles a while.
        let pause = match self.next_exit[store] <= now {
            true => ctx.rng.random_range(2_000..=10_000),
            false => ctx.rng.random_range(5_000..=60_000),
        };
        self.tills[terminal].free_at = now + pause;
        Ok(())
    }
}
