//! retailgen: a streaming retail test-data generator. Avro records in Confluent wire format to
//! Kafka (or stdout, files, nowhere), with data that adds up.
//!
//! Layout: `domain` is pure; `services` turn random draws into records; `engine` paces and
//! schedules them; `adapters` talk to the outside world; `startup` wires it all for `main`.

pub mod adapters;
pub mod allocator;
pub mod cli;
pub mod config;
pub mod domain;
pub mod engine;
pub mod observe;
pub mod services;
pub mod startup;
pub mod summary;
pub mod telemetry;
pub mod verify;
