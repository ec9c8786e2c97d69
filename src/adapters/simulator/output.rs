//! What the simulator writes: reference 001's `pos_transaction` as Avro in Confluent wire format
//! (`avro/pos-transactions-simulated.avsc`, subject `<POS_TOPIC>-value`).

use std::sync::OnceLock;

use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use serde::Serialize;

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
    writer: GenericDatumWriter<'static>,
}

impl TransactionEncoder {
    pub fn new(id: u32) -> Self {
        let writer = GenericDatumWriter::builder(schema())
            .build()
            .expect("the embedded schema resolves");
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
            .write_ser(out, &value)
            .map_err(|e| format!("cannot encode transaction {}: {e}", c.transaction_id))?;
        Ok(())
    }
}
