//! Labelled data-quality faults: late records, bad records (semantic or wire-level) and duplicates.

use std::fmt;

use rand::distr::Bernoulli;
use rand::Rng;

use super::chance;
use super::events::{Event, Millis};
use super::ids::IdGen;
use super::record::Record;
use super::stream::Stream;

/// A deliberately bad record's kind; the `dq` header reads `bad:<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BadKind {
    /// Schema-valid, business-invalid: an amount or price <= 0 (orders, payments, price changes).
    NonPositiveAmount,
    /// Schema-valid, business-invalid: a currency that is no ISO 4217 code (orders).
    UnknownCurrency,
    /// Schema-valid, business-invalid: a user, order or product id that names nothing.
    DanglingReference,
    /// Schema-valid, business-invalid: event time 1-48 hours in the future.
    FutureTimestamp,
    /// Wire-level poison pill: the first byte is not Confluent's magic 0.
    BadMagicByte,
    /// Wire-level poison pill: a schema id the registry never issued.
    UnknownSchemaId,
    /// Wire-level poison pill: the Avro body is cut short.
    TruncatedBody,
}

impl BadKind {
    pub const ALL: [BadKind; 7] = [
        BadKind::NonPositiveAmount,
        BadKind::UnknownCurrency,
        BadKind::DanglingReference,
        BadKind::FutureTimestamp,
        BadKind::BadMagicByte,
        BadKind::UnknownSchemaId,
        BadKind::TruncatedBody,
    ];

    pub const WIRE: [BadKind; 3] = [
        BadKind::BadMagicByte,
        BadKind::UnknownSchemaId,
        BadKind::TruncatedBody,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::NonPositiveAmount => "non_positive_amount",
            Self::UnknownCurrency => "unknown_currency",
            Self::DanglingReference => "dangling_reference",
            Self::FutureTimestamp => "future_timestamp",
            Self::BadMagicByte => "bad_magic_byte",
            Self::UnknownSchemaId => "unknown_schema_id",
            Self::TruncatedBody => "truncated_body",
        }
    }

    pub fn is_wire(self) -> bool {
        Self::WIRE.contains(&self)
    }

    /// The semantic kinds that make sense for a stream's records.
    pub fn semantic_for(stream: Stream) -> &'static [BadKind] {
        use BadKind::*;
        match stream {
            Stream::Orders => &[
                NonPositiveAmount,
                UnknownCurrency,
                DanglingReference,
                FutureTimestamp,
            ],
            Stream::Payments | Stream::PriceChanges | Stream::PosTransactions | Stream::Refunds => {
                &[NonPositiveAmount, DanglingReference, FutureTimestamp]
            }
            Stream::Shipments
            | Stream::CustomerInteractions
            | Stream::InventoryChanges
            | Stream::PosEvents
            | Stream::StoreInventoryChanges
            | Stream::RestockAlerts
            | Stream::FootTraffic
            | Stream::ShelfEvents => &[DanglingReference, FutureTimestamp],
        }
    }
}

/// Why a record is not an ordinary one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Event time moved this far into the past.
    Late {
        delay_ms: Millis,
    },
    Bad(BadKind),
    /// An already-sent record sent again unchanged.
    Duplicate,
}

impl fmt::Display for Fault {
    /// The `dq` header value: `late`, `bad:<kind>` or `duplicate`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Late { .. } => f.write_str("late"),
            Fault::Bad(kind) => write!(f, "bad:{}", kind.name()),
            Fault::Duplicate => f.write_str("duplicate"),
        }
    }
}

/// What a late record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LateMode {
    /// It keeps its true event time and is published later, up to the maximum lateness of
    /// event time after it happened; stock and price changes (ledgers consumers replay in
    /// order) are never late.
    #[default]
    Delay,
    /// Its event time is moved into the past and it is published at once (the original
    /// generator's late events).
    Shift,
}

impl LateMode {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "delay" => Some(Self::Delay),
            "shift" => Some(Self::Shift),
            _ => None,
        }
    }
}

/// Late records held back at most by default (`MAX_HELD_LATE`): about 2.5 MB, and full lateness
/// (up to 25 minutes) at about 150 records/s with the default 5% late; faster runs deliver the
/// earliest due first.
pub const DEFAULT_MAX_HELD: usize = 4_096;

/// How often each fault is injected.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPolicy {
    pub p_late: f64,
    pub max_late_ms: Millis,
    pub late_mode: LateMode,
    /// Late records held back at most (delay mode); past it the earliest due goes out early.
    pub max_held: usize,
    pub p_bad: f64,
    /// Share of bad records that are wire-level poison pills (the rest are semantic).
    pub wire_share: f64,
    pub p_duplicate: f64,
}

impl FaultPolicy {
    pub fn none() -> Self {
        Self {
            p_late: 0.0,
            max_late_ms: 0,
            late_mode: LateMode::Delay,
            max_held: DEFAULT_MAX_HELD,
            p_bad: 0.0,
            wire_share: 0.0,
            p_duplicate: 0.0,
        }
    }

    /// The policy ready to draw from, once per run.
    pub fn draws(&self) -> FaultDraws {
        FaultDraws {
            late: chance(self.p_late),
            max_late_ms: self.max_late_ms,
            late_mode: self.late_mode,
            max_held: self.max_held.max(1),
            bad: chance(self.p_bad),
            wire: chance(self.wire_share),
            duplicate: chance(self.p_duplicate),
            duplicates: self.p_duplicate > 0.0,
        }
    }
}

/// A [`FaultPolicy`]'s chances, drawn per record.
#[derive(Debug, Clone)]
pub struct FaultDraws {
    late: Bernoulli,
    max_late_ms: Millis,
    pub late_mode: LateMode,
    pub max_held: usize,
    bad: Bernoulli,
    wire: Bernoulli,
    duplicate: Bernoulli,
    duplicates: bool,
}

impl FaultDraws {
    /// A delay for a record of `stream` if it is to be late (a delayed ledger record never is:
    /// see [`Stream::is_ledger`]).
    pub fn draw_late<R: Rng>(&self, rng: &mut R, stream: Stream) -> Option<Millis> {
        if self.late_mode == LateMode::Delay && stream.is_ledger() {
            return None;
        }
        (self.max_late_ms > 0 && rng.sample(self.late))
            .then(|| rng.random_range(1..=self.max_late_ms))
    }

    /// The kind of a bad copy to send after a record of `stream`, if any.
    pub fn draw_bad<R: Rng>(&self, rng: &mut R, stream: Stream) -> Option<BadKind> {
        if !rng.sample(self.bad) {
            return None;
        }
        let kinds = if rng.sample(self.wire) {
            &BadKind::WIRE[..]
        } else {
            BadKind::semantic_for(stream)
        };
        Some(kinds[rng.random_range(0..kinds.len())])
    }

    /// Whether duplicates are drawn at all (recent records are kept to re-send only then).
    pub fn duplicates(&self) -> bool {
        self.duplicates
    }

    pub fn draw_duplicate<R: Rng>(&self, rng: &mut R) -> bool {
        rng.sample(self.duplicate)
    }
}

/// A bad copy of `good`: its own id is fresh (it never collides with a good record) and the
/// fault is applied to the value; wire-level kinds are applied by the encoder.
pub fn bad_copy<R: Rng>(good: &Record, kind: BadKind, ids: &mut IdGen, rng: &mut R) -> Record {
    let mut bad = good.clone();
    bad.fault = Some(Fault::Bad(kind));
    match &mut bad.event {
        Event::Order(o) => {
            o.order_id = ids.next("ord");
            bad.key = o.order_id.clone();
        }
        Event::Payment(p) => p.payment_id = ids.next("pay"),
        Event::Shipment(s) => s.shipment_id = ids.next("shp"),
        Event::Interaction(i) => i.interaction_id = ids.next("int"),
        Event::Inventory(c) => c.change_id = ids.next("chg"),
        Event::Price(c) => c.price_change_id = ids.next("prc"),
        Event::Pos(e) => e.event_id = ids.next("pev"),
        Event::Transaction(t) => {
            t.transaction_id = ids.next("txn");
            bad.key = t.transaction_id.clone();
        }
        Event::Refund(r) => r.refund_id = ids.next("rfd"),
        Event::StoreInventory(c) => c.change_id = ids.next("sch"),
        Event::Alert(a) => a.alert_id = ids.next("alr"),
        Event::Foot(f) => f.visit_id = ids.next("vst"),
        Event::Shelf(e) => e.event_id = ids.next("shv"),
    }
    match kind {
        BadKind::NonPositiveAmount => {
            let amount = if rng.random_bool(0.5) {
                0.0
            } else {
                -rng.random_range(1.0..500.0_f64).round()
            };
            match &mut bad.event {
                Event::Order(o) => o.amount = amount,
                Event::Payment(p) => p.amount = Some(amount),
                Event::Price(c) => c.new_price = amount,
                Event::Transaction(t) => t.amount = amount,
                Event::Refund(r) => r.refund_amount = amount,
                _ => {}
            }
        }
        BadKind::UnknownCurrency => {
            if let Event::Order(o) = &mut bad.event {
                o.currency = "ZZZ";
            }
        }
        BadKind::DanglingReference => match &mut bad.event {
            Event::Order(o) => o.user_id = ids.next("usr"),
            Event::Payment(p) => p.order_id = ids.next("ord"),
            Event::Shipment(s) => s.order_id = ids.next("ord"),
            Event::Interaction(i) => i.user_id = ids.next("usr"),
            Event::Inventory(c) => c.product_id = ids.next("prd"),
            Event::Price(c) => c.product_id = ids.next("prd"),
            Event::Pos(e) => e.basket_id = Some(ids.next("bsk")),
            Event::Transaction(t) => t.store_id = ids.next("sto"),
            Event::Refund(r) => r.original_transaction_id = ids.next("txn"),
            Event::StoreInventory(c) => c.product_id = ids.next("prd"),
            Event::Alert(a) => a.product_id = ids.next("prd"),
            Event::Foot(f) => f.store_id = ids.next("sto"),
            Event::Shelf(e) => e.item_id = ids.next("prd"),
        },
        BadKind::FutureTimestamp => {
            let ts = bad.event.ts() + rng.random_range(3_600_000..=48 * 3_600_000);
            bad.event.set_ts(ts);
        }
        BadKind::BadMagicByte | BadKind::UnknownSchemaId | BadKind::TruncatedBody => {}
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::Order;
    use crate::services::DetRng;
    use rand::SeedableRng;

    fn order() -> Record {
        Record {
            key: "ord_1".into(),
            trace_id: Some("tr_1".into()),
            fault: None,
            effect: None,
            at: None,
            event: Event::Order(Order {
                order_id: "ord_1".into(),
                user_id: "U000001".into(),
                product_id: "P000001".into(),
                amount: 20.0,
                currency: "USD",
                ts: 1_000,
                quantity: 2,
                unit_price: Some(10.0),
            }),
        }
    }

    #[test]
    fn a_bad_copy_has_a_fresh_id_and_exactly_its_fault() {
        let (mut ids, mut rng) = (IdGen::new(1), DetRng::seed_from_u64(1));
        let bad = bad_copy(&order(), BadKind::UnknownCurrency, &mut ids, &mut rng);
        let (Event::Order(b), Event::Order(g)) = (&bad.event, &order().event) else {
            panic!()
        };
        assert_ne!(b.order_id, g.order_id);
        assert_eq!(bad.key, b.order_id);
        assert_eq!(b.currency, "ZZZ");
        assert_eq!((b.amount, &b.user_id, b.ts), (g.amount, &g.user_id, g.ts));
        assert_eq!(bad.fault.unwrap().to_string(), "bad:unknown_currency");
    }

    #[test]
    fn amounts_of_non_positive_copies_are_zero_or_negative_and_future_ones_lie_ahead() {
        let (mut ids, mut rng) = (IdGen::new(1), DetRng::seed_from_u64(2));
        for _ in 0..50 {
            let Event::Order(o) =
                bad_copy(&order(), BadKind::NonPositiveAmount, &mut ids, &mut rng).event
            else {
                panic!()
            };
            assert!(o.amount <= 0.0);
            let future = bad_copy(&order(), BadKind::FutureTimestamp, &mut ids, &mut rng);
            assert!(future.event.ts() >= 1_000 + 3_600_000);
        }
    }

    #[test]
    fn drawn_kinds_fit_the_stream_and_the_wire_share() {
        let policy = FaultPolicy {
            p_bad: 1.0,
            wire_share: 0.0,
            ..FaultPolicy::none()
        };
        let mut rng = DetRng::seed_from_u64(3);
        for _ in 0..200 {
            let k = policy
                .draws()
                .draw_bad(&mut rng, Stream::Shipments)
                .unwrap();
            assert!(BadKind::semantic_for(Stream::Shipments).contains(&k));
        }
        let wire = FaultPolicy {
            wire_share: 1.0,
            ..policy
        };
        assert!((0..200).all(|_| wire
            .draws()
            .draw_bad(&mut rng, Stream::Orders)
            .unwrap()
            .is_wire()));
    }
}
