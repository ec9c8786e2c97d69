//! Restock alerts (the retail-inventory-management generator plan's): fired exactly when a change takes a location's stock from
//! at or above its reorder point to below it.

use serde::Serialize;

use super::Applied;
use crate::domain::events::Millis;
use crate::domain::Text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    High,
    Medium,
}

/// the retail-inventory-management plan's `RestockAlert`; a warehouse's alert names it in `warehouse_id` (`store_id` is null).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestockAlert {
    pub alert_id: Text,
    pub store_id: Option<Text>,
    pub warehouse_id: Option<Text>,
    pub product_id: Text,
    pub current_quantity: i32,
    pub reorder_point: i32,
    /// Who replenishes: the warehouse a store is supplied from, or a warehouse's supplier.
    pub supplier: Text,
    pub alert_type: &'static str,
    pub severity: Severity,
    pub timestamp: Millis,
    pub event_type: &'static str,
    pub event_version: &'static str,
}

/// Whether `applied` crosses below `reorder_point` (from at or above it).
pub fn crosses_below(applied: Applied, reorder_point: i32) -> bool {
    applied.previous_qty >= reorder_point && applied.new_qty < reorder_point
}

/// the retail-inventory-management plan's rule: high at 5 units or fewer, else medium.
pub fn severity(current_quantity: i32) -> Severity {
    if current_quantity <= 5 {
        Severity::High
    } else {
        Severity::Medium
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(previous_qty: i32, new_qty: i32) -> Applied {
        Applied {
            previous_qty,
            quantity_delta: new_qty - previous_qty,
            new_qty,
        }
    }

    #[test]
    fn only_a_real_crossing_counts() {
        assert!(crosses_below(change(10, 9), 10));
        assert!(crosses_below(change(30, 0), 10));
        assert!(!crosses_below(change(9, 8), 10), "already below");
        assert!(!crosses_below(change(12, 10), 10), "still at the point");
        assert!(!crosses_below(change(5, 20), 10), "upwards");
        assert_eq!(severity(5), Severity::High);
        assert_eq!(severity(6), Severity::Medium);
    }
}
