//! What a CDC consumer sees: a Postgres-canonical run read back through logical decoding (a
//! `test_decoding` slot, the WAL stream Debezium reads) shows every stock change and every
//! price change on the topics as its own row version, with the same values in the same order.

use std::collections::HashMap;

use crate::support::target::{good_once, Target};

/// Consecutive equal values once (a change that moved nothing may or may not write a version).
fn collapsed(values: &[i64]) -> Vec<i64> {
    let mut out: Vec<i64> = Vec::with_capacity(values.len());
    for &v in values {
        if out.last() != Some(&v) {
            out.push(v);
        }
    }
    out
}

/// `name[type]:value` of a test_decoding line, unquoted.
fn column<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let at = line.find(&format!(" {name}["))?;
    let rest = &line[at..];
    let value = &rest[rest.find("]:")? + 2..];
    Some(match value.strip_prefix('\'') {
        Some(quoted) => &quoted[..quoted.find('\'')?],
        None => value.split(' ').next()?,
    })
}

fn cents(text: &str) -> i64 {
    (text.parse::<f64>().expect("a number") * 100.0).round() as i64
}

#[test]
fn every_stock_and_price_change_is_its_own_row_version_in_the_wal() {
    let target = Target::new(true);
    let db = target.db();
    let wal_level = db.query("SHOW wal_level")[0][0].clone();
    assert_eq!(
        wal_level, "logical",
        "logical decoding needs wal_level=logical: scripts/test.sh sets it before the suite"
    );
    let slot = format!("{}_cdc", db.name);
    db.query(&format!(
        "SELECT pg_create_logical_replication_slot('{slot}', 'test_decoding')"
    ));
    // The slot holds WAL until dropped: drop it whatever happens.
    struct Drop<'a>(&'a crate::support::pg::TestDb, String);
    impl std::ops::Drop for Drop<'_> {
        fn drop(&mut self) {
            let _ = self
                .0
                .try_query(&format!("SELECT pg_drop_replication_slot('{}')", self.1));
        }
    }
    let _dropped = Drop(db, slot.clone());

    // Unthrottled and busy: many changes of one row fall into one group commit.
    target.finish_run("6000", &[("WEIGHT_STORE", "0.5")]);

    let mut wal: HashMap<String, Vec<i64>> = HashMap::new();
    for row in db.query(&format!(
        "SELECT data FROM pg_logical_slot_get_changes('{slot}', NULL, NULL)"
    )) {
        let line = &row[0];
        let (table, key, value) = if line.starts_with("table public.warehouse_inventory: UPDATE:") {
            ("stock", column(line, "warehouse_id"), column(line, "qty"))
        } else if line.starts_with("table public.store_inventory: UPDATE:") {
            ("stock", column(line, "store_id"), column(line, "qty"))
        } else if line.starts_with("table public.products: UPDATE:") {
            (
                "price",
                column(line, "product_id"),
                column(line, "price_usd"),
            )
        } else {
            continue;
        };
        let (Some(key), Some(value)) = (key, value) else {
            panic!("an UPDATE without its columns: {line}")
        };
        let (key, value) = match table {
            "stock" => {
                let product = column(line, "product_id").expect("a product");
                (
                    format!("{key}:{product}"),
                    value.parse().expect("a quantity"),
                )
            }
            _ => (key.to_owned(), cents(value)),
        };
        wal.entry(key).or_default().push(value);
    }

    let rows = target.rows();
    let good = good_once(&rows);
    let mut topics: HashMap<String, Vec<i64>> = HashMap::new();
    for r in &good {
        let (key, value) = match r.kafka.topic.as_str() {
            "inventory-changes.v1" => (
                format!("{}:{}", r.str("warehouse_id"), r.str("product_id")),
                r.i64("new_qty"),
            ),
            "store-inventory-changes.v1" => (
                format!("{}:{}", r.str("store_id"), r.str("product_id")),
                r.i64("new_qty"),
            ),
            "price-changes.v1" => (
                r.str("product_id").to_owned(),
                (r.f64("new_price") * 100.0).round() as i64,
            ),
            _ => continue,
        };
        topics.entry(key).or_default().push(value);
    }
    let changes: usize = topics.values().map(Vec::len).sum();
    let folded_keys = topics.values().filter(|v| collapsed(v).len() > 1).count();
    assert!(
        changes > 1_000 && folded_keys > 50,
        "{changes} changes of {folded_keys} keys"
    );
    let (mut versions, mut shown) = (0, 0);
    for (key, reported) in &topics {
        let seen = wal.get(key).map(Vec::as_slice).unwrap_or_default();
        versions += seen.len();
        shown += reported.len();
        assert_eq!(
            collapsed(seen),
            collapsed(reported),
            "{key}: the row versions in the WAL are the values the topic reports"
        );
    }
    eprintln!("{shown} changes on the topics, {versions} row versions in the WAL");
}
