//! Runs the retailgen binary as a user would, with a controlled environment and a time limit.

use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use retailgen::config::{FIELDS, KAFKA_PROPERTY_PREFIX};

const TIME_LIMIT: Duration = Duration::from_secs(180);

#[derive(Debug)]
pub struct Output {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// The binary with every retailgen setting removed from the environment, then `env` added.
pub fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_retailgen"));
    for f in FIELDS {
        cmd.env_remove(f.env);
    }
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with(KAFKA_PROPERTY_PREFIX) {
            cmd.env_remove(k);
        }
    }
    cmd.env_remove("RETAILGEN_CONFIG")
        .env("RUST_LOG", "warn")
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

pub fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    finish(command(args, env).spawn().expect("retailgen starts"))
}

/// Waits for `child` (killing it after the time limit) and collects its output.
pub fn finish(child: Child) -> Output {
    finish_or_kill(child, TIME_LIMIT)
}

/// Sends SIGTERM to `child`, then waits for it and collects its output.
pub fn terminate(child: Child) -> Output {
    // SAFETY: signalling a child process has no memory-safety preconditions.
    let sent = unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(sent, 0, "SIGTERM reached the child");
    finish(child)
}

/// Reads what is left of a pipe (nothing if the test took it).
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut p) = pipe {
            p.read_to_string(&mut s).unwrap();
        }
        s
    })
}

/// Waits for `child`, sending it SIGKILL once `limit` has passed, and collects its output
/// (stdout: what the test did not take itself).
pub fn finish_or_kill(mut child: Child, limit: Duration) -> Output {
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        code: status.code(),
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The records a run produced, from its summary line (`retailgen: N records in ...`).
pub fn produced(stderr: &str) -> usize {
    stderr
        .lines()
        .find_map(|l| {
            l.strip_prefix("retailgen: ")?
                .split(" records in")
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no summary in: {stderr}"))
}

/// `--count n` stops at exactly n records.
pub fn assert_count(stderr: &str, n: usize) -> usize {
    let got = produced(stderr);
    assert_eq!(got, n, "records for --count {n}");
    got
}

/// Records/s from a run's summary line (`... (N records/s)`); used by the benchmarks.
#[allow(dead_code)]
pub fn rate(stderr: &str) -> f64 {
    stderr
        .lines()
        .find(|l| l.contains(" records in ") && l.contains("records/s"))
        .and_then(|l| l.split('(').nth(1)?.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no rate in the summary: {stderr}"))
}
