//! Integration tests, one binary: the retailgen binary against a real tansu broker and an
//! in-process Confluent Schema Registry, plus the other sinks and the shipped files.

mod canonical;
mod cdc;
mod cli_errors;
mod compose;
mod file_sink;
mod kafka_sink;
mod ops;
mod pos_simulator;
mod postgres_store;
mod shards;
mod stdout_sink;
mod store_sales;
mod store_world;
mod support;
mod verify;
