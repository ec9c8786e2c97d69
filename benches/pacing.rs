//! Pacing figures (not a test): at TARGET_EPS=5000 for 20 s, the achieved rate against the target,
//! and the most records in any window, before and after a 3 s stall (SIGSTOP/SIGCONT), against the
//! bucket's bound of rate x window + BURST.
//!
//! `cargo bench --bench pacing`

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::Duration;

use support::cmd::{command, finish};

const EPS: f64 = 5_000.0;
const SECONDS: f64 = 20.0;

/// Event times of a run at EPS for SECONDS (wall-clock stamps), optionally stalled mid-way.
fn run(burst: u32, stall: bool) -> Vec<i64> {
    let duration = format!("{SECONDS}s");
    let eps = EPS.to_string();
    let burst = burst.to_string();
    let env = [
        ("DIURNAL_MIN", "1"),
        ("DIURNAL_MAX", "1"),
        ("P_LATE_EVENT", "0"),
        ("P_BAD_RECORD", "0"),
        ("P_DUPLICATE", "0"),
        ("BURST", burst.as_str()),
    ];
    let child = command(&["run", "--eps", &eps, "--duration", &duration], &env)
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    // Drain stdout from the start: a full pipe would stall the generator by itself.
    let reader = std::thread::spawn(move || finish(child));
    if stall {
        std::thread::sleep(Duration::from_secs(8));
        Command::new("kill").args(["-STOP", &pid]).status().unwrap();
        std::thread::sleep(Duration::from_secs(3));
        Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    }
    let out = reader.join().unwrap();
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let mut ts: Vec<i64> = out
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["value"]["ts"]
                .as_i64()
                .unwrap()
        })
        .collect();
    ts.sort_unstable();
    ts
}

/// The most records whose stamps fall in any window of `window_ms`.
fn busiest(ts: &[i64], window_ms: i64) -> usize {
    let mut best = 0;
    let mut start = 0;
    for end in 0..ts.len() {
        while ts[end] - ts[start] >= window_ms {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

fn report(name: &str, ts: &[i64], burst: u32, active_secs: f64) {
    let achieved = ts.len() as f64 / active_secs;
    println!("{name}:");
    println!(
        "  records {:>7}  achieved {achieved:>8.1}/s  target {EPS}/s  ratio {:.4}",
        ts.len(),
        achieved / EPS
    );
    for window in [1_000, 100] {
        let bound = EPS * window as f64 / 1_000.0 + f64::from(burst);
        println!(
            "  busiest {window:>4} ms window: {:>6} records (bucket bound {bound:.0})",
            busiest(ts, window)
        );
    }
}

fn main() {
    let steady = run(5_000, false);
    report(
        "steady, BURST=5000 (one second's worth)",
        &steady,
        5_000,
        SECONDS,
    );
    let stalled = run(500, true);
    report("3 s stall at 8 s, BURST=500", &stalled, 500, SECONDS - 3.0);
}
