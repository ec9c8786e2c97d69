//! librdkafka settings for every client: bootstrap, security, then user passthrough properties.

use std::time::Duration;

use rdkafka::producer::{BaseProducer, Producer, ProducerContext};
use rdkafka::ClientConfig;

use super::KafkaError;

use crate::config::KafkaSettings;

/// Settings of any client: connection and security, then the user's properties.
pub fn client_config(k: &KafkaSettings) -> ClientConfig {
    with_user_properties(connection(k), k)
}

/// User properties (`[kafka.properties]`, `KAFKA_PROPERTY_*`) go last, so they win.
fn with_user_properties(mut c: ClientConfig, k: &KafkaSettings) -> ClientConfig {
    for (name, value) in &k.properties {
        c.set(name, value);
    }
    c
}

fn connection(k: &KafkaSettings) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &k.bootstrap)
        .set("client.id", "retailgen")
        .set("security.protocol", &k.security_protocol)
        // librdkafka spaces a client's connections by half this backoff (100 ms by default):
        // every fresh client waited 50 ms for its first answer. Retries still back off
        // exponentially up to `reconnect.backoff.max.ms` (10 s).
        .set("reconnect.backoff.ms", "10");
    if !k.sasl_mechanism.is_empty() {
        c.set("sasl.mechanism", &k.sasl_mechanism);
    }
    if !k.sasl_username.is_empty() {
        c.set("sasl.username", &k.sasl_username);
    }
    if !k.sasl_password.is_empty() {
        c.set("sasl.password", k.sasl_password.expose());
    }
    c
}

/// Producer tuning for throughput with per-key ordering: idempotence, acks=all, lz4, batching.
/// User properties (`[kafka.properties]`, `KAFKA_PROPERTY_*`) are applied last and win.
pub fn producer_config(k: &KafkaSettings) -> ClientConfig {
    let mut c = connection(k);
    c.set("enable.idempotence", "true")
        .set("acks", "all")
        .set("compression.type", "lz4")
        // Short: a record that names another waits at the barrier for that one's acknowledgement,
        // which takes a linger and a round trip (and 5 ms made more records/s here than 20).
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("batch.size", "1000000")
        // A queue of a few linger periods keeps the broker busy; a larger one only holds memory.
        .set("queue.buffering.max.messages", "20000")
        .set("queue.buffering.max.kbytes", "4096");
    with_user_properties(c, k)
}

/// Consumer tuning for reading a topic back from its beginning to its end, as fast as it comes:
/// large fetches, no waiting at the broker for partitions that have nothing, and no 1 s pause
/// whenever a fetch filled the local queue (librdkafka's defaults; they made reading back 10x
/// slower). The group is only there because librdkafka assigns partitions to group members
/// alone: nothing is committed. User properties are applied last and win.
pub fn reader_config(k: &KafkaSettings) -> ClientConfig {
    let mut c = connection(k);
    c.set("group.id", "retailgen-recovery")
        // Records of an aborted (or still open) transaction never happened.
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "true")
        .set("auto.offset.reset", "earliest")
        .set("fetch.max.bytes", "104857600")
        .set("max.partition.fetch.bytes", "52428800")
        .set("queued.max.messages.kbytes", "262144")
        .set("queued.min.messages", "1000000")
        .set("fetch.queue.backoff.ms", "1")
        .set("fetch.wait.max.ms", "10");
    with_user_properties(c, k)
}

/// Drops `client` on a thread of its own, off the way to the first record: closing a consumer
/// group member, or stopping an admin client's polling thread, polls in steps of 0.1 s.
pub fn dispose<T: Send + 'static>(client: T) {
    std::thread::spawn(move || drop(client));
}

/// A producer with retailgen's settings, connected to the cluster before it is handed out:
/// otherwise the idempotent producer's id request finds no broker yet and waits for its retry
/// timer, which holds every first message back for a second.
pub fn connected_producer<C: ProducerContext>(
    k: &KafkaSettings,
    context: C,
) -> Result<BaseProducer<C>, KafkaError> {
    let producer: BaseProducer<C> = producer_config(k)
        .create_with_context(context)
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    producer
        .client()
        .fetch_metadata(None, Duration::from_secs(10))
        .map_err(|e| KafkaError::Unreachable {
            bootstrap: k.bootstrap.clone(),
            cause: e.to_string(),
        })?;
    Ok(producer)
}
