//! Event payloads, with reference 003's record and field names (fields it lacks come last, defaulted).

use serde::Serialize;

use super::stream::Stream;

/// Milliseconds since the Unix epoch (Avro `timestamp-millis`).
pub type Millis = i64;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    pub order_id: String,
    pub user_id: String,
    pub product_id: String,
    /// `quantity x unit_price`.
    pub amount: f64,
    pub currency: &'static str,
    pub ts: Millis,
    pub quantity: i32,
    pub unit_price: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PaymentMethod {
    #[serde(rename = "CARD")]
    Card,
    #[serde(rename = "APPLE_PAY")]
    ApplePay,
    #[serde(rename = "PAYPAL")]
    Paypal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PaymentStatus {
    #[serde(rename = "PENDING")]
    Pending,
    #[serde(rename = "SETTLED")]
    Settled,
    #[serde(rename = "FAILED")]
    Failed,
    #[serde(rename = "UNKNOWN")]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Payment {
    pub payment_id: String,
    pub order_id: String,
    pub method: PaymentMethod,
    pub status: PaymentStatus,
    pub ts: Millis,
    /// The order's amount.
    pub amount: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shipment {
    pub shipment_id: String,
    pub order_id: String,
    pub carrier: &'static str,
    pub eta_days: i32,
    pub ts: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InteractionType {
    #[serde(rename = "PAGE_VIEW")]
    PageView,
    #[serde(rename = "SEARCH")]
    Search,
    #[serde(rename = "CART_ADD")]
    CartAdd,
    #[serde(rename = "CART_REMOVE")]
    CartRemove,
    #[serde(rename = "WISHLIST_ADD")]
    WishlistAdd,
    #[serde(rename = "REVIEW")]
    Review,
    #[serde(rename = "SUPPORT_CHAT")]
    SupportChat,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerInteraction {
    pub interaction_id: String,
    pub user_id: String,
    pub session_id: String,
    pub interaction_type: InteractionType,
    pub product_id: Option<String>,
    pub search_query: Option<String>,
    pub page_url: Option<String>,
    pub duration_ms: Option<i64>,
    pub user_agent: &'static str,
    pub ip_address: String,
    pub country: String,
    pub ts: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ChangeType {
    #[serde(rename = "RESTOCK")]
    Restock,
    #[serde(rename = "SALE")]
    Sale,
    #[serde(rename = "DAMAGE")]
    Damage,
    #[serde(rename = "RETURN")]
    Return,
    #[serde(rename = "TRANSFER")]
    Transfer,
    #[serde(rename = "ADJUSTMENT")]
    Adjustment,
}

/// A stock movement at one warehouse: `new_qty = previous_qty + quantity_delta`, chained per key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InventoryChange {
    pub change_id: String,
    pub warehouse_id: String,
    pub product_id: String,
    pub change_type: ChangeType,
    pub quantity_delta: i32,
    pub previous_qty: i32,
    pub new_qty: i32,
    pub reason: Option<String>,
    pub order_id: Option<String>,
    pub supplier_id: Option<String>,
    pub cost_per_unit: Option<f64>,
    pub ts: Millis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceReason {
    Promotion,
    CostChange,
    Seasonal,
    Clearance,
}

/// A product's price changed (in Postgres too); orders after it use `new_price`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PriceChange {
    pub price_change_id: String,
    pub product_id: String,
    pub old_price: f64,
    pub new_price: f64,
    /// Percent, e.g. -5.0.
    pub change_pct: f64,
    pub reason: PriceReason,
    pub effective_date: Millis,
    pub ts: Millis,
}

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
