//! `retailgen verify` at scale: for each size in BENCH_VERIFY_SIZES (default 1,000,000 and
//! 4,000,000 records), a run writes that many records (every stream, faults on, a simulated clock
//! at 200 events/s) to a fresh tansu broker; then `verify --read-only` reads and decodes them
//! (the anchor: what no checking can beat) and `verify` checks every rule. Prints, per size and
//! from the same run, both rates and verify's peak RSS, then the ratios the goals are about:
//! peak RSS at the largest size <= 400 MB and <= 1.3x the RSS at the smallest (state grows with
//! entities, not records), >= 500,000 records/s at the largest.
//!
//! `cargo bench --bench verify`; `BENCH_VERIFY_SIZES=1000000,4000000,20000000` adds a 20M run.

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::io::Read;
use std::time::Instant;

use support::cmd::{command, run};
use support::decode::kafka_env;
use support::registry::Registry;
use support::tansu::Tansu;

/// Runs retailgen with `args`; its stdout, exit code, seconds and peak RSS (MB, from wait4).
// The child is reaped by wait4 (which also reports its peak RSS), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn measured(args: &[&str], env: &[(&str, &str)]) -> (String, i32, f64, f64) {
    let started = Instant::now();
    let mut child = command(args, env).spawn().expect("retailgen starts");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut out = String::new();
    let _ = stdout.read_to_string(&mut out);
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for this child only.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waiting for our own child, with valid out-pointers.
    let waited = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(waited, child.id() as i32, "wait4");
    let secs = started.elapsed().as_secs_f64();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let err = err.join().unwrap_or_default();
    if code != 0 {
        eprintln!("{out}\n{err}");
    }
    (out, code, secs, usage.ru_maxrss as f64 / 1024.0)
}

/// Records and rate of verify's last line ("verify: N records in X s (R records/s); ...").
fn rate(stdout: &str) -> (f64, f64) {
    let last = stdout.lines().last().unwrap_or_default();
    let words: Vec<&str> = last.split_whitespace().collect();
    let records: f64 = words[1].parse().expect("records");
    let secs: f64 = words[4].parse().expect("seconds");
    (records, records / secs)
}

struct Figures {
    records: f64,
    read_rate: f64,
    rate: f64,
    rss_mb: f64,
    read_rss_mb: f64,
}

fn one_size(n: &str) -> Figures {
    let broker = Tansu::start();
    let registry = Registry::start();
    let mut env = kafka_env(&broker, &registry);
    env.extend([("SINK", "kafka"), ("WEIGHT_STORE", "0.3")]);
    let args = [
        "run",
        "--count",
        n,
        "--seed",
        "1",
        "--from",
        "2024-07-01T12:00:00Z",
        "--eps",
        "200",
    ];
    let out = run(&args, &env);
    assert_eq!(out.code, Some(0), "the run failed: {}", out.stderr);
    let env = kafka_env(&broker, &registry);
    let (read, code, _, read_rss_mb) = measured(&["verify", "--read-only"], &env);
    assert_eq!(code, 0, "verify --read-only");
    eprintln!("{}", read.lines().last().unwrap_or_default());
    let (checked, code, _, rss_mb) = measured(&["verify"], &env);
    eprintln!("{checked}");
    // Violations are the data's problem, not the bench's: the figures still count.
    assert!(code == 0 || code == 1, "verify failed (exit {code})");
    if code == 1 {
        eprintln!("verify: WARNING: the run's records break a rule (above)");
    }
    let (records, rate) = rate(&checked);
    Figures {
        records,
        read_rate: rate_of(&read),
        rate,
        rss_mb,
        read_rss_mb,
    }
}

fn rate_of(stdout: &str) -> f64 {
    rate(stdout).1
}

fn main() {
    let sizes = std::env::var("BENCH_VERIFY_SIZES").unwrap_or_else(|_| "1000000,4000000".into());
    let sizes: Vec<&str> = sizes.split(',').map(str::trim).collect();
    let figures: Vec<Figures> = sizes.iter().map(|n| one_size(n)).collect();
    for f in &figures {
        eprintln!(
            "verify {:>10.0} records: {:>8.0} records/s checking every rule, {:>8.0} reading \
             alone ({:.0} % of it); peak RSS {:.0} MB (reading alone {:.0} MB)",
            f.records,
            f.rate,
            f.read_rate,
            f.rate / f.read_rate * 100.0,
            f.rss_mb,
            f.read_rss_mb
        );
    }
    if let (Some(small), Some(large)) = (figures.first(), figures.last()) {
        eprintln!(
            "verify: peak RSS at {:.0} records {:.0} MB (goal <= 400), {:.2}x the RSS at {:.0} \
             (goal <= 1.3); {:.0} records/s at {:.0} (goal >= 500000)",
            large.records,
            large.rss_mb,
            large.rss_mb / small.rss_mb,
            small.records,
            large.rate,
            large.records
        );
    }
}
