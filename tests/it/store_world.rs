//! The store world, read back from a simulated day and a half (JSON lines on stdout): terminal
//! sequences, arithmetic to the cent, transactions equal to their events, refunds within the
//! line, stores silent while closed, alerts exactly at crossings and followed by replenishment.

use std::collections::HashMap;

use retailgen::domain::reference::stores::store;
use serde_json::Value;

use crate::support::cmd::run;

const SEED: u64 = 5;

/// What a basket's events said: subtotal, tax and amount in cents, and (item, quantity, cents) per line.
type Said = (i64, i64, i64, Vec<(String, i64, i64)>);
/// A transaction and its (quantity, cents) per item.
type Paid<'a> = (&'a Value, HashMap<String, (i64, i64)>);

fn cents(v: &Value) -> i64 {
    (v.as_f64().unwrap() * 100.0).round() as i64
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

#[test]
fn a_simulated_day_of_the_store_world_obeys_the_rules() {
    let out = run(
        &[
            "run",
            "--seed",
            "5",
            "--from",
            "2024-07-01T00:00:00Z",
            "--to",
            "2024-07-02T12:00:00Z",
            "--eps",
            "2",
        ],
        &[
            ("WEIGHT_STORE", "1"),
            ("P_BAD_RECORD", "0"),
            ("P_DUPLICATE", "0"),
            ("P_LATE_EVENT", "0"),
            ("SEED_STORES", "4"),
            ("SEED_PRODUCTS", "60"),
            ("REFUND_DELAY_MAX", "6h"),
            ("REPLENISH_LEAD_TIME", "20m"),
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let records: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let of = |topic: &str| -> Vec<&Value> {
        records
            .iter()
            .filter(|r| r["topic"] == topic)
            .map(|r| &r["value"])
            .collect()
    };
    let stores: HashMap<String, _> = (0..4)
        .map(|i| (store(SEED, i).store_id.clone(), store(SEED, i)))
        .collect();

    // Sequences per terminal: login, baskets (no two open, no foreign basket ids), logout.
    // Stores are silent while closed: every record naming a store happened while it was open
    // (a logout may fall on the closing minute itself).
    for topic in [
        "pos-events.v1",
        "pos-transactions.v1",
        "refunds.v1",
        "store-inventory-changes.v1",
    ] {
        for e in of(topic) {
            let st = &stores[s(&e["store_id"])];
            let t = e["timestamp"].as_i64().unwrap();
            let open = st.is_open(t) || st.is_open(t - 1);
            assert!(open, "{topic} {e} at {t} while {} is closed", st.store_id);
        }
    }
    let events = of("pos-events.v1");
    let mut by_terminal: HashMap<&str, Vec<&Value>> = HashMap::new();
    for e in &events {
        by_terminal.entry(s(&e["terminal_id"])).or_default().push(e);
    }
    let mut said: HashMap<String, Said> = HashMap::new();
    for (terminal, evs) in &by_terminal {
        let mut ts: Vec<i64> = evs
            .iter()
            .map(|e| e["timestamp"].as_i64().unwrap())
            .collect();
        let sorted = {
            let mut c = ts.clone();
            c.sort();
            c
        };
        assert_eq!(ts, sorted, "{terminal}: events in time order on the key");
        ts.clear();
        let (mut logged_in, mut basket): (bool, Option<String>) = (false, None);
        let mut lines_total = 0;
        for e in evs {
            let kind = s(&e["event_type"]);
            let b = s(&e["basket_id"]).to_owned();
            match kind {
                "employee_login" => {
                    assert!(
                        !logged_in && basket.is_none(),
                        "{terminal}: login while open"
                    );
                    logged_in = true;
                }
                "employee_logout" => {
                    assert!(
                        logged_in && basket.is_none(),
                        "{terminal}: logout with a basket open"
                    );
                    logged_in = false;
                }
                "basket_started" => {
                    assert!(
                        logged_in && basket.is_none(),
                        "{terminal}: two baskets open"
                    );
                    basket = Some(b.clone());
                    lines_total = 0;
                    said.insert(b, (0, 0, 0, vec![]));
                }
                _ => {
                    assert_eq!(
                        basket.as_deref(),
                        Some(b.as_str()),
                        "{terminal}: {kind} of its own basket"
                    );
                    let entry = said.get_mut(&b).unwrap();
                    match kind {
                        "item_added" => {
                            let (q, p, d) = (
                                e["quantity"].as_i64().unwrap(),
                                cents(&e["price"]),
                                (e["discount"].as_f64().unwrap() * 100.0).round() as i64,
                            );
                            let exact = q * p * (100 - d);
                            assert!(
                                (cents(&e["line_total"]) * 100 - exact).abs() <= 50,
                                "line total to the cent: {e}"
                            );
                            lines_total += cents(&e["line_total"]);
                            entry
                                .3
                                .push((s(&e["item_id"]).to_owned(), q, cents(&e["line_total"])));
                        }
                        "subtotal_calculated" => {
                            assert_eq!(
                                cents(&e["subtotal"]),
                                lines_total,
                                "subtotal = sum of lines"
                            );
                            entry.0 = cents(&e["subtotal"]);
                            entry.1 = cents(&e["tax"]);
                        }
                        "payment_completed" => {
                            assert_eq!(
                                cents(&e["amount"]),
                                entry.0 + entry.1,
                                "payment = subtotal + tax"
                            );
                            entry.2 = cents(&e["amount"]);
                            basket = None;
                        }
                        "customer_identified" => {}
                        other => panic!("unknown event type {other}"),
                    }
                }
            }
        }
    }

    // Each transaction equals its basket's events; tax is the store's rate.
    let transactions = of("pos-transactions.v1");
    assert!(
        transactions.len() > 200,
        "{} transactions",
        transactions.len()
    );
    let mut paid: HashMap<&str, Paid> = HashMap::new();
    for t in &transactions {
        let (subtotal, tax, amount, lines) = &said[s(&t["basket_id"])];
        let items: Vec<(String, i64, i64)> = t["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    s(&i["item_id"]).to_owned(),
                    i["quantity"].as_i64().unwrap(),
                    cents(&i["total_price"]),
                )
            })
            .collect();
        assert_eq!(&items, lines, "transaction lines = item_added events");
        assert_eq!(
            (cents(&t["subtotal"]), cents(&t["tax"]), cents(&t["amount"])),
            (*subtotal, *tax, *amount)
        );
        let rate = stores[s(&t["store_id"])].tax_rate_bp;
        assert_eq!(
            *tax,
            (subtotal * rate + 5_000).div_euclid(10_000),
            "tax = rate x subtotal"
        );
        let per_item = items.into_iter().map(|(i, q, c)| (i, (q, c))).collect();
        paid.insert(s(&t["transaction_id"]), (t, per_item));
    }

    // Refunds name a transaction and never exceed what was paid for the line.
    let refunds = of("refunds.v1");
    let mut refunded: HashMap<(String, String), (i64, i64)> = HashMap::new();
    for r in &refunds {
        let (t, items) = &paid[s(&r["original_transaction_id"])];
        assert_eq!(t["store_id"], r["store_id"]);
        let delay = r["timestamp"].as_i64().unwrap() - t["timestamp"].as_i64().unwrap();
        assert!(
            (600_000..=6 * 3_600_000).contains(&delay),
            "a refund {delay} ms after its sale, outside REFUND_DELAY_MIN..MAX: {r}"
        );
        let (q, c) = items[s(&r["product_id"])];
        let sum = refunded
            .entry((
                s(&r["original_transaction_id"]).to_owned(),
                s(&r["product_id"]).to_owned(),
            ))
            .or_default();
        sum.0 += r["quantity"].as_i64().unwrap();
        sum.1 += cents(&r["refund_amount"]);
        assert!(sum.0 <= q && sum.1 <= c, "refund within the line: {r}");
    }
    let share = refunds.len() as f64 / transactions.len() as f64;
    assert!((0.05..0.15).contains(&share), "refund share {share}");
    let identified = transactions
        .iter()
        .filter(|t| !t["customer_id"].is_null())
        .count() as f64
        / transactions.len() as f64;
    assert!(
        (0.5..0.7).contains(&identified),
        "identified share {identified}"
    );
    let sizes: Vec<usize> = transactions
        .iter()
        .map(|t| t["items"].as_array().unwrap().len())
        .collect();
    assert!(sizes.iter().all(|n| (1..=4).contains(n)));
    let mean = sizes.iter().sum::<usize>() as f64 / sizes.len() as f64;
    assert!((2.3..3.2).contains(&mean), "mean basket size {mean}");

    // Store stock chains; every crossing below a reorder point has exactly one alert, and a
    // replenishment of that key follows it.
    let data = retailgen::domain::reference::ReferenceData::generate(
        retailgen::domain::reference::SeedCounts {
            users: 500,
            products: 60,
            warehouses: 5,
            suppliers: 20,
            stores: 4,
            terminals_per_store: 4,
            employees_per_store: 8,
            layout: retailgen::domain::reference::StoreLayout::VARIED,
        },
        SEED,
    );
    let mut level: HashMap<(String, String), (i64, i64)> = data
        .store_stock
        .iter()
        .map(|r| {
            (
                (r.store_id.clone(), r.product_id.clone()),
                (i64::from(r.qty), i64::from(r.reorder_point)),
            )
        })
        .collect();
    let mut crossings = 0;
    let mut alerts: Vec<(String, String)> = of("restock-alerts.v1")
        .iter()
        .filter(|a| !a["store_id"].is_null())
        .map(|a| (s(&a["store_id"]).to_owned(), s(&a["product_id"]).to_owned()))
        .collect();
    let mut replenished = 0;
    for c in of("store-inventory-changes.v1") {
        let key = (s(&c["store_id"]).to_owned(), s(&c["product_id"]).to_owned());
        let (qty, point) = level[&key];
        assert_eq!(c["previous_qty"].as_i64().unwrap(), qty, "chain of {key:?}");
        let new = c["new_qty"].as_i64().unwrap();
        assert_eq!(new, qty + c["quantity_delta"].as_i64().unwrap());
        assert!(new >= 0);
        if qty >= point && new < point {
            crossings += 1;
        }
        if matches!(s(&c["change_type"]), "TRANSFER_IN" | "RESTOCK") {
            replenished += 1;
        }
        level.insert(key, (new, point));
    }
    alerts.sort();
    assert_eq!(alerts.len(), crossings, "one alert per crossing, no more");
    assert!(
        crossings > 0 && replenished > 0,
        "{crossings} crossings, {replenished} replenishments"
    );
}
