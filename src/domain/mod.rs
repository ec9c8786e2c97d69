//! The pure domain, grouped by context: e-commerce, store, stock and reference data, around a
//! shared kernel (events, records, faults, ids, ports, traffic). No I/O crates here.

pub mod commerce;
pub mod events;
pub mod faults;
pub mod ids;
pub mod message;
pub mod ports;
pub mod record;
pub mod reference;
pub mod stock;
pub mod store;
pub mod stream;
pub mod totals;
pub mod traffic;

/// Text in events and records: ids, keys, names. Up to 24 bytes (every id and key retailgen
/// draws) it lives inline, so drawing, cloning and dropping one never allocates.
pub type Text = compact_str::CompactString;

/// `parts` one after the other (the formatting machinery costs more than the copying).
pub fn joined(parts: &[&str]) -> Text {
    let mut text = Text::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        text.push_str(part);
    }
    text
}
