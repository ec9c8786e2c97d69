//! Reference data the events point at: users and products, generated deterministically from a seed.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

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
    pub country: &'static str,
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

/// Everything events may reference. Only ids of rows in here are ever emitted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub users: Vec<User>,
    pub products: Vec<Product>,
}

impl Catalog {
    /// The same `seed` and counts always give the same catalog.
    pub fn generate(users: usize, products: usize, seed: u64) -> Self {
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0xca7a_1065);
        let users = (1..=users)
            .map(|n| User {
                user_id: format!("U{n:06}"),
                email: format!("user{n}@example.com"),
                country: COUNTRIES[rng.random_range(0..COUNTRIES.len())],
            })
            .collect();
        let products = (1..=products)
            .map(|n| {
                let category = CATEGORIES[rng.random_range(0..CATEGORIES.len())];
                Product {
                    product_id: format!("P{n:06}"),
                    title: format!("{category} item {n}"),
                    category,
                    price_cents: rng.random_range(1_000..=50_000),
                }
            })
            .collect();
        Self { users, products }
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
}
