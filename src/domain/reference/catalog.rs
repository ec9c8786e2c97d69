//! What events may point at: users, products, warehouses, suppliers and where stock is kept.

use std::collections::HashMap;

use rand::Rng;

use super::{ProductSupplier, ReferenceData, SeedCounts, StockRow};
use crate::domain::stock::{StockKey, StockLevel};

pub const COUNTRIES: [&str; 8] = ["US", "DE", "GB", "FR", "IL", "ES", "IT", "NL"];
pub const CATEGORIES: [&str; 6] = [
    "Electronics",
    "Home",
    "Sports",
    "Fashion",
    "Books",
    "Beauty",
];

#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub user_id: String,
    pub email: String,
    pub country: String,
    pub created_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub product_id: String,
    pub title: String,
    pub category: &'static str,
    /// Price in US cents, so amounts add up exactly.
    pub price_cents: i64,
}

impl Product {
    pub fn price_usd(&self) -> f64 {
        cents_to_usd(self.price_cents)
    }
}

pub fn cents_to_usd(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// A supplier of a product and what it charges, from `product_suppliers`.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub supplier_id: String,
    pub cost_cents: i64,
}

/// Everything events may reference. Only ids of rows in here are ever emitted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub users: Vec<User>,
    pub products: Vec<Product>,
    pub warehouses: Vec<String>,
    /// Offers for each product, by product index.
    pub offers: Vec<Vec<Offer>>,
    /// Warehouses (indexes) that hold a stock row of each product, by product index.
    pub stocked_at: Vec<Vec<u32>>,
}

/// Stock rows as (key, level), in catalog indexes.
pub type StockLevels = Vec<(StockKey, StockLevel)>;

impl Catalog {
    /// The default reference data for `users` and `products` (5 warehouses, 20 suppliers).
    pub fn generate(users: usize, products: usize, seed: u64) -> Self {
        let counts = SeedCounts {
            users,
            products,
            warehouses: 5,
            suppliers: 20,
        };
        Self::from_reference(&ReferenceData::generate(counts, seed)).0
    }

    /// The catalog and stock levels of a set of reference rows.
    pub fn from_reference(d: &ReferenceData) -> (Self, StockLevels) {
        let warehouses = d
            .warehouses
            .iter()
            .map(|w| w.warehouse_id.clone())
            .collect();
        Self::from_rows(
            d.users.clone(),
            d.products.clone(),
            warehouses,
            &d.product_suppliers,
            &d.stock,
        )
    }

    /// The catalog and stock levels of rows read from a store.
    pub fn from_rows(
        users: Vec<User>,
        products: Vec<Product>,
        warehouses: Vec<String>,
        product_suppliers: &[ProductSupplier],
        stock: &[StockRow],
    ) -> (Self, StockLevels) {
        let product_index: HashMap<&str, usize> = products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.product_id.as_str(), i))
            .collect();
        let warehouse_index: HashMap<&str, usize> = warehouses
            .iter()
            .enumerate()
            .map(|(i, w)| (w.as_str(), i))
            .collect();
        let mut offers = vec![Vec::new(); products.len()];
        for ps in product_suppliers {
            if let Some(&p) = product_index.get(ps.product_id.as_str()) {
                offers[p].push(Offer {
                    supplier_id: ps.supplier_id.clone(),
                    cost_cents: ps.cost_cents,
                });
            }
        }
        let mut stocked_at = vec![Vec::new(); products.len()];
        let mut levels = Vec::with_capacity(stock.len());
        for row in stock {
            let (Some(&w), Some(&p)) = (
                warehouse_index.get(row.warehouse_id.as_str()),
                product_index.get(row.product_id.as_str()),
            ) else {
                continue;
            };
            stocked_at[p].push(w as u32);
            let key = StockKey {
                warehouse: w as u32,
                product: p as u32,
            };
            levels.push((
                key,
                StockLevel {
                    qty: row.qty,
                    reserved: row.reserved_qty,
                },
            ));
        }
        let catalog = Self {
            users,
            products,
            warehouses,
            offers,
            stocked_at,
        };
        (catalog, levels)
    }

    /// The number after `U` for the next sign-up: one past the highest user id.
    pub fn next_user_number(&self) -> usize {
        self.users
            .iter()
            .filter_map(|u| u.user_id.strip_prefix('U')?.parse::<usize>().ok())
            .max()
            .unwrap_or(0)
            + 1
    }

    /// (warehouse_id, product_id) of a stock key.
    pub fn location_ids(&self, key: StockKey) -> (&str, &str) {
        (
            &self.warehouses[key.warehouse as usize],
            &self.products[key.product as usize].product_id,
        )
    }

    pub fn pick_user<R: Rng>(&self, rng: &mut R) -> usize {
        rng.random_range(0..self.users.len())
    }

    pub fn pick_product<R: Rng>(&self, rng: &mut R) -> usize {
        rng.random_range(0..self.products.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_generates_the_same_catalog() {
        assert_eq!(Catalog::generate(50, 20, 9), Catalog::generate(50, 20, 9));
        assert_ne!(Catalog::generate(50, 20, 9), Catalog::generate(50, 20, 10));
    }

    #[test]
    fn prices_are_between_10_and_500_dollars() {
        let c = Catalog::generate(1, 500, 3);
        assert!(c
            .products
            .iter()
            .all(|p| (1_000..=50_000).contains(&p.price_cents)));
        assert_eq!(c.products[0].product_id, "P000001");
    }

    #[test]
    fn every_product_has_an_offer_and_the_next_user_follows_the_last() {
        let c = Catalog::generate(42, 50, 3);
        assert!(c.offers.iter().all(|o| !o.is_empty()));
        assert!(c.stocked_at.iter().any(|w| !w.is_empty()));
        assert_eq!(c.next_user_number(), 43);
    }
}
