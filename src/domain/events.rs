//! Event payloads of every stream, and the envelope the engine handles; payloads live with
//! their context (e-commerce, stock, store) and keep their reference's record and field names.

use serde::Serialize;

pub use super::commerce::{
    CustomerInteraction, InteractionType, Order, Payment, PaymentMethod, PaymentStatus,
    PriceChange, PriceReason, Shipment,
};
pub use super::stock::alerts::RestockAlert;
pub use super::stock::changes::{ChangeType, InventoryChange};
pub use super::store::events::{PosEvent, PosTransaction, Refund, StoreInventoryChange};
pub use super::store::visits::{FootTraffic, ShelfEvent};
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
    Pos(PosEvent),
    Transaction(PosTransaction),
    Refund(Refund),
    StoreInventory(StoreInventoryChange),
    Alert(RestockAlert),
    Foot(FootTraffic),
    Shelf(ShelfEvent),
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
            Event::Pos(_) => Stream::PosEvents,
            Event::Transaction(_) => Stream::PosTransactions,
            Event::Refund(_) => Stream::Refunds,
            Event::StoreInventory(_) => Stream::StoreInventoryChanges,
            Event::Alert(_) => Stream::RestockAlerts,
            Event::Foot(_) => Stream::FootTraffic,
            Event::Shelf(_) => Stream::ShelfEvents,
        }
    }

    /// The record's own id (`order_id`, `event_id`, `alert_id`...).
    pub fn id(&self) -> &str {
        match self {
            Event::Order(e) => &e.order_id,
            Event::Payment(e) => &e.payment_id,
            Event::Shipment(e) => &e.shipment_id,
            Event::Interaction(e) => &e.interaction_id,
            Event::Inventory(e) => &e.change_id,
            Event::Price(e) => &e.price_change_id,
            Event::Pos(e) => &e.event_id,
            Event::Transaction(e) => &e.transaction_id,
            Event::Refund(e) => &e.refund_id,
            Event::StoreInventory(e) => &e.change_id,
            Event::Alert(e) => &e.alert_id,
            Event::Foot(e) => &e.visit_id,
            Event::Shelf(e) => &e.event_id,
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
            Event::Pos(e) => e.timestamp,
            Event::Transaction(e) => e.timestamp,
            Event::Refund(e) => e.timestamp,
            Event::StoreInventory(e) => e.timestamp,
            Event::Alert(e) => e.timestamp,
            Event::Foot(e) => e.entry_time,
            Event::Shelf(e) => e.timestamp,
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
            Event::Pos(e) => e.timestamp = ts,
            Event::Transaction(e) => e.timestamp = ts,
            Event::Refund(e) => e.timestamp = ts,
            Event::StoreInventory(e) => e.timestamp = ts,
            Event::Alert(e) => e.timestamp = ts,
            // The visit moves whole: its planned exit keeps its distance from the entry.
            Event::Foot(e) => {
                e.exit_time += ts - e.entry_time;
                e.entry_time = ts;
            }
            Event::Shelf(e) => e.timestamp = ts,
        }
    }
}
