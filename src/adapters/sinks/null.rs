//! Encodes every record in Confluent wire format, counts it and throws it away (for benchmarks).

use super::TopicCounter;
use crate::domain::ports::{EventPublisher, PublishError, SchemaEncoder, TopicReport};
use crate::domain::record::Record;

pub struct NullSink {
    encoder: Box<dyn SchemaEncoder>,
    buf: Vec<u8>,
    counter: TopicCounter,
    /// Bytes encoded, so the work cannot be optimised away.
    pub bytes: u64,
}

impl NullSink {
    pub fn new(encoder: Box<dyn SchemaEncoder>, counter: TopicCounter) -> Self {
        Self {
            encoder,
            buf: Vec::with_capacity(512),
            counter,
            bytes: 0,
        }
    }
}

impl EventPublisher for NullSink {
    fn publish(&mut self, record: &Record) -> Result<(), PublishError> {
        self.buf.clear();
        self.encoder.encode(record, &mut self.buf)?;
        self.bytes += self.buf.len() as u64;
        self.counter.count(record.stream());
        Ok(())
    }

    fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError> {
        Ok(self.counter.reports())
    }
}
