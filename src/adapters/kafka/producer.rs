//! The Kafka publisher: a `BaseProducer` polled from the generator thread, whose delivery
//! reports are counted per topic.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

use super::barrier::{Barrier, KeyHash, Ticket};
use super::client_config::{connected_producer, producer_config};
use super::features::offers_transactions;
use super::KafkaError;
use crate::config::{KafkaSettings, Transactions};
use crate::domain::ports::{EventPublisher, PublishError, SchemaEncoder, TopicReport};
use crate::domain::record::Record;
use crate::domain::stream::{Stream, TopicNames};
use crate::observe::RunStats;

/// How long to sleep when librdkafka's queue is full and no delivery report is ready to free
/// room (backpressure). A sleep, not a timed poll: rdkafka rounds a timeout under 1 ms down to
/// 0, so `poll(1 ms)` spins for that millisecond, taking the CPU from librdkafka's own threads
/// and, on a small machine, from the broker.
const QUEUE_FULL_BACKOFF: Duration = Duration::from_micros(200);
/// Delivery reports are served every this many records (all that are ready, and whenever the
/// queue is full)...
const POLL_EVERY: u64 = 256;
/// ...and the clock is read every this many records, so that at least every `DRAIN_EVERY`...
const CLOCK_EVERY: u64 = 16;
const DRAIN_EVERY: Duration = Duration::from_millis(100);
/// ...up to this many events are served. A poll serves one event (a batch of delivery reports,
/// or one client error): while the broker is down, errors would otherwise queue up in front
/// of the delivery reports that say records failed.
const DRAIN_EVENTS: usize = 1_000;

/// When to serve delivery reports, from the thread that sends.
pub struct Poller {
    sent: u64,
    drained: Instant,
}

impl Default for Poller {
    fn default() -> Self {
        Self {
            sent: 0,
            drained: Instant::now(),
        }
    }
}

/// While records wait at the barrier for acknowledgements, reports are served at least this often
/// (the clock is read at every record then), so a waiting record is not held by a slow rate.
const DRAIN_WAITING_EVERY: Duration = Duration::from_millis(2);

impl Poller {
    /// After each send: serves the ready reports when it is time to. True when it did.
    pub fn sent<C: ProducerContext>(&mut self, producer: &BaseProducer<C>) -> bool {
        self.put(producer, false)
    }

    /// After each record: serves the ready reports when it is time to, soon when some record
    /// waits for them (`waiting`). True when it did.
    fn put<C: ProducerContext>(&mut self, producer: &BaseProducer<C>, waiting: bool) -> bool {
        self.sent += 1;
        let due = self.sent % POLL_EVERY == 0
            || (waiting && self.drained.elapsed() >= DRAIN_WAITING_EVERY)
            || (self.sent % CLOCK_EVERY == 0 && self.drained.elapsed() >= DRAIN_EVERY);
        if due {
            serve_ready(producer);
            self.drained = Instant::now();
        }
        due
    }
}

/// Serves the delivery reports that are ready (a poll serves one batch): each one served frees
/// its records' room in librdkafka's queue, which counts them until their report is served.
/// True when it served any.
fn serve_ready<C: ProducerContext>(producer: &BaseProducer<C>) -> bool {
    let mut waiting = producer.in_flight_count();
    for served in 0..DRAIN_EVENTS {
        producer.poll(Duration::ZERO);
        let now = producer.in_flight_count();
        if now >= waiting {
            return served > 0;
        }
        waiting = now;
    }
    true
}

/// Delivery reports counted per stream, with the offsets they name, in the run's live figures.
pub(super) struct StreamCounts(pub(super) Arc<RunStats>);

impl StreamCounts {
    pub(super) fn count(&self, stream: usize, result: &DeliveryResult<'_>) {
        let at = result.as_ref().ok().map(|m| (m.partition(), m.offset()));
        self.0.delivered(Stream::ALL[stream], at);
    }

    /// Per topic: `produced` as handed over, and the reports counted so far.
    pub(super) fn reports(
        &self,
        topics: &TopicNames,
        produced: &[u64; Stream::COUNT],
    ) -> Vec<TopicReport> {
        topics
            .iter()
            .map(|(s, topic)| TopicReport {
                topic: topic.to_owned(),
                produced: produced[s.index()],
                acknowledged: self.0.acknowledged_of(s),
                failed: self.0.failed_of(s),
            })
            .collect()
    }
}

/// Counts delivery reports and answers the barrier; a message's opaque says which record it is
/// ([`Opaque`]).
pub struct DeliveryCounter {
    counts: StreamCounts,
    barrier: Mutex<Barrier<Parked>>,
    /// Whether the barrier heard of an acknowledgement since the publisher last looked (so it
    /// need not lock the barrier to find nothing new).
    progress: AtomicBool,
    /// Whether a delivery failure was already logged (the first one is, the rest are counted).
    failure_logged: AtomicBool,
}

impl DeliveryCounter {
    pub fn new(stats: Arc<RunStats>) -> Self {
        Self {
            counts: StreamCounts(stats),
            barrier: Mutex::new(Barrier::default()),
            progress: AtomicBool::new(false),
            failure_logged: AtomicBool::new(false),
        }
    }

    fn barrier(&self) -> MutexGuard<'_, Barrier<Parked>> {
        self.barrier.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ClientContext for DeliveryCounter {}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        if let Err((e, _)) = result {
            if !self.failure_logged.swap(true, Ordering::Relaxed) {
                tracing::error!("a record was not delivered: {e}");
            }
        }
        let Some(of) = Opaque::decode(opaque) else {
            // A tombstone: lost, its entry is published again by the next start (a re-send).
            return;
        };
        if !of.pending {
            self.counts.count(of.stream.index(), result);
        }
        if let Some(ticket) = of.ticket {
            self.barrier().answered(of.stream, ticket);
            self.progress.store(true, Ordering::Release);
        }
    }
}

/// Which record a message is: its stream, its ticket of the barrier (none in a transaction), and
/// whether it went to the pending topic (a held late record) rather than its own; tombstones are
/// [`Opaque::TOMBSTONE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Opaque {
    stream: Stream,
    ticket: Option<Ticket>,
    pending: bool,
}

impl Opaque {
    const TOMBSTONE: usize = usize::MAX;

    fn encode(self) -> usize {
        let ticket = self.ticket.map_or(0, |t| ((t as usize) << 6) | 0x20);
        ticket | (usize::from(self.pending) << 4) | self.stream.index()
    }

    fn decode(opaque: usize) -> Option<Self> {
        (opaque != Self::TOMBSTONE).then(|| Self {
            stream: Stream::ALL[opaque & 0xf],
            ticket: (opaque & 0x20 != 0).then_some((opaque >> 6) as u64),
            pending: opaque & 0x10 != 0,
        })
    }
}

/// A record waiting at the barrier, encoded, to be sent as it would have been.
pub struct Parked {
    /// Its key on the pending topic, if it is held there.
    pending: Option<String>,
    key: crate::domain::Text,
    payload: Vec<u8>,
    headers: OwnedHeaders,
    ts: i64,
}

/// Where the held late records of a Kafka-canonical run wait until due: a compacted topic,
/// keyed by target (topic set), shard and held id, whose entries carry the record's own topic and key in headers
/// and are tombstoned once the record is on its topic (start-up publishes what is left).
#[derive(Debug, Clone)]
pub struct PendingTopic {
    pub topic: String,
    /// The topic set the run writes ([`crate::config::target_id`]).
    pub target: String,
    pub shard: u32,
}

/// Header of a pending entry: the topic its record goes to.
pub const PENDING_TOPIC_HEADER: &str = "retailgen_topic";
/// Header of a pending entry: its record's own key.
pub const PENDING_KEY_HEADER: &str = "retailgen_key";

impl PendingTopic {
    /// The entry of held record `id`.
    pub fn key(&self, id: i64) -> String {
        format!("{}:{}:{id}", self.target, self.shard)
    }

    /// Whether `key` is an entry of this target's shard.
    pub fn owns(&self, key: &str) -> bool {
        key.rsplit_once(':')
            .is_some_and(|(of, _)| of == format!("{}:{}", self.target, self.shard))
    }
}

/// A record's headers; on the pending topic also its own topic and key.
fn message_headers(topics: &TopicNames, record: &Record, pending: bool) -> OwnedHeaders {
    let headers = owned_headers(5, record.headers());
    match pending {
        false => headers,
        true => headers
            .insert(Header {
                key: PENDING_TOPIC_HEADER,
                value: Some(topics.of(record.stream())),
            })
            .insert(Header {
                key: PENDING_KEY_HEADER,
                value: Some(record.key.as_str()),
            }),
    }
}

/// A key as the barrier knows it.
fn key_hash(key: &str) -> KeyHash {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(key)
}

/// Buffers of sent parked records kept for reuse.
const SPARE_BUFFERS: usize = 4_096;

/// Records waiting at the barrier beyond which generation waits for acknowledgements.
const MAX_WAITING: usize = 20_000;

/// librdkafka's headers of `pairs` (name, value), in their order; `capacity` of them fit
/// before its list grows.
pub fn owned_headers<K, V>(capacity: usize, pairs: impl IntoIterator<Item = (K, V)>) -> OwnedHeaders
where
    K: AsRef<str>,
    V: Deref<Target: AsRef<[u8]>>,
{
    pairs.into_iter().fold(
        OwnedHeaders::new_with_capacity(capacity),
        |h, (key, value)| {
            h.insert(Header {
                key: key.as_ref(),
                value: Some(value.deref().as_ref()),
            })
        },
    )
}

/// Hands `message` to librdkafka, serving delivery reports and retrying while its queue is full.
pub fn send<'a, C: ProducerContext>(
    producer: &BaseProducer<C>,
    mut message: BaseRecord<'a, str, [u8], C::DeliveryOpaque>,
    topic: &str,
) -> Result<(), PublishError> {
    loop {
        match producer.send(message) {
            Ok(()) => return Ok(()),
            Err((RdKafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                message = back;
                if !serve_ready(producer) {
                    std::thread::sleep(QUEUE_FULL_BACKOFF);
                }
            }
            Err((e, _)) => {
                return Err(PublishError::Sink(format!(
                    "Kafka refused a record for {topic}: {e}"
                )))
            }
        }
    }
}

/// The publisher's producer, connecting on a thread of its own while start-up goes on: an
/// idempotent producer's id can take half a second to arrive (librdkafka retries its request
/// every 0.5 s until a broker is up), which this overlaps with the rest of start-up.
pub struct Connecting(ConnectingThread);

type ConnectingThread =
    std::thread::JoinHandle<Result<(BaseProducer<DeliveryCounter>, bool), KafkaError>>;

/// How long asking a broker whether it offers transactions may take.
const TRANSACTIONS_PROBE: Duration = Duration::from_secs(5);

impl Connecting {
    /// Delivery reports go to `stats`. With `KAFKA_TRANSACTIONS` auto or on, the producer may
    /// commit in Kafka transactions under `transactional_id`, which a restart fences.
    pub fn start(k: &KafkaSettings, stats: Arc<RunStats>, transactional_id: String) -> Self {
        let k = k.clone();
        Self(std::thread::spawn(move || match k.transactions {
            Transactions::Off => {
                connected_producer(&k, DeliveryCounter::new(stats)).map(|p| (p, false))
            }
            _ => transactional(&k, &transactional_id, stats),
        }))
    }

    /// The connected producer, and whether it is transactional (blocks until it is connected).
    fn wait(self) -> Result<(BaseProducer<DeliveryCounter>, bool), KafkaError> {
        self.0
            .join()
            .expect("the producer's connecting thread panicked")
    }
}

/// A transactional producer with id `id`, or with `KAFKA_TRANSACTIONS=auto` on a cluster
/// without transactions (or one it cannot ask over plaintext) the barrier's plain one.
fn transactional(
    k: &KafkaSettings,
    id: &str,
    stats: Arc<RunStats>,
) -> Result<(BaseProducer<DeliveryCounter>, bool), KafkaError> {
    let plaintext = k.security_protocol.eq_ignore_ascii_case("plaintext");
    let offered = match plaintext {
        true => offers_transactions(&k.bootstrap, TRANSACTIONS_PROBE),
        false => Err(format!(
            "not asked over {} (KAFKA_TRANSACTIONS=on uses them)",
            k.security_protocol
        )),
    };
    let started = match (&offered, k.transactions) {
        (Ok(false), _) => Err("the cluster offers no transactions (no EndTxn API)".to_owned()),
        (Err(cause), Transactions::Auto) => Err(cause.clone()),
        _ => {
            let mut config = producer_config(k);
            config.set("transactional.id", id);
            config
                .create_with_context(DeliveryCounter::new(stats.clone()))
                .map_err(|e| e.to_string())
                .and_then(|p: BaseProducer<DeliveryCounter>| {
                    p.init_transactions(k.flush_timeout)
                        .map_err(|e| e.to_string())?;
                    Ok(p)
                })
        }
    };
    match (started, k.transactions) {
        (Ok(producer), _) => {
            tracing::info!("groups are committed in Kafka transactions (transactional.id {id})");
            Ok((producer, true))
        }
        (Err(cause), Transactions::On) => Err(KafkaError::Client(format!(
            "KAFKA_TRANSACTIONS=on, but the cluster at {} cannot run a transactional producer: {cause} (valid: a cluster with transactions, or KAFKA_TRANSACTIONS=auto or off)",
            k.bootstrap
        ))),
        (Err(cause), _) => {
            tracing::info!(
                "no Kafka transactions ({cause}): each record waits until what it names is acknowledged"
            );
            connected_producer(k, DeliveryCounter::new(stats)).map(|p| (p, false))
        }
    }
}

/// Publishes records through the barrier: each goes to the producer once what it names is
/// acknowledged (see [`Barrier`]); held late records wait on the pending topic, if any.
pub struct KafkaPublisher {
    producer: BaseProducer<DeliveryCounter>,
    poller: Poller,
    encoder: Box<dyn SchemaEncoder>,
    topics: TopicNames,
    pending: Option<PendingTopic>,
    /// When the open Kafka transaction began, if groups are committed in transactions.
    transaction: Option<Instant>,
    produced: [u64; Stream::COUNT],
    flush_timeout: Duration,
    buf: Vec<u8>,
    /// Buffers of parked records already sent, for the next records that wait.
    spare: Vec<Vec<u8>>,
}

/// A transaction is committed at the end of the first group after it has been open this long.
const TRANSACTION_SPAN: Duration = Duration::from_millis(100);

impl KafkaPublisher {
    /// A publisher on the producer `connecting` yields (blocks until it is connected); held
    /// late records are kept on `pending`, if given, until due.
    pub fn new(
        connecting: Connecting,
        k: &KafkaSettings,
        topics: TopicNames,
        pending: Option<PendingTopic>,
        encoder: Box<dyn SchemaEncoder>,
    ) -> Result<Self, KafkaError> {
        let (producer, transactional) = connecting.wait()?;
        let transaction = match transactional {
            true => {
                producer.begin_transaction().map_err(|e| {
                    KafkaError::Client(format!("beginning a Kafka transaction: {e}"))
                })?;
                Some(Instant::now())
            }
            false => None,
        };
        Ok(Self {
            producer,
            encoder,
            topics,
            pending,
            transaction,
            produced: [0; Stream::COUNT],
            poller: Poller::default(),
            flush_timeout: k.flush_timeout,
            buf: Vec::with_capacity(512),
            spare: Vec::new(),
        })
    }

    /// Encodes `record` and hands it to the producer once the barrier lets it through (in a
    /// transaction at once): to its topic, or held as `pending` on the pending topic; its
    /// acknowledgement `settles` an entry.
    fn put(
        &mut self,
        record: &Record,
        pending: Option<String>,
        settles: Option<Box<str>>,
    ) -> Result<(), PublishError> {
        let stream = record.stream();
        self.buf.clear();
        self.encoder.encode(record, &mut self.buf)?;
        if pending.is_none() {
            self.produced[stream.index()] += 1;
        }
        let headers = |topics: &TopicNames| message_headers(topics, record, pending.is_some());
        // In a transaction a group is seen whole or not at all: nothing needs to wait.
        let (ticket, settles, waiting) = match self.transaction {
            Some(_) => (Some(None), settles, 0),
            None => {
                // A parked record takes the encoded buffer along; the next record gets a spare.
                let parked = || Parked {
                    pending: pending.clone(),
                    key: record.key.clone(),
                    payload: std::mem::replace(&mut self.buf, self.spare.pop().unwrap_or_default()),
                    headers: headers(&self.topics),
                    ts: record.event.ts(),
                };
                let names = record
                    .named_keys()
                    .map(|n| n.map(|(s, k)| (s, key_hash(k))));
                let key = key_hash(record.key.as_str());
                let mut barrier = self.producer.context().barrier();
                let ticket = barrier.admit(stream, key, record.event.ts(), names, settles, parked);
                (ticket.map(Some), None, barrier.waiting())
            }
        };
        if let Some(ticket) = ticket {
            let of = Opaque {
                stream,
                ticket,
                pending: pending.is_some(),
            };
            let key = pending.as_deref().unwrap_or(record.key.as_str());
            let headers = headers(&self.topics);
            self.send_as(of, key, &self.buf, headers, record.event.ts())?;
        }
        self.sent(waiting > 0);
        // A release in a transaction settles its entry in the same transaction.
        self.tombstone(settles.into_iter())?;
        self.release_ready()?;
        if waiting >= MAX_WAITING {
            self.wait_below(MAX_WAITING / 2)?;
        }
        Ok(())
    }

    /// Tombstones the pending entries `settled`.
    fn tombstone(&self, settled: impl Iterator<Item = Box<str>>) -> Result<(), PublishError> {
        let Some(pending) = &self.pending else {
            return Ok(());
        };
        for key in settled {
            let tombstone =
                BaseRecord::<str, [u8], usize>::with_opaque_to(&pending.topic, Opaque::TOMBSTONE)
                    .key(&key);
            send(&self.producer, tombstone, &pending.topic)?;
        }
        Ok(())
    }

    /// Commits the open transaction: every record of its groups becomes visible at once.
    fn commit(&mut self) -> Result<(), PublishError> {
        self.producer
            .commit_transaction(self.flush_timeout)
            .map_err(|e| {
                PublishError::Sink(format!(
                    "committing a Kafka transaction failed ({e}): its records are not visible to read_committed consumers, and the run stops"
                ))
            })
    }

    /// Hands the record `of` names to the producer: to its topic, or to the pending topic.
    fn send_as(
        &self,
        of: Opaque,
        key: &str,
        payload: &[u8],
        headers: OwnedHeaders,
        ts: i64,
    ) -> Result<(), PublishError> {
        let topic = match (of.pending, &self.pending) {
            (true, Some(p)) => &p.topic,
            _ => self.topics.of(of.stream),
        };
        let message = BaseRecord::with_opaque_to(topic, of.encode())
            .key(key)
            .payload(payload)
            .headers(headers)
            .timestamp(ts);
        send(&self.producer, message, topic)
    }

    /// After each record: serves delivery reports when due (soon while records `waiting`).
    fn sent(&mut self, waiting: bool) {
        if self.poller.put(&self.producer, waiting) {
            let stats = &self.producer.context().counts.0;
            stats.set_queue_depth(self.producer.in_flight_count().max(0) as u64);
        }
    }

    /// Sends the parked records the barrier now lets through, and the tombstones of the pending
    /// entries whose records are acknowledged.
    fn release_ready(&mut self) -> Result<(), PublishError> {
        if !self
            .producer
            .context()
            .progress
            .swap(false, Ordering::Acquire)
        {
            return Ok(());
        }
        let (ready, settled) = {
            let mut barrier = self.producer.context().barrier();
            (barrier.release(), barrier.take_settled())
        };
        for (stream, ticket, parked) in ready {
            let of = Opaque {
                stream,
                ticket: Some(ticket),
                pending: parked.pending.is_some(),
            };
            let key = parked.pending.as_deref().unwrap_or(&parked.key);
            self.send_as(of, key, &parked.payload, parked.headers, parked.ts)?;
            if self.spare.len() < SPARE_BUFFERS {
                let mut payload = parked.payload;
                payload.clear();
                self.spare.push(payload);
            }
        }
        self.tombstone(settled.into_iter())
    }

    /// Serves delivery reports and sends what they let through until at most `bound` records
    /// wait, for up to `KAFKA_FLUSH_TIMEOUT` without progress.
    fn wait_below(&mut self, bound: usize) -> Result<(), PublishError> {
        let mut progress = Instant::now();
        let mut waiting = self.producer.context().barrier().waiting();
        while waiting > bound {
            if !serve_ready(&self.producer) {
                std::thread::sleep(QUEUE_FULL_BACKOFF);
            }
            self.release_ready()?;
            let now = self.producer.context().barrier().waiting();
            if now < waiting {
                progress = Instant::now();
            } else if progress.elapsed() > self.flush_timeout {
                return Err(PublishError::Sink(format!(
                    "{now} records still wait for the acknowledgement of records they name after KAFKA_FLUSH_TIMEOUT={:?}",
                    self.flush_timeout
                )));
            }
            waiting = now;
        }
        Ok(())
    }
}

impl EventPublisher for KafkaPublisher {
    fn publish(&mut self, record: &Record) -> Result<(), PublishError> {
        self.put(record, None, None)
    }

    fn hold(&mut self, record: &Record, id: i64) -> Result<(), PublishError> {
        match &self.pending {
            Some(p) => {
                let key = p.key(id);
                self.put(record, Some(key), None)
            }
            None => Ok(()),
        }
    }

    fn release(&mut self, record: &Record, id: i64) -> Result<(), PublishError> {
        let settles = self.pending.as_ref().map(|p| p.key(id).into_boxed_str());
        self.put(record, None, settles)
    }

    fn end_group(&mut self) -> Result<(), PublishError> {
        match self.transaction {
            Some(began) if began.elapsed() >= TRANSACTION_SPAN => {
                self.commit()?;
                self.producer.begin_transaction().map_err(|e| {
                    PublishError::Sink(format!("beginning a Kafka transaction failed: {e}"))
                })?;
                self.transaction = Some(Instant::now());
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError> {
        if self.transaction.take().is_some() {
            self.commit()?;
        }
        self.wait_below(0)?;
        // The last acknowledgements settle pending entries: their tombstones go out too.
        let flushed = loop {
            let flushed = self.producer.flush(self.flush_timeout);
            let settled = self.producer.context().barrier().has_settled();
            if flushed.is_err() || !settled {
                break flushed;
            }
            self.release_ready()?;
        };
        let reports = self
            .producer
            .context()
            .counts
            .reports(&self.topics, &self.produced);
        match flushed {
            Ok(()) => Ok(reports),
            Err(e) => Err(PublishError::Sink(format!(
                "{} records still unacknowledged after KAFKA_FLUSH_TIMEOUT={:?}: {e}",
                self.producer.in_flight_count(),
                self.flush_timeout
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_opaque_names_its_record() {
        for (stream, ticket, pending) in [
            (Stream::Orders, Some(0), false),
            (Stream::ShelfEvents, Some(1 << 40), true),
            (Stream::Refunds, Some(12_345), false),
            (Stream::PosEvents, None, true),
            (Stream::RestockAlerts, None, false),
        ] {
            let of = Opaque {
                stream,
                ticket,
                pending,
            };
            assert_eq!(Opaque::decode(of.encode()), Some(of));
        }
        assert_eq!(Opaque::decode(Opaque::TOMBSTONE), None);
    }

    #[test]
    fn a_pending_entry_names_its_shard() {
        let p = PendingTopic {
            topic: "retailgen-runs.pending".into(),
            target: "t1".into(),
            shard: 2,
        };
        assert_eq!(p.key(7), "t1:2:7");
        assert!(p.owns("t1:2:7"));
        for other in ["t1:12:7", "t1:1:7", "t2:2:7", "xt1:2:7", "2:7", "7"] {
            assert!(!p.owns(other), "{other}");
        }
    }
}
