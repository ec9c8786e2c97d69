//! Checks shared by the Postgres tests: stock replayed from the topic against the tables, the
//! global totals, and prices in effect.

use std::collections::HashMap;

use retailgen::domain::reference::{ReferenceData, SeedCounts, StoreLayout};

use super::decode::Row;
use super::pg::TestDb;

/// The reference data of the Postgres tests (`SEED_USERS=300`, `SEED_PRODUCTS=80`, 4 warehouses, 10 suppliers).
pub const COUNTS: SeedCounts = SeedCounts {
    users: 300,
    products: 80,
    warehouses: 4,
    suppliers: 10,
    stores: 3,
    terminals_per_store: 2,
    employees_per_store: 3,
    layout: StoreLayout::VARIED,
};

/// The environment that seeds [`COUNTS`].
pub const SEED_ENV: [(&str, &str); 7] = [
    ("SEED_USERS", "300"),
    ("SEED_PRODUCTS", "80"),
    ("SEED_WAREHOUSES", "4"),
    ("SEED_SUPPLIERS", "10"),
    ("SEED_STORES", "3"),
    ("TERMINALS_PER_STORE", "2"),
    ("EMPLOYEES_PER_STORE", "3"),
];

/// A run busy with every kind of effect and fault: stock moves, price changes, sign-ups,
/// duplicates and bad records.
pub const BUSY_ENV: [(&str, &str); 5] = [
    ("WEIGHT_INVENTORY_CHG", "0.3"),
    ("P_UPDATE_PRICE", "0.02"),
    ("P_NEW_CUSTOMER", "0.05"),
    ("P_DUPLICATE", "0.01"),
    ("P_BAD_RECORD", "0.01"),
];

/// Replays the stock changes among `rows` in topic order from the seeded stock, checking every
/// chain on the way: `previous_qty` is the key's last level, `new_qty` adds up, never negative.
pub fn replay(rows: &[&Row], counts: SeedCounts, seed: u64) -> HashMap<(String, String), i64> {
    let data = ReferenceData::generate(counts, seed);
    let mut stock: HashMap<(String, String), i64> = data
        .stock
        .into_iter()
        .map(|s| ((s.warehouse_id, s.product_id), i64::from(s.qty)))
        .chain(
            data.store_stock
                .into_iter()
                .map(|s| ((s.store_id, s.product_id), i64::from(s.qty))),
        )
        .collect();
    for c in rows.iter().filter(|r| {
        r.kafka.topic == "inventory-changes.v1" || r.kafka.topic == "store-inventory-changes.v1"
    }) {
        let location = match c.kafka.topic.as_str() {
            "inventory-changes.v1" => c.str("warehouse_id"),
            _ => c.str("store_id"),
        };
        let key = (location.to_owned(), c.str("product_id").to_owned());
        assert_eq!(
            c.i64("previous_qty"),
            stock[&key],
            "the chain of {key:?} continues at {}",
            c.str("change_id")
        );
        assert_eq!(
            c.i64("new_qty"),
            c.i64("previous_qty") + c.i64("quantity_delta")
        );
        assert!(c.i64("new_qty") >= 0, "never negative");
        stock.insert(key, c.i64("new_qty"));
    }
    stock
}

pub fn table_stock(db: &TestDb) -> HashMap<(String, String), i64> {
    db.query("SELECT location_id, product_id, qty FROM retailgen_stock_locations")
        .into_iter()
        .map(|r| ((r[0].clone(), r[1].clone()), r[2].parse().unwrap()))
        .collect()
}

pub fn global_is_the_sum_over_warehouses(db: &TestDb) {
    let bad = db.query(
        "SELECT i.product_id FROM inventory i LEFT JOIN (SELECT product_id, sum(qty) AS total FROM warehouse_inventory GROUP BY product_id) w \
         USING (product_id) WHERE i.qty <> coalesce(w.total, 0)",
    );
    assert!(
        bad.is_empty(),
        "inventory differs from the sum over warehouses for {bad:?}"
    );
}

/// Every product's price in the table is its last price change on the topic (or its seed).
pub fn prices_are_the_last_changes(db: &TestDb, rows: &[&Row], counts: SeedCounts, seed: u64) {
    let mut prices: HashMap<String, f64> = ReferenceData::generate(counts, seed)
        .products
        .iter()
        .map(|p| (p.product_id.clone(), p.price_usd()))
        .collect();
    for c in rows.iter().filter(|r| r.kafka.topic == "price-changes.v1") {
        prices.insert(c.str("product_id").to_owned(), c.f64("new_price"));
    }
    for row in db.query("SELECT product_id, price_usd FROM products") {
        assert_eq!(
            prices[&row[0]],
            row[1].parse::<f64>().unwrap(),
            "the table holds the last price change of {}",
            row[0]
        );
    }
}
