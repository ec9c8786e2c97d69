//! Scale-out: two shards at once against one broker and one database (both canonical modes).
//! `retailgen verify` passes on the union, no id is drawn twice, and the shards' manifests add
//! up to what is on the topics.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde_json::Value;

use crate::support::cmd::{command, finish, run};
use crate::support::decode::{decode, kafka_env};
use crate::support::kafka::consume_all;
use crate::support::target::{Target, SELLING_STORES};
use crate::support::TOPICS;

/// The field holding each topic's record id.
fn id_field(topic: &str) -> &'static str {
    match topic {
        "orders.v1" => "order_id",
        "payments.v1" => "payment_id",
        "shipments.v1" => "shipment_id",
        "customer-interactions.v1" => "interaction_id",
        "inventory-changes.v1" | "store-inventory-changes.v1" => "change_id",
        "price-changes.v1" => "price_change_id",
        "pos-events.v1" | "shelf-events.v1" => "event_id",
        "pos-transactions.v1" => "transaction_id",
        "refunds.v1" => "refund_id",
        "restock-alerts.v1" => "alert_id",
        "foot-traffic.v1" => "visit_id",
        other => panic!("no id field for {other}"),
    }
}

fn two_shards_at_once(postgres: bool) {
    let target = Target::new(postgres);
    let dir = tempfile::tempdir().unwrap();
    let manifests: Vec<_> = (0..2)
        .map(|i| dir.path().join(format!("shard-{i}.json")))
        .collect();
    let children: Vec<_> = (0..2)
        .map(|i| {
            let index = i.to_string();
            let mut extra = SELLING_STORES.to_vec();
            extra.extend([
                ("SHARD_COUNT", "2"),
                ("SHARD_INDEX", index.as_str()),
                ("MANIFEST_PATH", manifests[i].to_str().unwrap()),
            ]);
            let env = target.env(&extra);
            command(&["run", "--count", "8000"], &env).spawn().unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let out = finish(child);
        assert_eq!(out.code, Some(0), "shard {i}: {}", out.stderr);
    }

    let mut env = kafka_env(&target.broker, &target.registry);
    if let Some(db) = &target.db {
        env.extend([("PG_DSN", db.dsn.as_str()), ("STORE", "postgres")]);
    }
    let out = run(&["verify"], &env);
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("every rule holds"), "{}", out.stdout);
    if postgres {
        assert!(
            out.stdout
                .contains("stock tables = the topics' last levels"),
            "the union also equals the tables: {}",
            out.stdout
        );
    }

    let consumed = consume_all(&target.broker.bootstrap, &TOPICS, Duration::from_secs(60));
    let mut on_topics: BTreeMap<String, u64> = BTreeMap::new();
    for c in &consumed {
        *on_topics.entry(c.topic.clone()).or_default() += 1;
    }
    let mut acknowledged: BTreeMap<String, u64> = BTreeMap::new();
    for path in &manifests {
        let m: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(m["outcome"], "completed");
        for (topic, figures) in m["topics"].as_object().unwrap() {
            *acknowledged.entry(topic.clone()).or_default() +=
                figures["acknowledged"].as_u64().unwrap();
        }
    }
    acknowledged.retain(|_, n| *n > 0);
    assert_eq!(
        acknowledged, on_topics,
        "the shards' manifests add up to the topics"
    );

    let rows = decode(&target.registry, ("", ""), consumed);
    let mut ids = HashSet::new();
    for r in &rows {
        let dq = r.kafka.headers.get("dq").map(String::as_str).unwrap_or("");
        if dq == "duplicate" || dq.starts_with("bad:") {
            continue;
        }
        let id = r.str(id_field(&r.kafka.topic)).to_owned();
        assert!(
            ids.insert((r.kafka.topic.clone(), id.clone())),
            "{id} drawn twice on {}",
            r.kafka.topic
        );
    }
    // Both shards traded: each sold in its own stores.
    let stores: HashSet<&str> = rows
        .iter()
        .filter(|r| r.kafka.topic == "pos-transactions.v1")
        .map(|r| r.str("store_id"))
        .collect();
    assert!(stores.len() >= 2, "{stores:?}");
}

#[test]
fn two_kafka_canonical_shards_make_one_consistent_world() {
    two_shards_at_once(false);
}

#[test]
fn two_postgres_canonical_shards_seed_once_and_make_one_consistent_world() {
    two_shards_at_once(true);
}

#[test]
fn a_shard_index_not_below_the_count_exits_2_naming_both() {
    for env in [
        vec![("SHARD_COUNT", "2"), ("SHARD_INDEX", "2")],
        vec![("SHARD_COUNT", "3"), ("JOB_COMPLETION_INDEX", "5")],
    ] {
        let out = run(&["run", "--count", "5"], &env);
        assert_eq!(out.code, Some(2), "{out:?}");
        assert!(
            out.stderr.contains("SHARD_INDEX") && out.stderr.contains("SHARD_COUNT"),
            "{}",
            out.stderr
        );
        assert!(out.stdout.is_empty());
    }
    let out = run(&["run", "--count", "5"], &[("SHARD_COUNT", "0")]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("SHARD_COUNT"), "{}", out.stderr);
}

#[test]
fn a_shard_that_would_own_no_warehouse_or_store_exits_2_before_writing() {
    // The defaults: 5 warehouses, 10 stores. Shard 7 of 8 would own no warehouse.
    let out = run(
        &["run", "--count", "5"],
        &[("SHARD_COUNT", "8"), ("SHARD_INDEX", "7")],
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("SHARD_COUNT=8 with SEED_WAREHOUSES=5")
            && out.stderr.contains("raise SEED_WAREHOUSES to at least 8"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "nothing written");
    // Every shard is refused, not only the starving one (they share one configuration).
    let out = run(
        &["run", "--count", "5"],
        &[("SHARD_COUNT", "8"), ("SHARD_INDEX", "0")],
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    // Stores only matter when the store world is on.
    let stores = [
        ("SHARD_COUNT", "12"),
        ("SEED_WAREHOUSES", "12"),
        ("SHARD_INDEX", "11"),
    ];
    let out = run(&["run", "--count", "5"], &stores);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("SEED_STORES=10"), "{}", out.stderr);
    let mut no_store_world = stores.to_vec();
    no_store_world.push(("WEIGHT_STORE", "0"));
    let out = run(&["run", "--count", "5"], &no_store_world);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    // Enough of everything: it runs.
    let raised = [
        ("SHARD_COUNT", "8"),
        ("SHARD_INDEX", "7"),
        ("SEED_WAREHOUSES", "8"),
    ];
    let out = run(&["run", "--count", "5"], &raised);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
}

/// Found by `verify` on the union above: shard 1 of this seed drops an order group at the end
/// of `--count` (no room for it and the alert it may bring) while its payment, due moments
/// later, filled the last slot. A dropped group's family now never goes out.
#[test]
fn a_count_never_ends_on_a_payment_of_an_order_it_dropped() {
    let mut env: Vec<(&str, &str)> = crate::support::stock::SEED_ENV.to_vec();
    env.extend(crate::support::stock::BUSY_ENV);
    env.extend([
        ("SHARD_COUNT", "2"),
        ("SHARD_INDEX", "1"),
        ("WEIGHT_STORE", "0.5"),
        ("REFUND_PROBABILITY", "0.3"),
        ("REFUND_DELAY_MIN", "1m"),
        ("REFUND_DELAY_MAX", "10m"),
    ]);
    let args = [
        "run",
        "--count",
        "8000",
        "--seed",
        "3",
        "--from",
        "2024-03-01T16:00:00Z",
        "--eps",
        "4",
    ];
    let out = run(&args, &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let records: Vec<Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 8000);
    let orders: HashSet<&str> = records
        .iter()
        .filter(|r| r["topic"] == "orders.v1")
        .map(|r| r["value"]["order_id"].as_str().unwrap())
        .collect();
    for r in &records {
        let bad = r["headers"]["dq"]
            .as_str()
            .is_some_and(|d| d.starts_with("bad:"));
        if !bad && (r["topic"] == "payments.v1" || r["topic"] == "shipments.v1") {
            let order = r["value"]["order_id"].as_str().unwrap();
            assert!(
                orders.contains(order),
                "{} names {order}, never published",
                r["topic"]
            );
        }
    }
}

#[test]
fn a_shard_of_a_fixed_seed_repeats_itself_and_differs_from_the_other_shard() {
    let records = |index: &str| {
        let env = [("SHARD_COUNT", "2"), ("SHARD_INDEX", index)];
        let args = [
            "run",
            "--count",
            "2000",
            "--seed",
            "9",
            "--from",
            "2024-03-01T16:00:00Z",
            "--eps",
            "20",
        ];
        let out = run(&args, &env);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        out.stdout
    };
    let first = records("1");
    assert_eq!(
        first,
        records("1"),
        "shard 1 of seed 9, twice: byte for byte"
    );
    let other = records("0");
    assert_ne!(first, other);
    let ids = |s: &str| -> HashSet<String> {
        s.lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["topic"] == "orders.v1" && r["headers"]["dq"].is_null())
            .map(|r| r["value"]["order_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        ids(&first).is_disjoint(&ids(&other)),
        "the shards' order ids differ"
    );
}
