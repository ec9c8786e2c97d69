//! The outbox relay's producer: sends already encoded messages in order and tells up to which
//! outbox row everything is acknowledged (delivery reports arrive out of order across partitions).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use super::client_config::connected_producer;
use super::producer::{owned_headers, send, Poller, StreamCounts};
use super::KafkaError;
use crate::config::KafkaSettings;
use crate::domain::message::{decode_headers, MessageRef};
use crate::domain::ports::{MessageRelay, PublishError, TopicReport};
use crate::domain::stream::{Stream, TopicNames};
use crate::observe::RunStats;

/// Outbox rows in the order they were sent, until each and every one before it is delivered.
#[derive(Debug, Default)]
struct Tracker {
    /// Ordinal of the front of `in_order`.
    base: u64,
    /// (outbox seq, delivered) of each tracked message not yet counted as acknowledged.
    in_order: VecDeque<(i64, bool)>,
    acknowledged: Option<i64>,
    failure: Option<String>,
}

/// Per-stream counts and the in-order acknowledgement watermark.
pub struct RelayContext {
    counts: StreamCounts,
    tracker: Mutex<Tracker>,
}

impl RelayContext {
    fn tracker(&self) -> MutexGuard<'_, Tracker> {
        self.tracker.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ClientContext for RelayContext {}

/// A message's opaque: (its ordinal among tracked messages + 1, or 0) << 8 | (its stream + 1, or 0).
fn opaque(tracked: Option<u64>, stream: Option<usize>) -> usize {
    (tracked.map_or(0, |o| o as usize + 1) << 8) | stream.map_or(0, |s| s + 1)
}

impl ProducerContext for RelayContext {
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let (tracked, stream) = (opaque >> 8, opaque & 0xff);
        if let Err((e, _)) = result {
            self.tracker().failure.get_or_insert_with(|| e.to_string());
        } else if tracked > 0 {
            let mut t = self.tracker();
            let i = (tracked as u64 - 1 - t.base) as usize;
            t.in_order[i].1 = true;
        }
        if stream > 0 {
            self.counts.count(stream - 1, result);
        }
    }
}

pub struct KafkaRelay {
    producer: BaseProducer<RelayContext>,
    topics: TopicNames,
    produced: [u64; Stream::COUNT],
    poller: Poller,
    flush_timeout: Duration,
}

impl KafkaRelay {
    /// Delivery reports go to `stats`.
    pub fn new(
        k: &KafkaSettings,
        topics: TopicNames,
        stats: Arc<RunStats>,
    ) -> Result<Self, KafkaError> {
        let context = RelayContext {
            counts: StreamCounts(stats),
            tracker: Mutex::default(),
        };
        let producer = connected_producer(k, context)?;
        Ok(Self {
            producer,
            topics,
            produced: [0; Stream::COUNT],
            poller: Poller::default(),
            flush_timeout: k.flush_timeout,
        })
    }

    fn failure(&self) -> Option<String> {
        self.producer.context().tracker().failure.clone()
    }
}

impl MessageRelay for KafkaRelay {
    fn send(&mut self, m: &MessageRef<'_>) -> Result<(), PublishError> {
        let headers = decode_headers(m.headers).ok_or_else(|| {
            PublishError::Sink(format!("malformed headers in outbox row {:?}", m.seq))
        })?;
        let headers = owned_headers(5, headers);
        let tracked = m.seq.map(|seq| {
            let mut t = self.producer.context().tracker();
            t.in_order.push_back((seq, false));
            t.base + t.in_order.len() as u64 - 1
        });
        let record = BaseRecord::with_opaque_to(m.topic, opaque(tracked, m.stream))
            .key(m.key)
            .payload(m.value)
            .headers(headers)
            .timestamp(m.ts);
        send(&self.producer, record, m.topic)?;
        if let Some(s) = m.stream {
            self.produced[s] += 1;
        }
        if self.poller.sent(&self.producer) {
            let stats = &self.producer.context().counts.0;
            stats.set_queue_depth(self.producer.in_flight_count().max(0) as u64);
        }
        Ok(())
    }

    fn acknowledged(&mut self) -> Result<Option<i64>, PublishError> {
        self.producer.poll(Duration::ZERO);
        let mut t = self.producer.context().tracker();
        if let Some(e) = &t.failure {
            return Err(PublishError::Sink(format!(
                "Kafka did not acknowledge a record: {e}"
            )));
        }
        while let Some(&(seq, true)) = t.in_order.front() {
            t.in_order.pop_front();
            t.base += 1;
            t.acknowledged = Some(seq);
        }
        Ok(t.acknowledged)
    }

    fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError> {
        let flushed = self.producer.flush(self.flush_timeout);
        let reports = self
            .producer
            .context()
            .counts
            .reports(&self.topics, &self.produced);
        if let Some(e) = self.failure() {
            return Err(PublishError::Sink(format!(
                "Kafka did not acknowledge a record ({e}); it stays in retailgen_outbox and is published at the next start"
            )));
        }
        flushed.map_err(|e| {
            PublishError::Sink(format!(
                "{} records still unacknowledged after KAFKA_FLUSH_TIMEOUT={:?}: {e}; they stay in retailgen_outbox",
                self.producer.in_flight_count(),
                self.flush_timeout
            ))
        })?;
        Ok(reports)
    }
}
