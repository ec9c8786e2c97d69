//! Reading topics back at start-up, each partition from its beginning to the end the broker
//! reports with its fetches (partition EOF; ListOffsets is not trusted): the last stock level of
//! every location on the stock topic, the values of a topic (store sales), and the last run
//! recorded on the runs topic; and every record of a topic, streamed (verify).

use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use rustc_hash::FxHashMap;

use super::client_config::{client_config, dispose, reader_config};
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

/// Reaching a partition's end is what a read to the end waits for, not an error to log
/// (librdkafka reports it per partition, and sometimes as a global error).
pub struct EndIsExpected;

impl ClientContext for EndIsExpected {
    fn error(&self, error: RdKafkaError, reason: &str) {
        let end = matches!(error, RdKafkaError::PartitionEOF(_))
            || error.rdkafka_error_code() == Some(RDKafkaErrorCode::PartitionEOF);
        if !end {
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
pub fn partitions(
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

/// What one partition's reader found: its state, and the offset after its last record.
pub(super) struct PartitionRead<S> {
    partition: i32,
    pub(super) state: S,
    next: i64,
}

/// Reads every partition of `topic` from its beginning to its end, each with its own consumer
/// on its own thread (librdkafka decodes and decompresses a client's fetches on one thread) and
/// its own state (`init`), calling `each` with every record in partition order. Returns the
/// states with each partition's next offset, or `None` if the topic does not exist.
pub(super) fn read_all<S: Send>(
    k: &KafkaSettings,
    topic: &str,
    init: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, &BorrowedMessage<'_>) -> Result<(), ReplayError> + Sync,
) -> Result<Option<Vec<PartitionRead<S>>>, ReplayError> {
    read_all_with(k, Prefetch::Ample, topic, init, each)
}

/// How much a partition's reader fetches ahead of what it has handed on.
#[derive(Debug, Clone, Copy)]
pub enum Prefetch {
    /// Up to 256 MB: for reads that keep up (start-up recovery).
    Ample,
    /// About 8 MB: for reads whose consumer may be slower than the broker (verify).
    Bounded,
}

fn read_all_with<S: Send>(
    k: &KafkaSettings,
    prefetch: Prefetch,
    topic: &str,
    init: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, &BorrowedMessage<'_>) -> Result<(), ReplayError> + Sync,
) -> Result<Option<Vec<PartitionRead<S>>>, ReplayError> {
    let asking = reader(k, prefetch)?;
    let count = partitions(k, &asking, topic);
    dispose(asking);
    let Some(count) = count? else {
        return Ok(None);
    };
    let reads = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..count)
            .map(|p| {
                let (init, each) = (&init, &each);
                scope.spawn(move || read_partition(k, prefetch, topic, p, init(), each))
            })
            .collect();
        readers
            .into_iter()
            .map(|r| r.join().expect("a partition reader panicked"))
            .collect::<Result<Vec<_>, _>>()
    })?;
    Ok(Some(reads))
}

fn reader(
    k: &KafkaSettings,
    prefetch: Prefetch,
) -> Result<BaseConsumer<EndIsExpected>, KafkaError> {
    let mut config = reader_config(k);
    if let Prefetch::Bounded = prefetch {
        config
            .set("queued.max.messages.kbytes", "8192")
            .set("queued.min.messages", "20000")
            .set("fetch.max.bytes", "8388608")
            .set("max.partition.fetch.bytes", "2097152");
    }
    config
        .create_with_context(EndIsExpected)
        .map_err(|e| KafkaError::Client(e.to_string()))
}

/// One partition to its end (EOF), on a reader of its own.
fn read_partition<S>(
    k: &KafkaSettings,
    prefetch: Prefetch,
    topic: &str,
    partition: i32,
    state: S,
    each: impl Fn(&mut S, &BorrowedMessage<'_>) -> Result<(), ReplayError>,
) -> Result<PartitionRead<S>, ReplayError> {
    let consumer = reader(k, prefetch)?;
    let read = read_to_end(k, &consumer, topic, partition, state, each);
    dispose(consumer);
    read
}

/// One partition to its end (EOF), without a timeout while messages flow (a timed poll reads
/// the clock every time).
fn read_to_end<S>(
    k: &KafkaSettings,
    consumer: &BaseConsumer<EndIsExpected>,
    topic: &str,
    partition: i32,
    mut state: S,
    each: impl Fn(&mut S, &BorrowedMessage<'_>) -> Result<(), ReplayError>,
) -> Result<PartitionRead<S>, ReplayError> {
    // An empty partition (say, of a topic just created) is done without a fetch.
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, Duration::from_secs(10))
        .map_err(unreachable(k))?;
    if low >= high {
        return Ok(PartitionRead {
            partition,
            state,
            next: high,
        });
    }
    let mut tpl = TopicPartitionList::new();
    // Offset 0 needs no lookup of where the log begins (a lookup librdkafka delays by half a
    // second); a log whose start was deleted falls back to its earliest offset.
    tpl.add_partition_offset(topic, partition, Offset::Offset(0))
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    consumer.assign(&tpl).map_err(unreachable(k))?;
    let mut next = 0;
    // Since when nothing came (the clock is read only when a poll comes back empty).
    let mut idle: Option<Instant> = None;
    loop {
        let polled = match consumer
            .poll(Duration::ZERO)
            .or_else(|| consumer.poll(Duration::from_millis(100)))
        {
            // librdkafka reconnects by itself: a connection that dropped (a busy broker) is
            // waited for like a broker that sends nothing, up to STALL.
            Some(Err(RdKafkaError::MessageConsumption(code))) if reconnects(code) => {
                tracing::debug!("reading {topic} partition {partition} back: {code}; waiting");
                None
            }
            polled => polled,
        };
        match polled {
            Some(Ok(m)) => {
                idle = None;
                next = m.offset() + 1;
                each(&mut state, &m)?;
            }
            Some(Err(RdKafkaError::PartitionEOF(_))) => {
                return Ok(PartitionRead {
                    partition,
                    state,
                    next,
                })
            }
            Some(Err(e)) => return Err(unreachable(k)(e).into()),
            None if idle.get_or_insert_with(Instant::now).elapsed() > STALL => {
                // The broker stopped answering: not a record that cannot be read (exit 1, not 2).
                return Err(ReplayError::Kafka(KafkaError::Unreachable {
                    bootstrap: k.bootstrap.clone(),
                    cause: format!(
                        "reading {topic} partition {partition} back stalled for {STALL:?} before its end"
                    ),
                }));
            }
            None => {}
        }
    }
}

/// Connection errors librdkafka reports as events while it reconnects by itself.
fn reconnects(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::AllBrokersDown | RDKafkaErrorCode::BrokerTransportFailure
    )
}

/// Whether the record is labelled bad or duplicate (it does not count for what is rebuilt).
fn labelled_out(m: &BorrowedMessage<'_>) -> bool {
    m.headers()
        .and_then(|h| h.iter().find(|h| h.key == "dq").and_then(|h| h.value))
        .is_some_and(|dq| dq.starts_with(b"bad:") || dq == b"duplicate")
}

/// Reads `topic` to its end, handing the value of every record not labelled bad or duplicate to
/// `each`; what `each` rejects is an error naming the record's position. Each partition has its
/// own state (`init`), read in parallel; `None` if the topic does not exist.
pub fn read_values<S: Send>(
    k: &KafkaSettings,
    topic: &str,
    init: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, &[u8]) -> Result<(), String> + Sync,
) -> Result<Option<Vec<S>>, ReplayError> {
    let parts = read_all(k, topic, init, |state, m| {
        if labelled_out(m) {
            return Ok(());
        }
        each(state, m.payload().unwrap_or_default()).map_err(|e| {
            ReplayError::Record(format!(
                "{e} (at {topic} partition {} offset {})",
                m.partition(),
                m.offset()
            ))
        })
    })?;
    Ok(parts.map(|parts| parts.into_iter().map(|read| read.state).collect()))
}

/// One topic read as it grows (`verify --follow`): one reader for all its partitions, from
/// their beginning, kept between rounds so each fetch goes on where the last ended (tansu 0.6
/// answers a fetch from inside a record batch with the batches after it, so a reader that
/// started again at an offset could miss the rest of a batch).
pub struct TopicFollower {
    consumer: BaseConsumer<EndIsExpected>,
    topic: String,
    next: Vec<i64>,
    /// Where each partition's fetches last said its end was.
    end: Vec<Option<i64>>,
}

impl TopicFollower {
    /// A follower of `topic` from its beginning, or `None` if it does not exist (yet).
    pub fn open(k: &KafkaSettings, topic: &str) -> Result<Option<Self>, KafkaError> {
        let consumer = reader(k, Prefetch::Bounded)?;
        let Some(count) = partitions(k, &consumer, topic)? else {
            dispose(consumer);
            return Ok(None);
        };
        let mut tpl = TopicPartitionList::new();
        for p in 0..count {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|e| KafkaError::Client(e.to_string()))?;
        }
        consumer.assign(&tpl).map_err(unreachable(k))?;
        Ok(Some(Self {
            consumer,
            topic: topic.to_owned(),
            next: vec![0; count as usize],
            end: vec![None; count as usize],
        }))
    }

    /// Records on the topic not read yet, as the broker lists its partitions' ends (on tansu
    /// 0.6 those can lag behind what its fetches return: then less, never below 0).
    pub fn lag(&self, k: &KafkaSettings) -> Result<i64, KafkaError> {
        let mut lag = 0;
        for (p, next) in self.next.iter().enumerate() {
            let (_, high) = self
                .consumer
                .fetch_watermarks(&self.topic, p as i32, Duration::from_secs(10))
                .map_err(unreachable(k))?;
            lag += (high - next).max(0);
        }
        Ok(lag)
    }

    /// Reads until every partition is at its end (as the fetches say: tansu 0.6's listed ends
    /// can lag behind what a fetch returns) or `budget` has passed, handing each record to
    /// `each` in its partition's offset order.
    pub fn read_on(
        &mut self,
        k: &KafkaSettings,
        budget: Duration,
        mut each: impl FnMut(Polled<'_>) -> Result<(), ReplayError>,
    ) -> Result<(), ReplayError> {
        let started = Instant::now();
        let at_end = |s: &Self| s.end.iter().zip(&s.next).all(|(e, n)| *e == Some(*n));
        while started.elapsed() < budget {
            // What came since the last round shows within a short poll.
            let wait = match at_end(self) {
                true => Duration::from_millis(20),
                false => Duration::from_millis(100),
            };
            match self.consumer.poll(wait) {
                Some(Ok(m)) => {
                    if let Some(n) = self.next.get_mut(m.partition() as usize) {
                        *n = m.offset() + 1;
                    }
                    each(polled(&m))?;
                }
                Some(Err(RdKafkaError::PartitionEOF(p))) => {
                    if let Some(e) = self.end.get_mut(p as usize) {
                        *e = self.next.get(p as usize).copied();
                    }
                }
                Some(Err(RdKafkaError::MessageConsumption(code))) if reconnects(code) => {}
                Some(Err(e)) => return Err(unreachable(k)(e).into()),
                None if at_end(self) => break,
                None => {}
            }
        }
        Ok(())
    }
}

/// A record as [`Polled`], with its headers looked up.
fn polled<'a>(m: &'a BorrowedMessage<'_>) -> Polled<'a> {
    let header = |name: &str| {
        m.headers()
            .and_then(|h| h.iter().find(|h| h.key == name).and_then(|h| h.value))
    };
    Polled {
        partition: m.partition(),
        offset: m.offset(),
        key: m.key().unwrap_or_default(),
        dq: header("dq"),
        shard: header("shard"),
        value: m.payload().unwrap_or_default(),
    }
}

/// A record as it is on the topic, borrowed from the reader's buffer.
pub struct Polled<'a> {
    pub partition: i32,
    pub offset: i64,
    pub key: &'a [u8],
    /// The `dq` header, if any.
    pub dq: Option<&'a [u8]>,
    /// The `shard` header (which instance of a scale-out wrote it), if any.
    pub shard: Option<&'a [u8]>,
    pub value: &'a [u8],
}

/// Reads every partition of `topic` from its beginning to its end in parallel, each partition
/// with its own state (`init`) and in offset order, fetching ahead no more than [`Prefetch`]
/// says; `each` sees every record where it lies (nothing is kept). `None` if the topic does
/// not exist.
pub fn read_stream<S: Send>(
    k: &KafkaSettings,
    prefetch: Prefetch,
    topic: &str,
    init: impl Fn() -> S + Sync,
    each: impl Fn(&mut S, Polled<'_>) -> Result<(), ReplayError> + Sync,
) -> Result<Option<Vec<S>>, ReplayError> {
    let parts = read_all_with(k, prefetch, topic, init, |state, m| each(state, polled(m)))?;
    Ok(parts.map(|parts| parts.into_iter().map(|read| read.state).collect()))
}

/// What the stock topic says.
#[derive(Debug, Default)]
pub struct StockTopic {
    /// The last `new_qty` of every key (`location:product`).
    pub last: FxHashMap<String, i32>,
    /// Records that count (not labelled bad or duplicate).
    pub changes: u64,
    /// (topic, partition, the offset after its last record)
    pub next_offsets: Vec<(String, i32, i64)>,
}

/// A partition's share of the stock topic.
#[derive(Default)]
struct StockPart {
    last: FxHashMap<String, i32>,
    changes: u64,
}

/// Reads `topic` to its end, keeping the last level of each key; records labelled bad or
/// duplicate do not count. `reader()` makes, per partition, what reads a record's value
/// (Confluent wire format) into its `new_qty`. Every key lives in one partition, so the
/// partitions are read in parallel and their results simply joined.
pub fn read_stock_topic<R: FnMut(&[u8]) -> Result<i32, String> + Send>(
    k: &KafkaSettings,
    topic: &str,
    reader: impl Fn() -> R + Sync,
) -> Result<Option<StockTopic>, ReplayError> {
    let parts = read_all(
        k,
        topic,
        || (StockPart::default(), reader()),
        |(part, new_qty), m| {
            if labelled_out(m) {
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
            match part.last.get_mut(key) {
                Some(q) => *q = qty,
                None => {
                    part.last.insert(key.to_owned(), qty);
                }
            }
            part.changes += 1;
            Ok(())
        },
    )?;
    Ok(parts.map(|parts| {
        let mut out = StockTopic::default();
        for read in parts {
            let (part, _) = read.state;
            out.last.extend(part.last);
            out.changes += part.changes;
            out.next_offsets
                .push((topic.to_owned(), read.partition, read.next));
        }
        out
    }))
}

/// The highest run number recorded on the runs topic for `target` (its topic set, see
/// [`crate::config::target_id`]), if any. Records written before runs named their target (no
/// `target` field) belong to the default topic set's target, `default_target`.
pub fn last_run(
    k: &KafkaSettings,
    topic: &str,
    target: &str,
    default_target: &str,
) -> Result<Option<u32>, ReplayError> {
    let parts = read_all(
        k,
        topic,
        || None,
        |last: &mut Option<u32>, m| {
            let record = m
                .payload()
                .and_then(|p| serde_json::from_slice::<serde_json::Value>(p).ok());
            let run = record
                .as_ref()
                .and_then(|v| v.get("run")?.as_u64())
                .ok_or_else(|| {
                    ReplayError::Record(format!(
                        "{topic} partition {} offset {} is not a run record ({{\"run\": N, ...}})",
                        m.partition(),
                        m.offset()
                    ))
                })?;
            let of = record
                .as_ref()
                .and_then(|v| v.get("target")?.as_str())
                .unwrap_or(default_target);
            if of == target {
                *last = (*last).max(Some(run as u32));
            }
            Ok(())
        },
    )?;
    Ok(parts
        .into_iter()
        .flatten()
        .filter_map(|read| read.state)
        .max())
}

/// The outcome of the one record a [`record_run`] producer sends.
#[derive(Default)]
struct Delivered(std::sync::Mutex<Option<Result<(), String>>>);

impl ClientContext for Delivered {}

impl ProducerContext for Delivered {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let outcome = result.as_ref().map(|_| ()).map_err(|(e, _)| e.to_string());
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
    }
}

/// Appends run `run` to the runs topic and waits for the broker's acknowledgement. One record
/// needs no idempotent producer (whose producer id can take half a second to arrive), and its
/// delivery report is polled for in short steps (a flush polls in steps of 0.1 s).
pub fn record_run(
    k: &KafkaSettings,
    topic: &str,
    target: &str,
    run: u32,
    seed: u64,
) -> Result<(), KafkaError> {
    let producer: BaseProducer<Delivered> = client_config(k)
        .set("acks", "all")
        .create_with_context(Delivered::default())
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    let value = serde_json::json!({
        "target": target,
        "run": run,
        "seed": seed,
        "version": env!("CARGO_PKG_VERSION"),
        "started_ms": chrono::Utc::now().timestamp_millis(),
    })
    .to_string();
    producer
        .send(BaseRecord::to(topic).key(target).payload(&value))
        .map_err(|(e, _)| unreachable(k)(e))?;
    let started = Instant::now();
    loop {
        producer.poll(Duration::from_millis(2));
        if let Some(outcome) = producer.context().0.lock().unwrap().take() {
            return outcome.map_err(|cause| KafkaError::Unreachable {
                bootstrap: k.bootstrap.clone(),
                cause: format!("recording run {run} on {topic}: {cause}"),
            });
        }
        if started.elapsed() > k.flush_timeout {
            return Err(KafkaError::Unreachable {
                bootstrap: k.bootstrap.clone(),
                cause: format!(
                    "recording run {run} on {topic}: not acknowledged within KAFKA_FLUSH_TIMEOUT={:?}",
                    k.flush_timeout
                ),
            });
        }
    }
}
