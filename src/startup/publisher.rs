//! Wiring the sink: for Kafka, schemas are registered and topics created before anything is produced.

use anyhow::Context;

use crate::adapters::avro::{schema_text, subject};
use crate::adapters::kafka::{ensure_topics, KafkaPublisher};
use crate::adapters::registry::{RegistryClient, WireEncoder};
use crate::adapters::sinks::file::FileSink;
use crate::adapters::sinks::null::NullSink;
use crate::adapters::sinks::stdout::JsonLinesSink;
use crate::adapters::sinks::TopicCounter;
use crate::config::{Settings, SinkKind};
use crate::domain::ports::EventPublisher;
use crate::domain::stream::{Stream, TopicNames};

pub async fn build_publisher(
    s: &Settings,
    topics: &TopicNames,
    seed: u64,
) -> anyhow::Result<Box<dyn EventPublisher>> {
    let counter = TopicCounter::new(topics.clone());
    Ok(match s.run.sink {
        SinkKind::Stdout => Box::new(JsonLinesSink::new(std::io::stdout(), counter)),
        SinkKind::Null => Box::new(NullSink::new(
            Box::new(WireEncoder::with_local_ids()),
            counter,
        )),
        SinkKind::File => Box::new(FileSink::create(&s.run.out_dir, topics.clone(), seed)?),
        SinkKind::Kafka => {
            let ids = register_schemas(s, topics).await?;
            let names: Vec<String> = topics.iter().map(|(_, t)| t.to_owned()).collect();
            let created = ensure_topics(
                &s.kafka,
                &names,
                s.topics.partitions,
                s.topics.replication_factor,
            )
            .await
            .context("preparing topics")?;
            if !created.is_empty() {
                tracing::info!("created topics {}", created.join(", "));
            }
            Box::new(KafkaPublisher::new(
                &s.kafka,
                topics.clone(),
                Box::new(WireEncoder::new(ids)),
            )?)
        }
    })
}

/// Registers every stream's schema under `<topic>-value` before anything is produced.
async fn register_schemas(
    s: &Settings,
    topics: &TopicNames,
) -> anyhow::Result<[u32; Stream::COUNT]> {
    let client = RegistryClient::new(&s.registry)?;
    let mut ids = [0u32; Stream::COUNT];
    for (stream, topic) in topics.iter() {
        ids[stream.index()] = client
            .register(&subject(topic), schema_text(stream))
            .await?;
    }
    Ok(ids)
}
