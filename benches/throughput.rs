//! Throughput figures (not a test): records/s of the `null` sink (also with and without the store
//! world, and of a baseline binary if given), and of the `kafka` sink against a local tansu broker
//! beside its own ceiling, measured in the same run: the same records generated and encoded into
//! memory first, then produced in a tight loop with retailgen's producer settings; and a plain
//! loop of incompressible 150-byte records.
//!
//! `cargo bench --bench throughput`; sizes: BENCH_NULL_RECORDS (2,000,000), BENCH_KAFKA_RECORDS
//! (1,000,000), BENCH_KAFKA_ROUNDS (3: retailgen and the ceiling take turns, each round on fresh
//! topics; the round with the median ratio is printed, with the CPU each party used per record);
//! BENCH_BASELINE_BIN: another retailgen binary (say, the commit before a change) whose null sink, and kafka sink in every
//! round, are measured in the same run.

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;
use retailgen::adapters::kafka::{owned_headers, Poller};
use retailgen::adapters::registry::WireEncoder;
use retailgen::config::KafkaSettings;
use retailgen::domain::ports::{EventPublisher, PublishError, SchemaEncoder, TopicReport};
use retailgen::domain::record::Record;
use retailgen::domain::stream::Stream;
use retailgen::engine::Stopper;
use support::cmd::{rate, run};
use support::registry::Registry;
use support::tansu::Tansu;
use tokio_util::sync::CancellationToken;

/// The allocator retailgen's binary uses (mimalloc, also behind librdkafka's malloc): the
/// ceiling's producer must allocate as retailgen's does.
#[global_allocator]
static ALLOCATOR: retailgen::allocator::MiMalloc = retailgen::allocator::MiMalloc;

fn size(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user + system) of this process, or of its waited-for children.
fn cpu_of(who: i32) -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::getrusage(who, &mut u) }, 0);
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// CPU seconds of process `pid` so far (/proc/PID/stat: utime + stime, in clock ticks).
fn cpu_of_pid(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("the broker runs");
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// Where the CPU went while `n` records were produced: µs per record of the producing process
/// and of the broker, beside the wall-clock µs per record (2 cores: a sum near twice the wall
/// time means the machine, not one thread, is the bound).
fn cpu_line(what: &str, n: u64, wall: f64, producer: f64, broker: f64) -> String {
    let per = |secs: f64| secs * 1e6 / n as f64;
    format!(
        "{what:<31}  {:>5.2} µs/record wall; CPU {:>5.2} producer + {:>5.2} broker = {:>5.2} µs/record",
        per(wall),
        per(producer),
        per(broker),
        per(producer + broker)
    )
}

/// Runs `produce` (which returns records/s for `n` records) and says where the CPU went: of
/// `who` (this process or its children) and of the broker `broker_pid`.
fn with_cpu(
    what: &str,
    who: i32,
    broker_pid: u32,
    n: u64,
    produce: impl FnOnce() -> f64,
) -> (f64, String) {
    let (own, broker) = (cpu_of(who), cpu_of_pid(broker_pid));
    let rate = produce();
    let line = cpu_line(
        what,
        n,
        n as f64 / rate,
        cpu_of(who) - own,
        cpu_of_pid(broker_pid) - broker,
    );
    (rate, line)
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

/// Counts delivery reports.
#[derive(Default)]
struct Acks {
    ok: AtomicU64,
    failed: AtomicU64,
}

impl ClientContext for Acks {}

impl ProducerContext for Acks {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => self.ok.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.failed.fetch_add(1, Ordering::Relaxed),
        };
    }
}

/// A producer with retailgen's settings (idempotence, acks=all, lz4, its batching and queue),
/// ready before a loop's clock starts, as retailgen's is before its own starts: connected, and
/// one record to `topic` acknowledged (so the idempotent producer holds its id: in a quarter
/// of the rounds without this, the id's retry timer held the first records back about 0.5 s).
/// The warm-up record is not counted.
fn producer(bootstrap: &str, topic: &str) -> BaseProducer<Acks> {
    let settings = KafkaSettings {
        bootstrap: bootstrap.to_owned(),
        security_protocol: "plaintext".into(),
        flush_timeout: Duration::from_secs(120),
        ..KafkaSettings::default()
    };
    let producer = retailgen::adapters::kafka::connected_producer(&settings, Acks::default())
        .expect("the broker answers");
    send(
        &producer,
        BaseRecord::to(topic).key("warm-up").payload(&[][..]),
    );
    producer.flush(Duration::from_secs(30)).unwrap();
    assert_eq!(
        producer.context().ok.swap(0, Ordering::Relaxed),
        1,
        "warm-up acknowledged"
    );
    producer
}

/// Hands a record over as retailgen does (waiting for room while librdkafka's queue is full).
fn send(producer: &BaseProducer<Acks>, rec: BaseRecord<'_, str, [u8], ()>) {
    let topic = rec.topic;
    retailgen::adapters::kafka::send(producer, rec, topic).expect("the record is handed over");
}

/// Flushes and checks that every record was acknowledged; returns records/s since `started`.
fn finish(producer: &BaseProducer<Acks>, n: u64, started: Instant) -> f64 {
    producer.flush(Duration::from_secs(120)).unwrap();
    let rate = n as f64 / started.elapsed().as_secs_f64();
    let acks = producer.context();
    assert_eq!(
        acks.ok.load(Ordering::Relaxed),
        n,
        "every record acknowledged"
    );
    assert_eq!(acks.failed.load(Ordering::Relaxed), 0);
    rate
}

/// A tight loop of 150-byte records of fresh random bytes (incompressible, so lz4 gains nothing).
fn plain_loop_rate(bootstrap: &str, topic: &str, n: u64) -> f64 {
    let producer = producer(bootstrap, topic);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut payload = [0u8; 150];
    let mut poller = Poller::default();
    let started = Instant::now();
    for i in 0..n {
        for chunk in payload.chunks_mut(8) {
            // xorshift64
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        let key = format!("ord_{i:013}");
        send(
            &producer,
            BaseRecord::to(topic)
                .key(key.as_str())
                .payload(&payload[..]),
        );
        poller.sent(&producer);
    }
    finish(&producer, n, started)
}

/// `env` and then `more` (which win), as a run's environment.
fn with_settings<'a>(
    env: &[(&'a str, &'a str)],
    more: &'a [(String, String)],
) -> Vec<(&'a str, &'a str)> {
    env.iter()
        .copied()
        .chain(more.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .collect()
}

/// A record as retailgen would hand it to librdkafka.
struct Encoded {
    topic: usize,
    key: String,
    headers: Vec<(&'static str, String)>,
    payload: Vec<u8>,
    ts: i64,
}

/// Encodes every record of a run into memory.
struct Capture {
    encoder: WireEncoder,
    records: Arc<Mutex<Vec<Encoded>>>,
}

impl EventPublisher for Capture {
    fn publish(&mut self, record: &Record) -> Result<(), PublishError> {
        let mut payload = Vec::new();
        self.encoder.encode(record, &mut payload)?;
        self.records.lock().unwrap().push(Encoded {
            topic: record.stream().index(),
            key: record.key.to_string(),
            headers: record.headers().map(|(k, v)| (k, v.into_owned())).collect(),
            payload,
            ts: record.event.ts(),
        });
        Ok(())
    }

    fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError> {
        Ok(vec![])
    }
}

/// The records `retailgen run --count n --eps 0 --seed 1` produces (same seed, settings and
/// generator, run 0 of a fresh target), encoded with `ids`.
fn records_of_run(n: u64, ids: [u32; Stream::COUNT]) -> Vec<Encoded> {
    let env: BTreeMap<String, String> =
        [("RECORD_COUNT", n.to_string()), ("TARGET_EPS", "0".into())]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
    let settings = retailgen::config::load(None, &env, &[]).unwrap();
    let records = Arc::new(Mutex::new(Vec::with_capacity(n as usize)));
    let capture = Capture {
        encoder: WireEncoder::new(ids),
        records: records.clone(),
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let engine = runtime
        .block_on(retailgen::startup::memory_engine(
            &settings,
            1,
            Box::new(capture),
        ))
        .unwrap();
    engine
        .run(&Stopper::new(CancellationToken::new(), None))
        .unwrap();
    let records = std::mem::take(&mut *records.lock().unwrap());
    records
}

/// Produces `records` in a tight loop (headers built per record, delivery reports served, as
/// retailgen does).
fn replay_rate(bootstrap: &str, topics: &[String], records: &[Encoded]) -> f64 {
    let producer = producer(bootstrap, &topics[0]);
    let mut poller = Poller::default();
    let started = Instant::now();
    for r in records {
        let headers = owned_headers(3, r.headers.iter().map(|(key, value)| (key, value)));
        send(
            &producer,
            BaseRecord::to(&topics[r.topic])
                .key(r.key.as_str())
                .payload(r.payload.as_slice())
                .headers(headers)
                .timestamp(r.ts),
        );
        poller.sent(&producer);
    }
    finish(&producer, records.len() as u64, started)
}

/// The rate of another binary (`args`, `env`), if BENCH_BASELINE_BIN names one.
fn baseline_rate(args: &[&str], env: &[(&str, &str)]) -> Option<(String, f64)> {
    let bin = std::env::var("BENCH_BASELINE_BIN").ok()?;
    let out = Command::new(&bin)
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "warn")
        .output()
        .expect("the baseline binary runs");
    assert!(
        out.status.success(),
        "{bin} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((bin, rate(&String::from_utf8_lossy(&out.stderr))))
}

fn main() {
    let null_n = size("BENCH_NULL_RECORDS", 2_000_000).to_string();
    let kafka_n = size("BENCH_KAFKA_RECORDS", 1_000_000);

    eprintln!("null sink, {null_n} records:");
    let null_args = [
        "run", "--sink", "null", "--count", &null_n, "--eps", "0", "--seed", "1",
    ];
    let null = retailgen_rate(&null_args, &[]);
    let baseline = baseline_rate(&null_args, &[]);
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
    let kafka_args = [
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
    ];
    // retailgen and its ceiling take turns, so that neither has the machine's better minutes.
    let rounds = size("BENCH_KAFKA_ROUNDS", 3).max(1);
    let defaults = retailgen::config::load(None, &BTreeMap::new(), &[]).unwrap();
    let mut records = Vec::new();
    let mut pairs: Vec<(f64, f64, String, String)> = Vec::new();
    let mut baseline_ratios = Vec::new();
    for round in 0..rounds {
        // Every party of every round writes to a fresh target (topics of its own, run 0): each
        // produces the very records the ceiling replays, and none reads earlier runs back.
        let target = |party: &str| -> Vec<(String, String)> {
            retailgen::config::topic_settings(&defaults)
                .iter()
                .map(|(var, topic)| (var.to_string(), format!("{topic}.r{round}{party}")))
                .collect()
        };
        let ours = target("a");
        let kafka_env = with_settings(&env, &ours);
        // The process's CPU includes its start-up: a fraction of a second of mostly waiting.
        let (kafka, kafka_cpu) = with_cpu(
            "kafka sink (retailgen process)",
            libc::RUSAGE_CHILDREN,
            broker.pid(),
            kafka_n,
            || retailgen_rate(&kafka_args, &kafka_env),
        );
        // The ceiling writes the same records again to the topics retailgen just created.
        let topics: Vec<String> = ours
            .iter()
            .take(Stream::COUNT)
            .map(|(_, t)| t.clone())
            .collect();
        if round == 0 {
            let ids = std::array::from_fn(|i| {
                registry
                    .latest_id(&format!("{}-value", topics[i]))
                    .unwrap_or(1)
            });
            records = records_of_run(kafka_n, ids);
            let bytes: usize = records.iter().map(|r| r.payload.len()).sum();
            eprintln!(
                "replay ceiling: {} records, {:.0} B of value on average",
                records.len(),
                bytes as f64 / records.len() as f64
            );
        }
        let (ceiling, ceiling_cpu) = with_cpu(
            "replay ceiling (bench process)",
            libc::RUSAGE_SELF,
            broker.pid(),
            kafka_n,
            || replay_rate(&broker.bootstrap, &topics, &records),
        );
        eprintln!(
            "  round {}: kafka sink {kafka:.0}/s, replay ceiling {ceiling:.0}/s, ratio {:.2}\n    {kafka_cpu}\n    {ceiling_cpu}",
            round + 1,
            kafka / ceiling
        );
        pairs.push((kafka, ceiling, kafka_cpu, ceiling_cpu));
        // The baseline binary's kafka sink (the commit before a change), in the same round.
        let theirs = target("b");
        let baseline_env = with_settings(&env, &theirs);
        if let Some((bin, base)) = baseline_rate(&kafka_args, &baseline_env) {
            eprintln!(
                "    baseline {bin}: kafka sink {base:.0}/s, ratio to this round's ceiling {:.2}",
                base / ceiling
            );
            baseline_ratios.push(base / ceiling);
        }
    }
    drop(records);
    // The round with the median ratio.
    pairs.sort_by(|a, b| (a.0 / a.1).total_cmp(&(b.0 / b.1)));
    let (kafka, ceiling, kafka_cpu, ceiling_cpu) = pairs.swap_remove(pairs.len() / 2);
    // The first round's customer-interactions topic (it exists: retailgen created it).
    let plain_topic = format!("{}.r0a", defaults.topics.customer_interactions);
    let plain = plain_loop_rate(&broker.bootstrap, &plain_topic, kafka_n);

    println!("null sink:                       {null:>12.0} records/s");
    if let Some((bin, base)) = baseline {
        println!("null sink of {bin}: {base:>12.0} records/s");
        println!("null sink speed-up:              {:>12.2}x", null / base);
    }
    println!("null sink, e-commerce only:      {commerce:>12.0} records/s (simulated afternoon)");
    println!("null sink, with the store world: {with_stores:>12.0} records/s (same span)");
    println!(
        "with stores / e-commerce only:   {:>12.2}",
        with_stores / commerce
    );
    println!("kafka sink, the round of the median ratio of {rounds}:");
    println!("kafka sink (to tansu):           {kafka:>12.0} records/s");
    println!("replay ceiling (same records):   {ceiling:>12.0} records/s");
    println!("kafka sink / replay ceiling:     {:>12.2}", kafka / ceiling);
    if !baseline_ratios.is_empty() {
        baseline_ratios.sort_by(f64::total_cmp);
        println!(
            "baseline kafka sink / ceiling:   {:>12.2} (median of {})",
            baseline_ratios[baseline_ratios.len() / 2],
            baseline_ratios.len()
        );
    }
    println!("plain loop (150 B, random):      {plain:>12.0} records/s");
    println!("kafka sink / plain loop:         {:>12.2}", kafka / plain);
    println!(
        "CPU per record in the round of the median ratio (retailgen's includes its start-up):"
    );
    println!("{kafka_cpu}");
    println!("{ceiling_cpu}");
}
