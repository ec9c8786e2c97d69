//! The hand-over between the generator's thread and the thread that feeds librdkafka: records
//! are encoded into a shared batch, which the sending thread swaps out and hands to librdkafka
//! (serving its delivery reports) while the generator goes on. On two cores the generator then
//! fills the moments the producer waits for room in librdkafka's queue.

use std::ops::Range;
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

use super::producer::{send, DeliveryCounter, Poller};
use crate::domain::ports::{PublishError, SchemaEncoder, TopicReport};
use crate::domain::record::Record;
use crate::domain::stream::{Stream, TopicNames};

/// The generator waits once this many records wait to be handed over (about 0.3 MB)...
const MOST_WAITING: usize = 4_096;
/// ...and wakes a waiting sender once this many do (fewer wait at most `IDLE_WAIT`).
const WAKE_AT: usize = 64;
/// How long the sending thread waits for records before it looks again (and serves delivery
/// reports): the most a record of a slow run waits before librdkafka has it.
const IDLE_WAIT: Duration = Duration::from_millis(2);

/// One record in a batch: where its key, headers and value are.
struct Item {
    stream: Stream,
    ts: i64,
    key: Range<usize>,
    headers: Range<usize>,
    value: Range<usize>,
}

/// Encoded records back to back: keys, header values and values in one buffer.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    headers: Vec<(&'static str, Range<usize>)>,
    items: Vec<Item>,
}

impl Batch {
    /// Appends `record` encoded by `encoder`; on an error the batch is as it was.
    fn push(&mut self, record: &Record, encoder: &dyn SchemaEncoder) -> Result<(), PublishError> {
        let (start, first_header) = (self.bytes.len(), self.headers.len());
        self.bytes.extend_from_slice(record.key.as_bytes());
        let key = start..self.bytes.len();
        for (name, value) in record.headers() {
            let at = self.bytes.len();
            self.bytes.extend_from_slice(value.as_bytes());
            self.headers.push((name, at..self.bytes.len()));
        }
        let value_at = self.bytes.len();
        if let Err(e) = encoder.encode(record, &mut self.bytes) {
            self.bytes.truncate(start);
            self.headers.truncate(first_header);
            return Err(e.into());
        }
        self.items.push(Item {
            stream: record.stream(),
            ts: record.event.ts(),
            key,
            headers: first_header..self.headers.len(),
            value: value_at..self.bytes.len(),
        });
        Ok(())
    }

    fn len(&self) -> usize {
        self.items.len()
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.headers.clear();
        self.items.clear();
    }
}

/// A flush asked for, and where its answer goes.
type FlushReply = mpsc::SyncSender<Result<Vec<TopicReport>, PublishError>>;

#[derive(Default)]
struct State {
    filling: Batch,
    sender_waiting: bool,
    generator_waiting: bool,
    flush: Option<FlushReply>,
    closed: bool,
    /// The first record librdkafka refused: the run fails with it, later records are dropped.
    failure: Option<String>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    to_sender: Condvar,
    to_generator: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The generator's end: hands records over, asks for flushes, stops the sender when dropped.
pub(super) struct Handover {
    shared: Arc<Shared>,
    sender: Option<std::thread::JoinHandle<()>>,
}

impl Handover {
    /// Starts the sending thread, which owns `producer` from now on.
    pub(super) fn start(
        producer: BaseProducer<DeliveryCounter>,
        topics: TopicNames,
        flush_timeout: Duration,
    ) -> Self {
        let shared = Arc::new(Shared::default());
        let sender = Sender {
            shared: shared.clone(),
            producer,
            poller: Poller::new(),
            topics,
            produced: [0; Stream::COUNT],
            flush_timeout,
        };
        let sender = std::thread::Builder::new()
            .name("kafka-sender".into())
            .spawn(move || sender.run())
            .expect("a thread for the Kafka sender");
        Self {
            shared,
            sender: Some(sender),
        }
    }

    /// Encodes `record` into the batch waiting for the sender (waiting while it is full).
    pub(super) fn push(
        &mut self,
        record: &Record,
        encoder: &dyn SchemaEncoder,
    ) -> Result<(), PublishError> {
        let mut s = self.shared.lock();
        loop {
            if let Some(failure) = &s.failure {
                return Err(PublishError::Sink(failure.clone()));
            }
            if s.filling.len() < MOST_WAITING {
                break;
            }
            s.generator_waiting = true;
            s = self
                .shared
                .to_generator
                .wait(s)
                .unwrap_or_else(|p| p.into_inner());
            s.generator_waiting = false;
        }
        s.filling.push(record, encoder)?;
        if s.sender_waiting && s.filling.len() >= WAKE_AT {
            s.sender_waiting = false;
            self.shared.to_sender.notify_one();
        }
        Ok(())
    }

    /// Waits until every record handed over is delivered or failed; reports per topic.
    pub(super) fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError> {
        let (reply, answer) = mpsc::sync_channel(1);
        {
            let mut s = self.shared.lock();
            s.flush = Some(reply);
            s.sender_waiting = false;
        }
        self.shared.to_sender.notify_one();
        answer
            .recv()
            .unwrap_or_else(|_| Err(PublishError::Sink("the Kafka sender thread stopped".into())))
    }
}

impl Drop for Handover {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.to_sender.notify_one();
        if let Some(sender) = self.sender.take() {
            let _ = sender.join();
        }
    }
}

/// The sending thread: hands batches to librdkafka and serves its delivery reports.
struct Sender {
    shared: Arc<Shared>,
    producer: BaseProducer<DeliveryCounter>,
    poller: Poller,
    topics: TopicNames,
    /// Records handed to librdkafka, per stream.
    produced: [u64; Stream::COUNT],
    flush_timeout: Duration,
}

/// What the sender does next.
enum Next {
    Send,
    Flush(FlushReply),
    Close,
}

impl Sender {
    fn run(mut self) {
        let mut sending = Batch::default();
        loop {
            match self.next(&mut sending) {
                Next::Send => {
                    self.send_all(&sending);
                    sending.clear();
                }
                Next::Flush(reply) => {
                    let _ = reply.send(self.flush());
                }
                Next::Close => return,
            }
        }
    }

    /// Waits for records (serving delivery reports meanwhile) and swaps them into `sending`;
    /// a flush is answered once everything before it is handed over.
    fn next(&mut self, sending: &mut Batch) -> Next {
        let mut s = self.shared.lock();
        loop {
            if s.filling.len() > 0 {
                std::mem::swap(&mut s.filling, sending);
                if s.generator_waiting {
                    self.shared.to_generator.notify_one();
                }
                return Next::Send;
            }
            if let Some(reply) = s.flush.take() {
                return Next::Flush(reply);
            }
            if s.closed {
                return Next::Close;
            }
            s.sender_waiting = true;
            s = self
                .shared
                .to_sender
                .wait_timeout(s, IDLE_WAIT)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            s.sender_waiting = false;
            drop(s);
            self.poller.idle(&self.producer);
            s = self.shared.lock();
        }
    }

    fn send_all(&mut self, batch: &Batch) {
        if self.shared.lock().failure.is_some() {
            return; // the run is failing: nothing more goes out
        }
        for item in &batch.items {
            let headers = batch.headers[item.headers.clone()].iter().fold(
                OwnedHeaders::new_with_capacity(item.headers.len()),
                |h, (key, value)| {
                    h.insert(Header {
                        key,
                        value: Some(&batch.bytes[value.clone()]),
                    })
                },
            );
            let topic = self.topics.of(item.stream);
            let key = std::str::from_utf8(&batch.bytes[item.key.clone()]).expect("keys are text");
            let message = BaseRecord::with_opaque_to(topic, item.stream.index())
                .key(key)
                .payload(&batch.bytes[item.value.clone()])
                .headers(headers)
                .timestamp(item.ts);
            if let Err(e) = send(&self.producer, message, topic) {
                self.shared.lock().failure = Some(e.to_string());
                return;
            }
            self.produced[item.stream.index()] += 1;
            if self.poller.sent(&self.producer) {
                self.set_queue_depth();
            }
        }
    }

    fn set_queue_depth(&self) {
        let stats = &self.producer.context().counts.0;
        stats.set_queue_depth(self.producer.in_flight_count().max(0) as u64);
    }

    /// Flushes what librdkafka holds (also after a refusal: what went before it is delivered).
    fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError> {
        let flushed = self.producer.flush(self.flush_timeout);
        if let Some(failure) = &self.shared.lock().failure {
            return Err(PublishError::Sink(failure.clone()));
        }
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
    use crate::adapters::kafka::producer_config;
    use crate::config::KafkaSettings;
    use crate::domain::events::{Event, Payment, PaymentMethod, PaymentStatus};
    use crate::domain::ports::EncodeError;
    use crate::observe::RunStats;

    /// Writes the record's id as its value.
    struct IdEncoder;

    impl SchemaEncoder for IdEncoder {
        fn encode(&self, record: &Record, out: &mut Vec<u8>) -> Result<(), EncodeError> {
            if record.event.id() == "unencodable" {
                return Err(EncodeError {
                    stream: record.stream(),
                    reason: "a test refusal".into(),
                });
            }
            out.extend_from_slice(record.event.id().as_bytes());
            Ok(())
        }
    }

    fn payment(id: &str, key: String) -> Record {
        Record::new(
            key.into(),
            Some("tr_1".into()),
            Event::Payment(Payment {
                payment_id: id.into(),
                order_id: "ord_1".into(),
                method: PaymentMethod::Card,
                status: PaymentStatus::Settled,
                ts: 1_700_000_000_000,
                amount: Some(1.0),
            }),
        )
    }

    fn topics() -> TopicNames {
        TopicNames(std::array::from_fn(|i| format!("t{i}")))
    }

    /// A producer that accepts records locally (no broker needed) but refuses any over 1,000 bytes.
    fn handover() -> Handover {
        let settings = KafkaSettings {
            bootstrap: "127.0.0.1:9".into(),
            security_protocol: "plaintext".into(),
            ..KafkaSettings::default()
        };
        let producer = producer_config(&settings)
            .set("message.max.bytes", "1000")
            .create_with_context(DeliveryCounter::new(RunStats::new(topics())))
            .unwrap();
        Handover::start(producer, topics(), Duration::from_millis(200))
    }

    #[test]
    fn a_batch_keeps_each_record_s_key_headers_and_value_apart_and_an_encoding_error_leaves_it_as_it_was(
    ) {
        let mut batch = Batch::default();
        batch
            .push(&payment("pay_1", "ord_1".into()), &IdEncoder)
            .unwrap();
        let refused = batch.push(&payment("unencodable", "ord_2".into()), &IdEncoder);
        assert!(matches!(refused, Err(PublishError::Encode(_))));
        batch
            .push(&payment("pay_3", "ord_3".into()), &IdEncoder)
            .unwrap();
        assert_eq!(batch.len(), 2);
        let text = |r: &Range<usize>| std::str::from_utf8(&batch.bytes[r.clone()]).unwrap();
        let second = &batch.items[1];
        assert_eq!(text(&second.key), "ord_3");
        assert_eq!(text(&second.value), "pay_3");
        let headers: Vec<_> = batch.headers[second.headers.clone()]
            .iter()
            .map(|(name, value)| (*name, text(value)))
            .collect();
        assert_eq!(
            headers,
            [
                ("trace_id", "tr_1"),
                ("entity", "payment"),
                ("source", "retailgen")
            ]
        );
    }

    #[test]
    fn a_record_librdkafka_refuses_fails_the_next_publish_and_the_flush_and_names_its_topic() {
        let mut handover = handover();
        handover
            .push(&payment("pay_1", "x".repeat(5_000)), &IdEncoder)
            .expect("handed over: the refusal comes from the sending thread");
        let refused = handover.flush().expect_err("the refusal fails the flush");
        assert!(
            refused
                .to_string()
                .contains("Kafka refused a record for t1"),
            "{refused}"
        );
        let next = handover.push(&payment("pay_2", "ord_2".into()), &IdEncoder);
        assert!(next.is_err(), "no record goes out after a refusal");
    }
}
