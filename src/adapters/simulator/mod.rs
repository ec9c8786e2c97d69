//! The POS simulator, an inbound adapter (pos_producer.py): Kafka in (foot traffic
//! and shelf events), the domain's carts, Kafka out (transactions), priced from Postgres or pos_producer.py's
//! parquet files.

pub mod consumer;
pub mod input;
pub mod output;
pub mod prices;

pub use consumer::{SimReport, Simulator, SimulatorConfig};
pub use prices::{ParquetError, ParquetPrices, PostgresPrices, RideThrough};
