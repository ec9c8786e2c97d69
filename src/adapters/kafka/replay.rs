//! Reading topics back at start-up, each partition from its beginning to the end the broker
//! reports with its fetches (partition EOF; ListOffsets is not trusted): the last stock level of
//! every location on the stock topic, and the last run recorded on the runs topic.

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use rustc_hash::FxHashMap;

use super::client_config::{client_config, producer_config};
use super::KafkaError;
use crate::config::KafkaSettings;

/// How long a read may go without any message or EOF before it gives up.
const STALL: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error(transparent)]
    Kafka(#[from] KafkaError),
    #[error("{0}")]
    Record(String),
}

/// Reaching a partition's end is what a read to the end waits for, not an error to log.
struct EndIsExpected;

impl ClientContext for EndIsExpected {
    fn error(&self, error: RdKafkaError, reason: &str) {
        if !matches!(error, RdKafkaError::PartitionEOF(_)) {
            tracing::error!("librdkafka: {error}: {reason}");
        }
    }
}

impl ConsumerContext for EndIsExpected {}

fn unreachable(k: &KafkaSettings) -> impl Fn(RdKafkaError) -> KafkaError + '_ {
    move |e| KafkaError::Unreachable {
        bootstrap: k.bootstrap.clone(),
        cause: e.to_string(),
    }
}

/// Partitions of `topic`, or `None` if it does not exist.
fn partitions(
    k: &KafkaSettings,
    c: &BaseConsumer<EndIsExpected>,
    topic: &str,
) -> Result<Option<i32>, KafkaError> {
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(unreachable(k))?;
    Ok(md
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none() && !t.partitions().is_empty())
        .map(|t| t.partitions().len() as i32))
}

/// Calls `each` with every record of `topic` from the beginning to the end; returns the next
/// offset of every partition, or `None` if the topic does not exist.
fn read_all(
    k: &KafkaSettings,
    topic: &str,
    mut each: impl FnMut(&BorrowedMessage<'_>) -> Result<(), ReplayError>,
) -> Result<Option<Vec<(i32, i64)>>, ReplayError> {
    let consumer: BaseConsumer<EndIsExpected> = client_config(k)
        .set("group.id", "retailgen-recovery")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("fetch.max.bytes", "104857600")
        .set("max.partition.fetch.bytes", "52428800")
        .set("queued.max.messages.kbytes", "262144")
        .create_with_context(EndIsExpected)
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    let Some(count) = partitions(k, &consumer, topic)? else {
        return Ok(None);
    };
    let mut tpl = TopicPartitionList::new();
    for p in 0..count {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .map_err(|e| KafkaError::Client(e.to_string()))?;
    }
    consumer.assign(&tpl).map_err(unreachable(k))?;
    let mut next = vec![0i64; count as usize];
    let mut done = vec![false; count as usize];
    let mut progress = Instant::now();
    while done.iter().any(|d| !d) {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                progress = Instant::now();
                next[m.partition() as usize] = m.offset() + 1;
                done[m.partition() as usize] = false;
                each(&m)?;
            }
            Some(Err(RdKafkaError::PartitionEOF(p))) => {
                progress = Instant::now();
                done[p as usize] = true;
            }
            Some(Err(e)) => return Err(unreachable(k)(e).into()),
            None if progress.elapsed() > STALL => {
                return Err(ReplayError::Record(format!(
                    "reading {topic} back from {} (KAFKA_BOOTSTRAP) stalled for {STALL:?} before its end",
                    k.bootstrap
                )))
            }
            None => {}
        }
    }
    Ok(Some(
        next.into_iter()
            .enumerate()
            .map(|(p, o)| (p as i32, o))
            .collect(),
    ))
}

/// The `dq` label of a record, if any.
fn label<'a>(m: &'a BorrowedMessage<'_>) -> Option<&'a [u8]> {
    m.headers()?
        .iter()
        .find(|h| h.key == "dq")
        .and_then(|h| h.value)
}

/// What the stock topic says.
#[derive(Debug, Default)]
pub struct StockTopic {
    /// The last `new_qty` of every key (`location:product`).
    pub last: FxHashMap<String, i32>,
    /// Records that count (not labelled bad or duplicate).
    pub changes: u64,
    pub next_offsets: Vec<(i32, i64)>,
}

/// Reads `topic` to its end, keeping the last level of each key; records labelled bad or
/// duplicate do not count. `new_qty` reads a record's value (Confluent wire format).
pub fn read_stock_topic(
    k: &KafkaSettings,
    topic: &str,
    mut new_qty: impl FnMut(&[u8]) -> Result<i32, String>,
) -> Result<Option<StockTopic>, ReplayError> {
    let mut out = StockTopic::default();
    let offsets = read_all(k, topic, |m| {
        if label(m).is_some_and(|dq| dq.starts_with(b"bad:") || dq == b"duplicate") {
            return Ok(());
        }
        let at = || format!("{topic} partition {} offset {}", m.partition(), m.offset());
        let key = m
            .key()
            .and_then(|k| std::str::from_utf8(k).ok())
            .ok_or_else(|| {
                ReplayError::Record(format!("a record without a text key at {}", at()))
            })?;
        let qty = new_qty(m.payload().unwrap_or_default())
            .map_err(|e| ReplayError::Record(format!("{e} (at {})", at())))?;
        match out.last.get_mut(key) {
            Some(q) => *q = qty,
            None => {
                out.last.insert(key.to_owned(), qty);
            }
        }
        out.changes += 1;
        Ok(())
    })?;
    Ok(offsets.map(|o| {
        out.next_offsets = o;
        out
    }))
}

/// The highest run number recorded on the runs topic, if any.
pub fn last_run(k: &KafkaSettings, topic: &str) -> Result<Option<u32>, ReplayError> {
    let mut last: Option<u32> = None;
    read_all(k, topic, |m| {
        let run = m
            .payload()
            .and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok())
            .and_then(|v| v.get("run")?.as_u64())
            .ok_or_else(|| {
                ReplayError::Record(format!(
                    "{topic} partition {} offset {} is not a run record ({{\"run\": N, ...}})",
                    m.partition(),
                    m.offset()
                ))
            })?;
        last = last.max(Some(run as u32));
        Ok(())
    })?;
    Ok(last)
}

/// Appends run `run` to the runs topic and waits for the broker's acknowledgement.
pub fn record_run(k: &KafkaSettings, topic: &str, run: u32, seed: u64) -> Result<(), KafkaError> {
    let producer: BaseProducer = producer_config(k)
        .create()
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    let value = serde_json::json!({
        "run": run,
        "seed": seed,
        "version": env!("CARGO_PKG_VERSION"),
        "started_ms": chrono::Utc::now().timestamp_millis(),
    })
    .to_string();
    producer
        .send(BaseRecord::to(topic).key("run").payload(&value))
        .map_err(|(e, _)| unreachable(k)(e))?;
    producer.flush(k.flush_timeout).map_err(unreachable(k))
}
