//! The pure domain: entities, events, records and the ports adapters implement. No I/O crates here.

pub mod catalog;
pub mod events;
pub mod faults;
pub mod ids;
pub mod inventory;
pub mod message;
pub mod ports;
pub mod record;
pub mod reference;
pub mod stream;
pub mod traffic;
