//! The outbox relay's producer: sends already encoded messages in order and tells up to which
//! outbox row everything is acknowledged (delivery reports arrive out of order across partitions).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use super::client_config::producer_config;
use super::producer::{send, StreamCounts};
use super::KafkaError;
use crate::config::KafkaSettings;
use crate::domain::message::{decode_headers, Message};
use crate::domain::ports::{MessageRelay, PublishError, TopicReport};
use crate::domain::stream::{Stream, TopicNames};

/// Delivery reports are served every this many messages (and whenever the queue is full).
const POLL_EVERY: u64 = 256;

#[derive(Debug, Default)]
struct Tracker {
    /// Ordinal of the front of `in_order`.
    base: u64,
    /// (outbox seq, delivered) of each message sent and not yet counted as acknowledged.
    in_order: VecDeque<(Option<i64>, bool)>,
    acknowledged: Option<i64>,
    failure: Option<String>,
}

/// Per-stream counts and the in-order acknowledgement watermark.
#[derive(Default)]
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

/// The opaque of a message: its ordinal in send order, and its stream (+1; 0 = none).
type Opaque = (u64, usize);

impl ProducerContext for RelayContext {
    type DeliveryOpaque = Box<Opaque>;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: Box<Opaque>) {
        let (ordinal, stream) = *opaque;
        let mut t = self.tracker();
        match result {
            Ok(_) => {
                let i = (ordinal - t.base) as usize;
                t.in_order[i].1 = true;
            }
            Err((e, _)) => {
                t.failure.get_or_insert_with(|| e.to_string());
            }
        }
        if stream > 0 {
            self.counts.count(stream - 1, result.is_ok());
        }
    }
}

pub struct KafkaRelay {
    producer: BaseProducer<RelayContext>,
    topics: TopicNames,
    produced: [u64; Stream::COUNT],
    sent: u64,
    flush_timeout: Duration,
}

impl KafkaRelay {
    pub fn new(k: &KafkaSettings, topics: TopicNames) -> Result<Self, KafkaError> {
        let producer = producer_config(k)
            .create_with_context(RelayContext::default())
            .map_err(|e| KafkaError::Client(e.to_string()))?;
        Ok(Self {
            producer,
            topics,
            produced: [0; Stream::COUNT],
            sent: 0,
            flush_timeout: k.flush_timeout,
        })
    }

    fn failure(&self) -> Option<String> {
        self.producer.context().tracker().failure.clone()
    }
}

impl MessageRelay for KafkaRelay {
    fn send(&mut self, m: &Message) -> Result<(), PublishError> {
        let headers = decode_headers(&m.headers).ok_or_else(|| {
            PublishError::Sink(format!("malformed headers in outbox row {:?}", m.seq))
        })?;
        let headers =
            headers
                .into_iter()
                .fold(OwnedHeaders::new_with_capacity(5), |h, (key, value)| {
                    h.insert(Header {
                        key,
                        value: Some(value),
                    })
                });
        self.producer
            .context()
            .tracker()
            .in_order
            .push_back((m.seq, false));
        let opaque = Box::new((self.sent, m.stream.map_or(0, |s| s + 1)));
        let record = BaseRecord::with_opaque_to(m.topic.as_str(), opaque)
            .key(m.key.as_str())
            .payload(m.value.as_slice())
            .headers(headers)
            .timestamp(m.ts);
        send(&self.producer, record, &m.topic)?;
        if let Some(s) = m.stream {
            self.produced[s] += 1;
        }
        self.sent += 1;
        if self.sent % POLL_EVERY == 0 {
            self.producer.poll(Duration::ZERO);
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
            if seq.is_some() {
                t.acknowledged = seq;
            }
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
