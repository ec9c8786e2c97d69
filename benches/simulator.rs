//! POS simulator figures (not a test): shelf events consumed per second by `retailgen
//! pos-simulator` from a local tansu broker (retailgen's Avro, every session checked out and
//! acknowledged, offsets committed), its RSS while they stream through (a soak: it must not
//! grow), and its RSS holding 100,000 open sessions.
//!
//! `cargo bench --bench simulator`; size: BENCH_SIM_SESSIONS (100,000; ten shelf events each).

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::io::{BufRead, BufReader};
use std::process::Child;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use retailgen::adapters::avro::{schema_text, subject};
use retailgen::adapters::registry::WireEncoder;
use retailgen::domain::events::{Event, FootTraffic, ShelfEvent};
use retailgen::domain::ports::SchemaEncoder;
use retailgen::domain::record::Record;
use retailgen::domain::store::visits::ShelfEventType;
use retailgen::domain::stream::Stream;
use support::cmd::{command, terminate};
use support::kafka::create_topics;
use support::parquet::write_parquet;
use support::registry::Registry;
use support::tansu::Tansu;

const T0: i64 = 1_719_792_000_000;
const SHELF_PER_SESSION: i64 = 10;

fn size(var: &str, default: i64) -> i64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Sessions of 20 minutes, `SHELF_PER_SESSION` pickups each (`open`: exits a day later, so
/// every session stays open), produced as retailgen produces them.
fn produce(
    bootstrap: &str,
    registry: &Registry,
    topics: (&str, &str),
    sessions: i64,
    open: bool,
) -> i64 {
    let mut ids = [0u32; Stream::COUNT];
    for s in [Stream::FootTraffic, Stream::ShelfEvents] {
        let topic = if s == Stream::FootTraffic {
            topics.0
        } else {
            topics.1
        };
        ids[s.index()] = registry.preload(&subject(topic), schema_text(s));
    }
    let encoder = WireEncoder::new(ids);
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "20")
        .set("compression.type", "lz4")
        .set("queue.buffering.max.messages", "1000000")
        .create()
        .unwrap();
    let mut buf = Vec::new();
    let mut shelf = 0;
    let send = |topic: &str, key: &str, event: Event, buf: &mut Vec<u8>| {
        buf.clear();
        encoder
            .encode(&Record::new(key.into(), None, event), buf)
            .unwrap();
        let mut r = BaseRecord::to(topic).key(key).payload(&buf[..]);
        loop {
            match producer.send(r) {
                Ok(()) => break,
                Err((_, back)) => {
                    r = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
    };
    // One more session far later: its entry moves event time past every real session's exit.
    for i in 0..=sessions {
        let entry = if i == sessions {
            T0 + 10 * 86_400_000
        } else {
            T0 + i * 600
        };
        let exit = entry + if open { 86_400_000 } else { 20 * 60_000 };
        let customer = retailgen::domain::Text::from(format!("c{i}"));
        let visit = retailgen::domain::Text::from(format!("v{i}"));
        let foot = FootTraffic {
            event_type: "foot_traffic",
            customer_id: customer.clone(),
            entry_time: entry,
            exit_time: exit,
            trip_duration_minutes: 20,
            weekday: "Monday",
            time_slot: "00:00–06:59",
            store_id: "S001".into(),
            visit_id: visit.clone(),
        };
        send(topics.0, &customer, Event::Foot(foot), &mut buf);
        let events = if i == sessions { 1 } else { SHELF_PER_SESSION };
        for k in 0..events {
            let e = ShelfEvent {
                event_type: ShelfEventType::Pickup,
                customer_id: customer.clone(),
                item_id: format!("P{:06}", (i + k) % 100).into(),
                weight: 250.0,
                quantity: 1,
                timestamp: entry + 1_000 + k * 1_000,
                store_id: "S001".into(),
                visit_id: visit.clone(),
                event_id: format!("e{i}_{k}").into(),
            };
            send(topics.1, &customer, Event::Shelf(e), &mut buf);
            shelf += 1;
        }
    }
    producer.flush(Duration::from_secs(120)).unwrap();
    shelf
}

/// The shelf records the group has committed as done with.
fn committed(bootstrap: &str, group: &str, topic: &str) -> i64 {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(topic, 0);
    let got = c.committed_offsets(tpl, Duration::from_secs(5)).unwrap();
    match got.elements()[0].offset() {
        Offset::Offset(o) => o,
        _ => 0,
    }
}

fn simulator(env: &[(&str, &str)]) -> (Child, mpsc::Receiver<String>) {
    let mut child = command(&["pos-simulator"], env).spawn().unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

fn main() {
    let sessions = size("BENCH_SIM_SESSIONS", 100_000);
    let broker = Tansu::start();
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("prices.parquet");
    let ids: Vec<String> = (0..100).map(|i| format!("P{i:06}")).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    write_parquet(
        &prices,
        "message m { REQUIRED BYTE_ARRAY shelf_id (UTF8); REQUIRED DOUBLE item_price; }",
        &refs,
        &vec![1.99; 100],
        None,
    );
    let prices = prices.display().to_string();
    create_topics(
        &broker.bootstrap,
        &["b-foot", "b-shelf", "b-open-foot", "b-open-shelf"],
    );
    let shelf = produce(
        &broker.bootstrap,
        &registry,
        ("b-foot", "b-shelf"),
        sessions,
        false,
    );
    let env = |foot: &'static str, shelf: &'static str| {
        vec![
            ("KAFKA_BOOTSTRAP", broker.bootstrap.clone()),
            ("SCHEMA_REGISTRY_URL", registry.url.clone()),
            ("FOOT_TOPIC", foot.to_owned()),
            ("SHELF_TOPIC", shelf.to_owned()),
            ("POS_TOPIC", format!("{foot}-out")),
            ("STORE_PARQUET", prices.clone()),
            ("WATERMARK_LATENESS", "1m".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ]
    };
    let owned = env("b-foot", "b-shelf");
    let pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let started = Instant::now();
    let (child, _log) = simulator(&pairs);
    let mut samples = Vec::new();
    let mut last_sample = Instant::now();
    let done = loop {
        let done = committed(
            &broker.bootstrap,
            "retailgen-pos-simulator-shelf",
            "b-shelf",
        );
        if last_sample.elapsed() >= Duration::from_millis(500) {
            samples.push((done, rss_mb(child.id())));
            last_sample = Instant::now();
        }
        // The sentinel's shelf event stays open.
        if done >= shelf - 1 {
            break done;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "stuck at {done} of {shelf}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let elapsed = started.elapsed().as_secs_f64();
    terminate(child);
    println!(
        "pos-simulator: {done} shelf events (and {} sessions) checked out, acknowledged and committed in {elapsed:.2} s: {:.0} shelf events/s (goal >= 100,000/s; includes start-up)",
        sessions,
        done as f64 / elapsed
    );
    let shown: Vec<String> = samples
        .iter()
        .map(|(d, mb)| format!("{:.0}% {mb:.1} MB", *d as f64 * 100.0 / shelf as f64))
        .collect();
    println!(
        "  RSS while streaming (progress, RSS): {}",
        shown.join(", ")
    );

    produce(
        &broker.bootstrap,
        &registry,
        ("b-open-foot", "b-open-shelf"),
        sessions,
        true,
    );
    let owned = env("b-open-foot", "b-open-shelf");
    let mut pairs: Vec<(&str, &str)> = owned.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.extend([
        ("GROUP_ID_FOOT", "open-foot"),
        ("GROUP_ID_SHELF", "open-shelf"),
    ]);
    let (child, log) = simulator(&pairs);
    let want = format!("read {} sessions and {} shelf events", sessions + 1, shelf);
    let started = Instant::now();
    loop {
        match log.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line.contains(&want) => break,
            Ok(_) => {}
            Err(e) => panic!("the simulator did not report {want}: {e}"),
        }
        assert!(started.elapsed() < Duration::from_secs(300));
    }
    println!(
        "pos-simulator: RSS with {} open sessions ({} shelf events in their carts): {:.1} MB",
        sessions + 1,
        shelf,
        rss_mb(child.id())
    );
    terminate(child);
}
