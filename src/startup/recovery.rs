//! Before a run generates anything, against a durable target: check that what earlier runs left
//! can be recovered (read-only; exit 2 if not), publish the outbox rows still pending, number
//! the run, rebuild a Kafka-canonical ledger and refundable sales from their topics, and find
//! stock changed by others.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Context;
use deadpool_postgres::Pool;
use tokio::runtime::Handle;

use crate::adapters::avro::subject;
use crate::adapters::kafka::pending::{entries, republish};
use crate::adapters::kafka::replay::{
    last_run, read_stock_topic, read_values, record_run, ReplayError, StockTopic,
};
use crate::adapters::kafka::{create_missing, existing_topics, Cleanup, KafkaRelay, PendingTopic};
use crate::adapters::postgres::canonical::recovery::{self as pg, OWN_TABLES};
use crate::adapters::postgres::{self as postgres};
use crate::adapters::registry::decoder::WireDecoder;
use crate::adapters::registry::read_back::{past_lines, past_refund, price_change};
use crate::adapters::registry::{RegistryClient, StockLevelReader, UNKNOWN_SCHEMA_ID};
use crate::config::{default_target_id, describe_dsn, target_id, Settings};
use crate::domain::events::Millis;
use crate::domain::ports::MessageRelay;
use crate::domain::store::refunds::{PastLine, PastRefund};
use crate::domain::stream::{Stream, TopicNames};
use crate::observe::RunStats;

/// Start-up found state it cannot recover from: nothing was written; exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unrecoverable(pub String);

/// What start-up learnt before anything was written.
pub struct Found {
    /// Runs recorded by the target before this one.
    pub previous_runs: Option<u32>,
    /// The topics the cluster has (Kafka sink only).
    pub topics: Vec<String>,
}

/// Read-only checks; fails with [`Unrecoverable`] naming what is missing and how to fix it.
pub async fn inspect(
    s: &Settings,
    pool: Option<&Pool>,
    kafka_canonical: bool,
) -> anyhow::Result<Found> {
    let mut last: Option<u32> = None;
    if let Some(pool) = pool {
        let client = postgres::client(pool, "checking retailgen's tables").await?;
        let missing = pg::missing_tables(&client, &OWN_TABLES).await?;
        if !missing.is_empty() {
            return Err(Unrecoverable(format!(
                "{} lacks {} although its migrations are recorded: the outbox and run history cannot be \
                 recovered; restore them from a backup, or start over on a fresh database (retailgen migrate; retailgen seed)",
                describe_dsn(&s.store.pg_dsn),
                missing.join(", ")
            ))
            .into());
        }
        let row = client
            .query_one(
                "SELECT max(run) FROM retailgen_runs WHERE shard = $1",
                &[&(s.shard.shard().index as i32)],
            )
            .await
            .context("reading retailgen_runs")?;
        last = row.get::<_, Option<i32>>(0).map(|r| r as u32);
    }
    if s.run.sink != crate::config::SinkKind::Kafka {
        return Ok(Found {
            previous_runs: last.map(|r| r + 1),
            topics: vec![],
        });
    }
    let existing = existing_topics(&s.kafka).await?;
    if existing.contains(&s.topics.runs) {
        let k = s.kafka.clone();
        let topic = s.topics.runs.clone();
        let (target, default) = (target_id(s), default_target_id());
        let on_topic =
            tokio::task::spawn_blocking(move || last_run(&k, &topic, &target, &default)).await??;
        last = last.max(on_topic);
    }
    if let Some(pool) = pool {
        check_outbox(s, pool, &existing).await?;
    }
    let stock = &s.topics.inventory_changes;
    if kafka_canonical && last.is_some() && !existing.contains(stock) {
        return Err(Unrecoverable(format!(
            "the stock topic {stock} (TOPIC_INVENTORY_CHANGES) does not exist on {}, but {} earlier runs \
             of this topic set were recorded on {}: the Kafka-canonical ledger cannot be rebuilt; restore the topic, or point \
             retailgen at a fresh target",
            s.kafka.bootstrap,
            last.map_or(0, |r| r + 1),
            s.topics.runs
        ))
        .into());
    }
    Ok(Found {
        previous_runs: last.map(|r| r + 1),
        topics: existing,
    })
}

/// Pending outbox rows must name topics that exist and schema ids the registry knows.
async fn check_outbox(s: &Settings, pool: &Pool, existing: &[String]) -> anyhow::Result<()> {
    let client = postgres::client(pool, "reading retailgen_outbox").await?;
    let rows = client
        .query(
            "SELECT topic, schema_id, count(*) FROM retailgen_outbox WHERE shard = $1 \
             GROUP BY 1, 2 ORDER BY 1, 2",
            &[&(s.shard.shard().index as i32)],
        )
        .await
        .context("reading retailgen_outbox")?;
    let registry = RegistryClient::new(&s.registry)?;
    for r in rows {
        let (topic, id, n): (String, i32, i64) = (r.get(0), r.get(1), r.get(2));
        if !existing.contains(&topic) {
            return Err(Unrecoverable(format!(
                "retailgen_outbox holds {n} records for topic {topic}, which does not exist on {} (KAFKA_BOOTSTRAP): \
                 recreate the topic, or point KAFKA_BOOTSTRAP at the cluster that has it; to give those records up, \
                 DELETE FROM retailgen_outbox WHERE topic = '{topic}'",
                s.kafka.bootstrap
            ))
            .into());
        }
        if id as u32 != UNKNOWN_SCHEMA_ID && registry.schema_by_id(id as u32).await?.is_none() {
            return Err(Unrecoverable(format!(
                "retailgen_outbox holds {n} records for {topic} encoded with schema id {id}, which the schema \
                 registry at {} (SCHEMA_REGISTRY_URL) does not know: point retailgen at the registry that \
                 issued it; to give those records up, DELETE FROM retailgen_outbox WHERE schema_id = {id}",
                s.registry.url
            ))
            .into());
        }
    }
    Ok(())
}

/// Registers every stream's schema under `<topic>-value` (the first thing a Kafka run does:
/// a registry that refuses or cannot be reached stops it before the broker is touched).
pub async fn register_schemas(
    s: &Settings,
    topics: &TopicNames,
) -> anyhow::Result<[u32; Stream::COUNT]> {
    let client = RegistryClient::new(&s.registry)?;
    let mut ids = [0u32; Stream::COUNT];
    for (stream, topic) in topics.iter() {
        ids[stream.index()] = client
            .register(&subject(topic), crate::adapters::avro::schema_text(stream))
            .await?;
    }
    Ok(ids)
}

/// Where a Kafka-canonical run without a database keeps its held late records: the runs topic's
/// `.pending` companion, shared by the targets and shards of a cluster (keys tell them apart).
pub fn pending_topic(s: &Settings) -> PendingTopic {
    PendingTopic {
        topic: format!("{}.pending", s.topics.runs),
        target: target_id(s),
        shard: s.shard.shard().index,
    }
}

/// The transactional id of a Kafka-canonical run's producer: one per target and shard, so a
/// restart fences the run it replaces (its open transaction is aborted).
pub fn transactional_id(s: &Settings) -> String {
    format!("retailgen-{}-{}", target_id(s), s.shard.shard().index)
}

/// Creates the topics `found` did not see on the cluster: the runs topic with one partition,
/// and with `pending` its compacted companion.
pub async fn create_topics(
    s: &Settings,
    topics: &TopicNames,
    found: &Found,
    pending: Option<&PendingTopic>,
) -> anyhow::Result<()> {
    let wanted: Vec<(&str, i32, Cleanup)> = topics
        .iter()
        .map(|(_, t)| (t, s.topics.partitions, Cleanup::Delete))
        .chain([(s.topics.runs.as_str(), 1, Cleanup::Delete)])
        .chain(pending.map(|p| (p.topic.as_str(), 1, Cleanup::Compact)))
        .collect();
    let created = create_missing(
        &s.kafka,
        &wanted,
        &found.topics,
        s.topics.replication_factor,
    )
    .await
    .context("preparing topics")?;
    if !created.is_empty() {
        tracing::info!("created topics {}", created.join(", "));
    }
    Ok(())
}

/// Publishes what the outbox still holds, in order, and removes it once acknowledged.
pub async fn replay_outbox(s: &Settings, pool: &Pool, topics: &TopicNames) -> anyhow::Result<u64> {
    let mut client = postgres::client(pool, "reading retailgen_outbox").await?;
    let shard = s.shard.shard().index as i32;
    let adopted = pg::adopt_held(&mut client, shard).await?;
    if adopted > 0 {
        eprintln!("retailgen: {adopted} late records held when the last run stopped go out now");
    }
    let pending = pg::pending(&client, shard).await?;
    if pending.is_empty() {
        return Ok(0);
    }
    let started = Instant::now();
    let n = pending.len() as u64;
    // An earlier run's records: they are not this run's figures.
    let figures = RunStats::new(topics.clone());
    let mut relay = KafkaRelay::new(&s.kafka, topics.clone(), figures)?;
    let acknowledged = tokio::task::spawn_blocking(move || {
        for m in &pending {
            relay.send(&m.as_ref())?;
        }
        relay.flush()?;
        relay.acknowledged()
    })
    .await??;
    if let Some(seq) = acknowledged {
        pg::remove_up_to(&client, seq, shard).await?;
    }
    eprintln!(
        "retailgen: published {n} records an earlier run had committed but not yet published (retailgen_outbox), in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(n)
}

/// Publishes the late records an earlier run held on the pending topic and had not yet
/// published (a crash, or a stop that could not flush), then settles their entries.
pub async fn replay_pending(s: &Settings, pending: &PendingTopic) -> anyhow::Result<usize> {
    let (k, pending) = (s.kafka.clone(), pending.clone());
    let (n, took) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let left = entries(&k, &pending)
            .with_context(|| format!("reading the held late records on {}", pending.topic))?;
        if left.is_empty() {
            return Ok((0, std::time::Duration::ZERO));
        }
        Ok((left.len(), republish(&k, &pending, &left)?))
    })
    .await??;
    if n > 0 {
        eprintln!(
            "retailgen: published {n} late records an earlier run held but had not yet published, in {:.1} s",
            took.as_secs_f64()
        );
    }
    Ok(n)
}

/// Numbers this run and records it where the target keeps run history.
pub async fn number_run(
    s: &Settings,
    pool: Option<&Pool>,
    found: &Found,
    seed: u64,
) -> anyhow::Result<u32> {
    let mut run = found.previous_runs.unwrap_or(0);
    if let Some(pool) = pool {
        let client = postgres::client(pool, "recording the run").await?;
        run = pg::record_run(&client, seed, run, s.shard.shard().index as i32).await?;
    }
    if s.run.sink == crate::config::SinkKind::Kafka {
        let (k, topic, target) = (s.kafka.clone(), s.topics.runs.clone(), target_id(s));
        tokio::task::spawn_blocking(move || record_run(&k, &topic, &target, run, seed))
            .await?
            .context("recording the run on the runs topic")?;
    }
    Ok(run)
}

/// The last level of every key on the stock topic (empty if the topic is new).
pub async fn read_stock(
    s: &Settings,
    topic: &str,
    inventory_schema_id: u32,
) -> anyhow::Result<StockTopic> {
    let started = Instant::now();
    let decoder = decoders(s)?;
    let (k, name) = (s.kafka.clone(), topic.to_owned());
    let read = tokio::task::spawn_blocking(move || {
        read_stock_topic(&k, &name, || {
            let mut reader = StockLevelReader::new(inventory_schema_id, decoder());
            move |value: &[u8]| reader.new_qty(value)
        })
    })
    .await?
    .map_err(cannot_rebuild("the stock ledger cannot be rebuilt".into()))?
    .unwrap_or_default();
    eprintln!(
        "retailgen: rebuilt the stock ledger from {} changes on {} ({} locations) in {:.2} s",
        read.changes,
        topic,
        read.last.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(read)
}

/// A decoder per partition reader: each looks the writers' schemas up in the registry.
fn decoders(s: &Settings) -> anyhow::Result<impl Fn() -> WireDecoder + Send + Sync + 'static> {
    let (client, runtime, url) = (
        RegistryClient::new(&s.registry)?,
        Handle::current(),
        s.registry.url.clone(),
    );
    Ok(move || WireDecoder::new(client.clone(), runtime.clone(), url.clone()))
}

/// A record a rebuild cannot read stops start-up with exit 2: `what: ` and the record's fault.
fn cannot_rebuild(what: String) -> impl FnOnce(ReplayError) -> anyhow::Error {
    move |e| match e {
        ReplayError::Record(m) => anyhow::Error::new(Unrecoverable(format!("{what}: {m}"))),
        other => other.into(),
    }
}

/// What the partitions' readers collected, in one list.
fn joined<T>(parts: Option<Vec<(WireDecoder, Vec<T>)>>) -> Vec<T> {
    parts.into_iter().flatten().flat_map(|(_, v)| v).collect()
}

/// The store sales a Kafka-canonical run draws refunds from: the lines of the transactions on
/// `pos-transactions` paid at or after `since`, and every refund on `refunds`.
pub async fn read_sales(
    s: &Settings,
    topics: &TopicNames,
    since: Millis,
) -> anyhow::Result<(Vec<PastLine>, Vec<PastRefund>)> {
    let started = Instant::now();
    let decoder = decoders(s)?;
    let k = s.kafka.clone();
    let (transactions, refunds) = (
        topics.of(Stream::PosTransactions).to_owned(),
        topics.of(Stream::Refunds).to_owned(),
    );
    let read = tokio::task::spawn_blocking(move || {
        let lines = read_values(
            &k,
            &transactions,
            || (decoder(), Vec::new()),
            |(d, out), value| {
                out.extend(past_lines(&d.decode(value)?, since)?);
                Ok(())
            },
        )?;
        let refunds = read_values(
            &k,
            &refunds,
            || (decoder(), Vec::new()),
            |(d, out), value| {
                out.push(past_refund(&d.decode(value)?)?);
                Ok(())
            },
        )?;
        Ok::<_, ReplayError>((joined(lines), joined(refunds)))
    })
    .await?
    .map_err(cannot_rebuild(
        "the refundable store transactions cannot be rebuilt".into(),
    ))?;
    eprintln!(
        "retailgen: read {} transaction lines and {} refunds back for refunds to draw on in {:.2} s",
        read.0.len(),
        read.1.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(read)
}

/// The last price of every product changed on `price-changes` (Kafka-canonical runs on the
/// memory store, whose prices start from the seed: the topic is the record of prices since).
pub async fn read_prices(
    s: &Settings,
    topics: &TopicNames,
) -> anyhow::Result<HashMap<String, i64>> {
    let decoder = decoders(s)?;
    let (k, topic) = (s.kafka.clone(), topics.of(Stream::PriceChanges).to_owned());
    let parts = tokio::task::spawn_blocking(move || {
        read_values(
            &k,
            &topic,
            || (decoder(), HashMap::new()),
            |(d, last), value| {
                let (product, cents) = price_change(&d.decode(value)?)?;
                last.insert(product, cents);
                Ok(())
            },
        )
    })
    .await?
    .map_err(cannot_rebuild(format!(
        "the prices cannot be rebuilt from {}",
        s.topics.price_changes
    )))?;
    // A product's changes share its key, so they live in one partition.
    Ok(parts
        .into_iter()
        .flatten()
        .flat_map(|(_, last)| last)
        .collect())
}
