//! Reading back what retailgen produced, through the project's own rdkafka consumer.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

#[derive(Debug, Clone)]
pub struct Consumed {
    pub topic: String,
    pub partition: i32,
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: BTreeMap<String, String>,
    pub timestamp: Option<i64>,
}

fn consumer(bootstrap: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", "retailgen-tests")
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap()
}

/// Partition count per topic; topics that do not exist are absent.
pub fn partitions(bootstrap: &str) -> BTreeMap<String, usize> {
    let c = consumer(bootstrap);
    let md = c.fetch_metadata(None, Duration::from_secs(10)).unwrap();
    md.topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name().to_owned(), t.partitions().len()))
        .collect()
}

/// Reads `topics` from the beginning until `expected` records arrived, then a moment longer to
/// catch any extra record; panics if fewer arrive within `within`.
pub fn consume(
    bootstrap: &str,
    topics: &[&str],
    expected: usize,
    within: Duration,
) -> Vec<Consumed> {
    let c = consumer(bootstrap);
    let parts = partitions(bootstrap);
    let mut tpl = TopicPartitionList::new();
    for t in topics {
        for p in 0..*parts
            .get(*t)
            .unwrap_or_else(|| panic!("topic {t} does not exist"))
        {
            tpl.add_partition_offset(t, p as i32, Offset::Beginning)
                .unwrap();
        }
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::with_capacity(expected);
    let started = Instant::now();
    let mut settle: Option<Instant> = None;
    loop {
        if out.len() >= expected
            && settle.get_or_insert_with(Instant::now).elapsed() > Duration::from_secs(1)
        {
            return out;
        }
        assert!(
            started.elapsed() < within,
            "only {} of {expected} records arrived within {within:?}",
            out.len()
        );
        let Some(msg) = c.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = msg.unwrap();
        let headers = m
            .headers()
            .map(|h| {
                h.iter()
                    .map(|x| {
                        (
                            x.key.to_owned(),
                            String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Consumed {
            topic: m.topic().to_owned(),
            partition: m.partition(),
            key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
            payload: m.payload().unwrap_or_default().to_vec(),
            headers,
            timestamp: m.timestamp().to_millis(),
        });
    }
}
