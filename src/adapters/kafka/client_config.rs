//! librdkafka settings for every client: bootstrap, security, then user passthrough properties.

use rdkafka::ClientConfig;

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
        .set("security.protocol", &k.security_protocol);
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
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .set("batch.size", "1000000")
        .set("queue.buffering.max.messages", "1000000")
        .set("queue.buffering.max.kbytes", "1048576");
    with_user_properties(c, k)
}
