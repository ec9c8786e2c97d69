//! The Confluent Schema Registry side: registering schemas, encoding values in its wire format and
//! decoding them again.

mod client;
pub mod decoder;
mod encoder;
pub mod read_back;
mod stock_levels;

pub use client::{RegistryClient, RegistryError};
pub use encoder::{WireEncoder, UNKNOWN_SCHEMA_ID};
pub use stock_levels::StockLevelReader;
