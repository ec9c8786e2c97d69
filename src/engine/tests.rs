//! Engine tests with an in-memory publisher: stopping, reproducibility, ordering, and
//! statistical checks (fixed seeds) of the mix, probabilities, fault rates and diurnal curve.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::clock::{Spacing, Stamping, SystemClock};
use super::*;
use crate::adapters::memory::{MemoryLedger, MemoryStore, NoJournal};
use crate::domain::events::{ChangeType, Event, PaymentStatus};
use crate::domain::faults::BadKind;
use crate::domain::ports::{ReferenceStore, StockLedger};
use crate::domain::record::Record;
use crate::domain::reference::{SeedCounts, StoreLayout};
use crate::domain::stock::{Applied, StockKey, StockLevel};
use crate::domain::traffic::DiurnalCurve;
use crate::domain::Text;
use crate::services::interactions::InteractionService;
use crate::services::inventory::InventoryService;
use crate::services::orders::OrderService;
use crate::services::prices::PriceService;
use crate::services::restock::Restocker;
use crate::services::testing::{world_with, COUNTS};

/// 2024-01-01T00:00:00Z, a Monday.
const MONDAY: Millis = 1_704_067_200_000;
const HOUR: Millis = 3_600_000;
/// Enough stock that orders are never turned away.
const PLENTY: SeedCounts = SeedCounts {
    users: 50,
    products: 500,
    warehouses: 4,
    suppliers: 8,
    stores: 3,
    terminals_per_store: 2,
    employees_per_store: 3,
    layout: StoreLayout::VARIED,
};

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

/// A ledger the test can read after the run.
#[derive(Clone)]
struct Shared(Arc<Mutex<MemoryLedger>>);

impl StockLedger for Shared {
    fn level(&self, key: StockKey) -> Option<StockLevel> {
        self.0.lock().unwrap().level(key)
    }
    fn apply(&mut self, key: StockKey, requested: i32) -> Result<Applied, RepositoryError> {
        self.0.lock().unwrap().apply(key, requested)
    }
    fn restate(&mut self, key: StockKey, reported: i32) -> Result<Applied, RepositoryError> {
        self.0.lock().unwrap().restate(key, reported)
    }
}

struct Outcome {
    report: RunReport,
    records: Vec<Record>,
    catalog: crate::domain::reference::catalog::Catalog,
    initial: crate::domain::reference::catalog::StockLevels,
    ledger: Shared,
}

struct Setup {
    seed: u64,
    /// Runs recorded before this one.
    run: u32,
    counts: SeedCounts,
    weights_inventory: f64,
    background: bool,
    count: Option<u64>,
    weights: (f64, f64),
    p_payment: f64,
    p_shipment: f64,
    faults: FaultPolicy,
    /// Simulated clock: (from, to, eps, curve); `None` = real time, unthrottled.
    simulated: Option<(Millis, Option<Millis>, f64, DiurnalCurve)>,
}

impl Default for Setup {
    fn default() -> Self {
        Self {
            seed: 1,
            run: 0,
            counts: COUNTS,
            weights_inventory: 0.0,
            background: false,
            count: Some(1_000),
            weights: (0.6, 0.4),
            p_payment: 0.9,
            p_shipment: 0.9,
            faults: FaultPolicy::none(),
            simulated: None,
        }
    }
}

fn run(setup: Setup) -> Outcome {
    let sink = Captured::default();
    let services = ServiceTable::new(vec![
        (
            setup.weights.0,
            Box::new(OrderService {
                p_payment: setup.p_payment,
                p_shipment: setup.p_shipment,
            }),
        ),
        (
            setup.weights.1,
            Box::new(InteractionService::new(0.4, NonZeroUsize::new(50).unwrap())),
        ),
        (setup.weights_inventory, Box::new(InventoryService::new())),
    ]);
    let background: Vec<(f64, Box<dyn crate::services::Service>)> = match setup.background {
        true => vec![
            (0.05, Box::new(InventoryService::background())),
            (0.01, Box::new(PriceService)),
        ],
        false => vec![],
    };
    let mut store = MemoryStore::generate(setup.counts, setup.seed);
    let (catalog, initial) = store.load().unwrap();
    let ledger = Shared(Arc::new(Mutex::new(MemoryLedger::new(initial.clone()))));
    let world = World::new(
        catalog.clone(),
        Box::new(store),
        Box::new(ledger.clone()),
        Box::new(NoJournal),
        0.0,
    );
    let (clock, end_ms) = match setup.simulated {
        Some((from, to, eps, curve)) => (
            EventClock::new(Stamping::Simulated, Spacing::Rate { eps }, curve, from),
            to,
        ),
        None => (
            EventClock::new(
                Stamping::Wall(Box::new(SystemClock)),
                Spacing::Rate { eps: 0.0 },
                DiurnalCurve::flat(),
                0,
            ),
            None,
        ),
    };
    let config = EngineConfig {
        seed: setup.seed,
        run: setup.run,
        max_pending: 100_000,
        count: setup.count,
        end_ms,
        faults: setup.faults,
        shard: 0,
    };
    let generators = Generators {
        services,
        background,
        world,
        initial: vec![],
        restocker: Restocker { lead_ms: 60_000 },
    };
    let engine = Engine::new(
        config,
        generators,
        Box::new(sink.clone()),
        clock,
        Pacer::Free,
    );
    let report = engine
        .run(&Stopper::new(CancellationToken::new(), None))
        .unwrap();
    let records = sink.0.lock().unwrap().clone();
    Outcome {
        report,
        records,
        catalog,
        initial,
        ledger,
    }
}

fn faulty() -> FaultPolicy {
    FaultPolicy {
        p_late: 0.05,
        max_late_ms: 25 * 60_000,
        late_mode: crate::domain::faults::LateMode::Delay,
        max_held: crate::domain::faults::DEFAULT_MAX_HELD,
        p_bad: 0.02,
        wire_share: 0.3,
        p_duplicate: 0.01,
    }
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

fn is_extra(r: &Record) -> bool {
    matches!(r.fault, Some(Fault::Bad(_)) | Some(Fault::Duplicate))
}

#[test]
fn a_run_stops_at_count_records_never_splitting_a_group() {
    let Outcome {
        report, records, ..
    } = run(Setup {
        count: Some(3_000),
        faults: faulty(),
        ..Setup::default()
    });
    assert_eq!(report.records, 3_000);
    assert_eq!(records.len() as u64, report.records);
    assert_eq!(report.stop, StopReason::Count);
    assert_eq!(report.per_stream.iter().sum::<u64>(), report.records);
    let labelled = records.iter().filter(|r| r.fault.is_some()).count() as u64;
    assert_eq!(report.faults.values().sum::<u64>(), labelled);
}

#[test]
fn the_same_seed_gives_the_same_records_in_the_same_order() {
    let setup = |seed| Setup {
        seed,
        count: Some(2_000),
        faults: faulty(),
        ..Setup::default()
    };
    let a = run(setup(42)).records;
    let b = run(setup(42)).records;
    let c = run(setup(43)).records;
    assert_eq!(without_ts(&a), without_ts(&b));
    assert_ne!(without_ts(&a), without_ts(&c));
}

/// Every id a record carries in its key or its own id field.
fn ids_of(records: &[Record]) -> std::collections::HashSet<String> {
    records
        .iter()
        .flat_map(|r| [r.event.id().to_owned(), r.key.to_string()])
        .collect()
}

#[test]
fn a_later_run_of_the_same_seed_continues_with_new_ids_and_new_draws() {
    let setup = |run| Setup {
        run,
        count: Some(2_000),
        ..Setup::default()
    };
    let first = run(setup(0)).records;
    let second = run(setup(1)).records;
    let (a, b) = (ids_of(&first), ids_of(&second));
    let shared: Vec<_> = a.intersection(&b).filter(|id| id.contains('_')).collect();
    assert!(shared.is_empty(), "ids reused by the next run: {shared:?}");
    let kinds = |rs: &[Record]| rs.iter().map(|r| r.stream()).collect::<Vec<_>>();
    assert_ne!(kinds(&first), kinds(&second), "the next run draws anew");
    assert_eq!(without_ts(&first), without_ts(&run(setup(0)).records));
}

#[test]
fn a_simulated_run_is_identical_to_the_millisecond_and_ends_at_the_span() {
    let setup = || Setup {
        count: None,
        faults: faulty(),
        simulated: Some((MONDAY, Some(MONDAY + HOUR), 5.0, DiurnalCurve::flat())),
        ..Setup::default()
    };
    let Outcome {
        report, records: a, ..
    } = run(setup());
    let b = run(setup()).records;
    assert_eq!(a, b);
    assert_eq!(report.stop, StopReason::SpanEnd);
    assert!(
        (17_000..=19_000).contains(&a.len()),
        "5/s for an hour: {}",
        a.len()
    );
    assert!(a
        .iter()
        .filter(|r| r.fault.is_none())
        .all(|r| (MONDAY..MONDAY + HOUR).contains(&r.event.ts())));
}

#[test]
fn payments_follow_their_order_and_shipments_a_settled_payment() {
    let Outcome { records, .. } = run(Setup {
        count: Some(20_000),
        faults: faulty(),
        ..Setup::default()
    });
    // Late records keep their true time and arrive later: what a record names is on the
    // topics and happened before it, in event time (a late order may arrive after its payment).
    let good = || {
        records
            .iter()
            .filter(|r| !matches!(r.fault, Some(Fault::Bad(_))))
    };
    let orders: HashMap<Text, Millis> = good()
        .filter_map(|r| match &r.event {
            Event::Order(o) => Some((o.order_id.clone(), o.ts)),
            _ => None,
        })
        .collect();
    let settled: HashMap<Text, Millis> = good()
        .filter_map(|r| match &r.event {
            Event::Payment(p) if p.status == PaymentStatus::Settled => {
                Some((p.order_id.clone(), p.ts))
            }
            _ => None,
        })
        .collect();
    let (mut payments, mut shipments, mut overtaken) = (0, 0, 0);
    let mut published = HashSet::new();
    for r in good() {
        match &r.event {
            Event::Order(o) => {
                published.insert(o.order_id.clone());
            }
            Event::Payment(p) => {
                let ordered = orders.get(&p.order_id).expect("a payment names an order");
                assert!(p.ts >= *ordered, "a payment after its order, in event time");
                overtaken += usize::from(!published.contains(&p.order_id));
                assert_eq!(r.key, p.order_id);
                payments += 1;
            }
            Event::Shipment(s) => {
                assert!(
                    settled.get(&s.order_id).is_some_and(|paid| s.ts >= *paid),
                    "shipment after a settled payment, in event time"
                );
                assert_eq!(r.key, s.order_id);
                shipments += 1;
            }
            Event::Interaction(i) => assert_eq!(r.key, i.session_id),
            _ => {}
        }
    }
    assert!(
        payments > 1_000 && shipments > 100,
        "{payments} payments, {shipments} shipments"
    );
    assert!(overtaken > 0, "some late orders arrive after their payment");
}

#[test]
fn the_observed_mix_matches_the_normalised_weights() {
    let Outcome { records, .. } = run(Setup {
        count: Some(60_000),
        weights: (3.5, 1.5),
        counts: PLENTY,
        faults: faulty(),
        ..Setup::default()
    });
    let picks = records.iter().filter(|r| !is_extra(r));
    let (orders, interactions) = picks.fold((0.0_f64, 0.0_f64), |(o, i), r| match r.stream() {
        Stream::Orders => (o + 1.0, i),
        Stream::CustomerInteractions => (o, i + 1.0),
        _ => (o, i),
    });
    let share = orders / (orders + interactions);
    assert!(
        (share - 0.7).abs() < 0.01,
        "order share {share}, expected 0.7"
    );
}

#[test]
fn payment_and_shipment_shares_match_their_probabilities() {
    let span = Some((MONDAY, None, 100.0, DiurnalCurve::flat()));
    let setup = Setup {
        count: Some(200_000),
        p_payment: 0.8,
        p_shipment: 0.5,
        simulated: span,
        ..Setup::default()
    };
    let Outcome { records, .. } = run(setup);
    // Only orders old enough for all their follow-ups to be due (payment <= 2 s, shipment <= 62 s).
    let horizon = records.last().unwrap().event.ts() - 70_000;
    let old: HashSet<&str> = records
        .iter()
        .filter_map(|r| match &r.event {
            Event::Order(o) if o.ts < horizon => Some(o.order_id.as_str()),
            _ => None,
        })
        .collect();
    let mut paid = 0.0;
    let mut settled = HashSet::new();
    let mut shipped = 0.0;
    for r in &records {
        match &r.event {
            Event::Payment(p) if old.contains(p.order_id.as_str()) => {
                paid += 1.0;
                if p.status == PaymentStatus::Settled {
                    settled.insert(p.order_id.as_str());
                }
            }
            Event::Shipment(s) if old.contains(s.order_id.as_str()) => shipped += 1.0,
            _ => {}
        }
    }
    let p_pay = paid / old.len() as f64;
    let p_ship = shipped / settled.len() as f64;
    assert!(
        (p_pay - 0.8).abs() < 0.01,
        "payment share {p_pay} of {} orders",
        old.len()
    );
    assert!(
        (p_ship - 0.5).abs() < 0.02,
        "shipment share {p_ship} of {} settled",
        settled.len()
    );
}

#[test]
fn fault_rates_match_the_configuration_and_every_fault_is_labelled() {
    let Outcome {
        report, records, ..
    } = run(Setup {
        count: Some(100_000),
        faults: faulty(),
        ..Setup::default()
    });
    let fresh = records.iter().filter(|r| !is_extra(r)).count() as f64;
    let count = |f: &dyn Fn(&Fault) -> bool| {
        records
            .iter()
            .filter(|r| r.fault.as_ref().is_some_and(f))
            .count() as f64
    };
    // Ledger records (stock and price changes) are never delayed.
    let fresh_late = records
        .iter()
        .filter(|r| !is_extra(r) && !r.stream().is_ledger())
        .count() as f64;
    let late = count(&|f| matches!(f, Fault::Late { .. }));
    let bad = count(&|f| matches!(f, Fault::Bad(_)));
    let wire = count(&|f| matches!(f, Fault::Bad(k) if k.is_wire()));
    let dup = count(&|f| matches!(f, Fault::Duplicate));
    assert!(
        (late / fresh_late - 0.05).abs() < 0.004,
        "late {}",
        late / fresh_late
    );
    assert!((bad / fresh - 0.02).abs() < 0.002, "bad {}", bad / fresh);
    assert!((wire / bad - 0.3).abs() < 0.04, "wire share {}", wire / bad);
    assert!(
        (dup / fresh - 0.01).abs() < 0.0015,
        "duplicates {}",
        dup / fresh
    );
    assert_eq!(report.faults.values().sum::<u64>() as f64, late + bad + dup);
    assert!(report.faults.keys().any(|(_, l)| l == "bad:truncated_body"));
    for r in &records {
        if let Some(Fault::Late { delay_ms }) = r.fault {
            assert!((1..=25 * 60_000).contains(&delay_ms));
        }
    }
}

#[test]
fn duplicates_repeat_an_earlier_record_unchanged() {
    let faults = FaultPolicy {
        p_duplicate: 0.05,
        p_late: 0.3,
        ..faulty()
    };
    let Outcome { records, .. } = run(Setup {
        count: Some(5_000),
        faults,
        ..Setup::default()
    });
    let mut seen = Vec::new();
    for r in &records {
        if r.fault == Some(Fault::Duplicate) {
            // The original was an unlabelled record: a duplicate never hides another label.
            let original = Record {
                fault: None,
                ..r.clone()
            };
            assert!(
                seen.contains(&original),
                "a duplicate of a record already sent"
            );
        } else {
            seen.push(r.clone());
        }
    }
}

#[test]
fn semantic_bad_records_break_exactly_one_rule_and_keep_the_good_stream_whole() {
    let faults = FaultPolicy {
        p_bad: 0.2,
        ..FaultPolicy::none()
    };
    let Outcome { records, .. } = run(Setup {
        count: Some(5_000),
        faults,
        ..Setup::default()
    });
    let good_orders: HashSet<&str> = records
        .iter()
        .filter_map(|r| match (&r.event, r.fault) {
            (Event::Order(o), None) => Some(o.order_id.as_str()),
            _ => None,
        })
        .collect();
    for r in &records {
        match (r.fault, &r.event) {
            (Some(Fault::Bad(BadKind::NonPositiveAmount)), Event::Order(o)) => {
                assert!(o.amount <= 0.0)
            }
            (Some(Fault::Bad(BadKind::UnknownCurrency)), Event::Order(o)) => {
                assert_eq!(o.currency, "ZZZ")
            }
            (Some(Fault::Bad(BadKind::DanglingReference)), Event::Payment(p)) => {
                assert!(!good_orders.contains(p.order_id.as_str()))
            }
            (None, Event::Payment(p)) => assert!(good_orders.contains(p.order_id.as_str())),
            _ => {}
        }
    }
}

#[test]
fn hourly_counts_over_48_simulated_hours_follow_the_diurnal_curve() {
    let curve = DiurnalCurve {
        min: 0.4,
        max: 1.4,
        peak_hour: 19.0,
        tz: chrono_tz::Tz::UTC,
        weekdays: None,
    };
    let span = Some((MONDAY, Some(MONDAY + 48 * HOUR), 1.0, curve.clone()));
    let Outcome { records, .. } = run(Setup {
        count: None,
        simulated: span,
        ..Setup::default()
    });
    let mut per_hour: HashMap<i64, f64> = HashMap::new();
    for r in &records {
        *per_hour.entry((r.event.ts() - MONDAY) / HOUR).or_default() += 1.0;
    }
    for h in 0..48 {
        let expected: f64 = (0..60)
            .map(|m| 60.0 * curve.at(MONDAY + h * HOUR + m * 60_000 + 30_000))
            .sum();
        let observed = per_hour.get(&h).copied().unwrap_or_default();
        assert!(
            (observed / expected - 1.0).abs() < 0.02,
            "hour {h}: {observed} records, expected {expected:.0}"
        );
    }
    let peak = per_hour[&19];
    let trough = per_hour[&7];
    assert!(peak / trough > 3.0, "peak {peak} vs trough {trough}");
}

#[test]
fn a_stop_request_ends_the_run_and_flushes() {
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
        run: 0,
        max_pending: 10,
        count: None,
        end_ms: None,
        faults: FaultPolicy::none(),
        shard: 0,
    };
    let clock = EventClock::new(
        Stamping::Simulated,
        Spacing::Rate { eps: 1.0 },
        DiurnalCurve::flat(),
        0,
    );
    let generators = Generators {
        services,
        background: vec![],
        world: world_with(COUNTS, 1, 0.0),
        initial: vec![],
        restocker: Restocker { lead_ms: 60_000 },
    };
    let engine = Engine::new(
        config,
        generators,
        Box::new(Captured::default()),
        clock,
        Pacer::Free,
    );
    let report = engine.run(&Stopper::new(token, None)).unwrap();
    assert_eq!(report.stop, StopReason::Signal);
    assert_eq!(report.records, 0);
}

#[test]
fn inventory_changes_replay_from_the_seeded_stock_to_the_ledger_and_never_go_negative() {
    let o = run(Setup {
        count: Some(30_000),
        weights: (0.5, 0.2),
        weights_inventory: 0.3,
        background: true,
        faults: faulty(),
        ..Setup::default()
    });
    let name = |k: &StockKey| {
        (
            Text::from(o.catalog.location_id(k.location)),
            Text::from(o.catalog.products[k.product as usize].product_id.as_str()),
        )
    };
    let mut stock: HashMap<(Text, Text), i32> =
        o.initial.iter().map(|(k, l)| (name(k), l.qty)).collect();
    // A late order may arrive after its sale: the orders are on the topics, in any order.
    let mut sales: HashMap<Text, i32> = HashMap::new();
    let orders: HashSet<Text> = o
        .records
        .iter()
        .filter(|r| !is_extra(r))
        .filter_map(|r| match &r.event {
            Event::Order(order) => {
                sales.insert(order.order_id.clone(), order.quantity);
                Some(order.order_id.clone())
            }
            _ => None,
        })
        .collect();
    let mut sold: HashMap<Text, i32> = HashMap::new();
    let mut kinds = HashSet::new();
    let mut transfer_balance = 0;
    for r in o.records.iter().filter(|r| !is_extra(r)) {
        if let Event::Inventory(c) = &r.event {
            let key = (c.warehouse_id.clone(), c.product_id.clone());
            assert_eq!(r.key, format!("{}:{}", key.0, key.1));
            let before = stock[&key];
            assert_eq!(
                c.previous_qty, before,
                "previous_qty chains from the last new_qty of {key:?}"
            );
            assert_eq!(c.new_qty, c.previous_qty + c.quantity_delta);
            assert!(c.new_qty >= 0, "stock never negative");
            stock.insert(key, c.new_qty);
            kinds.insert(c.change_type);
            match c.change_type {
                ChangeType::Sale => {
                    let order = c.order_id.as_ref().expect("a sale names its order");
                    assert!(orders.contains(order), "the sale's order is on the topic");
                    assert_eq!(
                        sales.remove(order),
                        Some(-c.quantity_delta),
                        "one sale per order, of its quantity"
                    );
                    sold.insert(order.clone(), -c.quantity_delta);
                }
                ChangeType::Return => {
                    let order = c.order_id.as_ref().expect("a return names its order");
                    let left = sold.get_mut(order).expect("a return of a sold order");
                    *left -= c.quantity_delta;
                    assert!(*left >= 0, "returns of {order} never exceed what it sold");
                }
                ChangeType::Restock => {
                    assert!(c.supplier_id.is_some() && c.cost_per_unit.is_some())
                }
                ChangeType::Transfer => transfer_balance += c.quantity_delta,
                _ => {}
            }
        }
    }
    assert!(
        sales.len() <= 1,
        "every order but maybe the last has its sale: {sales:?}"
    );
    assert_eq!(transfer_balance, 0, "transfers move stock, never create it");
    assert_eq!(kinds.len(), 6, "every change type occurs: {kinds:?}");
    for (key, _) in &o.initial {
        let final_qty = o.ledger.level(*key).unwrap().qty;
        assert_eq!(
            stock[&name(key)],
            final_qty,
            "the replay ends at the ledger for {:?}",
            name(key)
        );
    }
}

#[test]
fn orders_after_a_price_change_are_priced_at_the_new_price() {
    let o = run(Setup {
        count: Some(20_000),
        background: true,
        ..Setup::default()
    });
    let mut price: HashMap<Text, f64> = o
        .catalog
        .products
        .iter()
        .map(|p| (Text::from(p.product_id.as_str()), p.price_usd()))
        .collect();
    let mut changes = 0;
    for r in &o.records {
        match &r.event {
            Event::Price(c) => {
                assert_eq!(
                    price[&c.product_id], c.old_price,
                    "old_price is the price in effect"
                );
                price.insert(c.product_id.clone(), c.new_price);
                changes += 1;
            }
            Event::Order(order) => assert_eq!(order.unit_price, Some(price[&order.product_id])),
            _ => {}
        }
    }
    assert!(changes > 10, "{changes} price changes");
}

#[test]
fn every_count_is_met_exactly_and_no_order_ever_lacks_its_sale() {
    // Bad copies and duplicates compete for the last slots with the sale of an order.
    let heavy = FaultPolicy {
        p_bad: 0.5,
        p_duplicate: 0.3,
        ..faulty()
    };
    let runs = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987]
        .into_iter()
        .flat_map(|c| [(c, FaultPolicy::none()), (c, heavy.clone())]);
    for (count, faults) in runs {
        let Outcome {
            report, records, ..
        } = run(Setup {
            count: Some(count),
            weights: (0.9, 0.1),
            faults,
            ..Setup::default()
        });
        assert_eq!(report.records, count, "--count {count}");
        // Bad copies of orders carry fresh ids and, by design, no sale.
        let orders: Vec<&str> = records
            .iter()
            .filter(|r| !matches!(r.fault, Some(Fault::Bad(_))))
            .filter_map(|r| match &r.event {
                Event::Order(o) => Some(o.order_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(records.len() as u64, count);
        for order in orders {
            let sold = records.iter().any(
                |r| matches!(&r.event, Event::Inventory(c) if c.order_id.as_deref() == Some(order)),
            );
            assert!(sold, "order {order} of a --count {count} run has its sale");
        }
        // Nor does a payment or shipment ever name an order the run dropped at its end.
        let all: std::collections::HashSet<&str> = records
            .iter()
            .filter_map(|r| match &r.event {
                Event::Order(o) => Some(o.order_id.as_str()),
                _ => None,
            })
            .collect();
        for r in records
            .iter()
            .filter(|r| !matches!(r.fault, Some(Fault::Bad(_))))
        {
            let named = match &r.event {
                Event::Payment(p) => p.order_id.as_str(),
                Event::Shipment(s) => s.order_id.as_str(),
                _ => continue,
            };
            assert!(
                all.contains(named),
                "--count {count}: {named} was never published"
            );
        }
    }
}

/// Asks the run to stop as soon as it has published an order.
struct StopAtOrder(Captured, CancellationToken);

impl EventPublisher for StopAtOrder {
    fn publish(&mut self, record: &Record) -> Result<(), PublishError> {
        if matches!(record.event, Event::Order(_)) && record.fault.is_none() {
            self.1.cancel();
        }
        self.0.publish(record)
    }
    fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError> {
        self.0.flush()
    }
}

#[test]
fn a_stop_between_an_order_and_its_sale_still_sends_the_sale() {
    let token = CancellationToken::new();
    let sink = Captured::default();
    let services = ServiceTable::new(vec![(
        1.0,
        Box::new(OrderService {
            p_payment: 0.0,
            p_shipment: 0.0,
        }),
    )]);
    let config = EngineConfig {
        seed: 1,
        run: 0,
        max_pending: 10,
        count: None,
        end_ms: None,
        faults: FaultPolicy::none(),
        shard: 0,
    };
    let clock = EventClock::new(
        Stamping::Simulated,
        Spacing::Rate { eps: 200.0 },
        DiurnalCurve::flat(),
        0,
    );
    // A real bucket: the sale has to wait for its token, and the stop comes during that wait.
    let pacer = Pacer::rate(200.0, 1, 1.0, 1.0);
    let generators = Generators {
        services,
        background: vec![],
        world: world_with(COUNTS, 1, 0.0),
        initial: vec![],
        restocker: Restocker { lead_ms: 60_000 },
    };
    let publisher = Box::new(StopAtOrder(sink.clone(), token.clone()));
    let report = Engine::new(config, generators, publisher, clock, pacer)
        .run(&Stopper::new(token, None))
        .unwrap();
    assert_eq!(report.stop, StopReason::Signal);
    let records = sink.0.lock().unwrap();
    assert_eq!(records.len(), 2, "the order and its sale: {records:?}");
    assert!(matches!(&records[1].event, Event::Inventory(c) if c.change_type == ChangeType::Sale));
}

/// A simulated hour of order chains and interactions with 20% late records, in `mode`.
fn late_hour(mode: crate::domain::faults::LateMode) -> Outcome {
    late_hour_holding(mode, crate::domain::faults::DEFAULT_MAX_HELD)
}

fn late_hour_holding(mode: crate::domain::faults::LateMode, max_held: usize) -> Outcome {
    run(Setup {
        count: None,
        faults: FaultPolicy {
            p_late: 0.2,
            max_late_ms: 5 * 60_000,
            late_mode: mode,
            max_held,
            ..FaultPolicy::none()
        },
        simulated: Some((MONDAY, Some(MONDAY + HOUR), 20.0, DiurnalCurve::flat())),
        ..Setup::default()
    })
}

#[test]
fn a_delayed_late_record_keeps_its_time_and_arrives_up_to_the_maximum_later() {
    let Outcome {
        report, records, ..
    } = late_hour(crate::domain::faults::LateMode::Delay);
    let mut stream = Millis::MIN;
    let (mut late, mut overtaken) = (0, 0);
    for r in &records {
        let ts = r.event.ts();
        match r.fault {
            Some(Fault::Late { delay_ms }) => {
                late += 1;
                assert!((MONDAY..MONDAY + HOUR).contains(&ts), "its true time");
                // Published once the stream reached its due time (or flushed at the end).
                let flushed = stream < ts + delay_ms && stream >= MONDAY + HOUR - 5 * 60_000;
                assert!(stream >= ts + delay_ms || flushed, "held until due");
                assert!(
                    stream <= ts + delay_ms + 60_000,
                    "not held past its due time"
                );
                overtaken += usize::from(stream > ts);
            }
            None => {
                assert!(ts >= stream, "unlabelled records keep the stream's order");
                stream = ts;
            }
            _ => {}
        }
    }
    assert!(
        late > 1_000 && overtaken > late * 9 / 10,
        "{late} late, {overtaken} overtaken"
    );
    assert_eq!(
        report.records as usize,
        records.len(),
        "held records are flushed at the end"
    );
}

#[test]
fn a_shifted_late_record_is_published_at_once_with_its_time_moved_back() {
    let Outcome { records, .. } = late_hour(crate::domain::faults::LateMode::Shift);
    let mut stream = Millis::MIN;
    let (mut late, mut behind) = (0, 0);
    for r in &records {
        match r.fault {
            Some(Fault::Late { delay_ms }) => {
                late += 1;
                assert!(r.event.ts() + delay_ms >= stream, "moved back by its delay");
                behind += usize::from(r.event.ts() < stream);
            }
            None => stream = stream.max(r.event.ts()),
            _ => {}
        }
    }
    assert!(
        late > 1_000 && behind > late * 9 / 10,
        "{late} late, {behind} behind"
    );
}

#[test]
fn at_most_max_held_late_records_are_held_and_the_earliest_due_goes_out_first() {
    // 20 records/s, 20% late, up to 5 minutes: about 600 would be held at once.
    let Outcome {
        report, records, ..
    } = late_hour_holding(crate::domain::faults::LateMode::Delay, 16);
    // A late record is held from when the unlabelled stream passes its true time (it was drawn
    // then) until it is published: never more than 16 at once.
    let mut stream = Millis::MIN;
    let prefix: Vec<Millis> = records
        .iter()
        .map(|r| {
            if r.fault.is_none() {
                stream = stream.max(r.event.ts());
            }
            stream
        })
        .collect();
    let (mut late, mut early) = (0, 0);
    let mut spans = Vec::new();
    for (at, r) in records.iter().enumerate() {
        if let Some(Fault::Late { delay_ms }) = r.fault {
            late += 1;
            early += usize::from(prefix[at] < r.event.ts() + delay_ms);
            let drawn = prefix.partition_point(|s| *s <= r.event.ts());
            spans.push((drawn.min(at), at));
        }
    }
    let mut changes: Vec<(usize, i32)> =
        spans.iter().flat_map(|&(a, b)| [(a, 1), (b, -1)]).collect();
    changes.sort_unstable();
    let (mut held, mut most) = (0, 0);
    for (_, change) in changes {
        held += change;
        most = most.max(held);
    }
    assert!(most <= 16, "{most} held at once");
    assert!(most >= 12, "the bound is reached: {most}");
    assert!(late > 1_000, "{late} late");
    assert!(
        early > late / 2,
        "most go out before their due time: {early} of {late}"
    );
    assert_eq!(report.records as usize, records.len());
}
