//! The store world, read back from a simulated day and a half (JSON lines on stdout): terminal
//! sequences, arithmetic to the cent, transactions equal to their events, refunds within the
//! line, stores silent while closed, alerts exactly at crossings and followed by replenishment
//! (the rules in `support::store_rules`), plus the statistical shape of baskets and refunds;
//! and, on a busy day with queues at the tills, no unlabelled record published more than two
//! minutes of event time behind the stream.

use retailgen::domain::reference::{SeedCounts, StoreLayout};
use serde_json::Value;

use crate::support::cmd::run;
use crate::support::store_rules::{check, seeded};

const SEED: u64 = 5;

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
    let records: Vec<(String, Value)> = out
        .stdout
        .lines()
        .map(|l| {
            let mut r: Value = serde_json::from_str(l).unwrap();
            (r["topic"].as_str().unwrap().to_owned(), r["value"].take())
        })
        .collect();
    let counts = SeedCounts {
        users: 20_000,
        products: 60,
        warehouses: 5,
        suppliers: 20,
        stores: 4,
        terminals_per_store: 4,
        employees_per_store: 8,
        layout: StoreLayout::VARIED,
    };
    let f = check(
        &records,
        &seeded(counts, SEED),
        &[0],
        (600_000, 6 * 3_600_000),
    );
    assert!(f.transactions > 200, "{f:?}");
    let share = f.refunds as f64 / f.transactions as f64;
    assert!((0.05..0.15).contains(&share), "refund share {share}");
    assert!((0.5..0.7).contains(&f.identified_share), "{f:?}");
    assert!(
        (2.3..3.2).contains(&f.mean_basket) && f.max_basket <= 4,
        "{f:?}"
    );
    assert!(f.store_crossings > 0 && f.replenishments > 0, "{f:?}");
    assert!(f.discounted_lines > 0 && f.warehouse_crossings > 0, "{f:?}");
    assert_eq!(
        f.left_logged_in,
        [0],
        "the end of the span logs every terminal out"
    );
    // Every basket is a visit's checkout; only visits ending near the end of the span wait.
    assert_eq!(f.checkouts, f.transactions, "{f:?}");
    assert!(f.visits > f.transactions && f.putbacks > 0, "{f:?}");
    let end = 1_719_921_600_000; // 2024-07-02T12:00:00Z
    assert!(
        f.unchecked_exits
            .iter()
            .all(|exit| *exit > end - 30 * 60_000),
        "visits left unchecked well before the end: {:?}",
        f.unchecked_exits
    );
    assert_eq!(behind_the_stream(&out.stdout), vec![]);
}

/// A run starts in a steady state: the stores that are open hold visitors (their sessions come
/// first, entered at the start, never before it) and staffed terminals, so the first store
/// transaction comes within seconds, not after the shortest trip of 10 minutes.
#[test]
fn a_run_starts_warm_with_visitors_inside_and_sales_within_seconds() {
    let from = 1_719_849_600_000_i64; // 2024-07-01T16:00:00Z: New York, London, Berlin open
    let out = run(
        &[
            "run",
            "--seed",
            "5",
            "--from",
            "2024-07-01T16:00:00Z",
            "--to",
            "2024-07-01T16:05:00Z",
            "--eps",
            "10",
        ],
        &[("P_LATE_EVENT", "0")],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let records: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let warm = records
        .iter()
        .take_while(|r| r["topic"] == "foot-traffic.v1")
        .count();
    assert!(warm > 50, "{warm} visitors inside at the start");
    for r in records.iter().filter(|r| r["topic"] == "foot-traffic.v1") {
        let entry = r["value"]["entry_time"].as_i64().unwrap();
        assert!(entry >= from, "nobody entered before the run began: {r}");
    }
    let first_sale = records
        .iter()
        .find(|r| r["topic"] == "pos-transactions.v1")
        .map(|r| r["value"]["timestamp"].as_i64().unwrap())
        .expect("store transactions in the first five minutes");
    assert!(
        first_sale - from < 60_000,
        "the first transaction {} s into the run",
        (first_sale - from) / 1_000
    );
}

/// How far an unlabelled record may be published behind the latest event time before it.
const MAX_BEHIND_MS: i64 = 120_000;

/// The unlabelled records of a run's stdout (in publication order) published more than
/// [`MAX_BEHIND_MS`] of event time behind the latest record before them: (topic, what, ms behind).
fn behind_the_stream(stdout: &str) -> Vec<(String, String, i64)> {
    let mut latest: Option<i64> = None;
    let mut behind = Vec::new();
    for line in stdout.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        let v = &r["value"];
        let Some(t) = v["timestamp"].as_i64().or_else(|| v["entry_time"].as_i64()) else {
            continue;
        };
        if r["headers"].get("dq").is_some() {
            continue;
        }
        let last = *latest.get_or_insert(t);
        if last - t > MAX_BEHIND_MS {
            let what = v["event_type"].as_str().unwrap_or_default().to_owned();
            behind.push((r["topic"].as_str().unwrap().to_owned(), what, last - t));
        }
        latest = Some(last.max(t));
    }
    behind
}

/// A day at 2 records/s with most of them the store world's: its tills have queues, shelves run
/// short while visitors shop, and stores close on a queue. What ran out is put back at the
/// visitor's exit and published then (not after their wait at a till), a store serves the queue
/// it closes on, and nothing unlabelled goes out more than two minutes behind the stream.
#[test]
fn a_busy_day_publishes_nothing_unlabelled_two_minutes_behind_the_stream() {
    let out = run(
        &[
            "run",
            "--seed",
            "12",
            "--from",
            "2026-03-02",
            "--to",
            "2026-03-03",
            "--eps",
            "2",
        ],
        &[("WEIGHT_STORE", "0.6")],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let putbacks = out
        .stdout
        .lines()
        .filter(|l| l.contains("\"event_type\":\"putback\""))
        .count();
    assert!(putbacks > 500, "a day of putbacks: {putbacks}");
    let behind = behind_the_stream(&out.stdout);
    assert!(
        behind.is_empty(),
        "{} unlabelled records 2+ min behind the stream, e.g. {:?}",
        behind.len(),
        &behind[..behind.len().min(5)]
    );
}

/// A day at 0.4 records/s, nearly all of them the store world's: a step that checks out several
/// baskets publishes dozens of records and moves the simulated clock on by minutes, yet what a
/// visitor does on the shelves goes out when it happens, not at the store's next turn.
#[test]
fn a_slow_day_publishes_shelf_events_when_they_happen() {
    let out = run(
        &[
            "run",
            "--seed",
            "3",
            "--from",
            "2024-07-01T00:00:00Z",
            "--to",
            "2024-07-02T00:00:00Z",
            "--eps",
            "0.4",
        ],
        &[("WEIGHT_STORE", "3"), ("P_LATE_EVENT", "0")],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let behind: Vec<_> = behind_the_stream(&out.stdout)
        .into_iter()
        .filter(|(topic, _, _)| topic == "shelf-events.v1")
        .collect();
    assert!(
        behind.is_empty(),
        "{} shelf events 2+ min behind the stream, e.g. {:?}",
        behind.len(),
        &behind[..behind.len().min(5)]
    );
}
