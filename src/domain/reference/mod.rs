//! The reference data of the Data Forge generator's eight tables, generated deterministically: every row
//! depends only on the seed, its table and its index, so seeding again, after a crash or with a
//! larger count, converges on exactly the rows a clean seed writes.

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

pub mod catalog;
pub mod shard;
pub mod stores;

use super::store::customers;
use catalog::{Product, User, CATEGORIES, COUNTRIES};
use stores::{Employee, Store, StoreStockRow, Terminal};

/// 2024-01-01T00:00:00Z: seeded rows are created a minute apart from here.
pub const SEED_EPOCH_MS: i64 = 1_704_067_200_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedCounts {
    pub users: usize,
    pub products: usize,
    pub warehouses: usize,
    pub suppliers: usize,
    pub stores: usize,
    pub terminals_per_store: usize,
    pub employees_per_store: usize,
    pub layout: StoreLayout,
}

/// Where stores are and when they open: `STORE_TIMEZONES` and `STORE_HOURS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreLayout {
    /// The stores' time zones, in turn; empty: the built-in cities in turn.
    pub zones: &'static [chrono_tz::Tz],
    /// Local opening and closing minute of every store; `None`: varied per store.
    pub hours: Option<(u32, u32)>,
}

impl StoreLayout {
    /// The built-in cities and hours that vary per store.
    pub const VARIED: Self = Self {
        zones: &[],
        hours: None,
    };
}

#[derive(Debug, Clone, PartialEq)]
pub struct Warehouse {
    pub warehouse_id: String,
    pub name: String,
    pub country: &'static str,
    pub region: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Supplier {
    pub supplier_id: String,
    pub name: String,
    pub country: &'static str,
    /// Rating in tenths (30..=50 is 3.0..5.0).
    pub rating_tenths: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub user_id: String,
    pub segment: &'static str,
    pub lifetime_value_cents: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProductSupplier {
    pub product_id: String,
    pub supplier_id: String,
    pub cost_cents: i64,
    pub lead_time_days: i32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StockRow {
    pub warehouse_id: String,
    pub product_id: String,
    pub qty: i32,
    pub reserved_qty: i32,
}

/// A random generator for one row of one table.
pub(crate) fn row_rng(seed: u64, table: u64, index: usize) -> Pcg64Mcg {
    Pcg64Mcg::seed_from_u64(
        seed ^ table.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ (index as u64).wrapping_mul(0xd1b5_4a32_d192_ed03),
    )
}

/// User `i`; `homes` are the countries of the stores (see [`customers::home_countries`]): most
/// users live where a store is.
pub fn user(seed: u64, i: usize, homes: &[&'static str]) -> User {
    let mut r = row_rng(seed, 1, i);
    let n = i + 1;
    User {
        user_id: format!("U{n:06}"),
        email: format!("user{n}@example.com"),
        country: customers::draw_country(&mut r, homes, &COUNTRIES).to_owned(),
        created_ms: SEED_EPOCH_MS + i as i64 * 60_000,
    }
}

const SEGMENTS: [(&str, u32, i64, i64); 4] = [
    ("VIP", 5, 500_000, 5_000_000),
    ("Regular", 70, 50_000, 500_000),
    ("New", 20, 0, 50_000),
    ("Churned", 5, 0, 100_000),
];

pub fn segment(seed: u64, i: usize, user_id: &str) -> Segment {
    let mut r = row_rng(seed, 2, i);
    let mut pick = r.random_range(0..100);
    let (name, _, lo, hi) = *SEGMENTS
        .iter()
        .find(|(_, w, _, _)| {
            let hit = pick < *w;
            pick = pick.saturating_sub(*w);
            hit
        })
        .unwrap_or(&SEGMENTS[1]);
    Segment {
        user_id: user_id.to_owned(),
        segment: name,
        lifetime_value_cents: r.random_range(lo..=hi),
    }
}

pub fn product(seed: u64, i: usize) -> Product {
    let mut r = row_rng(seed, 3, i);
    let n = i + 1;
    let category = CATEGORIES[r.random_range(0..CATEGORIES.len())];
    Product {
        product_id: format!("P{n:06}"),
        title: format!("{category} item {n}"),
        category,
        price_cents: r.random_range(1_000..=50_000),
    }
}

pub fn warehouse(seed: u64, i: usize) -> Warehouse {
    let mut r = row_rng(seed, 4, i);
    let country = COUNTRIES[r.random_range(0..COUNTRIES.len())];
    Warehouse {
        warehouse_id: format!("WH{:03}", i + 1),
        name: format!("Warehouse {}", i + 1),
        country,
        region: if country == "US" {
            "North America"
        } else {
            "Europe"
        },
    }
}

pub fn supplier(seed: u64, i: usize) -> Supplier {
    let mut r = row_rng(seed, 5, i);
    Supplier {
        supplier_id: format!("SUP{:03}", i + 1),
        name: format!("Supplier {}", i + 1),
        country: COUNTRIES[r.random_range(0..COUNTRIES.len())],
        rating_tenths: r.random_range(30..=50),
    }
}

/// 1 to 3 distinct suppliers of product `i`, costing 30-70% of its price.
pub fn product_suppliers(
    seed: u64,
    i: usize,
    product: &Product,
    suppliers: usize,
) -> Vec<ProductSupplier> {
    let mut r = row_rng(seed, 6, i);
    let wanted = r.random_range(1..=3).min(suppliers);
    let mut chosen: Vec<usize> = Vec::with_capacity(wanted);
    while chosen.len() < wanted {
        let s = r.random_range(0..suppliers);
        if !chosen.contains(&s) {
            chosen.push(s);
        }
    }
    chosen.sort_unstable();
    chosen
        .into_iter()
        .map(|s| ProductSupplier {
            product_id: product.product_id.clone(),
            supplier_id: format!("SUP{:03}", s + 1),
            cost_cents: (product.price_cents as f64 * r.random_range(0.3..0.7)).round() as i64,
            lead_time_days: r.random_range(3..=21),
        })
        .collect()
}

/// Stock of product `p` at warehouse `w`: 80% of pairs are stocked, 10-500 units, some reserved.
pub fn stock(seed: u64, w: usize, p: usize) -> Option<StockRow> {
    let mut r = row_rng(seed, 7 + ((w as u64) << 32), p);
    if !r.random_bool(0.8) {
        return None;
    }
    let qty = r.random_range(10..=500);
    Some(StockRow {
        warehouse_id: format!("WH{:03}", w + 1),
        product_id: format!("P{:06}", p + 1),
        qty,
        reserved_qty: r.random_range(0..=qty.min(50)),
    })
}

/// All rows of all tables for `counts`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReferenceData {
    pub users: Vec<User>,
    pub segments: Vec<Segment>,
    pub products: Vec<Product>,
    pub warehouses: Vec<Warehouse>,
    pub suppliers: Vec<Supplier>,
    pub product_suppliers: Vec<ProductSupplier>,
    pub stock: Vec<StockRow>,
    pub stores: Vec<Store>,
    pub terminals: Vec<Terminal>,
    pub employees: Vec<Employee>,
    pub store_stock: Vec<StoreStockRow>,
}

impl ReferenceData {
    pub fn generate(counts: SeedCounts, seed: u64) -> Self {
        let stores: Vec<Store> = (0..counts.stores)
            .map(|i| stores::store_in(seed, i, counts.layout))
            .collect();
        let homes = customers::home_countries(&stores);
        let users: Vec<User> = (0..counts.users).map(|i| user(seed, i, &homes)).collect();
        let segments = users
            .iter()
            .enumerate()
            .map(|(i, u)| segment(seed, i, &u.user_id))
            .collect();
        let products: Vec<Product> = (0..counts.products).map(|i| product(seed, i)).collect();
        let product_suppliers = products
            .iter()
            .enumerate()
            .flat_map(|(i, p)| product_suppliers(seed, i, p, counts.suppliers))
            .collect();
        let stock = (0..counts.warehouses)
            .flat_map(|w| (0..counts.products).filter_map(move |p| stock(seed, w, p)))
            .collect();
        Self {
            users,
            segments,
            products,
            warehouses: (0..counts.warehouses).map(|i| warehouse(seed, i)).collect(),
            suppliers: (0..counts.suppliers).map(|i| supplier(seed, i)).collect(),
            product_suppliers,
            stock,
            stores,
            terminals: (0..counts.stores)
                .flat_map(|s| (0..counts.terminals_per_store).map(move |t| stores::terminal(s, t)))
                .collect(),
            employees: (0..counts.stores)
                .flat_map(|s| {
                    (0..counts.employees_per_store).map(move |e| stores::employee(seed, s, e))
                })
                .collect(),
            store_stock: (0..counts.stores)
                .flat_map(|s| {
                    (0..counts.products).filter_map(move |p| stores::store_stock(seed, s, p))
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: SeedCounts = SeedCounts {
        users: 40,
        products: 30,
        warehouses: 3,
        suppliers: 5,
        stores: 2,
        terminals_per_store: 2,
        employees_per_store: 2,
        layout: StoreLayout::VARIED,
    };
    const LARGE: SeedCounts = SeedCounts {
        users: 80,
        products: 60,
        warehouses: 5,
        suppliers: 5,
        stores: 2,
        terminals_per_store: 2,
        employees_per_store: 2,
        layout: StoreLayout::VARIED,
    };

    #[test]
    fn a_larger_seed_extends_a_smaller_one_row_for_row() {
        let (small, large) = (
            ReferenceData::generate(SMALL, 9),
            ReferenceData::generate(LARGE, 9),
        );
        assert_eq!(small.users[..], large.users[..40]);
        assert_eq!(small.products[..], large.products[..30]);
        assert!(small.stock.iter().all(|row| large.stock.contains(row)));
        assert!(small
            .product_suppliers
            .iter()
            .all(|row| large.product_suppliers.contains(row)));
    }

    #[test]
    fn seeded_rows_respect_their_ranges() {
        let d = ReferenceData::generate(LARGE, 2);
        assert!(d
            .stock
            .iter()
            .all(|s| (10..=500).contains(&s.qty) && s.reserved_qty <= s.qty.min(50)));
        assert!(d.product_suppliers.iter().all(|ps| {
            let price = d
                .products
                .iter()
                .find(|p| p.product_id == ps.product_id)
                .unwrap()
                .price_cents;
            ps.cost_cents >= price * 3 / 10 - 1 && ps.cost_cents <= price * 7 / 10 + 1
        }));
        let pairs = LARGE.warehouses * LARGE.products;
        assert!(d.stock.len() > pairs * 7 / 10 && d.stock.len() < pairs * 9 / 10);
    }
}
