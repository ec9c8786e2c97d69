//! The Confluent Schema Registry side: registering schemas and encoding values in its wire format.

mod client;
mod encoder;

pub use client::{RegistryClient, RegistryError};
pub use encoder::WireEncoder;
