//! Engine tests with an in-memory publisher.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::*;
use crate::domain::events::{Event, PaymentStatus};
use crate::domain::record::Record;
use crate::services::interactions::InteractionService;
use crate::services::orders::OrderService;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<Record>>>);

impl EventPublisher for Captured {
    fn publish(&mut self, record: &Record) -> Result<(), PublishError> {
        self.0.lock().unwrap().push(record.clone());
        Ok(())
    }
    fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError> {
        Ok(vec![])
    }
}

fn run(seed: u64, count: u64, eps: f64) -> (RunReport, Vec<Record>) {
    let sink = Captured::default();
    let services = ServiceTable::new(vec![
        (
            0.6,
            Box::new(OrderService {
                p_payment: 0.9,
                p_shipment: 0.9,
            }),
        ),
        (
            0.4,
            Box::new(InteractionService::new(0.4, NonZeroUsize::new(50).unwrap())),
        ),
    ]);
    let config = EngineConfig {
        seed,
        target_eps: eps,
        max_pending: 1_000,
        count: Some(count),
    };
    let engine = Engine::new(
        &config,
        services,
        Catalog::generate(50, 30, seed),
        Box::new(sink.clone()),
        EventClock::new(Box::new(clock::SystemClock), eps),
    );
    let report = engine
        .run(&Stopper::new(CancellationToken::new(), None))
        .unwrap();
    let records = sink.0.lock().unwrap().clone();
    (report, records)
}

fn without_ts(records: &[Record]) -> Vec<Record> {
    records
        .iter()
        .cloned()
        .map(|mut r| {
            r.event.set_ts(0);
            r
        })
        .collect()
}

#[test]
fn a_run_stops_after_exactly_count_records() {
    let (report, records) = run(1, 3_000, 0.0);
    assert_eq!(report.records, 3_000);
    assert_eq!(records.len(), 3_000);
    assert_eq!(report.stop, StopReason::Count);
    assert_eq!(report.per_stream.iter().sum::<u64>(), 3_000);
}

#[test]
fn the_same_seed_gives_the_same_records_in_the_same_order() {
    let (_, a) = run(42, 2_000, 0.0);
    let (_, b) = run(42, 2_000, 0.0);
    let (_, c) = run(43, 2_000, 0.0);
    assert_eq!(without_ts(&a), without_ts(&b));
    assert_ne!(without_ts(&a), without_ts(&c));
}

#[test]
fn payments_follow_their_order_and_shipments_a_settled_payment() {
    let (_, records) = run(7, 20_000, 0.0);
    let mut orders = HashMap::new();
    let mut settled = HashMap::new();
    let (mut payments, mut shipments) = (0, 0);
    for r in &records {
        match &r.event {
            Event::Order(o) => {
                orders.insert(o.order_id.clone(), o.ts);
            }
            Event::Payment(p) => {
                let order_ts = orders
                    .get(&p.order_id)
                    .expect("payment of an earlier order");
                assert!(p.ts >= *order_ts);
                assert_eq!(r.key, p.order_id);
                if p.status == PaymentStatus::Settled {
                    settled.insert(p.order_id.clone(), p.ts);
                }
                payments += 1;
            }
            Event::Shipment(s) => {
                let paid = settled
                    .get(&s.order_id)
                    .expect("shipment after a settled payment");
                assert!(s.ts >= *paid);
                assert_eq!(r.key, s.order_id);
                shipments += 1;
            }
            Event::Interaction(i) => assert_eq!(r.key, i.session_id),
        }
    }
    assert!(
        payments > 1_000 && shipments > 100,
        "{payments} payments, {shipments} shipments"
    );
}

#[test]
fn a_stop_request_ends_the_run_and_flushes() {
    let sink = Captured::default();
    let token = CancellationToken::new();
    token.cancel();
    let services = ServiceTable::new(vec![(
        1.0,
        Box::new(OrderService {
            p_payment: 1.0,
            p_shipment: 1.0,
        }),
    )]);
    let config = EngineConfig {
        seed: 1,
        target_eps: 0.0,
        max_pending: 10,
        count: None,
    };
    let engine = Engine::new(
        &config,
        services,
        Catalog::generate(5, 5, 1),
        Box::new(sink),
        EventClock::new(Box::new(clock::SystemClock), 0.0),
    );
    let report = engine.run(&Stopper::new(token, None)).unwrap();
    assert_eq!(report.stop, StopReason::Signal);
    assert_eq!(report.records, 0);
}
