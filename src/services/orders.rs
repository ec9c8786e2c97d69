//! Order chains: an order priced from the catalog, maybe a payment, and a shipment only after a SETTLED payment.

use rand::Rng;

use super::{weighted, Ctx, Emission, Service};
use crate::domain::catalog::cents_to_usd;
use crate::domain::events::{Event, Order, Payment, PaymentMethod, PaymentStatus, Shipment};
use crate::domain::record::Record;

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

impl Service for OrderService {
    fn name(&self) -> &'static str {
        "orders"
    }

    fn emit(&mut self, ctx: &mut Ctx<'_>, out: &mut Emission) {
        let user = &ctx.catalog.users[ctx.catalog.pick_user(ctx.rng)];
        let product = &ctx.catalog.products[ctx.catalog.pick_product(ctx.rng)];
        let quantity = weighted(ctx.rng, &QUANTITIES);
        let amount = cents_to_usd(product.price_cents * i64::from(quantity));
        let order_id = ctx.ids.next("ord");
        let trace_id = Some(ctx.ids.next("tr"));
        let record = |event| Record::new(order_id.clone(), trace_id.clone(), event);
        out.now(record(Event::Order(Order {
            order_id: order_id.clone(),
            user_id: user.user_id.clone(),
            product_id: product.product_id.clone(),
            amount,
            currency: "USD",
            ts: 0,
            quantity,
            unit_price: Some(product.price_usd()),
        })));
        if !ctx.rng.random_bool(self.p_payment) {
            return;
        }
        let status = weighted(ctx.rng, &STATUSES);
        let paid_after = ctx.rng.random_range(10..=2_000);
        out.after(
            paid_after,
            record(Event::Payment(Payment {
                payment_id: ctx.ids.next("pay"),
                order_id: order_id.clone(),
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
                order_id: order_id.clone(),
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
    use crate::domain::catalog::Catalog;
    use crate::domain::ids::IdGen;
    use crate::services::DetRng;
    use rand::SeedableRng;

    fn chains(n: usize, p_payment: f64, p_shipment: f64) -> Vec<Vec<(i64, Record)>> {
        let catalog = Catalog::generate(20, 20, 1);
        let mut rng = DetRng::seed_from_u64(5);
        let mut ids = IdGen::new(5);
        let mut svc = OrderService {
            p_payment,
            p_shipment,
        };
        (0..n)
            .map(|_| {
                let mut out = Emission::default();
                let mut ctx = Ctx {
                    rng: &mut rng,
                    ids: &mut ids,
                    catalog: &catalog,
                };
                svc.emit(&mut ctx, &mut out);
                out.records
            })
            .collect()
    }

    #[test]
    fn an_order_amount_is_quantity_times_the_catalog_price() {
        let catalog = Catalog::generate(20, 20, 1);
        for chain in chains(200, 1.0, 1.0) {
            let Event::Order(o) = &chain[0].1.event else {
                panic!("chain starts with an order")
            };
            let p = catalog
                .products
                .iter()
                .find(|p| p.product_id == o.product_id)
                .unwrap();
            assert_eq!(o.unit_price, Some(p.price_usd()));
            assert!((o.amount - f64::from(o.quantity) * p.price_usd()).abs() < 1e-9);
        }
    }

    #[test]
    fn shipments_follow_only_settled_payments_later_and_share_the_order_key() {
        let mut shipped = 0;
        for chain in chains(500, 1.0, 1.0) {
            let key = &chain[0].1.key;
            assert!(chain
                .iter()
                .all(|(_, r)| &r.key == key && r.trace_id == chain[0].1.trace_id));
            if let Some((ship_delay, _)) = chain.get(2) {
                let Event::Payment(p) = &chain[1].1.event else {
                    panic!("payment second")
                };
                assert_eq!(p.status, PaymentStatus::Settled);
                assert!(*ship_delay > chain[1].0);
                shipped += 1;
            }
        }
        assert!(shipped > 0);
    }

    #[test]
    fn with_payment_probability_zero_only_orders_are_emitted() {
        assert!(chains(100, 0.0, 1.0).iter().all(|c| c.len() == 1));
    }
}
