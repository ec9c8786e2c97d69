//! The Avro schemas of `avro/*.avsc`, compiled into the binary and parsed once.

pub mod writer;

use std::sync::OnceLock;

use apache_avro::Schema;

use crate::domain::stream::Stream;

/// The schema text registered for a stream.
pub fn schema_text(stream: Stream) -> &'static str {
    match stream {
        Stream::Orders => include_str!("../../../avro/orders.avsc"),
        Stream::Payments => include_str!("../../../avro/payments.avsc"),
        Stream::Shipments => include_str!("../../../avro/shipments.avsc"),
        Stream::CustomerInteractions => include_str!("../../../avro/customer-interactions.avsc"),
        Stream::InventoryChanges => include_str!("../../../avro/inventory-changes.avsc"),
        Stream::PriceChanges => include_str!("../../../avro/price-changes.avsc"),
        Stream::PosEvents => include_str!("../../../avro/pos-events.avsc"),
        Stream::PosTransactions => include_str!("../../../avro/pos-transactions.avsc"),
        Stream::Refunds => include_str!("../../../avro/refunds.avsc"),
        Stream::StoreInventoryChanges => include_str!("../../../avro/store-inventory-changes.avsc"),
        Stream::RestockAlerts => include_str!("../../../avro/restock-alerts.avsc"),
        Stream::FootTraffic => include_str!("../../../avro/foot-traffic.avsc"),
        Stream::ShelfEvents => include_str!("../../../avro/shelf-events.avsc"),
    }
}

/// The parsed schema of a stream.
pub fn schema(stream: Stream) -> &'static Schema {
    static PARSED: OnceLock<Vec<Schema>> = OnceLock::new();
    let all = PARSED.get_or_init(|| {
        Stream::ALL
            .iter()
            .map(|s| {
                Schema::parse_str(schema_text(*s))
                    .unwrap_or_else(|e| panic!("the embedded schema of {s:?} is invalid: {e}"))
            })
            .collect()
    });
    &all[stream.index()]
}

/// The subject a stream's schema is registered under (TopicNameStrategy).
pub fn subject(topic: &str) -> String {
    format!("{topic}-value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_schema_parses_as_a_record_in_namespace_demo() {
        for s in Stream::ALL {
            match schema(s) {
                Schema::Record(r) => assert_eq!(r.name.namespace(), Some("demo")),
                other => panic!("{s:?} is not a record: {other:?}"),
            }
        }
    }
}
