//! Stock by (location, product) and the one rule every change obeys: on-hand stock never drops
//! below what is reserved (so never below 0), by clamping the delta, never the result.

pub mod alerts;
pub mod changes;

use rustc_hash::FxHashMap;

use crate::domain::{joined, Text};

/// Indexes into the catalog's locations (warehouses, then stores) and products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StockKey {
    pub location: u32,
    pub product: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockLevel {
    pub qty: i32,
    pub reserved: i32,
}

impl StockLevel {
    /// What outbound changes may take.
    pub fn available(self) -> i32 {
        (self.qty - self.reserved).max(0)
    }
}

/// The Kafka key of a stock location's changes (`WH001:P000042`): all changes of one
/// (location, product) share it, so they keep their order; reading the topic back relies on it.
pub fn location_key(location: &str, product: &str) -> Text {
    joined(&[location, ":", product])
}

/// What one change did to a row: `new_qty = previous_qty + quantity_delta`, always.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub previous_qty: i32,
    pub quantity_delta: i32,
    pub new_qty: i32,
}

/// The delta actually applied for a `requested` one.
pub fn clamp_delta(level: StockLevel, requested: i32) -> i32 {
    if requested >= 0 {
        requested
    } else {
        requested.max(-level.available())
    }
}

/// In-memory stock: the truth in Kafka-canonical mode, a cache of the table in Postgres mode.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StockBook {
    levels: FxHashMap<StockKey, StockLevel>,
}

impl StockBook {
    pub fn new(levels: impl IntoIterator<Item = (StockKey, StockLevel)>) -> Self {
        Self {
            levels: levels.into_iter().collect(),
        }
    }

    pub fn level(&self, key: StockKey) -> Option<StockLevel> {
        self.levels.get(&key).copied()
    }

    /// Applies `requested` (clamped); `None` if the key is not stocked.
    pub fn apply(&mut self, key: StockKey, requested: i32) -> Option<Applied> {
        let level = self.levels.get_mut(&key)?;
        let delta = clamp_delta(*level, requested);
        let previous_qty = level.qty;
        level.qty += delta;
        Some(Applied {
            previous_qty,
            quantity_delta: delta,
            new_qty: level.qty,
        })
    }

    /// Records what the canonical store reports for a key.
    pub fn set(&mut self, key: StockKey, level: StockLevel) {
        self.levels.insert(key, level);
    }

    /// The change from `reported` to the level as it is now (someone else moved it).
    pub fn restate(&self, key: StockKey, reported: i32) -> Option<Applied> {
        let qty = self.levels.get(&key)?.qty;
        Some(Applied {
            previous_qty: reported,
            quantity_delta: qty - reported,
            new_qty: qty,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: StockKey = StockKey {
        location: 0,
        product: 0,
    };

    #[test]
    fn outbound_changes_are_clamped_at_the_available_stock() {
        let mut book = StockBook::new([(
            KEY,
            StockLevel {
                qty: 10,
                reserved: 4,
            },
        )]);
        let a = book.apply(KEY, -8).unwrap();
        assert_eq!(
            a,
            Applied {
                previous_qty: 10,
                quantity_delta: -6,
                new_qty: 4
            }
        );
        let b = book.apply(KEY, -1).unwrap();
        assert_eq!(
            b,
            Applied {
                previous_qty: 4,
                quantity_delta: 0,
                new_qty: 4
            }
        );
        let c = book.apply(KEY, 5).unwrap();
        assert_eq!(c.new_qty, c.previous_qty + c.quantity_delta);
        assert!(book
            .apply(
                StockKey {
                    location: 1,
                    product: 0
                },
                1
            )
            .is_none());
    }

    #[test]
    fn stock_below_its_reservation_is_never_driven_further_down() {
        let level = StockLevel {
            qty: 3,
            reserved: 5,
        };
        assert_eq!(clamp_delta(level, -2), 0);
        assert_eq!(clamp_delta(level, 2), 2);
    }
}
