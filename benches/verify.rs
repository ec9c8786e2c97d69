//! `retailgen verify` speed: a run writes BENCH_VERIFY_RECORDS (default 1,000,000) records to the
//! test broker, then verify reads them back and checks every rule. Prints verify's rate, and
//! beside it, from the same run, how long reading the topics alone took (the anchor: what no
//! checking can beat). Goal: at least 200,000 records/s.

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use support::cmd::run;
use support::decode::kafka_env;
use support::registry::Registry;
use support::tansu::Tansu;

fn main() {
    let n = std::env::var("BENCH_VERIFY_RECORDS").unwrap_or_else(|_| "1000000".into());
    let broker = Tansu::start();
    let registry = Registry::start();
    let mut env = kafka_env(&broker, &registry);
    env.extend([("SINK", "kafka"), ("WEIGHT_STORE", "0.3")]);
    let args = [
        "run",
        "--count",
        &n,
        "--seed",
        "1",
        "--from",
        "2024-07-01T12:00:00Z",
        "--eps",
        "200",
    ];
    let out = run(&args, &env);
    assert_eq!(out.code, Some(0), "the run failed: {}", out.stderr);
    let out = run(&["verify"], &kafka_env(&broker, &registry));
    assert_eq!(out.code, Some(0), "verify: {}\n{}", out.stdout, out.stderr);
    let last = out.stdout.lines().last().unwrap_or_default().to_owned();
    eprintln!("{}", out.stdout);
    // "verify: N records in X s (R records/s; reading Y s); ..."
    let words: Vec<&str> = last.split_whitespace().collect();
    let records: f64 = words[1].parse().unwrap();
    let secs: f64 = words[4].parse().unwrap();
    let read: f64 = words[9].parse().unwrap();
    eprintln!(
        "verify: {:.0} records/s (goal >= 200000); reading the topics alone: {:.0} records/s; checking adds {:.0} % to the read",
        records / secs,
        records / read,
        (secs / read - 1.0) * 100.0
    );
}
