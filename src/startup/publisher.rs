//! Wiring the sink: with a Postgres store every record goes through the committing publisher
//! (its effects committed first; for Kafka through the transactional outbox), else straight on.

use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::runtime::Handle;

use crate::adapters::kafka::{Connecting, KafkaPublisher, KafkaRelay};
use crate::adapters::postgres::canonical::recovery::next_seq;
use crate::adapters::postgres::canonical::{
    CommittingPublisher, Downstream, Durability, Stage, StockMode,
};
use crate::adapters::postgres::{self as postgres};
use crate::adapters::registry::WireEncoder;
use crate::adapters::sinks::file::FileSink;
use crate::adapters::sinks::null::NullSink;
use crate::adapters::sinks::stdout::JsonLinesSink;
use crate::adapters::sinks::TopicCounter;
use crate::config::{describe_dsn, Settings, SinkKind};
use crate::domain::ports::EventPublisher;
use crate::domain::stream::{Stream, TopicNames};
use crate::observe::RunStats;

use super::world::postgres_canonical;

/// The sink alone: records go to it as they are published. A Kafka sink uses the producer
/// `connecting`, if start-up began connecting one.
fn direct(
    s: &Settings,
    topics: &TopicNames,
    seed: u64,
    ids: Option<[u32; Stream::COUNT]>,
    connecting: Option<Connecting>,
    stats: &Arc<RunStats>,
) -> anyhow::Result<Box<dyn EventPublisher>> {
    let counter = TopicCounter::new(topics.clone()).observed_by(stats.clone());
    Ok(match (s.run.sink, ids) {
        (SinkKind::Stdout, _) => Box::new(JsonLinesSink::new(std::io::stdout(), counter)),
        (SinkKind::Null, _) => Box::new(NullSink::new(
            Box::new(WireEncoder::with_local_ids()),
            counter,
        )),
        (SinkKind::File, _) => Box::new(
            FileSink::create(&s.run.out_dir, topics.clone(), seed)?.observed_by(stats.clone()),
        ),
        (SinkKind::Kafka, Some(ids)) => Box::new(KafkaPublisher::new(
            connecting.unwrap_or_else(|| {
                let id = super::recovery::transactional_id(s);
                Connecting::start(&s.kafka, stats.clone(), id)
            }),
            &s.kafka,
            topics.clone(),
            Some(super::recovery::pending_topic(s)),
            Box::new(WireEncoder::new(ids)),
        )?),
        (SinkKind::Kafka, None) => anyhow::bail!("the kafka sink needs its schema ids"),
    })
}

/// `ids`: registry ids of the schemas (Kafka sink only); `pool`: the Postgres store, if any;
/// `connecting`: the Kafka sink's producer, if start-up began connecting it (without a store);
/// `stats`: the run's live figures, kept up to date by the sink and the store.
#[allow(clippy::too_many_arguments)]
pub async fn build_publisher(
    s: &Settings,
    topics: &TopicNames,
    seed: u64,
    ids: Option<[u32; Stream::COUNT]>,
    pool: Option<&Pool>,
    stage: Stage,
    connecting: Option<Connecting>,
    stats: &Arc<RunStats>,
) -> anyhow::Result<Box<dyn EventPublisher>> {
    let Some(pool) = pool else {
        return direct(s, topics, seed, ids, connecting, stats);
    };
    let client = postgres::client(pool, "the commit worker's connection").await?;
    let canonical = postgres_canonical(s);
    let downstream = match ids {
        Some(ids) if s.run.sink == SinkKind::Kafka => Downstream::Broker {
            relay: Box::new(KafkaRelay::new(&s.kafka, topics.clone(), stats.clone())?),
            encoder: Box::new(WireEncoder::new(ids)),
            durability: match canonical {
                true => Durability::Every,
                false => Durability::WithEffects,
            },
            first_seq: next_seq(&client, s.shard.shard().index as i32).await?,
            shard: s.shard.shard().index as i32,
        },
        _ => Downstream::Sink(direct(s, topics, seed, ids, None, stats)?),
    };
    Ok(Box::new(CommittingPublisher::start(
        stage,
        (client, pool.clone(), s.store.pg_reconnect_timeout),
        Handle::current(),
        match canonical {
            true => StockMode::Canonical,
            false => StockMode::Mirror,
        },
        downstream,
        topics.clone(),
        describe_dsn(&s.store.pg_dsn),
        stats.clone(),
    )))
}
