//! What events may point at: users, products, warehouses, suppliers, stores with their terminals
//! and staff, and where stock is kept (warehouses and stores: the locations).

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use rand::Rng;

use super::shard::Shard;
use super::stores::{Employee, Store, StoreStockRow, Terminal};
use super::{ProductSupplier, ReferenceData, SeedCounts, StockRow, StoreLayout};
use crate::domain::Text;

/// When a location reorders a product: an alert as stock crosses below `point`, then `qty` more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reorder {
    pub point: i32,
    pub qty: i32,
}

/// Warehouses reorder from suppliers at one policy for every product (their table has no column
/// for it): below 20 units, 200 more.
pub const WAREHOUSE_REORDER: Reorder = Reorder {
    point: 20,
    qty: 200,
};

/// The store world's rows as read from a store (memory or Postgres).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreRows {
    pub stores: Vec<Store>,
    /// Terminals and employees with their store's id.
    pub terminals: Vec<(String, String)>,
    pub employees: Vec<(String, Employee)>,
    pub stock: Vec<StoreStockRow>,
}
use crate::domain::stock::{StockKey, StockLevel};

/// Countries users live in: those of the built-in cities' stores, and some without a store.
pub const COUNTRIES: [&str; 11] = [
    "US", "DE", "GB", "FR", "IL", "ES", "IT", "NL", "JP", "SA", "AU",
];
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

/// The cents of an amount written as dollars with two decimals (as `cents_to_usd` writes them).
pub fn usd_to_cents(usd: f64) -> i64 {
    (usd * 100.0).round() as i64
}

/// A supplier of a product and what it charges, from `product_suppliers`.
#[derive(Debug, Clone, PartialEq)]
pub struct Offer {
    pub supplier_id: String,
    pub cost_cents: i64,
}

/// The users events may name: those read from the store, then this run's sign-ups. A sign-up
/// is kept as one byte (its country): its id follows from its place (`U` and its number), so a
/// long run's memory does not grow with its customers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Users {
    /// (user_id, country) of the users read from the store.
    loaded: Vec<(Box<str>, Box<str>)>,
    /// The number of the first sign-up: one past the highest numbered user read.
    first_signup: usize,
    /// Each sign-up's index in [`COUNTRIES`].
    signups: Vec<u8>,
    /// Sign-up numbers of shard `index` of `count` are `index` modulo `count`, so shards
    /// sharing a database never number two sign-ups alike.
    stride: (usize, usize),
}

impl Users {
    pub fn new(users: &[User]) -> Self {
        let highest = users
            .iter()
            .filter_map(|u| u.user_id.strip_prefix('U')?.parse::<usize>().ok())
            .max();
        Self {
            loaded: users
                .iter()
                .map(|u| (u.user_id.as_str().into(), u.country.as_str().into()))
                .collect(),
            first_signup: highest.unwrap_or(0) + 1,
            signups: vec![],
            stride: (0, 1),
        }
    }

    /// Numbers this shard's sign-ups in its own residue class.
    fn shard(&mut self, shard: Shard) {
        self.stride = (shard.index as usize, shard.count.max(1) as usize);
    }

    /// The number of this shard's `k`-th sign-up: from the first of its class at or after
    /// `first_signup`, every `count`-th.
    fn signup_number(&self, k: usize) -> usize {
        let (index, count) = self.stride;
        let first = self.first_signup + (index + count - self.first_signup % count) % count;
        first + k * count
    }

    pub fn len(&self) -> usize {
        self.loaded.len() + self.signups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number after `U` for the next sign-up.
    pub fn next_number(&self) -> usize {
        self.signup_number(self.signups.len())
    }

    /// Adds a sign-up from `COUNTRIES[country]`; its id is `U` and [`Self::next_number`].
    pub fn sign_up(&mut self, country: usize) -> usize {
        self.signups
            .push(u8::try_from(country).expect("fewer than 256 countries"));
        self.len() - 1
    }

    pub fn user_id(&self, i: usize) -> Text {
        match i.checked_sub(self.loaded.len()) {
            None => Text::from(&*self.loaded[i].0),
            Some(k) => signup_id(self.signup_number(k)),
        }
    }

    pub fn country(&self, i: usize) -> &str {
        match i.checked_sub(self.loaded.len()) {
            None => &self.loaded[i].1,
            Some(k) => COUNTRIES[self.signups[k] as usize],
        }
    }
}

/// `U` and the number, zero-padded to six digits (as `format!("U{n:06}")`, without its cost).
pub fn signup_id(n: usize) -> Text {
    let mut digits = [b'0'; 20];
    let (mut at, mut rest) = (digits.len(), n);
    while rest > 0 || at > digits.len() - 6 {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    let mut id = Text::with_capacity(1 + digits.len() - at);
    id.push('U');
    id.push_str(std::str::from_utf8(&digits[at..]).expect("ASCII digits"));
    id
}

/// Everything events may reference. Only ids of rows in here are ever emitted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    pub users: Users,
    pub products: Vec<Product>,
    pub warehouses: Vec<String>,
    /// Offers for each product, by product index.
    pub offers: Vec<Vec<Offer>>,
    /// Warehouses (indexes) that hold a stock row of each product, by product index.
    pub stocked_at: Vec<Vec<u32>>,
    pub stores: Vec<Store>,
    pub terminals: Vec<Terminal>,
    pub employees: Vec<Employee>,
    /// Products (indexes) each store stocks, by store index.
    pub store_products: Vec<Vec<u32>>,
    /// Reorder policy of each store stock row (warehouses use [`WAREHOUSE_REORDER`]).
    pub store_reorder: FxHashMap<StockKey, Reorder>,
    /// The share of the world this instance acts on (see [`Catalog::sharded`]).
    pub shard: Shard,
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
            stores: 3,
            terminals_per_store: 2,
            employees_per_store: 4,
            layout: StoreLayout::VARIED,
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
        let ids = |i: usize| d.stores[i].store_id.clone();
        let world = StoreRows {
            stores: d.stores.clone(),
            terminals: d
                .terminals
                .iter()
                .map(|t| (ids(t.store), t.terminal_id.clone()))
                .collect(),
            employees: d
                .employees
                .iter()
                .map(|e| (ids(e.store), e.clone()))
                .collect(),
            stock: d.store_stock.clone(),
        };
        Self::from_rows(
            d.users.clone(),
            d.products.clone(),
            warehouses,
            &d.product_suppliers,
            &d.stock,
            world,
        )
    }

    /// The catalog and stock levels of rows read from a store.
    pub fn from_rows(
        users: Vec<User>,
        products: Vec<Product>,
        warehouses: Vec<String>,
        product_suppliers: &[ProductSupplier],
        stock: &[StockRow],
        world: StoreRows,
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
                location: w as u32,
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
        let store_index: HashMap<&str, usize> = world
            .stores
            .iter()
            .enumerate()
            .map(|(i, s)| (s.store_id.as_str(), i))
            .collect();
        let terminals = world
            .terminals
            .iter()
            .filter_map(|(store, id)| {
                Some(Terminal {
                    terminal_id: id.clone(),
                    store: *store_index.get(store.as_str())?,
                })
            })
            .collect();
        let employees = world
            .employees
            .iter()
            .filter_map(|(store, e)| {
                Some(Employee {
                    store: *store_index.get(store.as_str())?,
                    ..e.clone()
                })
            })
            .collect();
        let mut store_products = vec![Vec::new(); world.stores.len()];
        let mut store_reorder = FxHashMap::default();
        for row in &world.stock {
            let (Some(&s), Some(&p)) = (
                store_index.get(row.store_id.as_str()),
                product_index.get(row.product_id.as_str()),
            ) else {
                continue;
            };
            store_products[s].push(p as u32);
            let key = StockKey {
                location: (warehouse_index.len() + s) as u32,
                product: p as u32,
            };
            store_reorder.insert(
                key,
                Reorder {
                    point: row.reorder_point,
                    qty: row.reorder_qty,
                },
            );
            levels.push((
                key,
                StockLevel {
                    qty: row.qty,
                    reserved: row.reserved_qty,
                },
            ));
        }
        drop(store_index);
        let catalog = Self {
            users: Users::new(&users),
            products,
            warehouses,
            offers,
            stocked_at,
            stores: world.stores,
            terminals,
            employees,
            store_products,
            store_reorder,
            shard: Shard::WHOLE,
        };
        (catalog, levels)
    }

    /// (location id, product_id) of a stock key: a warehouse id or a store id.
    pub fn location_ids(&self, key: StockKey) -> (&str, &str) {
        (
            self.location_id(key.location),
            &self.products[key.product as usize].product_id,
        )
    }

    /// The id of a location: warehouses come first, then stores.
    pub fn location_id(&self, location: u32) -> &str {
        match self.store_at(location) {
            Some(s) => &self.stores[s].store_id,
            None => &self.warehouses[location as usize],
        }
    }

    /// The store a location is, if it is one.
    pub fn store_at(&self, location: u32) -> Option<usize> {
        (location as usize)
            .checked_sub(self.warehouses.len())
            .filter(|s| *s < self.stores.len())
    }

    /// The location of store `s`.
    pub fn store_location(&self, s: usize) -> u32 {
        (self.warehouses.len() + s) as u32
    }

    /// When the location of `key` reorders its product.
    pub fn reorder(&self, key: StockKey) -> Option<Reorder> {
        match self.store_at(key.location) {
            Some(_) => self.store_reorder.get(&key).copied(),
            None => Some(WAREHOUSE_REORDER),
        }
    }

    pub fn pick_user<R: Rng>(&self, rng: &mut R) -> usize {
        rng.random_range(0..self.users.len())
    }

    /// Whether the stock location (a warehouse, then a store index) is this shard's.
    pub fn owns_location(&self, location: u32) -> bool {
        let warehouses = self.warehouses.len();
        match (location as usize).checked_sub(warehouses) {
            None => self.shard.owns(location as usize),
            Some(store) => self.shard.owns(store),
        }
    }

    /// A product this instance sells and reprices (any, unless sharded).
    pub fn pick_product<R: Rng>(&self, rng: &mut R) -> usize {
        if self.shard.is_whole() {
            return rng.random_range(0..self.products.len());
        }
        let owned = self.shard.share_of(self.products.len()).max(1);
        let k = rng.random_range(0..owned);
        k * self.shard.count as usize + self.shard.index as usize
    }

    /// The catalog as shard `shard` acts on it: only its warehouses stock (and fill orders of)
    /// its products, and only its stores trade, in its products; everything else stays listed,
    /// so ids, indexes and the other shards' rows keep their meaning. A whole shard changes
    /// nothing.
    pub fn sharded(mut self, shard: Shard) -> Self {
        self.shard = shard;
        if shard.is_whole() {
            return self;
        }
        self.users.shard(shard);
        for (p, at) in self.stocked_at.iter_mut().enumerate() {
            match shard.owns(p) {
                true => at.retain(|&w| shard.owns(w as usize)),
                false => at.clear(),
            }
        }
        for (s, products) in self.store_products.iter_mut().enumerate() {
            match shard.owns(s) {
                true => products.retain(|&p| shard.owns(p as usize)),
                false => products.clear(),
            }
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_trades_only_its_own_locations_and_products_and_numbers_its_own_sign_ups() {
        use rand::SeedableRng;
        let whole = Catalog::generate(30, 40, 5);
        let shard = Shard { index: 1, count: 2 };
        let mut c = whole.clone().sharded(shard);
        for (p, at) in c.stocked_at.iter().enumerate() {
            assert!(at.iter().all(|&w| w % 2 == 1 && p % 2 == 1), "{p}: {at:?}");
        }
        for (s, products) in c.store_products.iter().enumerate() {
            assert!(s % 2 == 1 || products.is_empty());
            assert!(products.iter().all(|p| p % 2 == 1));
        }
        let mut rng = rand_pcg::Pcg64::seed_from_u64(1);
        assert!((0..1000).all(|_| c.pick_product(&mut rng) % 2 == 1));
        assert_eq!(whole.clone().sharded(Shard::WHOLE), whole);
        let numbers: Vec<usize> = (0..3)
            .map(|_| {
                let n = c.users.next_number();
                c.users.sign_up(0);
                n
            })
            .collect();
        assert!(numbers.iter().all(|n| n % 2 == 1), "{numbers:?}");
        assert!(numbers.windows(2).all(|w| w[1] == w[0] + 2));
        assert!(numbers[0] > whole.users.len() - 1);
    }

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
        assert_eq!(c.users.next_number(), 43);
    }

    #[test]
    fn sign_ups_are_numbered_after_the_loaded_users_and_keep_their_country() {
        let mut users = Users::new(&[user("U000007", "FR"), user("guest", "DE")]);
        assert_eq!((users.len(), users.next_number()), (2, 8));
        assert_eq!(users.sign_up(4), 2);
        assert_eq!(users.sign_up(0), 3);
        assert_eq!(users.user_id(1), "guest");
        assert_eq!(users.country(0), "FR");
        assert_eq!(
            (users.user_id(2), users.country(2)),
            ("U000008".into(), "IL")
        );
        assert_eq!(
            (users.user_id(3), users.country(3)),
            ("U000009".into(), "US")
        );
        assert_eq!(users.next_number(), 10);
        for n in [0, 1, 42, 999_999, 1_000_000, 123_456_789, usize::MAX] {
            assert_eq!(signup_id(n), format!("U{n:06}"));
        }
    }

    fn user(id: &str, country: &str) -> User {
        User {
            user_id: id.into(),
            email: String::new(),
            country: country.into(),
            created_ms: 0,
        }
    }
}
