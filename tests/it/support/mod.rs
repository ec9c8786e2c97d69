//! Test support: the real tansu broker, an in-process Schema Registry, the retailgen binary.

pub mod cmd;
pub mod decode;
pub mod kafka;
pub mod parquet;
pub mod pg;
pub mod registry;
pub mod stock;
pub mod store_rules;
pub mod tansu;
pub mod target;

/// A loopback address and port nothing listens on (free when this returns).
pub fn free_addr() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string()
}

/// Every topic retailgen writes, by default name.
pub const TOPICS: [&str; 13] = [
    "orders.v1",
    "payments.v1",
    "shipments.v1",
    "customer-interactions.v1",
    "inventory-changes.v1",
    "price-changes.v1",
    "pos-events.v1",
    "pos-transactions.v1",
    "refunds.v1",
    "store-inventory-changes.v1",
    "restock-alerts.v1",
    "foot-traffic.v1",
    "shelf-events.v1",
];
