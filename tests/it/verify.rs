//! `retailgen verify` on what real runs wrote: every rule holds (both canonical modes, and
//! against the run's manifest), a tampered topic is caught with the offending record's
//! position, and bad input exits 2.

use std::collections::HashMap;
use std::process::Child;
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

use crate::support::cmd::{command, finish, run, terminate, Output};
use crate::support::decode::{kafka_env, Row};
use crate::support::kafka::{consume_all, Consumed};
use crate::support::target::{Target, SELLING_STORES};

/// `retailgen verify` on the target (and its tables, if it has a database).
fn verify(target: &Target, args: &[&str]) -> Output {
    verify_with(target, args, &[])
}

/// The same, with `extra` in its environment.
fn verify_with(target: &Target, args: &[&str], extra: &[(&str, &str)]) -> Output {
    let mut all = vec!["verify"];
    all.extend(args);
    let mut env = kafka_env(&target.broker, &target.registry);
    if let Some(db) = &target.db {
        env.extend([("PG_DSN", db.dsn.as_str()), ("STORE", "postgres")]);
    }
    env.extend(extra.iter().copied());
    run(&all, &env)
}

/// The rule lines of a verify report: (rule, verdict, checked, violations).
fn rules(out: &Output) -> Vec<(String, String, u64, u64)> {
    out.stdout
        .lines()
        .filter(|l| l.starts_with("verify: ") && l.contains(" checked "))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let n = words.len();
            (
                words[1..n - 5].join(" "),
                words[n - 5].to_owned(),
                words[n - 3].parse().unwrap(),
                words[n - 1].parse().unwrap(),
            )
        })
        .collect()
}

fn assert_all_hold(out: &Output) {
    assert_eq!(out.code, Some(0), "{}\n{}", out.stdout, out.stderr);
    let rules = rules(out);
    assert!(rules.len() >= 12, "{}", out.stdout);
    for (rule, verdict, checked, violations) in &rules {
        assert_eq!(
            (verdict.as_str(), *violations),
            ("ok", 0),
            "{rule}\n{}",
            out.stdout
        );
        // Re-sends are counted, not checked: a run without a restart has none.
        if !rule.starts_with("re-sends") {
            assert!(*checked > 0, "{rule} checked nothing:\n{}", out.stdout);
        }
    }
}

#[test]
fn every_rule_holds_on_a_kafka_canonical_run_and_its_manifest_adds_up() {
    let target = Target::new(false);
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("run.json");
    let mut extra = SELLING_STORES.to_vec();
    extra.push(("MANIFEST_PATH", manifest.to_str().unwrap()));
    target.finish_run("5000", &extra);
    // A second run on the same target, a day later, continues every chain.
    let mut later = SELLING_STORES.to_vec();
    later.retain(|(k, _)| *k != "SIM_FROM");
    later.push(("SIM_FROM", "2024-03-02T16:00:00Z"));
    target.finish_run("3000", &later);
    let out = verify(&target, &["--manifest", manifest.to_str().unwrap()]);
    assert_all_hold(&out);
    assert!(
        out.stdout.contains("the manifest adds up to the topics"),
        "{}",
        out.stdout
    );
    // The same verdict as one JSON document, for CI.
    let json = verify(
        &target,
        &["--manifest", manifest.to_str().unwrap(), "--format", "json"],
    );
    assert_eq!(json.code, Some(0), "{}\n{}", json.stdout, json.stderr);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).expect("one JSON document");
    assert_eq!(report["ok"], true);
    assert_eq!(report["violations"], 0);
    let text_rules = rules(&out);
    let json_rules = report["rules"].as_array().unwrap();
    assert_eq!(json_rules.len(), text_rules.len(), "every rule");
    for ((rule, _, checked, _), j) in text_rules.iter().zip(json_rules) {
        assert_eq!(j["rule"].as_str(), Some(rule.as_str()));
        assert_eq!(j["checked"].as_u64(), Some(*checked), "{rule}");
    }
    let per_topic: u64 = report["topics"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["records"].as_u64().unwrap())
        .sum();
    assert_eq!(Some(per_topic), report["records"].as_u64());
    assert_eq!(report["topics"].as_object().unwrap().len(), 13);
}

#[test]
fn every_rule_holds_on_a_postgres_canonical_run_and_its_tables_and_a_changed_row_is_caught() {
    let target = Target::new(true);
    target.finish_run("4000", &SELLING_STORES);
    let out = verify(&target, &[]);
    assert_all_hold(&out);
    for rule in [
        "ids name rows of the tables",
        "tax = the store's rate x subtotal",
        "stock tables = the topics' last levels",
    ] {
        assert!(out.stdout.contains(rule), "{rule}: {}", out.stdout);
    }
    // Someone moves stock behind retailgen's back: the tables no longer equal the topics.
    target
        .db()
        .query("UPDATE store_inventory SET qty = qty + 1");
    let out = verify(&target, &[]);
    assert_eq!(out.code, Some(1), "{}", out.stdout);
    let moved = rules(&out)
        .into_iter()
        .find(|r| r.0 == "stock tables = the topics' last levels")
        .unwrap();
    assert!(moved.3 > 0, "{}", out.stdout);
}

/// Late records whose event time was moved back (`LATE_MODE=shift`) break causality in event
/// time: verify, trusting every time by default, catches them; told the mode, it checks their
/// content only and every rule holds.
#[test]
fn late_records_with_moved_times_break_event_time_causality_and_verify_catches_them() {
    let target = Target::new(false);
    let mut extra = SELLING_STORES.to_vec();
    extra.extend([("LATE_MODE", "shift"), ("P_LATE_EVENT", "0.3")]);
    target.finish_run("4000", &extra);
    let out = verify(&target, &[]);
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    let violated: Vec<String> = rules(&out)
        .into_iter()
        .filter(|r| r.1 == "VIOLATED")
        .map(|r| r.0)
        .collect();
    assert!(
        violated
            .iter()
            .any(|r| r == "causes come first in event time"),
        "{}",
        out.stdout
    );
    assert_all_hold(&verify_with(&target, &[], &[("LATE_MODE", "shift")]));
}

/// The selling-stores environment on day `day` of March 2024 (each restart a later day, so no
/// run's records fall behind an earlier one's on a partition), with many late records.
fn selling_on(day: u32) -> Vec<(&'static str, String)> {
    let mut env: Vec<(&str, String)> = SELLING_STORES
        .iter()
        .filter(|(k, _)| *k != "SIM_FROM")
        .map(|&(k, v)| (k, v.to_owned()))
        .collect();
    env.push(("SIM_FROM", format!("2024-03-{day:02}T16:00:00Z")));
    env.push(("P_LATE_EVENT", "0.05".to_owned()));
    env
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Kafka-canonical without a database (the default with the Kafka sink), SIGKILLed at three
/// random instants of a busy store-world run and restarted each time: what each kill left on
/// the topics names only records that are on them (records wait at the barrier until what they
/// name is acknowledged), the late records held at a kill are published by the next start (the
/// pending topic), and every rule of `retailgen verify` holds on the union.
#[test]
fn kafka_canonical_runs_killed_at_three_random_instants_verify_and_lose_no_held_record() {
    let target = Target::new(false);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut republished = 0;
    for day in 1..=3u32 {
        // Start-up takes about a second: the kill lands 0.5-3 s into generating.
        let after = Duration::from_millis(1_500 + (nanos * u64::from(day) * 7_919) % 2_500);
        eprintln!("run {day}: SIGKILL after {after:?}");
        let env = selling_on(day);
        let out = target.killed_run(after, &borrowed(&env));
        republished += held_published(&out.stderr);
    }
    let last = selling_on(4);
    let out = target.finish_run("3000", &borrowed(&last));
    assert!(
        out.stderr.contains("run 3 of this target"),
        "{}",
        out.stderr
    );
    republished += held_published(&out.stderr);
    // A clean stop settles every held record: the next start has none to publish.
    let after_clean = selling_on(5);
    let out = target.finish_run("500", &borrowed(&after_clean));
    assert_eq!(held_published(&out.stderr), 0, "{}", out.stderr);
    assert_all_hold(&verify(&target, &[]));
    assert!(
        republished > 0,
        "late records held at a kill are published by the next start"
    );
}

/// How many held late records a start published for an earlier run (0 if none).
fn held_published(stderr: &str) -> usize {
    stderr
        .lines()
        .filter(|l| l.contains("late records an earlier run held"))
        .find_map(|l| {
            let rest = l.strip_prefix("retailgen: published ")?;
            rest.split_whitespace().next()?.parse().ok()
        })
        .unwrap_or(0)
}

fn producer(bootstrap: &str) -> BaseProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap()
}

fn send(p: &BaseProducer, c: &Consumed, key: &str, payload: &[u8]) {
    let mut headers = OwnedHeaders::new();
    for (k, v) in &c.headers {
        if k != "dq" {
            headers = headers.insert(Header {
                key: k,
                value: Some(v.as_bytes()),
            });
        }
    }
    p.send(
        BaseRecord::to(&c.topic)
            .key(key)
            .payload(payload)
            .headers(headers)
            .partition(c.partition),
    )
    .unwrap();
    p.flush(Duration::from_secs(10)).unwrap();
}

#[test]
fn a_tampered_topic_is_caught_naming_the_offending_record() {
    let target = Target::new(false);
    target.finish_run("2000", &[("P_BAD_RECORD", "0"), ("P_DUPLICATE", "0")]);
    let rows = target.rows();
    let consumed = consume_all(
        &target.broker.bootstrap,
        &["orders.v1", "inventory-changes.v1"],
        Duration::from_secs(30),
    );
    let order = consumed
        .iter()
        .find(|c| c.topic == "orders.v1" && !c.headers.contains_key("dq"))
        .unwrap();
    let p = producer(&target.broker.bootstrap);
    // An unlabelled poison pill, and a real order under someone else's key.
    send(
        &p,
        order,
        &order.key,
        &order.payload[..order.payload.len() - 3],
    );
    send(&p, order, "ord_not_this_one", &order.payload);
    // The last change of a key (one that moved stock) again with a new id: its previous_qty no
    // longer chains.
    let changes: Vec<&Row> = rows
        .iter()
        .filter(|r| r.kafka.topic == "inventory-changes.v1" && !r.kafka.headers.contains_key("dq"))
        .collect();
    let last_of_key: HashMap<&str, i64> = changes
        .iter()
        .map(|r| (r.kafka.key.as_str(), r.kafka.offset))
        .fold(HashMap::new(), |mut m, (k, o)| {
            let e = m.entry(k).or_insert(o);
            *e = (*e).max(o);
            m
        });
    let change = &changes
        .iter()
        .find(|r| {
            r.i64("quantity_delta") != 0 && last_of_key[r.kafka.key.as_str()] == r.kafka.offset
        })
        .unwrap()
        .kafka;
    let text = String::from_utf8_lossy(&change.payload);
    let id_at = text.find("chg_").expect("a change id in the body");
    let mut copy = change.payload.clone();
    copy[id_at + 4] = if copy[id_at + 4] == b'z' { b'y' } else { b'z' };
    send(&p, change, &change.key, &copy);

    let out = verify(&target, &[]);
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    // In JSON: the same exit code, each offender with its topic, partition, offset and reason.
    let json = verify(&target, &["--format", "json"]);
    assert_eq!(json.code, Some(1), "{}", json.stderr);
    let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report["ok"], false);
    let labels = report["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "labelled faults only")
        .unwrap();
    assert_eq!(labels["violations"], 1);
    let offender = &labels["offenders"][0];
    assert_eq!(offender["topic"], "orders.v1");
    assert!(offender["offset"].as_i64().is_some() && offender["partition"].as_i64().is_some());
    assert!(
        offender["reason"]
            .as_str()
            .unwrap()
            .contains("does not decode and is not labelled bad"),
        "{offender}"
    );
    let rules = rules(&out);
    let violated = |name: &str| {
        rules
            .iter()
            .find(|r| r.0 == name)
            .unwrap_or_else(|| panic!("no rule {name}:\n{}", out.stdout))
            .3
    };
    assert_eq!(violated("labelled faults only"), 1, "{}", out.stdout);
    assert_eq!(violated("keys name their entity"), 1, "{}", out.stdout);
    assert!(
        violated("stock: previous = the key's last new") >= 1,
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(&format!("orders.v1/{}/", order.partition))
            && out.stdout.contains("does not decode"),
        "the offender's topic/partition/offset: {}",
        out.stdout
    );
}

#[test]
fn an_unreachable_broker_or_registry_or_an_unknown_topic_exits_2() {
    let target = Target::new(false);
    let mut env = kafka_env(&target.broker, &target.registry);
    env.retain(|(k, _)| *k != "KAFKA_BOOTSTRAP");
    env.push(("KAFKA_BOOTSTRAP", "127.0.0.1:1"));
    let out = run(&["verify"], &env);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("127.0.0.1:1"), "{}", out.stderr);

    let out = verify(&target, &[]);
    assert_eq!(out.code, Some(2), "nothing was produced yet: {out:?}");
    assert!(
        out.stderr.contains("does not exist") && out.stderr.contains("TOPIC_"),
        "{}",
        out.stderr
    );

    target.finish_run("50", &[]);
    let mut env = kafka_env(&target.broker, &target.registry);
    env.retain(|(k, _)| *k != "SCHEMA_REGISTRY_URL");
    env.push(("SCHEMA_REGISTRY_URL", "http://127.0.0.1:1"));
    let out = run(&["verify"], &env);
    assert_eq!(out.code, Some(2), "an unreachable registry: {out:?}");
    assert!(out.stderr.contains("127.0.0.1:1"), "{}", out.stderr);
    assert!(
        out.stdout.is_empty(),
        "no verdict without schemas: {}",
        out.stdout
    );
}

/// A scrape of `verify --follow`'s figures for which `ready` holds (within a minute), else its
/// stopped output in the panic.
fn scraped(metrics: &str, follower: Child, ready: impl Fn(&str) -> bool) -> (String, Child) {
    match crate::ops::scrape_within(metrics, Duration::from_secs(60), ready) {
        Ok(text) => (text, follower),
        Err(last) => {
            let out = terminate(follower);
            panic!(
                "last scrape:\n{last}\nverify --follow:\n{}\n{}",
                out.stdout, out.stderr
            )
        }
    }
}

#[test]
fn verify_follow_checks_a_live_run_as_it_comes_serves_its_figures_and_reports_on_sigterm() {
    let target = Target::new(false);
    let metrics = crate::support::free_addr();
    let mut env = kafka_env(&target.broker, &target.registry);
    env.push(("METRICS_ADDR", metrics.as_str()));
    // Started before the run: its topics do not exist yet.
    let follower = command(
        &[
            "verify",
            "--follow",
            "--interval",
            "1s",
            "--quiet-after",
            "3s",
        ],
        &env,
    )
    .spawn()
    .unwrap();
    let run = command(
        &["run", "--duration", "12s"],
        &target.env(&[("TARGET_EPS", "300")]),
    )
    .spawn()
    .unwrap();
    // Records are checked while the run still writes them.
    let (live, follower) = scraped(&metrics, follower, |t| {
        crate::ops::sample(t, "retailgen_verify_records_checked_total").unwrap_or(0.0) > 500.0
    });
    assert_eq!(
        crate::ops::sample(&live, "retailgen_healthy"),
        Some(1.0),
        "{live}"
    );
    let generated = finish(run);
    assert_eq!(generated.code, Some(0), "{}", generated.stderr);
    let on_topics = consume_all(
        &target.broker.bootstrap,
        &crate::support::TOPICS,
        Duration::from_secs(30),
    )
    .len();
    // What a one-off verify finds on the same topics (every rule holds), the live one finds too.
    let once = verify(&target, &[]);
    assert_eq!(once.code, Some(0), "{}", once.stdout);
    // Caught up: every record read, none found wrong.
    let (caught_up, follower) = scraped(&metrics, follower, |t| {
        crate::ops::sample(t, "retailgen_verify_records_checked_total") == Some(on_topics as f64)
            && crate::ops::sample(t, "retailgen_verify_lag") == Some(0.0)
    });
    let violations: Vec<&str> = caught_up
        .lines()
        .filter(|l| l.starts_with("retailgen_verify_violations_total{") && !l.ends_with(" 0"))
        .collect();
    assert!(violations.is_empty(), "{violations:?}\n{caught_up}");
    assert!(
        caught_up.contains("retailgen_verify_violations_total{rule=\"labelled faults only\"} 0"),
        "{caught_up}"
    );

    // A poison pill arrives: the live figures name its rule, and the report on SIGTERM too.
    let consumed = consume_all(
        &target.broker.bootstrap,
        &["orders.v1"],
        Duration::from_secs(30),
    );
    let order = consumed
        .iter()
        .find(|c| !c.headers.contains_key("dq"))
        .unwrap();
    send(
        &producer(&target.broker.bootstrap),
        order,
        &order.key,
        &order.payload[..order.payload.len() - 3],
    );
    crate::ops::scrape_until(&metrics, Duration::from_secs(30), |t| {
        crate::ops::sample(
            t,
            "retailgen_verify_violations_total{rule=\"labelled faults only\"}",
        ) == Some(1.0)
    });
    let out = terminate(follower);
    assert_eq!(out.code, Some(1), "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("verify --follow: ") && out.stderr.contains("lag 0"),
        "a summary per round: {}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains(&format!("orders.v1/{}/", order.partition))
            && out.stdout.contains("does not decode")
            && out
                .stdout
                .contains(&format!("verify: {} records", on_topics + 1)),
        "the final report: {}",
        out.stdout
    );
}
