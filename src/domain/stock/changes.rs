//! Warehouse stock changes as reported on `inventory-changes.v1` (the Data Forge generator's record).

use serde::Serialize;

use crate::domain::events::Millis;
use crate::domain::Text;

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
    pub change_id: Text,
    pub warehouse_id: Text,
    pub product_id: Text,
    pub change_type: ChangeType,
    pub quantity_delta: i32,
    pub previous_qty: i32,
    pub new_qty: i32,
    pub reason: Option<Text>,
    pub order_id: Option<Text>,
    pub supplier_id: Option<Text>,
    pub cost_per_unit: Option<f64>,
    pub ts: Millis,
}
