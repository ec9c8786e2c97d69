//! The Confluent Schema Registry side: registering schemas and encoding values in its wire format.

mod client;
mod encoder;
mod stock_levels;

pub use client::{RegistryClient, RegistryError};
pub use encoder::{WireEncoder, UNKNOWN_SCHEMA_ID};
pub use stock_levels::StockLevelReader;
