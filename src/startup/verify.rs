//! Wiring of `retailgen verify`: read every topic back from the beginning, decode through the
//! registry, check the rules (and a manifest's figures), print one line per rule. Records are
//! checked as they are read (each partition's reader hands batches on through a bounded channel;
//! the rules' thread decodes and checks them), so memory holds the rules' state, not the records.
//! Exit 0 when all hold, 1 on a violation, 2 on bad input (broker or registry unreachable,
//! unknown topic, unreadable manifest).

use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::{Duration, Instant};

use apache_avro::types::Value;
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use crate::adapters::kafka::replay::{read_stream, Polled, Prefetch, ReplayError, TopicFollower};
use crate::adapters::kafka::KafkaError;
use crate::adapters::metrics::Role;
use crate::adapters::postgres;
use crate::adapters::registry::decoder::{split_wire, WireDecoder};
use crate::adapters::registry::RegistryClient;
use crate::config::{describe_dsn, KafkaSettings, Settings, StoreKind};
use crate::domain::faults::LateMode;
use crate::domain::stream::Stream;
use crate::observe::RunStats;
use crate::verify::manifest::AgainstManifest;
use crate::verify::reorder::{DelayLine, Reorder};
use crate::verify::resends::digest;
use crate::verify::tables::Tables;
use crate::verify::{event_time, in_event_time, render, At, Seen, Verifier, ORDER};

/// Input the user must fix: exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadInput(String);

/// What to do with the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Check every rule.
    Check,
    /// Read and decode only: how fast the topics can be read (what checking is compared with).
    ReadOnly,
}

pub async fn run_until_done(
    settings: Settings,
    manifest: Option<&Path>,
    json: bool,
    mode: Mode,
    follow: Option<(Duration, Duration)>,
) -> ExitCode {
    let secrets = settings.secrets();
    let outcome = match follow {
        Some(timing) => self::follow(&settings, manifest, json, timing).await,
        None => verify(&settings, manifest, json, mode).await,
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("retailgen verify: {}", super::redacted(&e, &secrets));
            ExitCode::from(2)
        }
    }
}

/// Decodes values with their writers' schemas (an id the registry does not know: those records
/// do not decode, a rule's finding). Runs where the rules run, so a value is made and dropped on
/// one thread (cheaper than handing it across).
struct Decoder(WireDecoder);

impl Decoder {
    /// Call from outside the runtime (it may look a schema up).
    fn decode(&mut self, value: &[u8]) -> Result<Option<Value>, BadInput> {
        let Ok((id, mut body)) = split_wire(value) else {
            return Ok(None);
        };
        let reader = self
            .0
            .reader(id)
            .map_err(|e| BadInput(format!("the schema registry: {e}")))?;
        let Some(reader) = reader else {
            return Ok(None);
        };
        let value = reader.read_value(&mut body).ok();
        // A value must use its body whole (a truncated one fails above, a padded one here).
        Ok(value.filter(|_| body.is_empty()))
    }
}

/// A record as the rules get it: as read, then decoded.
struct Record {
    partition: i32,
    offset: i64,
    key: String,
    dq: Option<String>,
    shard: Option<String>,
    /// The value's bytes, until decoded.
    bytes: Vec<u8>,
    value: Option<Value>,
    digest: u64,
}

impl Record {
    /// A record as read, not decoded yet.
    fn read(m: Polled<'_>) -> Self {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        Self {
            partition: m.partition,
            offset: m.offset,
            key: text(m.key),
            dq: m.dq.map(text),
            shard: m.shard.map(text),
            bytes: m.value.to_vec(),
            value: None,
            digest: digest(m.key, m.value),
        }
    }
}

/// Records handed on together (one channel message).
const BATCH: usize = 512;
/// Batches in flight between the readers and the rules.
const IN_FLIGHT: usize = 32;

/// A partition reader's state: the batch it is filling.
struct PartitionReader {
    to_rules: SyncSender<Vec<Record>>,
    batch: Vec<Record>,
}

impl PartitionReader {
    fn add(&mut self, m: Polled<'_>) -> Result<(), ReplayError> {
        self.batch.push(Record::read(m));
        if self.batch.len() >= BATCH {
            self.send()?;
        }
        Ok(())
    }

    fn send(&mut self) -> Result<(), ReplayError> {
        let batch = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.to_rules
            .send(batch)
            .map_err(|_| ReplayError::Record("the rules stopped reading".into()))
    }
}

/// Reads `topic` on threads of its own, sending its records in batches (each partition's in
/// offset order) until the returned receiver runs dry; the handle says how the read ended
/// (`false`: the topic does not exist).
fn read_topic(
    k: KafkaSettings,
    topic: String,
) -> (
    Receiver<Vec<Record>>,
    std::thread::JoinHandle<Result<bool, BadInput>>,
) {
    let (to_rules, from_readers) = sync_channel(IN_FLIGHT);
    let reader = std::thread::spawn(move || {
        let init = || PartitionReader {
            to_rules: to_rules.clone(),
            batch: Vec::with_capacity(BATCH),
        };
        let bad = |e: ReplayError| BadInput(e.to_string());
        let read = read_stream(&k, Prefetch::Bounded, &topic, init, |r, m| r.add(m));
        let Some(parts) = read.map_err(bad)? else {
            return Ok(false);
        };
        for mut part in parts {
            part.send().map_err(bad)?;
        }
        Ok(true)
    });
    (from_readers, reader)
}

fn missing_topic(k: &KafkaSettings, topic: &str) -> BadInput {
    BadInput(format!(
        "topic {topic} does not exist at {} (KAFKA_BOOTSTRAP); valid: the topics a run wrote (TOPIC_*)",
        k.bootstrap
    ))
}

/// What the Postgres tables hold (with `STORE=postgres`).
async fn tables(s: &Settings) -> anyhow::Result<Tables> {
    let target = describe_dsn(&s.store.pg_dsn);
    let unreachable =
        |e: postgres::PgError| BadInput(format!("the tables at {target} (PG_DSN): {e}"));
    let pool = postgres::connect(&s.store.pg_dsn)
        .await
        .map_err(unreachable)?;
    let client = postgres::client(&pool, "reading the tables")
        .await
        .map_err(unreachable)?;
    let read = |e: tokio_postgres::Error| BadInput(format!("reading the tables at {target}: {e}"));
    let ids = |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get::<_, String>(0)).collect();
    let mut t = Tables {
        canonical: super::postgres_canonical(s),
        ..Tables::default()
    };
    t.users = ids(client
        .query("SELECT user_id FROM users", &[])
        .await
        .map_err(read)?);
    t.products = ids(client
        .query("SELECT product_id FROM products", &[])
        .await
        .map_err(read)?);
    let stores = client
        .query(
            "SELECT store_id, round(tax_rate * 10000)::bigint FROM stores",
            &[],
        )
        .await
        .map_err(read)?;
    t.stores = stores.iter().map(|r| (r.get(0), r.get(1))).collect();
    let stock = client
        .query(
            "SELECT warehouse_id || ':' || product_id, qty::bigint FROM warehouse_inventory \
             UNION ALL SELECT store_id || ':' || product_id, qty::bigint FROM store_inventory",
            &[],
        )
        .await
        .map_err(read)?;
    t.stock = stock.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(t)
}

/// The manifest to compare with, if one is given.
fn read_manifest(manifest: Option<&Path>) -> Result<Option<AgainstManifest>, BadInput> {
    let Some(path) = manifest else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| BadInput(format!("cannot read the manifest {}: {e}", path.display())))?;
    let json = serde_json::from_str(&text)
        .map_err(|e| BadInput(format!("the manifest {} is not JSON: {e}", path.display())))?;
    Ok(Some(AgainstManifest::new(json)))
}

/// The rules and what feeds them: each record decoded, seen as published, then checked in its
/// turn (the event-time topics through their re-ordering window).
struct Checker {
    verifier: Verifier,
    against: Option<AgainstManifest>,
    decoder: Decoder,
    late_mode: LateMode,
    mode: Mode,
    held: Vec<Reorder<Record>>,
    /// `--follow`: per stream, what is held until a window behind the latest time read, so
    /// that what it names has been read first.
    delayed: Option<Vec<DelayLine<Record>>>,
    /// `--follow`: the latest event time read (of records not labelled out).
    latest: i64,
    /// Records read per stream.
    read: [u64; Stream::COUNT],
}

impl Checker {
    fn new(
        s: &Settings,
        verifier: Verifier,
        against: Option<AgainstManifest>,
        mode: Mode,
    ) -> Result<Self, BadInput> {
        let registry = RegistryClient::new(&s.registry).map_err(|e| BadInput(e.to_string()))?;
        let decoder = Decoder(WireDecoder::new(
            registry,
            Handle::current(),
            s.registry.url.clone(),
        ));
        // A delayed late record comes up to MAX_LATE_MINUTES after its time, an unlabelled one
        // up to 2 minutes behind: what the event-time topics are re-ordered within.
        let window = (i64::from(s.faults.max_late_minutes) + 3) * 60_000;
        Ok(Self {
            verifier,
            against,
            decoder,
            late_mode: s.faults.late_mode,
            mode,
            held: (0..Stream::COUNT).map(|_| Reorder::new(window)).collect(),
            delayed: None,
            latest: i64::MIN,
            read: [0; Stream::COUNT],
        })
    }

    /// Live: a record that names others is checked a window after it came (a late order may
    /// come after its payment), in the order it came.
    fn following(mut self) -> Self {
        self.delayed = Some((0..Stream::COUNT).map(|_| DelayLine::default()).collect());
        self
    }

    /// One record of `stream` (on `topic`), as read.
    fn take(&mut self, stream: Stream, topic: &str, mut r: Record) -> Result<(), BadInput> {
        self.read[stream.index()] += 1;
        r.value = self.decoder.decode(&r.bytes)?;
        r.bytes = Vec::new();
        if self.mode == Mode::ReadOnly {
            return Ok(());
        }
        let late_mode = self.late_mode;
        let at = At {
            topic,
            partition: r.partition,
            offset: r.offset,
        };
        self.verifier.published(&seen(stream, at, &r, late_mode));
        let Self {
            verifier,
            against,
            held,
            delayed,
            ..
        } = self;
        let check = |r: Record| check(verifier, against, topic, stream, late_mode, &r);
        // A record labelled bad may say any time: it is checked by the labels rule only, and
        // moves no window.
        let labelled_out =
            r.dq.as_deref()
                .is_some_and(|dq| dq.starts_with("bad:") || dq == "duplicate");
        let time = match labelled_out {
            true => None,
            false => r.value.as_ref().and_then(|v| event_time(stream, v)),
        };
        let reordered = late_mode == LateMode::Delay && in_event_time(stream);
        match delayed {
            Some(_) if reordered => held[stream.index()].hold(r.partition, time, r),
            Some(lines) => lines[stream.index()].hold(time, r),
            None if reordered => held[stream.index()].push(r.partition, time, r, check),
            None => {
                let mut check = check;
                check(r);
            }
        }
        if let Some(t) = time {
            self.latest = self.latest.max(t);
        }
        Ok(())
    }

    /// Checks what `stream`'s window still holds.
    fn flush(&mut self, stream: Stream, topic: &str) {
        let late_mode = self.late_mode;
        let Self {
            verifier,
            against,
            held,
            delayed,
            ..
        } = self;
        let mut check = |r: Record| check(verifier, against, topic, stream, late_mode, &r);
        held[stream.index()].flush(&mut check);
        if let Some(lines) = delayed {
            lines[stream.index()].flush(&mut check);
        }
    }

    /// Live: checks what `stream` holds up to a window behind the latest time read.
    fn release(&mut self, stream: Stream, topic: &str) {
        let late_mode = self.late_mode;
        let due = self.latest.saturating_sub(self.held[0].window());
        let Self {
            verifier,
            against,
            held,
            delayed,
            ..
        } = self;
        let mut check = |r: Record| check(verifier, against, topic, stream, late_mode, &r);
        held[stream.index()].release_until(due, &mut check);
        if let Some(lines) = delayed {
            lines[stream.index()].release_until(due, &mut check);
        }
    }

    fn records(&self) -> u64 {
        self.read.iter().sum()
    }

    /// Records read but not checked yet (held for order).
    fn held(&self) -> usize {
        let lines = self
            .delayed
            .iter()
            .flatten()
            .map(DelayLine::held)
            .sum::<usize>();
        self.held.iter().map(Reorder::held).sum::<usize>() + lines
    }

    /// The verdicts, and the records read per topic.
    fn finish(
        self,
        names: &crate::domain::stream::TopicNames,
    ) -> (Vec<crate::verify::Tally>, u64, Vec<(String, u64)>) {
        let records = self.records();
        let per_topic = ORDER
            .iter()
            .map(|s| (names.of(*s).to_owned(), self.read[s.index()]))
            .collect();
        let mut tallies = self.verifier.finish();
        tallies.extend(self.against.map(AgainstManifest::finish));
        (tallies, records, per_topic)
    }
}

async fn verify(
    s: &Settings,
    manifest: Option<&Path>,
    json: bool,
    mode: Mode,
) -> anyhow::Result<bool> {
    let against = read_manifest(manifest)?;
    let tables = match s.store.kind {
        StoreKind::Postgres => Some(tables(s).await?),
        StoreKind::Memory => None,
    };
    let names = super::topic_names(s);
    let started = Instant::now();
    let mut verifier = Verifier::new();
    if let Some(tables) = tables {
        verifier = verifier.with_tables(tables);
    }
    let mut checker = Checker::new(s, verifier, against, mode)?;
    let k = s.kafka.clone();
    let checked = tokio::task::spawn_blocking(move || -> Result<_, BadInput> {
        for stream in ORDER {
            let topic = names.of(stream).to_owned();
            let (batches, reader) = read_topic(k.clone(), topic.clone());
            for batch in batches {
                for r in batch {
                    checker.take(stream, &topic, r)?;
                }
            }
            checker.flush(stream, &topic);
            if !reader.join().expect("a topic reader panicked")? {
                return Err(missing_topic(&k, &topic));
            }
            checker.verifier.done(stream);
        }
        Ok(checker.finish(&names))
    })
    .await?;
    let (tallies, records, per_topic) = checked?;
    report(
        &tallies,
        records,
        per_topic,
        started,
        (manifest, json, mode),
    )
}

/// `--follow`: rounds of reading what came since the last (each topic until its fetches reach
/// its end, then released topic by topic in [`ORDER`]), a summary per round on stderr and the figures on METRICS_ADDR, until SIGTERM; then a last
/// round and the report. What names other records is checked a window behind the topics'
/// latest time, or at once when no topic has had a new record for `quiet_after`. The Postgres
/// tables are not compared (they change under a live run).
async fn follow(
    s: &Settings,
    manifest: Option<&Path>,
    json: bool,
    (interval, quiet_after): (Duration, Duration),
) -> anyhow::Result<bool> {
    let stop = CancellationToken::new();
    tokio::spawn(super::cancel_on_signal(stop.clone()));
    let names = super::topic_names(s);
    let stats = RunStats::new(names.clone());
    super::serve_metrics(s, &stats, Role::Verifier).map_err(|e| BadInput(e.to_string()))?;
    let against = read_manifest(manifest)?;
    let mut checker = Checker::new(s, Verifier::new(), against, Mode::Check)?.following();
    let k = s.kafka.clone();
    let started = Instant::now();
    let checked = tokio::task::spawn_blocking(move || -> Result<_, BadInput> {
        let mut followers: Vec<Option<TopicFollower>> = ORDER.iter().map(|_| None).collect();
        let kafka = |e: KafkaError| BadInput(e.to_string());
        let mut last_new = Instant::now();
        let mut rounds: u64 = 0;
        loop {
            let last = stop.is_cancelled();
            let before = checker.records();
            // Open the topics that exist by now; what is left to read, as the broker lists it.
            let mut lag = 0;
            for (i, stream) in ORDER.into_iter().enumerate() {
                let topic = names.of(stream);
                if followers[i].is_none() {
                    followers[i] = TopicFollower::open(&k, topic).map_err(kafka)?;
                    if followers[i].is_none() && rounds == 0 {
                        tracing::warn!("verify --follow: topic {topic} does not exist yet; read once it does");
                    }
                }
                if let Some(f) = &followers[i] {
                    lag += f.lag(&k).map_err(kafka)?;
                }
            }
            stats.verify.lag.store(lag, Ordering::Relaxed);
            for (i, stream) in ORDER.into_iter().enumerate() {
                let Some(f) = &mut followers[i] else {
                    continue;
                };
                let topic = names.of(stream);
                let mut failed = None;
                f.read_on(&k, interval.max(Duration::from_secs(1)), |m| {
                    if failed.is_none() {
                        failed = checker.take(stream, topic, Record::read(m)).err();
                    }
                    Ok(())
                })
                .map_err(|e| BadInput(e.to_string()))?;
                if let Some(e) = failed {
                    return Err(e);
                }
            }
            for stream in ORDER {
                checker.release(stream, names.of(stream));
            }
            rounds += 1;
            if checker.records() > before {
                last_new = Instant::now();
            } else if last_new.elapsed() >= quiet_after {
                for stream in ORDER {
                    checker.flush(stream, names.of(stream));
                }
            }
            let tallies = checker.verifier.so_far();
            let violations: Vec<(&'static str, u64)> = tallies
                .iter()
                .map(|t| (t.rule, t.violations))
                .collect();
            let total: u64 = violations.iter().map(|v| v.1).sum();
            let found: Vec<String> = violations
                .iter()
                .filter(|v| v.1 > 0)
                .map(|(rule, n)| format!("{rule}: {n}"))
                .collect();
            let records = checker.records();
            let v = &stats.verify;
            v.checked.store(records, Ordering::Relaxed);
            v.rounds.fetch_add(1, Ordering::Relaxed);
            *v.violations.lock().expect("verify figures") = violations;
            eprintln!(
                "verify --follow: {records} records read (+{}), {} held for order, {total} violations{}, lag {lag}",
                records - before,
                checker.held(),
                match found.is_empty() {
                    true => String::new(),
                    false => format!(" [{}]", found.join(", ")),
                },
            );
            if last {
                break;
            }
            let waited = Instant::now();
            while waited.elapsed() < interval && !stop.is_cancelled() {
                std::thread::sleep(Duration::from_millis(50).min(interval));
            }
        }
        for stream in ORDER {
            checker.flush(stream, names.of(stream));
            checker.verifier.done(stream);
        }
        Ok(checker.finish(&names))
    })
    .await?;
    let (tallies, records, per_topic) = checked?;
    report(
        &tallies,
        records,
        per_topic,
        started,
        (manifest, json, Mode::Check),
    )
}

/// Prints the report (text, or one JSON document); whether every rule holds.
fn report(
    tallies: &[crate::verify::Tally],
    records: u64,
    per_topic: Vec<(String, u64)>,
    started: Instant,
    (manifest, json, mode): (Option<&Path>, bool, Mode),
) -> anyhow::Result<bool> {
    let violations: u64 = tallies.iter().map(|t| t.violations).sum();
    let secs = started.elapsed().as_secs_f64();
    if json {
        let topics: serde_json::Map<String, serde_json::Value> = per_topic
            .into_iter()
            .map(|(t, n)| (t, serde_json::json!({ "records": n })))
            .collect();
        let report = serde_json::json!({
            "ok": violations == 0,
            "records": records,
            "violations": violations,
            "elapsed_s": secs,
            "manifest": manifest.map(|p| p.display().to_string()),
            "topics": topics,
            "rules": crate::verify::rules_json(tallies),
        });
        println!("{report}");
        return Ok(violations == 0);
    }
    print!("{}", render(tallies));
    println!(
        "verify: {records} records in {secs:.2} s ({:.0} records/s); {}",
        records as f64 / secs,
        match (mode, violations) {
            (Mode::ReadOnly, _) => "read only, no rule checked".to_owned(),
            (_, 0) => "every rule holds".to_owned(),
            (_, n) => format!("{n} violations"),
        }
    );
    Ok(violations == 0)
}

/// One record in its turn: every rule, and the manifest's figures if it is of the run.
fn check(
    verifier: &mut Verifier,
    against: &mut Option<AgainstManifest>,
    topic: &str,
    stream: Stream,
    late_mode: LateMode,
    r: &Record,
) {
    let at = At {
        topic,
        partition: r.partition,
        offset: r.offset,
    };
    if let Some(m) = against.as_mut().filter(|m| m.holds(at)) {
        m.see(at, stream, r.dq.as_deref(), r.value.as_ref());
    }
    verifier.see(&seen(stream, at, r, late_mode));
}

/// A record as the rules see it.
fn seen<'a>(stream: Stream, at: At<'a>, r: &'a Record, late_mode: LateMode) -> Seen<'a> {
    Seen {
        at,
        stream,
        key: &r.key,
        dq: r.dq.as_deref(),
        shard: r.shard.as_deref(),
        value: r.value.as_ref(),
        digest: r.digest,
        late_mode,
    }
}
