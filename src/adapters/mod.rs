//! Adapters at the edge: Avro schemas and the Schema Registry, Kafka, the other sinks, the stores.

pub mod avro;
pub mod crash;
pub mod kafka;
pub mod manifest;
pub mod memory;
pub mod metrics;
pub mod postgres;
pub mod progress;
pub mod registry;
pub mod simulator;
pub mod sinks;
