//! A record as published: key, headers and the event.

use super::events::Event;
use super::stream::Stream;

/// Value of the `source` header on every record.
pub const SOURCE: &str = "retailgen";

#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Kafka key: records of one entity share it (orders, payments, shipments: `order_id`).
    pub key: String,
    /// Shared by the records of one order chain.
    pub trace_id: Option<String>,
    pub event: Event,
}

impl Record {
    pub fn stream(&self) -> Stream {
        self.event.stream()
    }

    /// Headers in a fixed order: `trace_id` (if any), `entity`, `source`.
    pub fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        let trace = self.trace_id.as_deref().map(|t| ("trace_id", t));
        trace
            .into_iter()
            .chain([("entity", self.stream().entity()), ("source", SOURCE)])
    }
}
