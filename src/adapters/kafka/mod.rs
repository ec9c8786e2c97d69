//! Kafka through rdkafka (bundled librdkafka): client settings, topic creation, the producer.

mod admin;
mod barrier;
mod client_config;
mod features;
pub mod pending;
mod producer;
mod relay;
pub mod replay;

pub use admin::{create_missing, ensure_topics, existing_topics, Cleanup};
pub use client_config::{
    client_config, connected_producer, dispose, producer_config, reader_config,
};
pub use producer::{
    owned_headers, send, Connecting, KafkaPublisher, PendingTopic, Poller, PENDING_KEY_HEADER,
    PENDING_TOPIC_HEADER,
};
pub use relay::KafkaRelay;

#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("cannot reach Kafka at {bootstrap} (KAFKA_BOOTSTRAP): {cause}")]
    Unreachable { bootstrap: String, cause: String },
    #[error("cannot create topic {topic} with {partitions} partitions and replication factor {replication}: {cause}")]
    CreateTopic {
        topic: String,
        partitions: i32,
        replication: i32,
        cause: String,
    },
    #[error("invalid Kafka client settings: {0}")]
    Client(String),
}
