//! Sinks other than Kafka: JSON lines on stdout, Avro container files, and the counting null sink.

pub mod file;
pub mod null;
pub mod stdout;

use std::sync::Arc;

use crate::domain::ports::TopicReport;
use crate::domain::stream::{Stream, TopicNames};
use crate::observe::RunStats;

/// Records written per topic, for sinks where written means acknowledged.
#[derive(Debug, Clone)]
pub struct TopicCounter {
    topics: TopicNames,
    written: [u64; Stream::COUNT],
    stats: Option<Arc<RunStats>>,
}

impl TopicCounter {
    pub fn new(topics: TopicNames) -> Self {
        Self {
            topics,
            written: [0; Stream::COUNT],
            stats: None,
        }
    }

    /// Counts each written record as acknowledged in `stats` too.
    pub fn observed_by(mut self, stats: Arc<RunStats>) -> Self {
        self.stats = Some(stats);
        self
    }

    pub fn topic(&self, stream: Stream) -> &str {
        self.topics.of(stream)
    }

    pub fn count(&mut self, stream: Stream) {
        self.written[stream.index()] += 1;
        if let Some(stats) = &self.stats {
            stats.taken(stream);
        }
    }

    pub fn reports(&self) -> Vec<TopicReport> {
        self.topics
            .iter()
            .map(|(s, topic)| TopicReport {
                topic: topic.to_owned(),
                produced: self.written[s.index()],
                acknowledged: self.written[s.index()],
                failed: 0,
            })
            .collect()
    }
}
