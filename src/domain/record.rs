//! A record as published: key, headers and the event, and the fault it deliberately carries, if any.

use std::borrow::Cow;

use super::events::{Event, Millis};
use super::faults::Fault;
use super::stock::StockKey;
use super::stream::Stream;
use crate::domain::Text;

/// Value of the `source` header on every record.
pub const SOURCE: &str = "retailgen";

/// This instance's place in a scale-out (`shard` header, `index/count`), set once at start-up
/// when sharded: consumers (and `retailgen verify`) tell the writers of a partition apart.
static SHARD: std::sync::OnceLock<Box<str>> = std::sync::OnceLock::new();

/// Labels every record of this process as written by shard `index` of `count` (count > 1).
pub fn label_shard(index: u32, count: u32) {
    if count > 1 {
        let _ = SHARD.set(format!("{index}/{count}").into_boxed_str());
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Kafka key: records of one entity share it (orders, payments, shipments: `order_id`).
    pub key: Text,
    /// Shared by the records of one order chain.
    pub trace_id: Option<Text>,
    /// A deliberate fault, labelled in the `dq` header.
    pub fault: Option<Fault>,
    /// What publishing this record changes in the reference data (applied when it is sent).
    pub effect: Option<Effect>,
    /// An event time the service fixed itself (a basket's scans seconds apart, a logout at
    /// closing); otherwise the record gets its group's stamp.
    pub at: Option<Millis>,
    pub event: Event,
}

/// A change to the canonical data that a record reports; applied when the record is published,
/// so the tables never run ahead of the topics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Move stock of `key` by `requested` (clamped); the record's fields get what the row went through.
    Stock { key: StockKey, requested: i32 },
    /// The inbound leg of a transfer: move stock of `key` by what the previous record moved out.
    StockInbound { key: StockKey },
    /// Move a product's price (catalog index) by `percent` (e.g. -3 or 5) of the price it has
    /// when the record is published; the record's old and new price get what it went through
    /// (two changes of one product decided in one step chain, the second from the first's).
    Price { product: u32, percent: i8 },
    /// Report a level someone else changed since it was last reported as `reported`.
    Restate { key: StockKey, reported: i32 },
    /// The record is a paid store transaction (of store index `store`): its lines become
    /// refundable and, in Postgres-canonical mode, rows beside the stock they moved.
    Sale { store: u32 },
    /// The record is a refund: in Postgres-canonical mode a row, checked against its line.
    Refund,
}

impl Record {
    pub fn new(key: Text, trace_id: Option<Text>, event: Event) -> Self {
        Self {
            key,
            trace_id,
            fault: None,
            effect: None,
            at: None,
            event,
        }
    }

    /// The keys by which it names records of [`Stream::names_by_key`]: the price changes of an
    /// order's product, the order (and payment) of a payment or shipment, a SALE's order.
    pub fn named_keys(&self) -> [Option<(Stream, &str)>; 2] {
        match &self.event {
            Event::Order(o) => [Some((Stream::PriceChanges, o.product_id.as_str())), None],
            Event::Payment(_) => [Some((Stream::Orders, self.key.as_str())), None],
            Event::Shipment(_) => [
                Some((Stream::Orders, self.key.as_str())),
                Some((Stream::Payments, self.key.as_str())),
            ],
            Event::Inventory(c) => [c.order_id.as_deref().map(|id| (Stream::Orders, id)), None],
            _ => [None, None],
        }
    }

    /// Whether applying its effect may take stock below a reorder point (and so bring an alert).
    pub fn may_cross(&self) -> bool {
        matches!(
            self.effect,
            Some(Effect::Stock { requested, .. }) if requested < 0
        ) || matches!(self.effect, Some(Effect::Restate { .. }))
    }

    pub fn stream(&self) -> Stream {
        self.event.stream()
    }

    /// Headers in a fixed order: `trace_id` (if any), `entity`, `source`, `shard` (when
    /// sharded), then for faulty records `dq` (`late`, `bad:<kind>`, `duplicate`) and, for late
    /// ones, `dq_delay_ms`.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, Cow<'_, str>)> {
        let trace = self
            .trace_id
            .as_deref()
            .map(|t| ("trace_id", Cow::Borrowed(t)));
        let dq = self.fault.map(|f| ("dq", Cow::Owned(f.to_string())));
        let delay = match self.fault {
            Some(Fault::Late { delay_ms }) => {
                Some(("dq_delay_ms", Cow::Owned(delay_ms.to_string())))
            }
            _ => None,
        };
        trace
            .into_iter()
            .chain([
                ("entity", Cow::Borrowed(self.stream().entity())),
                ("source", Cow::Borrowed(SOURCE)),
            ])
            .chain(SHARD.get().map(|s| ("shard", Cow::Borrowed(&**s))))
            .chain(dq)
            .chain(delay)
    }
}
