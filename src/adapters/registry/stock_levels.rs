//! Reads the stock level (`new_qty`) out of inventory-change values in Confluent wire format,
//! for rebuilding the ledger from the topic: the current schema by field position (fast), any
//! other version the registry knows by name; an id the registry does not know is an error.

use super::decoder::{as_long, field, split_wire, WireDecoder};

pub struct StockLevelReader {
    current_id: u32,
    decoder: WireDecoder,
}

/// A zig-zag varint (Avro int and long).
fn long(buf: &mut &[u8]) -> Option<i64> {
    let mut n: u64 = 0;
    for shift in (0..64).step_by(7) {
        let (&b, rest) = buf.split_first()?;
        *buf = rest;
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some((n >> 1) as i64 ^ -((n & 1) as i64));
        }
    }
    None
}

fn skip_string(buf: &mut &[u8]) -> Option<()> {
    let len = usize::try_from(long(buf)?).ok()?;
    *buf = buf.get(len..)?;
    Some(())
}

/// `new_qty` of a body in the current InventoryChange or StoreInventoryChange schema (they
/// start alike): change_id, warehouse_id or store_id, product_id, change_type, quantity_delta,
/// previous_qty, new_qty, ...
pub fn new_qty_of_current(mut body: &[u8]) -> Option<i32> {
    let buf = &mut body;
    for _ in 0..3 {
        skip_string(buf)?;
    }
    for _ in 0..3 {
        long(buf)?;
    }
    i32::try_from(long(buf)?).ok()
}

impl StockLevelReader {
    /// `current_id`: the id the registry gave this version's inventory-change schema; other
    /// versions are decoded by `decoder`.
    pub fn new(current_id: u32, decoder: WireDecoder) -> Self {
        Self {
            current_id,
            decoder,
        }
    }

    /// Call from outside the runtime (it may look a schema up).
    pub fn new_qty(&mut self, value: &[u8]) -> Result<i32, String> {
        let (id, body) = split_wire(value)?;
        let qty = match id == self.current_id {
            true => new_qty_of_current(body),
            false => {
                let decoded = self.decoder.decode_body(id, body)?;
                as_long(field(&decoded, "new_qty")).and_then(|q| i32::try_from(q).ok())
            }
        };
        qty.ok_or_else(|| {
            format!("an inventory change (schema id {id}) without a readable new_qty")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::registry::WireEncoder;
    use crate::domain::events::{ChangeType, Event, InventoryChange};
    use crate::domain::ports::SchemaEncoder;
    use crate::domain::record::Record;

    #[test]
    fn the_fast_reader_finds_new_qty_where_apache_avro_puts_it() {
        for (prev, delta) in [(0, 0), (5, -5), (1_000_000, 123_456), (63, 1), (64, -200)] {
            let record = Record::new(
                "WH001:P000001".into(),
                None,
                Event::Inventory(InventoryChange {
                    change_id: "chg_0123456789abc".into(),
                    warehouse_id: "WH001".into(),
                    product_id: "P000001".into(),
                    change_type: ChangeType::Transfer,
                    quantity_delta: delta,
                    previous_qty: prev,
                    new_qty: prev + delta,
                    reason: Some("transfer to WH002".into()),
                    order_id: None,
                    supplier_id: None,
                    cost_per_unit: None,
                    ts: 1_700_000_000_000,
                }),
            );
            let mut out = Vec::new();
            WireEncoder::with_local_ids()
                .encode(&record, &mut out)
                .unwrap();
            assert_eq!(new_qty_of_current(&out[5..]), Some(prev + delta));
        }
        assert_eq!(new_qty_of_current(&[0x02]), None, "truncated");
    }
}
