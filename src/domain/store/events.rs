//! Store-world payloads with their references' record and field names: the Distributed-POS-Concept generator's terminal events
//! (one record with an `event_type` and nullable fields), pos_producer.py's transaction shape extended with
//! the realtime-retail-pipeline producer's totals, the realtime-retail-pipeline producer's refund, and store stock changes.

use serde::Serialize;

use crate::domain::events::Millis;
use crate::domain::Text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PosEventType {
    EmployeeLogin,
    BasketStarted,
    CustomerIdentified,
    ItemAdded,
    SubtotalCalculated,
    PaymentCompleted,
    EmployeeLogout,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TenderType {
    CreditCard,
    DebitCard,
    Cash,
    MobilePayment,
}

impl TenderType {
    /// The name as written in records and rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CreditCard => "credit_card",
            Self::DebitCard => "debit_card",
            Self::Cash => "cash",
            Self::MobilePayment => "mobile_payment",
        }
    }
}

/// One event of a terminal's sequence; fields an event type does not carry are null.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PosEvent {
    pub event_id: Text,
    pub event_type: PosEventType,
    pub store_id: Text,
    pub terminal_id: Text,
    pub employee_id: Option<Text>,
    pub basket_id: Option<Text>,
    pub customer_id: Option<Text>,
    pub item_id: Option<Text>,
    pub quantity: Option<i32>,
    /// Unit price before the discount.
    pub price: Option<f64>,
    pub discount: Option<f64>,
    pub line_total: Option<f64>,
    pub subtotal: Option<f64>,
    pub tax: Option<f64>,
    pub amount: Option<f64>,
    pub payment_method: Option<TenderType>,
    pub timestamp: Millis,
}

impl PosEvent {
    /// An event of `event_type` at a terminal, with every optional field empty.
    pub fn at(event_id: Text, event_type: PosEventType, store_id: &str, terminal_id: &str) -> Self {
        Self {
            event_id,
            event_type,
            store_id: store_id.into(),
            terminal_id: terminal_id.into(),
            employee_id: None,
            basket_id: None,
            customer_id: None,
            item_id: None,
            quantity: None,
            price: None,
            discount: None,
            line_total: None,
            subtotal: None,
            tax: None,
            amount: None,
            payment_method: None,
            timestamp: 0,
        }
    }
}

/// A transaction line (the pos_producer.py POS simulator's `PosLineItem`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PosLineItem {
    pub item_id: Text,
    pub quantity: i32,
    pub unit_price: f64,
    /// Fraction 0..0.95.
    pub discount: f64,
    pub total_price: f64,
}

/// A completed basket: pos_producer.py's `pos_transaction` plus where, who and the realtime-retail-pipeline producer's totals.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PosTransaction {
    pub event_type: &'static str,
    pub transaction_id: Text,
    pub customer_id: Option<Text>,
    pub timestamp: Millis,
    pub items: Vec<PosLineItem>,
    pub store_id: Text,
    pub terminal_id: Text,
    pub employee_id: Text,
    pub basket_id: Text,
    pub subtotal: f64,
    pub tax: f64,
    pub amount: f64,
    pub payment_method: TenderType,
    /// The foot-traffic visit that checked out (its shelf events net to the lines).
    pub visit_id: Option<Text>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    Defective,
    WrongItem,
    NotAsDescribed,
    ChangedMind,
    DamagedShipping,
}

impl RefundReason {
    /// The name as written in records and rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Defective => "defective",
            Self::WrongItem => "wrong_item",
            Self::NotAsDescribed => "not_as_described",
            Self::ChangedMind => "changed_mind",
            Self::DamagedShipping => "damaged_shipping",
        }
    }

    /// Whether the goods go back on the shelf (a RETURN to the store's stock).
    pub fn restockable(self) -> bool {
        matches!(
            self,
            Self::ChangedMind | Self::WrongItem | Self::NotAsDescribed
        )
    }
}

/// The realtime-retail-pipeline producer's refund, plus the units refunded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refund {
    pub refund_id: Text,
    pub original_transaction_id: Text,
    pub product_id: Text,
    pub store_id: Text,
    pub customer_id: Option<Text>,
    pub refund_amount: f64,
    pub reason: RefundReason,
    pub timestamp: Millis,
    pub quantity: i32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StoreChangeType {
    #[serde(rename = "SALE")]
    Sale,
    #[serde(rename = "RETURN")]
    Return,
    #[serde(rename = "TRANSFER_IN")]
    TransferIn,
    #[serde(rename = "DAMAGE")]
    Damage,
    #[serde(rename = "ADJUSTMENT")]
    Adjustment,
    /// A supplier delivered straight to the store (no warehouse stocks the product).
    #[serde(rename = "RESTOCK")]
    Restock,
}

/// A movement of store stock: `new_qty = previous_qty + quantity_delta`, chained per key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoreInventoryChange {
    pub change_id: Text,
    pub store_id: Text,
    pub product_id: Text,
    pub change_type: StoreChangeType,
    pub quantity_delta: i32,
    pub previous_qty: i32,
    pub new_qty: i32,
    pub reason: Option<Text>,
    /// The sale's transaction (SALE).
    pub transaction_id: Option<Text>,
    /// The refund that brought the goods back (RETURN).
    pub refund_id: Option<Text>,
    /// Where a transfer came from (TRANSFER_IN).
    pub warehouse_id: Option<Text>,
    pub timestamp: Millis,
}
