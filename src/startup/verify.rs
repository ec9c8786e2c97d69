//! Wiring of `retailgen verify`: read every topic back from the beginning, decode through the
//! registry, check the rules (and a manifest's figures), print one line per rule. Records are
//! checked as they are read (each partition's reader hands batches on through a bounded channel;
//! the rules' thread decodes and checks them), so memory holds the rules' state, not the records.
//! Exit 0 when all hold, 1 on a violation, 2 on bad input (broker or registry unreachable,
//! unknown topic, unreadable manifest).

use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Instant;

use apache_avro::types::Value;
use tokio::runtime::Handle;

use crate::adapters::kafka::replay::{read_stream, Polled, Prefetch, ReplayError};
use crate::adapters::postgres;
use crate::adapters::registry::decoder::{split_wire, WireDecoder};
use crate::adapters::registry::RegistryClient;
use crate::config::{describe_dsn, KafkaSettings, Settings, StoreKind};
use crate::domain::faults::LateMode;
use crate::domain::stream::Stream;
use crate::verify::manifest::AgainstManifest;
use crate::verify::reorder::Reorder;
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
) -> ExitCode {
    let secrets = settings.secrets();
    match verify(&settings, manifest, json, mode).await {
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
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        self.batch.push(Record {
            partition: m.partition,
            offset: m.offset,
            key: text(m.key),
            dq: m.dq.map(text),
            shard: m.shard.map(text),
            bytes: m.value.to_vec(),
            value: None,
            digest: digest(m.key, m.value),
        });
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
/// offset order) until the returned receiver runs dry; the handle says how the read ended.
fn read_topic(
    k: KafkaSettings,
    topic: String,
) -> (
    Receiver<Vec<Record>>,
    std::thread::JoinHandle<Result<(), BadInput>>,
) {
    let (to_rules, from_readers) = sync_channel(IN_FLIGHT);
    let reader = std::thread::spawn(move || {
        let init = || PartitionReader {
            to_rules: to_rules.clone(),
            batch: Vec::with_capacity(BATCH),
        };
        let read = read_stream(&k, Prefetch::Bounded, &topic, init, |r, m| r.add(m));
        let bad = |e: ReplayError| BadInput(e.to_string());
        match read.map_err(bad)? {
            Some(parts) => {
                for mut part in parts {
                    part.send().map_err(bad)?;
                }
                Ok(())
            }
            None => Err(BadInput(format!(
                "topic {topic} does not exist at {} (KAFKA_BOOTSTRAP); valid: the topics a run wrote (TOPIC_*)",
                k.bootstrap
            ))),
        }
    });
    (from_readers, reader)
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

async fn verify(
    s: &Settings,
    manifest: Option<&Path>,
    json: bool,
    mode: Mode,
) -> anyhow::Result<bool> {
    let against = match manifest {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                BadInput(format!("cannot read the manifest {}: {e}", path.display()))
            })?;
            let json = serde_json::from_str(&text).map_err(|e| {
                BadInput(format!("the manifest {} is not JSON: {e}", path.display()))
            })?;
            Some(AgainstManifest::new(json))
        }
        None => None,
    };
    let tables = match s.store.kind {
        StoreKind::Postgres => Some(tables(s).await?),
        StoreKind::Memory => None,
    };
    let names = super::topic_names(s);
    let started = Instant::now();
    let registry = RegistryClient::new(&s.registry).map_err(|e| BadInput(e.to_string()))?;
    let mut decoder = Decoder(WireDecoder::new(
        registry,
        Handle::current(),
        s.registry.url.clone(),
    ));
    let late_mode = s.faults.late_mode;
    // A delayed late record comes up to MAX_LATE_MINUTES after its time, an unlabelled one
    // up to 2 minutes behind: what the event-time topics are re-ordered within.
    let window = (i64::from(s.faults.max_late_minutes) + 3) * 60_000;
    let k = s.kafka.clone();
    let checked = tokio::task::spawn_blocking(move || -> Result<_, BadInput> {
        let mut verifier = Verifier::new();
        if let Some(tables) = tables {
            verifier = verifier.with_tables(tables);
        }
        let mut against = against;
        let mut per_topic = Vec::new();
        let mut records = 0u64;
        for stream in ORDER {
            let topic = names.of(stream).to_owned();
            let (batches, reader) = read_topic(k.clone(), topic.clone());
            let mut count = 0u64;
            let reorder = late_mode == LateMode::Delay && in_event_time(stream);
            let mut held = Reorder::new(window);
            for batch in batches {
                count += batch.len() as u64;
                for mut r in batch {
                    r.value = decoder.decode(&r.bytes)?;
                    r.bytes = Vec::new();
                    if mode == Mode::ReadOnly {
                        continue;
                    }
                    let at = At {
                        topic: &topic,
                        partition: r.partition,
                        offset: r.offset,
                    };
                    verifier.published(&seen(stream, at, &r, late_mode));
                    let mut check = |r: Record| {
                        check(&mut verifier, &mut against, &topic, stream, late_mode, &r)
                    };
                    if reorder {
                        // A record labelled bad may say any time: it is checked by the labels
                        // rule only, and moves no window.
                        let labelled_out =
                            r.dq.as_deref()
                                .is_some_and(|dq| dq.starts_with("bad:") || dq == "duplicate");
                        let time = match labelled_out {
                            true => None,
                            false => r.value.as_ref().and_then(|v| event_time(stream, v)),
                        };
                        held.push(r.partition, time, r, &mut check);
                    } else {
                        check(r);
                    }
                }
            }
            held.flush(|r| check(&mut verifier, &mut against, &topic, stream, late_mode, &r));
            reader.join().expect("a topic reader panicked")?;
            verifier.done(stream);
            records += count;
            per_topic.push((topic, count));
        }
        let mut tallies = verifier.finish();
        tallies.extend(against.map(AgainstManifest::finish));
        Ok((tallies, records, per_topic))
    })
    .await?;
    let (tallies, records, per_topic) = checked?;
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
            "rules": crate::verify::rules_json(&tallies),
        });
        println!("{report}");
        return Ok(violations == 0);
    }
    print!("{}", render(&tallies));
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
