//! Event payloads of every stream, and the envelope the engine handles; payloads live with
//! their context (e-commerce, stock, store) and keep their reference's record and field names.

use serde::Serialize;

pub use super::commerce::{
    CustomerInteraction, InteractionType, Order, Payment, PaymentMethod, PaymentStatus,
    PriceChange, PriceReason, Shipment,
};
pub use super::stock::changes::{ChangeType, InventoryChange};
use super::stream::Stream;

/// Milliseconds since the Unix epoch (Avro `timestamp-millis`).
pub type Millis = i64;

/// Any event retailgen emits; serialises as the inner record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Event {
    Order(Order),
    Payment(Payment),
    Shipment(Shipment),
    Interaction(CustomerInteraction),
    Inventory(InventoryChange),
    Price(PriceChange),
}

impl Event {
    pub fn stream(&self) -> Stream {
        match self {
            Event::Order(_) => Stream::Orders,
            Event::Payment(_) => Stream::Payments,
            Event::Shipment(_) => Stream::Shipments,
            Event::Interaction(_) => Stream::CustomerInteractions,
            Event::Inventory(_) => Stream::InventoryChanges,
            Event::Price(_) => Stream::PriceChanges,
        }
    }

    pub fn ts(&self) -> Millis {
        match self {
            Event::Order(e) => e.ts,
            Event::Payment(e) => e.ts,
            Event::Shipment(e) => e.ts,
            Event::Interaction(e) => e.ts,
            Event::Inventory(e) => e.ts,
            Event::Price(e) => e.ts,
        }
    }

    pub fn set_ts(&mut self, ts: Millis) {
        match self {
            Event::Order(e) => e.ts = ts,
            Event::Payment(e) => e.ts = ts,
            Event::Shipment(e) => e.ts = ts,
            Event::Interaction(e) => e.ts = ts,
            Event::Inventory(e) => e.ts = ts,
            Event::Price(e) => {
                e.ts = ts;
                e.effective_date = ts;
            }
        }
    }
}
