//! The Kafka publisher: a `BaseProducer` polled from the generator thread, whose delivery
//! reports are counted per topic.

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::KafkaError as RdKafkaError;
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

use super::client_config::connected_producer;
use super::KafkaError;
use crate::config::KafkaSettings;
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

impl Poller {
    /// After each send: serves the ready reports when it is time to. True when it did.
    pub fn sent<C: ProducerContext>(&mut self, producer: &BaseProducer<C>) -> bool {
        self.sent += 1;
        let due = self.sent % POLL_EVERY == 0
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

/// Counts delivery reports; the opaque of each message is its stream's index.
pub struct DeliveryCounter {
    counts: StreamCounts,
    /// Whether a delivery failure was already logged (the first one is, the rest are counted).
    failure_logged: AtomicBool,
}

impl DeliveryCounter {
    pub fn new(stats: Arc<RunStats>) -> Self {
        Self {
            counts: StreamCounts(stats),
            failure_logged: AtomicBool::new(false),
        }
    }
}

impl ClientContext for DeliveryCounter {}

impl ProducerContext for DeliveryCounter {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, stream: usize) {
        if let Err((e, _)) = result {
            if !self.failure_logged.swap(true, Ordering::Relaxed) {
                tracing::error!("a record was not delivered: {e}");
            }
        }
        self.counts.count(stream, result);
    }
}

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
pub struct Connecting(std::thread::JoinHandle<Result<BaseProducer<DeliveryCounter>, KafkaError>>);

impl Connecting {
    /// Delivery reports go to `stats`.
    pub fn start(k: &KafkaSettings, stats: Arc<RunStats>) -> Self {
        let k = k.clone();
        Self(std::thread::spawn(move || {
            connected_producer(&k, DeliveryCounter::new(stats))
        }))
    }

    /// The connected producer (blocks until it is).
    fn wait(self) -> Result<BaseProducer<DeliveryCounter>, KafkaError> {
        self.0
            .join()
            .expect("the producer's connecting thread panicked")
    }
}

pub struct KafkaPublisher {
    producer: BaseProducer<DeliveryCounter>,
    poller: Poller,
    encoder: Box<dyn SchemaEncoder>,
    topics: TopicNames,
    produced: [u64; Stream::COUNT],
    flush_timeout: Duration,
    buf: Vec<u8>,
}

impl KafkaPublisher {
    /// A publisher on the producer `connecting` yields (blocks until it is connected).
    pub fn new(
        connecting: Connecting,
        k: &KafkaSettings,
        topics: TopicNames,
        encoder: Box<dyn SchemaEncoder>,
    ) -> Result<Self, KafkaError> {
        let producer = connecting.wait()?;
        Ok(Self {
            producer,
            encoder,
            topics,
            produced: [0; Stream::COUNT],
            poller: Poller::default(),
            flush_timeout: k.flush_timeout,
            buf: Vec::with_capacity(512),
        })
    }
}

impl EventPublisher for KafkaPublisher {
    fn publish(&mut self, record: &Record) -> Result<(), PublishError> {
        let stream = record.stream();
        self.buf.clear();
        self.encoder.encode(record, &mut self.buf)?;
        let headers = owned_headers(3, record.headers());
        let message = BaseRecord::with_opaque_to(self.topics.of(stream), stream.index())
            .key(record.key.as_str())
            .payload(self.buf.as_slice())
            .headers(headers)
            .timestamp(record.event.ts());
        send(&self.producer, message, self.topics.of(stream))?;
        self.produced[stream.index()] += 1;
        if self.poller.sent(&self.producer) {
            let stats = &self.producer.context().counts.0;
            stats.set_queue_depth(self.producer.in_flight_count().max(0) as u64);
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError> {
        let flushed = self.producer.flush(self.flush_timeout);
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
