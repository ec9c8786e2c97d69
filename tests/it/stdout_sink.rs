//! The embedded default: JSON lines on stdout, reproducible with --seed, stopped by count, duration or signal.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::Value;

use crate::support::cmd::{assert_count, command, run, terminate};

fn lines(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect()
}

/// The record without its wall-clock event times (`ts`, `timestamp`, a visit's entry and exit,
/// and `effective_date` of price changes).
fn without_ts(mut v: Value) -> Value {
    let value = v["value"].as_object_mut().unwrap();
    value.remove("ts");
    value.remove("effective_date");
    value.remove("timestamp");
    value.remove("entry_time");
    value.remove("exit_time");
    v
}

/// A record's event time: `ts` (reference 003's streams), `entry_time` (a visit) or
/// `timestamp` (the store world's, and restock alerts, which any stream's stock change may bring).
fn event_time(r: &Value) -> i64 {
    let value = &r["value"];
    value["ts"]
        .as_i64()
        .or(value["entry_time"].as_i64())
        .or(value["timestamp"].as_i64())
        .unwrap()
}

#[test]
fn run_with_no_configuration_prints_json_lines_and_says_how_to_switch() {
    let out = run(&["run", "--count", "300", "--eps", "0"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let records = lines(&out.stdout);
    assert_eq!(records.len(), assert_count(&out.stderr, 300));
    for r in &records {
        assert!(
            r["topic"].is_string() && r["key"].is_string() && r["value"].is_object(),
            "{r}"
        );
        assert_eq!(r["headers"]["source"], "retailgen");
    }
    let topics: HashSet<&str> = records
        .iter()
        .map(|r| r["topic"].as_str().unwrap())
        .collect();
    assert!(
        topics.contains("orders.v1") && topics.contains("customer-interactions.v1"),
        "{topics:?}"
    );
    assert!(
        out.stderr.contains("sink=stdout") && out.stderr.contains("store=memory"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--sink stdout|kafka|file|null"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_same_seed_reproduces_ids_values_and_order() {
    let args = ["run", "--count", "1500", "--eps", "0", "--seed"];
    let a = run(&[&args[..], &["77"]].concat(), &[]);
    let b = run(&[&args[..], &["77"]].concat(), &[]);
    let c = run(&[&args[..], &["78"]].concat(), &[]);
    let strip = |o: &str| lines(o).into_iter().map(without_ts).collect::<Vec<_>>();
    assert_eq!(strip(&a.stdout), strip(&b.stdout));
    assert_ne!(strip(&a.stdout), strip(&c.stdout));
}

#[test]
fn payments_name_an_earlier_order_and_share_its_key_and_trace() {
    let out = run(
        &["run", "--count", "4000", "--eps", "0", "--seed", "3"],
        &[],
    );
    let records = lines(&out.stdout);
    // A late order may arrive after its payment: the orders are on the topic, in any order.
    let orders: std::collections::HashMap<String, Value> = records
        .iter()
        .filter(|r| r["topic"] == "orders.v1")
        .map(|r| {
            (
                r["value"]["order_id"].as_str().unwrap().to_owned(),
                r["headers"]["trace_id"].clone(),
            )
        })
        .collect();
    let mut payments = 0;
    for r in &records {
        match r["topic"].as_str().unwrap() {
            "payments.v1"
                if r["headers"]["dq"]
                    .as_str()
                    .is_none_or(|d| !d.starts_with("bad:")) =>
            {
                let order = r["value"]["order_id"].as_str().unwrap();
                assert_eq!(r["key"], order);
                assert_eq!(
                    orders.get(order),
                    Some(&r["headers"]["trace_id"]),
                    "payment of an unseen order {order}"
                );
                payments += 1;
            }
            _ => {}
        }
    }
    assert!(payments > 500, "{payments} payments");
}

#[test]
fn the_duration_flag_stops_a_throttled_run() {
    let out = run(&["run", "--duration", "1500ms", "--eps", "40"], &[]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("duration elapsed"), "{}", out.stderr);
    // The warm start's sessions (the visitors inside at the start) come first, unpaced; so do
    // its staffed terminals' logins, and a clean stop's logouts.
    let records = lines(&out.stdout);
    let warm = records
        .iter()
        .take_while(|r| r["topic"] == "foot-traffic.v1")
        .count();
    let shifts = records[warm..]
        .iter()
        .filter(|r| {
            let kind = r["value"]["event_type"].as_str().unwrap_or_default();
            kind == "employee_login" || kind == "employee_logout"
        })
        .count();
    let n = records.len() - warm - shifts;
    assert!(
        n > 0 && n <= 100,
        "{n} records after the warm start at 40/s for 1.5 s with a 1 s burst"
    );
}

#[test]
fn sigterm_stops_the_run_flushes_and_exits_0() {
    let child = command(&["run", "--eps", "200"], &[]).spawn().unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let out = terminate(child);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stderr.contains("interrupted"), "{}", out.stderr);
    assert!(
        !lines(&out.stdout).is_empty(),
        "every line is complete JSON"
    );
}

#[test]
fn two_simulated_runs_with_the_same_seed_are_byte_identical() {
    let args = [
        "run",
        "--from",
        "2024-03-01T00:00:00Z",
        "--to",
        "2024-03-01T02:00:00Z",
        "--eps",
        "3",
        "--seed",
        "4",
    ];
    let a = run(&args, &[]);
    let b = run(&args, &[]);
    assert_eq!(a.code, Some(0), "{}", a.stderr);
    assert_eq!(a.stdout, b.stdout);
    assert!(
        a.stderr.contains("end of the simulated span"),
        "{}",
        a.stderr
    );
    let records = lines(&a.stdout);
    // Tokyo's and Sydney's stores are open: the store world is part of what is reproduced.
    for topic in [
        "pos-events.v1",
        "pos-transactions.v1",
        "store-inventory-changes.v1",
    ] {
        assert!(
            records.iter().any(|r| r["topic"] == topic),
            "{topic} in the simulated span"
        );
    }
    let (from, to) = (1_709_251_200_000_i64, 1_709_251_200_000_i64 + 7_200_000);
    for r in records.iter().filter(|r| r["headers"]["dq"].is_null()) {
        let ts = event_time(r);
        assert!(
            (from..to).contains(&ts),
            "event time {ts} inside [--from, --to)"
        );
    }
    assert!(
        records.len() > 15_000,
        "3/s x diurnal over two hours: {}",
        records.len()
    );
}

#[test]
fn gap_pacing_spaces_records_between_min_and_max_delta() {
    let out = run(
        &[
            "run",
            "--pacing",
            "gaps",
            "--min-delta",
            "10",
            "--max-delta",
            "60",
            "--from",
            "2024-03-01",
            "--count",
            "300",
        ],
        &[
            ("P_LATE_EVENT", "0"),
            ("P_BAD_RECORD", "0"),
            ("P_DUPLICATE", "0"),
            // Store records carry the times they happened (scans before a payment), not the gaps.
            ("WEIGHT_STORE", "0"),
        ],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let records = lines(&out.stdout);
    let store_topics = [
        "pos-events.v1",
        "pos-transactions.v1",
        "refunds.v1",
        "store-inventory-changes.v1",
        "foot-traffic.v1",
        "shelf-events.v1",
    ];
    assert!(
        records
            .iter()
            .all(|r| !store_topics.contains(&r["topic"].as_str().unwrap())),
        "WEIGHT_STORE=0 turns the store world off"
    );
    let ts: Vec<i64> = records.iter().map(event_time).collect();
    assert_eq!(ts.len(), assert_count(&out.stderr, 300));
    // Records of one group (an order and its sale) share a time; each record then draws a gap.
    let mut runs: Vec<(i64, i64)> = Vec::new();
    for t in ts {
        match runs.last_mut() {
            Some((at, n)) if *at == t => *n += 1,
            _ => runs.push((t, 1)),
        }
    }
    for pair in runs.windows(2) {
        let ((at, n), (next, _)) = (pair[0], pair[1]);
        let gap = next - at;
        assert!(
            (10_000 * n..=60_000 * n).contains(&gap),
            "gap {gap} ms after {n} record(s)"
        );
    }
    assert!(runs.len() > 150, "{} distinct times", runs.len());
}
