//! Canonical-store figures (not a test), all in one run against one local tansu and Postgres:
//! the memory-store Kafka rate beside Postgres-canonical (outbox, group commit) and
//! Kafka-canonical with a Postgres store, and the time to rebuild a ledger from a stock topic.
//!
//! `cargo bench --bench canonical`; sizes: BENCH_CANONICAL_RECORDS (300,000),
//! BENCH_RECOVERY_CHANGES (10,000,000).

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use support::cmd::{rate, run};
use support::pg::TestDb;
use support::registry::Registry;
use support::tansu::Tansu;

/// The original data-forge generator, Postgres-canonical, measured on this machine (issue 7).
const DATA_FORGE: f64 = 6_230.0;

fn size(var: &str, default: u64) -> String {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(default)
        .to_string()
}

/// A run into its own topics (`prefix`), returning its stderr.
fn retailgen(count: &str, env: &[(&str, &str)], prefix: &str) -> String {
    let defaults = retailgen::config::load(None, &BTreeMap::new(), &[]).unwrap();
    let topics: Vec<(String, String)> = retailgen::config::topic_settings(&defaults)
        .iter()
        .map(|(var, topic)| (var.to_string(), format!("{prefix}.{topic}")))
        .collect();
    let mut all: Vec<(&str, &str)> = topics
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    all.extend_from_slice(env);
    let out = run(
        &[
            "run", "--sink", "kafka", "--count", count, "--eps", "0", "--seed", "1",
        ],
        &all,
    );
    assert_eq!(out.code, Some(0), "retailgen failed: {}", out.stderr);
    out.stderr
}

fn main() {
    let n = size("BENCH_CANONICAL_RECORDS", 300_000);
    let changes = size("BENCH_RECOVERY_CHANGES", 10_000_000);
    let broker = Tansu::start();
    let registry = Registry::start();
    let kafka = [
        ("KAFKA_BOOTSTRAP", broker.bootstrap.as_str()),
        ("SCHEMA_REGISTRY_URL", registry.url.as_str()),
    ];
    eprintln!("{n} records each to tansu at {}", broker.bootstrap);

    let memory = rate(&retailgen(&n, &kafka, "memory"));
    let pg_db = TestDb::create();
    let mut env = kafka.to_vec();
    env.extend([("STORE", "postgres"), ("PG_DSN", pg_db.dsn.as_str())]);
    let pg_canonical = rate(&retailgen(&n, &env, "pgcanon"));
    let kafka_db = TestDb::create();
    let mut env = kafka.to_vec();
    env.extend([
        ("STORE", "postgres"),
        ("PG_DSN", kafka_db.dsn.as_str()),
        ("CANON_INVENTORY", "kafka"),
    ]);
    let kafka_canonical_pg = rate(&retailgen(&n, &env, "kcanon"));

    eprintln!("recovery: writing {changes} stock changes, then rebuilding the ledger from them");
    let mut env = kafka.to_vec();
    env.extend([
        ("WEIGHT_ORDERS", "0"),
        ("WEIGHT_INTERACTIONS", "0"),
        ("WEIGHT_INVENTORY_CHG", "1"),
        ("P_UPDATE_PRICE", "0"),
        ("P_BAD_RECORD", "0"),
        ("P_DUPLICATE", "0"),
        ("SEED_PRODUCTS", "10000"),
    ]);
    retailgen(&changes, &env, "recovery");
    let again = retailgen("1", &env, "recovery");
    // One line per stock topic: the warehouses' and the stores'.
    let rebuilt: Vec<String> = again
        .lines()
        .filter(|l| l.contains("rebuilt the stock ledger"))
        .map(|l| l.trim_start_matches("retailgen: ").to_owned())
        .collect();
    assert!(!rebuilt.is_empty(), "a rebuild line: {again}");

    println!("memory store, kafka sink:                 {memory:>10.0} records/s");
    println!(
        "postgres-canonical (outbox), kafka sink:  {pg_canonical:>10.0} records/s  = {:.1}x data-forge ({DATA_FORGE}/s), goal >= 5x",
        pg_canonical / DATA_FORGE
    );
    println!(
        "kafka-canonical, postgres store:          {kafka_canonical_pg:>10.0} records/s  = {:.2} of the memory store, goal >= 0.80",
        kafka_canonical_pg / memory
    );
    for line in rebuilt {
        println!("recovery: {line}");
    }
}
