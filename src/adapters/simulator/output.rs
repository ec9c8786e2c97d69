//! What the simulator writes: the pos_producer.py POS simulator's `pos_transaction` as Avro in Confluent wire format
//! (`avro/pos-transactions-simulated.avsc`, subject `<POS_TOPIC>-value`).

use std::sync::OnceLock;

use apache_avro::Schema;
use serde::Serialize;

use crate::adapters::avro::writer::AvroWriter;
use crate::domain::store::simulator::{Checkout, PricedLine};

pub const SCHEMA_TEXT: &str = include_str!("../../../avro/pos-transactions-simulated.avsc");

fn schema() -> &'static Schema {
    static PARSED: OnceLock<Schema> = OnceLock::new();
    PARSED.get_or_init(|| Schema::parse_str(SCHEMA_TEXT).expect("the embedded schema parses"))
}

#[derive(Serialize)]
struct LineOut<'a> {
    item_id: &'a str,
    quantity: i32,
    unit_price: f64,
    discount: f64,
    total_price: f64,
}

#[derive(Serialize)]
struct TransactionOut<'a> {
    event_type: &'static str,
    transaction_id: &'a str,
    customer_id: &'a str,
    timestamp: i64,
    items: Vec<LineOut<'a>>,
    store_id: Option<&'a str>,
    visit_id: Option<&'a str>,
    forced: bool,
    unlisted_items: i32,
}

/// Encodes transactions with the id the registry gave the schema.
pub struct TransactionEncoder {
    id: u32,
    writer: AvroWriter,
}

impl TransactionEncoder {
    pub fn new(id: u32) -> Self {
        let writer = AvroWriter::new(schema()).expect("the embedded schema is supported");
        Self { id, writer }
    }

    /// Appends one transaction in wire format to `out`.
    pub fn encode(
        &self,
        c: &Checkout,
        lines: &[PricedLine],
        unlisted: i32,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let cents = |c: i64| c as f64 / 100.0;
        let value = TransactionOut {
            event_type: "pos_transaction",
            transaction_id: &c.transaction_id,
            customer_id: &c.customer_id,
            timestamp: c.at,
            items: lines
                .iter()
                .map(|l| LineOut {
                    item_id: &l.item_id,
                    quantity: l.quantity,
                    unit_price: cents(l.unit_cents),
                    discount: l.discount_bp as f64 / 10_000.0,
                    total_price: cents(l.total_cents),
                })
                .collect(),
            store_id: c.store_id.as_deref(),
            visit_id: c.visit_id.as_deref(),
            forced: c.forced,
            unlisted_items: unlisted,
        };
        out.push(0);
        out.extend_from_slice(&self.id.to_be_bytes());
        self.writer
            .write(&value, out)
            .map_err(|e| format!("cannot encode transaction {}: {e}", c.transaction_id))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::writer::datum::GenericDatumWriter;

    #[test]
    fn a_transaction_is_byte_identical_to_apache_avros_encoding() {
        let checkout = Checkout {
            transaction_id: "sim_1".into(),
            customer_id: "u_1".into(),
            at: 1_700_000_000_000,
            store_id: Some("st_01".into()),
            visit_id: None,
            items: vec![("p_1".into(), 2)],
            forced: true,
        };
        let lines = [PricedLine {
            item_id: "p_1".into(),
            quantity: 2,
            unit_cents: 1999,
            discount_bp: 1000,
            total_cents: 3598,
        }];
        let mut ours = Vec::new();
        TransactionEncoder::new(7)
            .encode(&checkout, &lines, 1, &mut ours)
            .unwrap();
        let value = TransactionOut {
            event_type: "pos_transaction",
            transaction_id: "sim_1",
            customer_id: "u_1",
            timestamp: 1_700_000_000_000,
            items: vec![LineOut {
                item_id: "p_1",
                quantity: 2,
                unit_price: 19.99,
                discount: 0.1,
                total_price: 35.98,
            }],
            store_id: Some("st_01"),
            visit_id: None,
            forced: true,
            unlisted_items: 1,
        };
        let mut reference = vec![0, 0, 0, 0, 7];
        GenericDatumWriter::builder(schema())
            .build()
            .unwrap()
            .write_ser(&mut reference, &value)
            .unwrap();
        assert_eq!(ours, reference);
    }
}
