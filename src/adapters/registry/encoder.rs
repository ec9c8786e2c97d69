//! Confluent wire format: magic byte 0, the 4-byte big-endian schema id, the Avro binary body.

use crate::adapters::avro::schema;
use crate::adapters::avro::writer::AvroWriter;
use crate::domain::faults::{BadKind, Fault};
use crate::domain::ports::{EncodeError, SchemaEncoder};
use crate::domain::record::Record;
use crate::domain::stream::Stream;

const MAGIC: u8 = 0;
/// The id written by `bad:unknown_schema_id` poison pills: never issued by a registry in practice.
pub const UNKNOWN_SCHEMA_ID: u32 = i32::MAX as u32;

/// Encodes with a writer compiled once per schema (no `Value` trees, no field lookups by name).
pub struct WireEncoder {
    ids: [u32; Stream::COUNT],
    writers: Vec<AvroWriter>,
}

impl WireEncoder {
    /// `ids[stream.index()]` is the registry id of that stream's schema.
    pub fn new(ids: [u32; Stream::COUNT]) -> Self {
        let writers = Stream::ALL
            .iter()
            .map(|s| AvroWriter::new(schema(*s)).expect("the embedded schemas are supported"))
            .collect();
        Self { ids, writers }
    }

    /// For sinks without a registry (`null`): ids 1..=N in stream order.
    pub fn with_local_ids() -> Self {
        Self::new(std::array::from_fn(|i| i as u32 + 1))
    }
}

impl SchemaEncoder for WireEncoder {
    fn encode(&self, record: &Record, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let stream = record.stream();
        let start = out.len();
        out.push(MAGIC);
        out.extend_from_slice(&self.ids[stream.index()].to_be_bytes());
        self.writers[stream.index()]
            .write(&record.event, out)
            .map_err(|e| EncodeError {
                stream,
                reason: e.to_string(),
            })?;
        if let Some(Fault::Bad(kind)) = record.fault {
            poison(out, start, kind);
        }
        Ok(())
    }
}

/// Turns a well-formed message at `out[start..]` into the labelled wire-level poison pill.
fn poison(out: &mut Vec<u8>, start: usize, kind: BadKind) {
    match kind {
        BadKind::BadMagicByte => out[start] = 1,
        BadKind::UnknownSchemaId => {
            out[start + 1..start + 5].copy_from_slice(&UNKNOWN_SCHEMA_ID.to_be_bytes())
        }
        BadKind::TruncatedBody => {
            let body = out.len() - start - 5;
            out.truncate(start + 5 + body / 2);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use apache_avro::writer::datum::GenericDatumWriter;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::domain::events::{Event, Payment, PaymentMethod, PaymentStatus};
    use crate::domain::ports::{EventPublisher, PublishError, TopicReport};
    use crate::engine::Stopper;

    /// Compares every record of a run with apache-avro's encoding of it.
    struct Compare {
        ours: WireEncoder,
        reference: Vec<GenericDatumWriter<'static>>,
        seen: Arc<Mutex<[u64; Stream::COUNT]>>,
    }

    impl EventPublisher for Compare {
        fn publish(&mut self, record: &Record) -> Result<(), PublishError> {
            let stream = record.stream();
            let mut ours = Vec::new();
            self.ours.encode(record, &mut ours)?;
            let mut theirs = Vec::new();
            self.reference[stream.index()]
                .write_ser(&mut theirs, &record.event)
                .unwrap();
            match record.fault {
                Some(Fault::Bad(kind)) if kind.is_wire() => {}
                _ => assert_eq!(ours[5..], theirs[..], "{record:?}"),
            }
            self.seen.lock().unwrap()[stream.index()] += 1;
            Ok(())
        }

        fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError> {
            Ok(vec![])
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn every_streams_records_are_byte_identical_to_apache_avros() {
        let env: BTreeMap<String, String> = [
            ("SINK", "null"),
            ("SIM_FROM", "2024-07-01T12:00:00Z"),
            ("TARGET_EPS", "20"),
            ("RECORD_COUNT", "60000"),
            ("WEIGHT_STORE", "0.3"),
            ("WEIGHT_INVENTORY_CHG", "0.2"),
            ("P_UPDATE_PRICE", "0.01"),
            ("P_BAD_RECORD", "0.02"),
            ("P_DUPLICATE", "0.01"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let settings = crate::config::load(None, &env, &[]).unwrap();
        let seen = Arc::new(Mutex::new([0; Stream::COUNT]));
        let compare = Compare {
            ours: WireEncoder::with_local_ids(),
            reference: Stream::ALL
                .iter()
                .map(|s| GenericDatumWriter::builder(schema(*s)).build().unwrap())
                .collect(),
            seen: seen.clone(),
        };
        let engine = crate::startup::memory_engine(&settings, 7, Box::new(compare))
            .await
            .unwrap();
        let stopper = Stopper::new(CancellationToken::new(), None);
        tokio::task::spawn_blocking(move || engine.run(&stopper))
            .await
            .unwrap()
            .unwrap();
        let seen = *seen.lock().unwrap();
        for s in Stream::ALL {
            assert!(
                seen[s.index()] > 0,
                "no {s:?} record was compared: {seen:?}"
            );
        }
    }

    #[test]
    fn wire_level_bad_records_are_poisoned_as_labelled() {
        let enc = WireEncoder::new([11, 22, 33, 44, 55, 66, 77, 88, 99, 110, 121, 132, 143]);
        let mut record = Record::new(
            "ord_1".into(),
            None,
            Event::Payment(Payment {
                payment_id: "pay_1".into(),
                order_id: "ord_1".into(),
                method: PaymentMethod::Card,
                status: PaymentStatus::Pending,
                ts: 5,
                amount: None,
            }),
        );
        let mut good = Vec::new();
        enc.encode(&record, &mut good).unwrap();
        let mut encoded = |kind| {
            record.fault = Some(Fault::Bad(kind));
            let mut out = Vec::new();
            enc.encode(&record, &mut out).unwrap();
            out
        };
        assert_eq!(encoded(BadKind::BadMagicByte)[0], 1);
        assert_eq!(
            encoded(BadKind::UnknownSchemaId)[1..5],
            UNKNOWN_SCHEMA_ID.to_be_bytes()
        );
        assert!(encoded(BadKind::TruncatedBody).len() < good.len());
        assert_eq!(
            encoded(BadKind::FutureTimestamp),
            good,
            "semantic faults are in the value"
        );
    }

    #[test]
    #[allow(deprecated)]
    fn a_payment_is_magic_byte_schema_id_then_a_body_that_decodes() {
        let enc = WireEncoder::new([11, 22, 33, 44, 55, 66, 77, 88, 99, 110, 121, 132, 143]);
        let record = Record {
            key: "ord_1".into(),
            trace_id: None,
            fault: None,
            effect: None,
            at: None,
            event: Event::Payment(Payment {
                payment_id: "pay_1".into(),
                order_id: "ord_1".into(),
                method: PaymentMethod::Paypal,
                status: PaymentStatus::Settled,
                ts: 1_700_000_000_000,
                amount: Some(12.5),
            }),
        };
        let mut out = Vec::new();
        enc.encode(&record, &mut out).unwrap();
        assert_eq!(out[0], 0);
        assert_eq!(u32::from_be_bytes(out[1..5].try_into().unwrap()), 22);
        let value =
            apache_avro::from_avro_datum(schema(Stream::Payments), &mut &out[5..], None).unwrap();
        let apache_avro::types::Value::Record(fields) = value else {
            panic!("record")
        };
        assert_eq!(
            fields[2].1,
            apache_avro::types::Value::Enum(2, "PAYPAL".into())
        );
        assert_eq!(
            fields[3].1,
            apache_avro::types::Value::Enum(1, "SETTLED".into())
        );
        assert_eq!(
            fields[5].1,
            apache_avro::types::Value::Union(1, Box::new(apache_avro::types::Value::Double(12.5)))
        );
    }
}
