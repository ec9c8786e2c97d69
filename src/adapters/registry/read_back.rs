//! What a Kafka-canonical start-up reads back from decoded values (of any schema version that
//! has the fields): the lines of each store transaction and the refunds made of them, and the
//! prices products were changed to.

use apache_avro::types::Value;

use super::decoder::{as_double, as_long, as_text, field};
use crate::domain::events::Millis;
use crate::domain::reference::catalog::usd_to_cents;
use crate::domain::store::refunds::{PastLine, PastRefund};

/// The lines of a decoded transaction paid at or after `since` (none if earlier).
pub fn past_lines(v: &Value, since: Millis) -> Result<Vec<PastLine>, String> {
    let missing = |what: &str| format!("a store transaction without a readable {what}");
    let at = as_long(field(v, "timestamp")).ok_or_else(|| missing("timestamp"))?;
    if at < since {
        return Ok(Vec::new());
    }
    let transaction_id =
        as_text(field(v, "transaction_id")).ok_or_else(|| missing("transaction_id"))?;
    let store_id = as_text(field(v, "store_id")).ok_or_else(|| missing("store_id"))?;
    let customer_id = as_text(field(v, "customer_id"));
    let Some(Value::Array(items)) = field(v, "items") else {
        return Err(missing("items"));
    };
    items
        .iter()
        .map(|item| {
            Ok(PastLine {
                store_id: store_id.clone(),
                transaction_id: transaction_id.clone(),
                customer_id: customer_id.clone(),
                at,
                product_id: as_text(field(item, "item_id")).ok_or_else(|| missing("item_id"))?,
                units: as_long(field(item, "quantity"))
                    .and_then(|q| i32::try_from(q).ok())
                    .ok_or_else(|| missing("quantity"))?,
                cents: as_double(field(item, "total_price"))
                    .map(usd_to_cents)
                    .ok_or_else(|| missing("total_price"))?,
            })
        })
        .collect()
}

/// The product and new price (cents) of a decoded price change.
pub fn price_change(v: &Value) -> Result<(String, i64), String> {
    let missing = |what: &str| format!("a price change without a readable {what}");
    Ok((
        as_text(field(v, "product_id")).ok_or_else(|| missing("product_id"))?,
        as_double(field(v, "new_price"))
            .map(usd_to_cents)
            .ok_or_else(|| missing("new_price"))?,
    ))
}

/// A decoded refund.
pub fn past_refund(v: &Value) -> Result<PastRefund, String> {
    let missing = |what: &str| format!("a refund without a readable {what}");
    Ok(PastRefund {
        transaction_id: as_text(field(v, "original_transaction_id"))
            .ok_or_else(|| missing("original_transaction_id"))?,
        product_id: as_text(field(v, "product_id")).ok_or_else(|| missing("product_id"))?,
        // the realtime-retail-pipeline producer's refunds carry no quantity: one unit.
        units: as_long(field(v, "quantity"))
            .and_then(|q| i32::try_from(q).ok())
            .unwrap_or(1),
        cents: as_double(field(v, "refund_amount"))
            .map(usd_to_cents)
            .ok_or_else(|| missing("refund_amount"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::registry::decoder::split_wire;
    use crate::adapters::registry::WireEncoder;
    use crate::domain::events::{Event, PosTransaction, Refund};
    use crate::domain::ports::SchemaEncoder;
    use crate::domain::record::Record;
    use crate::domain::store::events::{PosLineItem, RefundReason, TenderType};
    use apache_avro::reader::datum::GenericDatumReader;

    /// A record encoded as the producer writes it, decoded with its embedded schema.
    fn round_trip(event: Event) -> Value {
        let stream = event.stream();
        let mut out = Vec::new();
        WireEncoder::with_local_ids()
            .encode(&Record::new("k".into(), None, event), &mut out)
            .unwrap();
        let (_, body) = split_wire(&out).unwrap();
        GenericDatumReader::builder(crate::adapters::avro::schema(stream))
            .build()
            .and_then(|r| r.read_value(&mut &body[..]))
            .unwrap()
    }

    #[test]
    fn a_transaction_and_a_refund_read_back_as_they_were_written() {
        let item = |id: &str, quantity, total_price| PosLineItem {
            item_id: id.into(),
            quantity,
            unit_price: 1.0,
            discount: 0.1,
            total_price,
        };
        let v = round_trip(Event::Transaction(PosTransaction {
            event_type: "pos_transaction",
            transaction_id: "txn_1".into(),
            customer_id: Some("U000001".into()),
            timestamp: 5_000,
            items: vec![item("P000001", 2, 10.29), item("P000002", 1, 0.07)],
            store_id: "STORE-001".into(),
            terminal_id: "STORE-001-T1".into(),
            employee_id: "E1".into(),
            basket_id: "bsk_1".into(),
            subtotal: 10.36,
            tax: 0.0,
            amount: 10.36,
            payment_method: TenderType::Cash,
            visit_id: None,
        }));
        let lines = past_lines(&v, 5_000).unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].product_id.as_str(), lines[0].units, lines[0].cents),
            ("P000001", 2, 1029)
        );
        assert_eq!(lines[1].cents, 7);
        assert_eq!(lines[0].customer_id.as_deref(), Some("U000001"));
        assert!(
            past_lines(&v, 5_001).unwrap().is_empty(),
            "before the window"
        );

        let v = round_trip(Event::Refund(Refund {
            refund_id: "rfd_1".into(),
            original_transaction_id: "txn_1".into(),
            product_id: "P000001".into(),
            store_id: "STORE-001".into(),
            customer_id: None,
            refund_amount: 5.14,
            reason: RefundReason::Defective,
            timestamp: 9_000,
            quantity: 1,
        }));
        let r = past_refund(&v).unwrap();
        assert_eq!(
            (r.transaction_id.as_str(), r.units, r.cents),
            ("txn_1", 1, 514)
        );
        assert!(past_lines(&v, 0).is_err(), "a refund is not a transaction");
    }
}
