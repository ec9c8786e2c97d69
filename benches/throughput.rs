//! Throughput figures (not a test): records/s of the `null` sink (also with and without the store
//! world), and of the `kafka` sink against a local tansu broker beside a plain librdkafka loop to
//! the same broker, measured in the same run.
//!
//! `cargo bench --bench throughput`; sizes: BENCH_NULL_RECORDS (2,000,000), BENCH_KAFKA_RECORDS (1,000,000).

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use rdkafka::producer::DefaultProducerContext;
use rdkafka::producer::{BaseRecord, Producer, ThreadedProducer};
use retailgen::config::KafkaSettings;
use support::cmd::{rate, run};
use support::registry::Registry;
use support::tansu::Tansu;

fn size(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs retailgen and reads the records/s from its summary.
fn retailgen_rate(args: &[&str], env: &[(&str, &str)]) -> f64 {
    let out = run(args, env);
    assert_eq!(out.code, Some(0), "retailgen failed: {}", out.stderr);
    eprint!(
        "{}",
        out.stderr
            .lines()
            .filter(|l| l.starts_with("  "))
            .map(|l| format!("    {l}\n"))
            .collect::<String>()
    );
    rate(&out.stderr)
}

/// A tight loop of 150-byte records with retailgen's producer settings: the ceiling to compare with.
fn raw_librdkafka_rate(bootstrap: &str, topic: &str, n: u64) -> f64 {
    let settings = KafkaSettings {
        bootstrap: bootstrap.to_owned(),
        security_protocol: "plaintext".into(),
        flush_timeout: Duration::from_secs(120),
        ..KafkaSettings::default()
    };
    let producer: ThreadedProducer<DefaultProducerContext> =
        retailgen::adapters::kafka::producer_config(&settings)
            .create()
            .unwrap();
    let payload = [7u8; 150];
    let started = Instant::now();
    for i in 0..n {
        let key = format!("ord_{i:013}");
        let mut rec = BaseRecord::to(topic)
            .key(key.as_str())
            .payload(&payload[..]);
        loop {
            match producer.send(rec) {
                Ok(()) => break,
                Err((_, back)) => {
                    rec = back;
                    std::thread::sleep(Duration::from_micros(500));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let null_n = size("BENCH_NULL_RECORDS", 2_000_000).to_string();
    let kafka_n = size("BENCH_KAFKA_RECORDS", 1_000_000);

    eprintln!("null sink, {null_n} records:");
    let null = retailgen_rate(
        &[
            "run", "--sink", "null", "--count", &null_n, "--eps", "0", "--seed", "1",
        ],
        &[],
    );
    // The store world trades only while stores are open: both runs simulate the same afternoon
    // (UTC) in which most of the ten cities' stores are open.
    let simulated = |weight_store: &str| {
        retailgen_rate(
            &[
                "run",
                "--sink",
                "null",
                "--count",
                &null_n,
                "--seed",
                "1",
                "--from",
                "2024-07-01T12:00:00Z",
                "--eps",
                "100",
            ],
            &[("WEIGHT_STORE", weight_store)],
        )
    };
    eprintln!("null sink, simulated afternoon, e-commerce only (WEIGHT_STORE=0):");
    let commerce = simulated("0");
    eprintln!("null sink, simulated afternoon, default weights with the store world:");
    let with_stores = simulated("0.1");

    let broker = Tansu::start();
    let registry = Registry::start();
    eprintln!(
        "kafka sink, {kafka_n} records to tansu at {}:",
        broker.bootstrap
    );
    let env = [
        ("KAFKA_BOOTSTRAP", broker.bootstrap.as_str()),
        ("SCHEMA_REGISTRY_URL", registry.url.as_str()),
    ];
    let kafka = retailgen_rate(
        &[
            "run",
            "--sink",
            "kafka",
            "--count",
            &kafka_n.to_string(),
            "--eps",
            "0",
            "--seed",
            "1",
            "--partitions",
            "3",
        ],
        &env,
    );
    // The raw loop writes to a topic retailgen created, so both use the same partitions.
    let raw = raw_librdkafka_rate(&broker.bootstrap, "customer-interactions.v1", kafka_n);

    println!("null sink:                       {null:>12.0} records/s");
    println!("null sink, e-commerce only:      {commerce:>12.0} records/s (simulated afternoon)");
    println!("null sink, with the store world: {with_stores:>12.0} records/s (same span)");
    println!(
        "with stores / e-commerce only:   {:>12.2}",
        with_stores / commerce
    );
    println!("kafka sink (to tansu):           {kafka:>12.0} records/s");
    println!("plain librdkafka loop (150 B):   {raw:>12.0} records/s");
    println!("kafka sink / plain loop:         {:>12.2}", kafka / raw);
}
