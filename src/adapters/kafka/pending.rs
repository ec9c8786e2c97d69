//! The pending topic of Kafka-canonical runs, read back at start-up: the held late records an
//! earlier run had not yet published (entries not tombstoned) go to their topics first.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::message::{Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use super::client_config::connected_producer;
use super::producer::{send, PendingTopic, PENDING_KEY_HEADER, PENDING_TOPIC_HEADER};
use super::replay::{read_all, ReplayError};
use super::KafkaError;
use crate::config::KafkaSettings;

/// A held record as its entry keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its key on the pending topic.
    pub entry: String,
    pub topic: String,
    pub key: String,
    pub payload: Vec<u8>,
    /// Its own headers (the entry's two are left out).
    pub headers: Vec<(String, Vec<u8>)>,
    pub ts: Option<i64>,
}

/// The entries of `pending`'s shard still there (not tombstoned), in the order written.
pub fn entries(k: &KafkaSettings, pending: &PendingTopic) -> Result<Vec<Entry>, ReplayError> {
    let parts = read_all(
        k,
        &pending.topic,
        Vec::<(String, Option<Entry>)>::new,
        |seen, m| {
            let Some(entry) = m.key().and_then(|k| std::str::from_utf8(k).ok()) else {
                return Ok(());
            };
            if !pending.owns(entry) {
                return Ok(());
            }
            let Some(payload) = m.payload() else {
                seen.push((entry.to_owned(), None));
                return Ok(());
            };
            let mut own = Vec::new();
            let (mut topic, mut key) = (None, None);
            for h in m.headers().into_iter().flat_map(|h| h.iter()) {
                let value = h.value.unwrap_or_default();
                match h.key {
                    PENDING_TOPIC_HEADER => topic = String::from_utf8(value.to_vec()).ok(),
                    PENDING_KEY_HEADER => key = String::from_utf8(value.to_vec()).ok(),
                    other => own.push((other.to_owned(), value.to_vec())),
                }
            }
            let (Some(topic), Some(key)) = (topic, key) else {
                return Err(ReplayError::Record(format!(
                    "{} partition {} offset {} is not a pending entry (no {PENDING_TOPIC_HEADER} and {PENDING_KEY_HEADER} headers)",
                    pending.topic,
                    m.partition(),
                    m.offset()
                )));
            };
            seen.push((
                entry.to_owned(),
                Some(Entry {
                    entry: entry.to_owned(),
                    topic,
                    key,
                    payload: payload.to_vec(),
                    headers: own,
                    ts: m.timestamp().to_millis(),
                }),
            ));
            Ok(())
        },
    )?;
    Ok(live(parts.into_iter().flatten().flat_map(|p| p.state)))
}

/// What a log of entries and tombstones leaves, in the order the entries were last written.
fn live(log: impl IntoIterator<Item = (String, Option<Entry>)>) -> Vec<Entry> {
    let mut slot = std::collections::HashMap::new();
    let mut kept: Vec<Option<Entry>> = Vec::new();
    for (key, entry) in log {
        if let Some(earlier) = slot.insert(key, kept.len()) {
            kept[earlier] = None;
        }
        kept.push(entry);
    }
    kept.into_iter().flatten().collect()
}

/// The first failure a republishing producer saw.
#[derive(Default)]
struct Outcome(Mutex<Option<String>>);

impl ClientContext for Outcome {}

impl ProducerContext for Outcome {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            let mut first = self.0.lock().unwrap_or_else(|p| p.into_inner());
            first.get_or_insert_with(|| e.to_string());
        }
    }
}

fn flushed(
    producer: &BaseProducer<Outcome>,
    k: &KafkaSettings,
    what: &str,
) -> Result<(), KafkaError> {
    let unreachable = |cause: String| KafkaError::Unreachable {
        bootstrap: k.bootstrap.clone(),
        cause: format!("{what}: {cause}"),
    };
    producer
        .flush(k.flush_timeout)
        .map_err(|e| unreachable(e.to_string()))?;
    match producer.context().0.lock().unwrap().take() {
        Some(cause) => Err(unreachable(cause)),
        None => Ok(()),
    }
}

/// Publishes `entries` to their topics, waits for every acknowledgement, then tombstones them
/// on `pending` (a crash in between publishes them again: a re-send, with the same bytes).
pub fn republish(
    k: &KafkaSettings,
    pending: &PendingTopic,
    entries: &[Entry],
) -> Result<Duration, KafkaError> {
    let started = Instant::now();
    let producer = connected_producer(k, Outcome::default())?;
    let sink = |e: crate::domain::ports::PublishError| KafkaError::Unreachable {
        bootstrap: k.bootstrap.clone(),
        cause: e.to_string(),
    };
    for e in entries {
        let headers = super::producer::owned_headers(
            e.headers.len(),
            e.headers.iter().map(|(name, value)| (name.as_str(), value)),
        );
        let mut message = BaseRecord::to(&e.topic)
            .key(e.key.as_str())
            .payload(e.payload.as_slice())
            .headers(headers);
        if let Some(ts) = e.ts {
            message = message.timestamp(ts);
        }
        send(&producer, message, &e.topic).map_err(sink)?;
    }
    flushed(&producer, k, "publishing held late records")?;
    for e in entries {
        let tombstone = BaseRecord::<str, [u8], ()>::to(&pending.topic).key(e.entry.as_str());
        send(&producer, tombstone, &pending.topic).map_err(sink)?;
    }
    flushed(&producer, k, "settling held late records")?;
    Ok(started.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, payload: u8) -> Option<Entry> {
        Some(Entry {
            entry: name.into(),
            topic: "orders".into(),
            key: "o".into(),
            payload: vec![payload],
            headers: vec![],
            ts: Some(1),
        })
    }

    #[test]
    fn what_is_left_is_the_entries_not_tombstoned_in_the_order_last_written() {
        let log = vec![
            ("0:1".to_owned(), entry("0:1", 1)),
            ("0:2".to_owned(), entry("0:2", 2)),
            ("0:1".to_owned(), None),
            ("0:3".to_owned(), entry("0:3", 3)),
            ("0:2".to_owned(), entry("0:2", 4)),
        ];
        let left: Vec<(String, u8)> = live(log)
            .into_iter()
            .map(|e| (e.entry, e.payload[0]))
            .collect();
        assert_eq!(left, vec![("0:3".into(), 3), ("0:2".into(), 4)]);
    }
}
