//! Reading back what retailgen produced, through the project's own rdkafka consumer.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

#[derive(Debug, Clone)]
pub struct Consumed {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
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

fn consumed(m: &rdkafka::message::BorrowedMessage<'_>) -> Consumed {
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
    Consumed {
        topic: m.topic().to_owned(),
        partition: m.partition(),
        offset: m.offset(),
        key: String::from_utf8_lossy(m.key().unwrap_or_default()).into_owned(),
        payload: m.payload().unwrap_or_default().to_vec(),
        headers,
        timestamp: m.timestamp().to_millis(),
    }
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
        out.push(consumed(&msg.unwrap()));
    }
}

/// Reads every partition of each of `topics` (those that exist) from the beginning to its end.
pub fn consume_all(bootstrap: &str, topics: &[&str], within: Duration) -> Vec<Consumed> {
    let parts = partitions(bootstrap);
    let started = Instant::now();
    let mut out = Vec::new();
    for t in topics {
        let Some(&n) = parts.get(*t) else { continue };
        let c: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", "retailgen-tests")
            .set("enable.auto.commit", "false")
            .set("enable.partition.eof", "true")
            .create()
            .unwrap();
        let mut tpl = TopicPartitionList::new();
        for p in 0..n {
            tpl.add_partition_offset(t, p as i32, Offset::Beginning)
                .unwrap();
        }
        c.assign(&tpl).unwrap();
        let mut open: std::collections::BTreeSet<i32> = (0..n as i32).collect();
        while !open.is_empty() {
            assert!(
                started.elapsed() < within,
                "{t}: partitions {open:?} not read to their end within {within:?}"
            );
            match c.poll(Duration::from_millis(100)) {
                None => {}
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                    open.remove(&p);
                }
                Some(Err(e)) => panic!("consuming {t}: {e}"),
                Some(Ok(m)) => {
                    open.insert(m.partition());
                    out.push(consumed(&m));
                }
            }
        }
    }
    out
}

/// Creates `topics` with one partition each.
pub fn create_topics(bootstrap: &str, topics: &[&str]) {
    let admin: AdminClient<DefaultClientContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| NewTopic::new(t, 1, TopicReplication::Fixed(1)))
        .collect();
    let rt = super::decode::runtime();
    for r in rt
        .block_on(admin.create_topics(&new, &AdminOptions::new()))
        .unwrap()
    {
        r.unwrap();
    }
}
