//! Stock by (location, product) and the one rule every change obeys: on-hand stock never drops
//! below what is reserved (so never below 0), by clamping the delta, never the result.

pub mod alerts;
pub mod changes;

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

/// A product's rows are searched in a row up to this many, by halves beyond.
const SCANNED_ROWS: usize = 32;

/// In-memory stock: the truth in Kafka-canonical mode, a cache of the table in Postgres mode.
///
/// Rows are kept product by product, each product's by location: product `p`'s rows are
/// `rows[starts[p]..starts[p + 1]]`. The locations a sale compares (one product's warehouses)
/// share a cache line or two, where a hash map scattered them over the whole table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StockBook {
    starts: Vec<u32>,
    rows: Vec<(u32, StockLevel)>,
}

impl StockBook {
    /// The book of `levels`; of two levels for one key, the later counts.
    pub fn new(levels: impl IntoIterator<Item = (StockKey, StockLevel)>) -> Self {
        let mut levels: Vec<(StockKey, StockLevel)> = levels.into_iter().collect();
        // In key order (a stable sort: a key's later level is set last), each row is appended.
        levels.sort_by_key(|(key, _)| (key.product, key.location));
        let mut book = Self::default();
        for (key, level) in levels {
            book.set(key, level);
        }
        book
    }

    pub fn level(&self, key: StockKey) -> Option<StockLevel> {
        self.row(key).map(|i| self.rows[i].1)
    }

    /// Applies `requested` (clamped); `None` if the key is not stocked.
    pub fn apply(&mut self, key: StockKey, requested: i32) -> Option<Applied> {
        let i = self.row(key)?;
        let level = &mut self.rows[i].1;
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
        match self.find(key) {
            Ok(i) => self.rows[i].1 = level,
            Err(i) => {
                let product = key.product as usize;
                while self.starts.len() <= product + 1 {
                    self.starts.push(self.len());
                }
                self.rows.insert(i, (key.location, level));
                for start in &mut self.starts[product + 1..] {
                    *start += 1;
                }
            }
        }
    }

    /// The change from `reported` to the level as it is now (someone else moved it).
    pub fn restate(&self, key: StockKey, reported: i32) -> Option<Applied> {
        let qty = self.level(key)?.qty;
        Some(Applied {
            previous_qty: reported,
            quantity_delta: qty - reported,
            new_qty: qty,
        })
    }

    /// Where `key`'s row is: a product has a few locations, read in a row (a binary search
    /// costs more instructions below a few dozen).
    fn row(&self, key: StockKey) -> Option<usize> {
        let (start, end) = self.range(key.product)?;
        if end - start > SCANNED_ROWS {
            return self.find(key).ok();
        }
        let at = self.rows[start..end]
            .iter()
            .position(|(l, _)| *l == key.location)?;
        Some(start + at)
    }

    /// Where `key`'s row is, or where it would go.
    fn find(&self, key: StockKey) -> Result<usize, usize> {
        let Some((start, end)) = self.range(key.product) else {
            return Err(self.rows.len());
        };
        self.rows[start..end]
            .binary_search_by_key(&key.location, |(location, _)| *location)
            .map(|i| start + i)
            .map_err(|i| start + i)
    }

    /// Where `product`'s rows are (none past the last product that has any).
    fn range(&self, product: u32) -> Option<(usize, usize)> {
        let product = product as usize;
        let start = *self.starts.get(product)? as usize;
        Some((start, *self.starts.get(product + 1)? as usize))
    }

    fn len(&self) -> u32 {
        u32::try_from(self.rows.len()).expect("fewer than 2^32 stock rows")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: StockKey = StockKey {
        location: 0,
        product: 0,
    };

    /// Lookups, changes and new rows against a hash map of the same rows.
    #[test]
    fn the_book_holds_what_a_map_of_its_rows_holds() {
        use crate::services::DetRng;
        use rand::{Rng, SeedableRng};
        use std::collections::HashMap;
        let mut rng = DetRng::seed_from_u64(5);
        let key = |rng: &mut DetRng| StockKey {
            location: rng.random_range(0..80),
            product: rng.random_range(0..40),
        };
        let level = |qty: i32| StockLevel { qty, reserved: 2 };
        let rows: Vec<(StockKey, StockLevel)> =
            (0..300).map(|i| (key(&mut rng), level(i))).collect();
        let mut map: HashMap<StockKey, StockLevel> = rows.iter().copied().collect();
        let mut book = StockBook::new(rows);
        for i in 0..5_000 {
            let k = key(&mut rng);
            assert_eq!(book.level(k), map.get(&k).copied(), "{k:?}");
            match rng.random_range(0..3) {
                0 => {
                    let want = map.get_mut(&k).map(|l| {
                        let delta = clamp_delta(*l, -3);
                        l.qty += delta;
                        l.qty
                    });
                    assert_eq!(book.apply(k, -3).map(|a| a.new_qty), want, "{k:?}");
                }
                1 => {
                    book.set(k, level(i));
                    map.insert(k, level(i));
                }
                _ => {
                    let far = StockKey {
                        product: k.product + 60,
                        ..k
                    };
                    book.set(far, level(i));
                    map.insert(far, level(i));
                }
            }
        }
        for (k, l) in &map {
            assert_eq!(book.level(*k), Some(*l), "{k:?}");
        }
        assert_eq!(book.rows.len(), map.len());
    }

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
