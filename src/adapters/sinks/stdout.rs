//! JSON lines, one object per record: `topic`, `key`, `headers`, `value`.

use std::io::{ErrorKind, Write};

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use super::TopicCounter;
use crate::domain::events::Event;
use crate::domain::ports::{EventPublisher, PublishError, TopicReport};
use crate::domain::record::Record;

pub struct JsonLinesSink<W: Write + Send> {
    out: W,
    line: Vec<u8>,
    counter: TopicCounter,
}

#[derive(Serialize)]
struct Line<'a> {
    topic: &'a str,
    key: &'a str,
    #[serde(serialize_with = "headers")]
    headers: &'a Record,
    value: &'a Event,
}

fn headers<S: Serializer>(record: &&Record, s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(None)?;
    for (k, v) in record.headers() {
        map.serialize_entry(k, &v)?;
    }
    map.end()
}

impl<W: Write + Send> JsonLinesSink<W> {
    pub fn new(out: W, counter: TopicCounter) -> Self {
        Self {
            out,
            line: Vec::with_capacity(512),
            counter,
        }
    }
}

fn io_error(e: std::io::Error) -> PublishError {
    if e.kind() == ErrorKind::BrokenPipe {
        PublishError::Closed
    } else {
        PublishError::Sink(format!("cannot write to stdout: {e}"))
    }
}

impl<W: Write + Send> EventPublisher for JsonLinesSink<W> {
    fn publish(&mut self, record: &Record) -> Result<(), PublishError> {
        let stream = record.stream();
        self.line.clear();
        let line = Line {
            topic: self.counter.topic(stream),
            key: &record.key,
            headers: record,
            value: &record.event,
        };
        serde_json::to_writer(&mut self.line, &line)
            .map_err(|e| PublishError::Sink(format!("cannot render JSON: {e}")))?;
        self.line.push(b'\n');
        self.out.write_all(&self.line).map_err(io_error)?;
        self.counter.count(stream);
        Ok(())
    }

    fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError> {
        match self.out.flush() {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::BrokenPipe => {}
            Err(e) => return Err(io_error(e)),
        }
        Ok(self.counter.reports())
    }
}
