//! Order chains: an order priced from the catalog together with the SALE that takes its stock,
//! maybe a payment, and a shipment only after a SETTLED payment.

use rand::Rng;

use super::inventory::change;
use super::world::Sale;
use super::{weighted, Ctx, Emission, Service};
use crate::domain::events::{
    ChangeType, Event, Order, Payment, PaymentMethod, PaymentStatus, Shipment,
};
use crate::domain::ports::RepositoryError;
use crate::domain::record::{Effect, Record};
use crate::domain::reference::catalog::cents_to_usd;
use crate::domain::stock::StockKey;
use crate::domain::Text;

pub const CARRIERS: [&str; 3] = ["UPS", "DHL", "FEDEX"];
const QUANTITIES: [(i32, u32); 5] = [(1, 60), (2, 25), (3, 10), (4, 3), (5, 2)];
const STATUSES: [(PaymentStatus, u32); 3] = [
    (PaymentStatus::Pending, 2),
    (PaymentStatus::Settled, 5),
    (PaymentStatus::Failed, 1),
];
const METHODS: [(PaymentMethod, u32); 3] = [
    (PaymentMethod::Card, 60),
    (PaymentMethod::ApplePay, 25),
    (PaymentMethod::Paypal, 15),
];

pub struct OrderService {
    pub p_payment: f64,
    pub p_shipment: f64,
}

/// A warehouse that can fill `quantity` of product `p` right now, if any, chosen uniformly
/// among those that can (reservoir sampling: no allocation on the hot path).
fn fillable(ctx: &mut Ctx<'_>, p: usize, quantity: i32) -> Option<StockKey> {
    let ledger = &ctx.world.ledger;
    let mut chosen = None;
    let mut seen = 0;
    for &w in &ctx.world.catalog.stocked_at[p] {
        let key = StockKey {
            location: w,
            product: p as u32,
        };
        if ledger.level(key).is_some_and(|l| l.available() >= quantity) {
            seen += 1;
            if ctx.rng.random_range(0..seen) == 0 {
                chosen = Some(key);
            }
        }
    }
    chosen
}

impl Service for OrderService {
    fn name(&self) -> &'static str {
        "orders"
    }

    fn emit(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) -> Result<(), RepositoryError> {
        let u = ctx.world.customer(ctx.rng, ctx.now_ms)?;
        let p = ctx.world.catalog.pick_product(ctx.rng);
        let quantity = weighted(ctx.rng, &QUANTITIES);
        let Some(key) = fillable(ctx, p, quantity) else {
            return Ok(()); // out of stock everywhere: no order
        };
        let product = &ctx.world.catalog.products[p];
        let amount = cents_to_usd(product.price_cents * i64::from(quantity));
        let order_id = ctx.ids.next("ord");
        let trace_id = Some(ctx.ids.next("tr"));
        let order = Record::new(
            order_id.clone(),
            trace_id.clone(),
            Event::Order(Order {
                order_id: order_id.clone(),
                user_id: ctx.world.catalog.users.user_id(u),
                product_id: product.product_id.as_str().into(),
                amount,
                currency: "USD",
                ts: 0,
                quantity,
                unit_price: Some(product.price_usd()),
            }),
        );
        let mut sale = change(
            ctx,
            key,
            ChangeType::Sale,
            Effect::Stock {
                key,
                requested: -quantity,
            },
        );
        sale.trace_id = trace_id.clone();
        if let Event::Inventory(c) = &mut sale.event {
            c.order_id = Some(order_id.clone());
            c.reason = Some("order".into());
        }
        out.pair_now(order, sale);
        ctx.world.remember_sale(Sale {
            order_id: order_id.clone(),
            key,
            quantity,
        });
        self.follow_ups(ctx, out, &order_id, &trace_id, amount);
        Ok(())
    }
}

impl OrderService {
    fn follow_ups(
        &self,
        ctx: &mut Ctx<'_>,
        out: &mut Emission,
        order_id: &str,
        trace_id: &Option<Text>,
        amount: f64,
    ) {
        if !ctx.rng.random_bool(self.p_payment) {
            return;
        }
        let record = |event| Record::new(order_id.into(), trace_id.clone(), event);
        let status = weighted(ctx.rng, &STATUSES);
        let paid_after = ctx.rng.random_range(10..=2_000);
        out.after(
            paid_after,
            record(Event::Payment(Payment {
                payment_id: ctx.ids.next("pay"),
                order_id: order_id.into(),
                method: weighted(ctx.rng, &METHODS),
                status,
                ts: 0,
                amount: Some(amount),
            })),
        );
        if status != PaymentStatus::Settled || !ctx.rng.random_bool(self.p_shipment) {
            return;
        }
        let shipped_after = paid_after + ctx.rng.random_range(5_000..=60_000);
        out.after(
            shipped_after,
            record(Event::Shipment(Shipment {
                shipment_id: ctx.ids.next("shp"),
                order_id: order_id.into(),
                carrier: CARRIERS[ctx.rng.random_range(0..CARRIERS.len())],
                eta_days: ctx.rng.random_range(1..=5),
                ts: 0,
            })),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::testing::Harness;

    /// One order's groups with their delays.
    type Chain = Vec<(i64, Vec<Record>)>;

    fn chains(n: usize, p_payment: f64, p_shipment: f64) -> (Vec<Chain>, crate::services::World) {
        let mut h = Harness::new(0.0, 5);
        let mut svc = OrderService {
            p_payment,
            p_shipment,
        };
        let chains = (0..n)
            .map(|_| h.emit(&mut svc))
            .filter(|g| !g.is_empty())
            .collect();
        (chains, h.world)
    }

    #[test]
    fn an_order_is_priced_from_the_catalog_and_grouped_with_its_sale() {
        let (chains, w) = chains(200, 1.0, 1.0);
        for chain in chains {
            let [order, sale] = &chain[0].1[..] else {
                panic!("order and sale together")
            };
            let (Event::Order(o), Event::Inventory(s)) = (&order.event, &sale.event) else {
                panic!()
            };
            let p = w
                .catalog
                .products
                .iter()
                .find(|p| p.product_id == o.product_id)
                .unwrap();
            assert_eq!(o.unit_price, Some(p.price_usd()));
            assert!((o.amount - f64::from(o.quantity) * p.price_usd()).abs() < 1e-9);
            assert_eq!(
                (s.change_type, &s.order_id, &s.product_id),
                (ChangeType::Sale, &Some(o.order_id.clone()), &o.product_id)
            );
            assert_eq!(
                sale.effect.map(
                    |e| matches!(e, Effect::Stock { requested, .. } if requested == -o.quantity)
                ),
                Some(true)
            );
        }
    }

    #[test]
    fn shipments_follow_only_settled_payments_later_and_share_the_order_key() {
        let mut shipped = 0;
        for chain in chains(500, 1.0, 1.0).0 {
            let key = &chain[0].1[0].key;
            assert!(chain[1..].iter().all(|(_, g)| g[0].key == *key));
            if let Some((ship_delay, ship)) = chain.get(2) {
                let Event::Payment(p) = &chain[1].1[0].event else {
                    panic!("payment second")
                };
                assert_eq!(p.status, PaymentStatus::Settled);
                assert!(*ship_delay > chain[1].0);
                assert!(matches!(ship[0].event, Event::Shipment(_)));
                shipped += 1;
            }
        }
        assert!(shipped > 0);
    }

    #[test]
    fn with_payment_probability_zero_only_the_order_and_its_sale_are_emitted() {
        assert!(chains(100, 0.0, 1.0).0.iter().all(|c| c.len() == 1));
    }

    #[test]
    fn sign_ups_are_stored_before_an_order_names_them_and_shop_seconds_later() {
        let mut h = Harness::new(1.0, 1);
        let before = h.world.catalog.users.len();
        let mut orders = OrderService {
            p_payment: 0.0,
            p_shipment: 0.0,
        };
        let user_of = |groups: Vec<(i64, Vec<Record>)>| match &groups[0].1[0].event {
            Event::Order(o) => o.user_id.clone(),
            other => panic!("an order first, not {other:?}"),
        };
        let first = user_of(h.emit_at(&mut orders, 0));
        assert_eq!(h.world.catalog.users.len(), before + 1, "stored at once");
        let new = h.world.catalog.users.user_id(before);
        assert_eq!(new, format!("U{:06}", before + 1));
        assert_ne!(first, new, "not named by the event of its own sign-up");
        let (soonest, latest) = crate::services::world::SIGN_UP_TO_FIRST_EVENT_MS;
        let soon = user_of(h.emit_at(&mut orders, soonest - 1));
        assert_ne!(soon, new, "nor before it could have been committed");
        let named = (0..5).any(|_| user_of(h.emit_at(&mut orders, latest)) == new);
        assert!(
            named,
            "the new customer's first order comes once their time has come"
        );
    }
}
