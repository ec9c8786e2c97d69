//! Confluent wire format: magic byte 0, the 4-byte big-endian schema id, the Avro binary body.

use apache_avro::writer::datum::GenericDatumWriter;

use crate::adapters::avro::schema;
use crate::domain::ports::{EncodeError, SchemaEncoder};
use crate::domain::record::Record;
use crate::domain::stream::Stream;

const MAGIC: u8 = 0;

/// Encodes through apache-avro's serde path with each schema resolved once (no `Value` trees).
pub struct WireEncoder {
    ids: [u32; Stream::COUNT],
    writers: Vec<GenericDatumWriter<'static>>,
}

impl WireEncoder {
    /// `ids[stream.index()]` is the registry id of that stream's schema.
    pub fn new(ids: [u32; Stream::COUNT]) -> Self {
        let writers = Stream::ALL
            .iter()
            .map(|s| {
                GenericDatumWriter::builder(schema(*s))
                    .build()
                    .expect("embedded schemas resolve")
            })
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
        out.push(MAGIC);
        out.extend_from_slice(&self.ids[stream.index()].to_be_bytes());
        self.writers[stream.index()]
            .write_ser(out, &record.event)
            .map(|_| ())
            .map_err(|e| EncodeError {
                stream,
                reason: e.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{Event, Payment, PaymentMethod, PaymentStatus};

    #[test]
    #[allow(deprecated)]
    fn a_payment_is_magic_byte_schema_id_then_a_body_that_decodes() {
        let enc = WireEncoder::new([11, 22, 33, 44]);
        let record = Record {
            key: "ord_1".into(),
            trace_id: None,
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
