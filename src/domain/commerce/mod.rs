//! The e-commerce context (the Data Forge generator): orders, payments, shipments, customer interactions
//! and price changes.

use serde::Serialize;

use super::events::Millis;
use crate::domain::Text;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Order {
    pub order_id: Text,
    pub user_id: Text,
    pub product_id: Text,
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
    pub payment_id: Text,
    pub order_id: Text,
    pub method: PaymentMethod,
    pub status: PaymentStatus,
    pub ts: Millis,
    /// The order's amount.
    pub amount: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Shipment {
    pub shipment_id: Text,
    pub order_id: Text,
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
    pub interaction_id: Text,
    pub user_id: Text,
    pub session_id: Text,
    pub interaction_type: InteractionType,
    pub product_id: Option<Text>,
    pub search_query: Option<Text>,
    pub page_url: Option<Text>,
    pub duration_ms: Option<i64>,
    pub user_agent: &'static str,
    pub ip_address: Text,
    pub country: Text,
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
    pub price_change_id: Text,
    pub product_id: Text,
    pub old_price: f64,
    pub new_price: f64,
    /// Percent, e.g. -5.0.
    pub change_pct: f64,
    pub reason: PriceReason,
    pub effective_date: Millis,
    pub ts: Millis,
}
