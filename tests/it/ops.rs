//! Operations: `/metrics` and `/healthz` while a run goes on (and `retailgen healthcheck` on
//! them), the progress line on and off a terminal, and bad operational settings.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cmd::{command, finish, run, terminate};
use crate::support::decode::kafka_env;
use crate::support::free_addr;
use crate::support::registry::Registry;
use crate::support::tansu::Tansu;
use crate::support::target::Target;

/// `GET path` at `addr`: the status code and the body; `None` if nothing answers.
fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    s.read_to_string(&mut answer).ok()?;
    let status = answer.split_whitespace().nth(1)?.parse().ok()?;
    let body = answer.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// The value of the sample `name{labels}` (exactly as written) in a scrape.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map(|v| v.trim().parse().unwrap())
}

/// Scrapes until `ready` holds for the scrape (or panics after `within`).
pub fn scrape_until(addr: &str, within: Duration, ready: impl Fn(&str) -> bool) -> String {
    scrape_within(addr, within, ready)
        .unwrap_or_else(|last| panic!("no such scrape at {addr}: {last}"))
}

/// Scrapes until `ready` holds for the scrape; after `within`, the last scrape as the error.
pub fn scrape_within(
    addr: &str,
    within: Duration,
    ready: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let started = Instant::now();
    let mut last = String::from("(nothing served)");
    loop {
        if let Some((200, text)) = get(addr, "/metrics") {
            if ready(&text) {
                return Ok(text);
            }
            last = text;
        }
        if started.elapsed() >= within {
            return Err(last);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn healthcheck(addr: &str) -> crate::support::cmd::Output {
    run(&["healthcheck", "--addr", addr], &[])
}

#[test]
fn a_postgres_canonical_kafka_run_serves_its_figures_and_health_while_it_runs() {
    let target = Target::new(true);
    let addr = free_addr();
    let env = target.env(&[
        ("METRICS_ADDR", addr.as_str()),
        ("TARGET_EPS", "3000"),
        ("P_BAD_RECORD", "0.01"),
    ]);
    let child = command(&["run", "--duration", "60s"], &env)
        .spawn()
        .unwrap();
    let orders = "retailgen_records_acknowledged_total{topic=\"orders.v1\"}";
    let text = scrape_until(&addr, Duration::from_secs(60), |t| {
        sample(t, orders).is_some_and(|n| n >= 200.0)
            && sample(t, "retailgen_commit_latency_seconds_count").is_some_and(|n| n >= 3.0)
    });
    let produced = sample(
        &text,
        "retailgen_records_produced_total{topic=\"orders.v1\"}",
    )
    .unwrap();
    assert!(produced >= sample(&text, orders).unwrap(), "{text}");
    assert_eq!(sample(&text, "retailgen_healthy"), Some(1.0));
    let target_rate = sample(&text, "retailgen_target_rate").unwrap();
    assert!(
        (3000.0 * 0.4..=3000.0 * 1.4).contains(&target_rate),
        "TARGET_EPS x the diurnal multiplier: {target_rate}"
    );
    for series in [
        "retailgen_achieved_rate",
        "retailgen_pending_follow_ups",
        "retailgen_producer_queue_depth",
        "retailgen_outbox_backlog",
        "retailgen_records_failed_total{topic=\"payments.v1\"}",
    ] {
        assert!(sample(&text, series).is_some(), "no {series} in\n{text}");
    }
    assert!(
        text.contains("retailgen_faults_total{topic=\"orders.v1\",kind=\"late\"}"),
        "labelled faults per topic and kind:\n{text}"
    );
    let (status, body) = get(&addr, "/healthz").unwrap();
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    let check = healthcheck(&addr);
    assert_eq!(check.code, Some(0), "{check:?}");

    let out = terminate(child);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let check = healthcheck(&addr);
    assert_eq!(check.code, Some(1), "nothing answers once the run is over");
    assert!(check.stderr.contains("cannot ask"), "{}", check.stderr);
}

#[test]
fn healthz_turns_503_once_the_broker_is_gone_and_records_fail() {
    let registry = Registry::start();
    let broker = Tansu::start();
    let addr = free_addr();
    let mut env = kafka_env(&broker, &registry);
    env.extend([
        ("SINK", "kafka"),
        ("TARGET_EPS", "500"),
        ("METRICS_ADDR", addr.as_str()),
        ("KAFKA_PROPERTY_message.timeout.ms", "2000"),
        ("KAFKA_FLUSH_TIMEOUT", "5s"),
        ("RUST_LOG", "info"),
    ]);
    let child = command(&["run", "--duration", "120s"], &env)
        .spawn()
        .unwrap();
    scrape_until(&addr, Duration::from_secs(60), |t| {
        sample(
            t,
            "retailgen_records_acknowledged_total{topic=\"orders.v1\"}",
        )
        .is_some_and(|n| n > 0.0)
    });
    assert_eq!(healthcheck(&addr).code, Some(0));
    drop(broker);
    let started = Instant::now();
    let body = loop {
        match get(&addr, "/healthz") {
            Some((503, body)) => break body,
            Some((200, _)) => {}
            other => panic!("the run answers while it runs: {other:?}"),
        }
        if started.elapsed() > Duration::from_secs(60) {
            panic!("still healthy: {}", terminate(child).stderr);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(body.contains("records were not delivered"), "{body}");
    let check = healthcheck(&addr);
    assert_eq!(check.code, Some(1), "{check:?}");
    assert!(check.stderr.contains("503"), "{}", check.stderr);
    let text = get(&addr, "/metrics").unwrap().1;
    assert_eq!(sample(&text, "retailgen_healthy"), Some(0.0), "{text}");
    let out = terminate(child);
    assert_eq!(
        out.code,
        Some(1),
        "lost records fail the run: {}",
        out.stderr
    );
}

fn json_lines(stdout: &str) -> usize {
    let records: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("stdout holds only records"))
        .collect();
    records.len()
}

#[test]
fn off_a_terminal_progress_is_a_log_line_every_interval_and_never_on_stdout() {
    let out = run(
        &["run", "--eps", "400", "--duration", "3500ms"],
        &[("PROGRESS_INTERVAL", "1s"), ("RUST_LOG", "info")],
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(json_lines(&out.stdout) > 0);
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("progress: "))
        .collect();
    assert!((2..=4).contains(&lines.len()), "{}", out.stderr);
    assert!(
        lines
            .iter()
            .all(|l| l.contains("records/s now") && l.contains("% done")),
        "{lines:#?}"
    );
}

#[test]
fn on_a_terminal_a_bounded_run_draws_a_bar_with_an_eta_on_stderr_only() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("records.jsonl");
    let shell = format!(
        "{} run --eps 2000 --count 6000 > {}",
        env!("CARGO_BIN_EXE_retailgen"),
        records.display()
    );
    // `script` gives the run a terminal for stderr; stdout goes to a file.
    let mut cmd = std::process::Command::new("script");
    for f in retailgen::config::FIELDS {
        cmd.env_remove(f.env);
    }
    cmd.env_remove("RETAILGEN_CONFIG")
        .env("RUST_LOG", "warn")
        .args(["-qefc", &shell, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let out = finish(cmd.spawn().expect("script(1) runs"));
    assert_eq!(out.code, Some(0), "{out:?}");
    let terminal = out.stdout;
    assert!(terminal.contains("ETA"), "{terminal}");
    assert!(terminal.contains("records, "), "{terminal}");
    let written = std::fs::read_to_string(&records).unwrap();
    assert_eq!(
        json_lines(&written),
        6000,
        "stdout holds the records and nothing else"
    );
}

#[test]
fn bad_metrics_settings_exit_2_naming_the_setting_before_anything_is_produced() {
    let out = run(
        &["run", "--count", "5"],
        &[("METRICS_ADDR", "localhost:http")],
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("METRICS_ADDR") && out.stderr.contains("0.0.0.0:9400"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(&["run", "--count", "5"], &[("METRICS_ADDR", addr.as_str())]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains(&format!("METRICS_ADDR={addr}")),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty(), "nothing produced: {}", out.stdout);

    let out = run(&["run", "--count", "5"], &[("PROGRESS_INTERVAL", "0s")]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("PROGRESS_INTERVAL"), "{}", out.stderr);

    let out = run(&["healthcheck"], &[]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("METRICS_ADDR"), "{}", out.stderr);
}

/// Reads a manifest the run wrote.
fn manifest(path: &std::path::Path) -> Value {
    let text = std::fs::read_to_string(path).expect("the run wrote its manifest");
    serde_json::from_str(&text).expect("the manifest is JSON")
}

#[test]
fn the_manifest_of_a_kafka_run_adds_up_to_what_is_on_the_topics() {
    let target = Target::new(false);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.json");
    let env = target.env(&[
        ("MANIFEST_PATH", path.to_str().unwrap()),
        ("P_BAD_RECORD", "0.02"),
        ("P_DUPLICATE", "0.02"),
        ("WEIGHT_STORE", "0.5"),
        // Simulated event time in opening hours, so the stores sell.
        ("SIM_FROM", "2024-03-01T16:00:00Z"),
        ("TARGET_EPS", "4"),
    ]);
    let out = run(&["run", "--count", "4000"], &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let m = manifest(&path);
    assert_eq!(m["outcome"], "completed");
    assert_eq!(m["stop_reason"], "record count reached");
    assert_eq!(m["seed"], 3);
    assert_eq!(m["settings"]["run.sink"], "kafka");
    let consumed = crate::support::kafka::consume_all(
        &target.broker.bootstrap,
        &crate::support::TOPICS,
        Duration::from_secs(60),
    );
    let mut on_topics: std::collections::BTreeMap<(String, i32), (i64, i64, u64)> =
        Default::default();
    let mut labels: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for c in &consumed {
        let e = on_topics
            .entry((c.topic.clone(), c.partition))
            .or_insert((i64::MAX, i64::MIN, 0));
        *e = (e.0.min(c.offset), e.1.max(c.offset), e.2 + 1);
        if let Some(dq) = c.headers.get("dq") {
            *labels.entry((c.topic.clone(), dq.clone())).or_default() += 1;
        }
    }
    let mut total = 0;
    for (topic, figures) in m["topics"].as_object().unwrap() {
        let produced = figures["produced"].as_u64().unwrap();
        assert_eq!(figures["acknowledged"].as_u64(), Some(produced), "{topic}");
        total += produced;
        let mut on_topic = 0;
        for (p, range) in figures["partitions"].as_object().unwrap() {
            let (first, last, n) = on_topics[&(topic.clone(), p.parse().unwrap())];
            assert_eq!(range["first_offset"].as_i64(), Some(first), "{topic}/{p}");
            assert_eq!(range["last_offset"].as_i64(), Some(last), "{topic}/{p}");
            on_topic += n;
        }
        assert_eq!(
            on_topic, produced,
            "{topic}: the manifest's ranges hold its records"
        );
    }
    assert_eq!(total, 4000);
    let manifest_labels: u64 = m["faults"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(topic, kinds)| {
            let labels = &labels;
            kinds.as_object().unwrap().iter().map(move |(kind, n)| {
                assert_eq!(
                    labels.get(&(topic.clone(), kind.clone())).copied(),
                    n.as_u64(),
                    "{topic} {kind}"
                );
                n.as_u64().unwrap()
            })
        })
        .sum();
    assert_eq!(manifest_labels, labels.values().sum::<u64>());

    // Business totals: orders per UTC day and currency, from the decoded topic.
    let rows = crate::support::decode::decode(&target.registry, ("", ""), consumed);
    let mut orders: std::collections::BTreeMap<(String, String), (u64, i64)> = Default::default();
    let mut sold: std::collections::BTreeMap<String, (u64, i64)> = Default::default();
    for r in &rows {
        let dq = r.kafka.headers.get("dq").map(String::as_str).unwrap_or("");
        if dq.starts_with("bad:") || dq == "duplicate" {
            continue;
        }
        let cents = |f: &str| (r.f64(f) * 100.0).round() as i64;
        match r.kafka.topic.as_str() {
            "orders.v1" => {
                let day = chrono::DateTime::from_timestamp_millis(r.i64("ts"))
                    .unwrap()
                    .format("%Y-%m-%d")
                    .to_string();
                let e = orders
                    .entry((day, r.str("currency").to_owned()))
                    .or_default();
                *e = (e.0 + 1, e.1 + cents("amount"));
            }
            "pos-transactions.v1" => {
                let e = sold.entry(r.str("store_id").to_owned()).or_default();
                *e = (e.0 + 1, e.1 + cents("amount"));
            }
            _ => {}
        }
    }
    assert!(
        !orders.is_empty() && !sold.is_empty(),
        "orders and store sales were made"
    );
    for ((day, currency), (n, cents)) in &orders {
        let figures = &m["business"]["orders"][day][currency];
        assert_eq!(figures["orders"].as_u64(), Some(*n), "{day} {currency}");
        assert_eq!(
            figures["revenue_cents"].as_i64(),
            Some(*cents),
            "{day} {currency}"
        );
    }
    for (store, (n, cents)) in &sold {
        let days = m["business"]["stores"][store].as_object().unwrap();
        let transactions: u64 = days
            .values()
            .map(|d| d["transactions"].as_u64().unwrap())
            .sum();
        let revenue: i64 = days
            .values()
            .map(|d| d["revenue_cents"].as_i64().unwrap())
            .sum();
        assert_eq!((transactions, revenue), (*n, *cents), "{store}");
    }
    let stock = m["business"]["stock_at_end"].as_object().unwrap();
    assert!(
        stock.keys().any(|k| k.starts_with("WH")) && stock.keys().any(|k| k.starts_with("STORE-")),
        "{stock:?}"
    );
}

#[test]
fn a_failed_run_and_a_stopped_run_write_their_manifest_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("failed.json");
    let out = run(
        &["run", "--count", "10", "--manifest", path.to_str().unwrap()],
        &[
            ("SINK", "kafka"),
            ("SCHEMA_REGISTRY_URL", "http://user:pa55word@127.0.0.1:1"),
            ("PG_DSN", "host=127.0.0.1 user=x password=hunter2"),
        ],
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains("pa55word") && !text.contains("hunter2"),
        "{text}"
    );
    let m: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(m["outcome"], "failed");
    assert!(m["error"].as_str().unwrap().contains("127.0.0.1:1"), "{m}");
    assert_eq!(m["stop_reason"], Value::Null);

    let path = dir.path().join("stopped.json");
    let child = command(
        &["run", "--eps", "300", "--manifest", path.to_str().unwrap()],
        &[],
    )
    .spawn()
    .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let out = terminate(child);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let m = manifest(&path);
    assert_eq!(m["outcome"], "completed");
    assert_eq!(m["stop_reason"], "interrupted");
    let mut per_topic: std::collections::BTreeMap<String, u64> = Default::default();
    for line in out.stdout.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        *per_topic
            .entry(r["topic"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for (topic, figures) in m["topics"].as_object().unwrap() {
        let lines = per_topic.get(topic).copied().unwrap_or(0);
        assert_eq!(figures["produced"].as_u64(), Some(lines), "{topic}");
        assert_eq!(figures["acknowledged"].as_u64(), Some(lines), "{topic}");
    }
}

#[test]
fn a_manifest_path_in_a_missing_directory_exits_2_before_anything_is_produced() {
    let out = run(
        &[
            "run",
            "--count",
            "5",
            "--manifest",
            "/nonexistent-dir/run.json",
        ],
        &[],
    );
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(
        out.stderr.contains("MANIFEST_PATH") && out.stderr.contains("/nonexistent-dir"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.is_empty());
}
