//! Start-up and memory figures (not a test), against a local tansu broker:
//! - start-up: time from process start to the exit of a `--count 1` Kafka run against a registry
//!   that already holds the schemas (an upper bound of the time to the first acknowledged record:
//!   it also covers the flush, the summary and the shutdown); the median of five runs;
//! - memory: RSS of an unthrottled Kafka run with default settings, sampled every second for
//!   BENCH_MEMORY_MINUTES (10), printed at 1 minute and at the end, with the largest after the
//!   first minute; to a tansu keeping no record (its null storage: its memory storage keeps
//!   all, about 24 GB after 10 minutes on a fast day), or BENCH_MEMORY_STORAGE=memory.
//!
//! `cargo bench --bench footprint`

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::cmd::{command, run, terminate};
use support::registry::Registry;
use support::tansu::Tansu;

/// Resident set size of `pid` in MB.
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let minutes: u64 = std::env::var("BENCH_MEMORY_MINUTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let broker = Tansu::start();
    let registry = Registry::start();
    let env = [
        ("KAFKA_BOOTSTRAP", broker.bootstrap.as_str()),
        ("SCHEMA_REGISTRY_URL", registry.url.as_str()),
    ];
    let args = ["run", "--sink", "kafka", "--count", "1", "--seed", "1"];
    // The first run registers the schemas and creates the topics.
    let out = run(&args, &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let traced = [env[0], env[1], ("RUST_LOG", "retailgen=debug")];
    let mut phases = String::new();
    let mut startups: Vec<f64> = (0..5)
        .map(|_| {
            let started = Instant::now();
            let out = run(&args, &traced);
            assert_eq!(out.code, Some(0), "{}", out.stderr);
            phases = out.stderr.clone();
            started.elapsed().as_secs_f64()
        })
        .collect();
    startups.sort_by(f64::total_cmp);
    eprintln!("start-up runs: {startups:.3?} s; the phases of the last:");
    for line in phases.lines().filter(|l| l.contains("start-up: ")) {
        eprintln!("  {}", &line[line.find("start-up: ").unwrap_or(0)..]);
    }

    println!(
        "start-up to the first acknowledged record: {:>6.3} s (median of 5, upper bound)",
        startups[2]
    );
    if minutes == 0 {
        return;
    }
    // tansu's memory storage keeps every record: on a fast day it filled this machine's 24 GB
    // and was killed before 10 minutes. The long run goes to a broker that keeps none, unless
    // BENCH_MEMORY_STORAGE=memory.
    drop(broker);
    let keeping = std::env::var("BENCH_MEMORY_STORAGE").is_ok_and(|s| s == "memory");
    let broker = if keeping {
        Tansu::start()
    } else {
        Tansu::start_discarding()
    };
    let env = [
        ("KAFKA_BOOTSTRAP", broker.bootstrap.as_str()),
        ("SCHEMA_REGISTRY_URL", registry.url.as_str()),
    ];
    eprintln!(
        "unthrottled Kafka run with default settings for {minutes} min, to a broker {}:",
        if keeping {
            "keeping every record in memory"
        } else {
            "keeping no record (tansu's null storage)"
        }
    );
    let child = command(&["run", "--sink", "kafka", "--eps", "0"], &env)
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = Instant::now();
    let (mut at_one, mut last, mut peak_after_one) = (0.0, 0.0, 0.0f64);
    for second in 1..=minutes * 60 {
        let next = started + Duration::from_secs(second);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let rss = rss_mb(pid).expect("retailgen is running");
        if second == 60 {
            at_one = rss;
        }
        if second > 60 {
            peak_after_one = peak_after_one.max(rss);
        }
        if second % 60 == 0 {
            eprintln!("  {:>2} min: {rss:.1} MB", second / 60);
        }
        last = rss;
    }
    let out = terminate(child);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for line in out.stderr.lines().filter(|l| l.contains(" records in ")) {
        eprintln!("  {line}");
    }
    eprintln!("  {}", out.stderr.lines().last().unwrap_or_default());

    println!("RSS after 1 minute:                        {at_one:>6.1} MB");
    println!("RSS after {minutes} minutes:                       {last:>6.1} MB");
    println!("largest RSS after the first minute:        {peak_after_one:>6.1} MB");
}
