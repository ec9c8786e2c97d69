//! The committing publisher: records are staged with the effects they report, committed in
//! groups by a worker thread, and only then handed downstream — to a broker through the outbox
//! (rows removed once acknowledged), or to a sink without a durable target.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool};
use tokio::runtime::Handle;

use super::commit::{commit, committed, StockMode};
use super::staging::{Batch, Failure, Stage, Take};
use crate::adapters::crash::{crash_if, crash_point};
use crate::domain::ports::{
    EventPublisher, MessageRelay, PublishError, SchemaEncoder, TopicReport,
};
use crate::domain::record::Record;
use crate::domain::stream::TopicNames;
use crate::observe::RunStats;

/// Group commit bounds: at most this many records per transaction...
pub const BATCH_RECORDS: usize = 5_000;
/// ...and a record waits at most about this long for its commit.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(50);

/// Which records get an outbox row (the others are released after their batch commits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Postgres-canonical: every record.
    Every,
    /// Kafka-canonical: records whose group changed a table (a sign-up, a price, a mirrored row).
    WithEffects,
}

/// Where committed records go.
pub enum Downstream {
    /// A broker, through the outbox: records are encoded once, stored, relayed, then removed.
    Broker {
        relay: Box<dyn MessageRelay>,
        encoder: Box<dyn SchemaEncoder>,
        durability: Durability,
        /// The first outbox sequence number of this run.
        first_seq: i64,
        /// Whose outbox rows these are (scale-out; 0 when not sharded).
        shard: i32,
    },
    /// A sink with no durable target to reconcile with (stdout, file, null).
    Sink(Box<dyn EventPublisher>),
}

enum Sender {
    Relay(Box<dyn MessageRelay>),
    Sink(Box<dyn EventPublisher>),
}

/// Commits what the engine staged and hands it downstream, batch after batch.
struct Worker {
    stage: Stage,
    client: Object,
    /// Where a lost connection is replaced from, and for how long that is tried.
    pool: Pool,
    reconnect_timeout: Duration,
    runtime: Handle,
    mode: StockMode,
    sender: Sender,
    /// Outbox rows up to here are acknowledged and may be removed.
    acknowledged: Option<i64>,
    removed: Option<i64>,
    /// The last outbox row committed, and the row before this run's first.
    committed: Option<i64>,
    before_first: i64,
    shard: i32,
    target: String,
    stats: Arc<RunStats>,
}

/// Tells the engine the worker is gone if it stops without saying why (a panic), so nothing
/// waits for it forever.
struct Gone(Stage);

impl Drop for Gone {
    fn drop(&mut self) {
        self.0
            .fail(Failure::Failed("the commit worker stopped".into()));
    }
}

impl Worker {
    fn run(mut self) -> Result<Vec<TopicReport>, Failure> {
        let gone = Gone(self.stage.clone());
        let result = self.work();
        if let Err(e) = &result {
            if let Failure::Failed(why) = e {
                self.stats.fail(why);
            }
            self.stage.fail(e.clone());
        }
        std::mem::forget(gone);
        result
    }

    fn work(&mut self) -> Result<Vec<TopicReport>, Failure> {
        let crash = crash_point();
        let mut commits = 0;
        while let Take::Batch(batch) = self.stage.take(BATCH_RECORDS, BATCH_INTERVAL) {
            self.poll_acknowledged()?;
            if batch.is_empty() && self.removed == self.acknowledged {
                continue;
            }
            self.commit(&batch)?;
            commits += 1;
            crash_if(&crash, "after_commit", commits);
            match self.send(batch) {
                // The reader went away: the run stops quietly, what was sent is reported.
                Err(Failure::Closed) => {
                    self.stage.fail(Failure::Closed);
                    break;
                }
                sent => sent?,
            }
            crash_if(&crash, "after_relay", commits);
        }
        let reports = match &mut self.sender {
            Sender::Relay(relay) => relay.flush().map_err(failure)?,
            Sender::Sink(sink) => sink.flush().map_err(failure)?,
        };
        self.poll_acknowledged()?;
        if self.removed != self.acknowledged {
            self.commit(&Batch::default())?;
        }
        Ok(reports)
    }

    fn poll_acknowledged(&mut self) -> Result<(), Failure> {
        if let Sender::Relay(relay) = &mut self.sender {
            if let Some(seq) = relay.acknowledged().map_err(failure)? {
                self.acknowledged = Some(seq);
            }
            self.report_backlog();
        }
        Ok(())
    }

    /// Outbox rows committed and not yet acknowledged by the broker.
    fn report_backlog(&self) {
        let committed = self.committed.unwrap_or(self.before_first);
        let acknowledged = self.acknowledged.unwrap_or(self.before_first);
        self.stats
            .set_outbox_backlog((committed - acknowledged).max(0));
    }

    fn commit(&mut self, batch: &Batch) -> Result<(), Failure> {
        let removing = (self.acknowledged != self.removed)
            .then_some(self.acknowledged)
            .flatten();
        let started = Instant::now();
        let last_seq = batch.messages.iter().filter_map(|m| m.seq).max();
        // Since when the store is away, and the next pause before trying again.
        let mut away: Option<Instant> = None;
        let mut pause = Duration::from_millis(100);
        loop {
            let tried = self.runtime.block_on(commit(
                &mut self.client,
                batch,
                self.mode,
                removing,
                self.shard,
            ));
            let e = match tried {
                Ok(()) => break,
                Err(e) => e,
            };
            // A query the server refused on a live connection is not an outage: fail at once.
            let lost = self.client.is_closed() || {
                // The connection's task may take a moment to see its end.
                std::thread::sleep(Duration::from_millis(50));
                self.client.is_closed()
            };
            let first = away.is_none();
            let since = *away.get_or_insert_with(Instant::now);
            if !lost || since.elapsed() >= self.reconnect_timeout {
                let waited = match away.map(|a| a.elapsed()) {
                    Some(w) if lost && !self.reconnect_timeout.is_zero() => format!(
                        " (the connection was lost and not back within PG_RECONNECT_TIMEOUT = {:?}, after {:.1} s)",
                        self.reconnect_timeout,
                        w.as_secs_f64()
                    ),
                    _ => String::new(),
                };
                return Err(Failure::Failed(format!(
                    "the canonical store at {} (PG_DSN) failed: {e}{waited}; the {} records of the \
                     batch were not published and its changes were rolled back; what was committed \
                     before is kept in retailgen_outbox and published at the next start",
                    self.target,
                    batch.len()
                )));
            }
            if first {
                let why = format!("the canonical store at {} is away: {e}", self.target);
                tracing::warn!(
                    "{why}; generation waits and the group of {} records is retried for up to {:?} (PG_RECONNECT_TIMEOUT)",
                    batch.len(),
                    self.reconnect_timeout
                );
                self.stats.store_away(&why);
            }
            match self.reconnect(since, &mut pause, last_seq) {
                Some(true) => break,
                _ => continue,
            }
        }
        if let Some(since) = away {
            self.stats.store_back();
            tracing::warn!(
                "the canonical store at {} is back after {:.1} s; the run goes on",
                self.target,
                since.elapsed().as_secs_f64()
            );
        }
        self.stats.observe_commit(started.elapsed().as_secs_f64());
        self.removed = self.acknowledged;
        if let Some(last) = last_seq {
            self.committed = Some(last);
        }
        self.report_backlog();
        Ok(())
    }

    /// After a pause (doubling up to 2 s, never past the deadline), a new connection from the
    /// pool: `None` if none could be had yet; `Some(true)` if the group it replaces had in fact
    /// committed (its last outbox row is there: the connection was lost after the commit and
    /// before its answer), `Some(false)` to commit it again.
    fn reconnect(
        &mut self,
        since: Instant,
        pause: &mut Duration,
        last_seq: Option<i64>,
    ) -> Option<bool> {
        let left = self.reconnect_timeout.saturating_sub(since.elapsed());
        std::thread::sleep((*pause).min(left));
        *pause = (*pause * 2).min(Duration::from_secs(2));
        let pool = &self.pool;
        let connecting = async {
            let client = crate::adapters::postgres::client(pool, "reconnecting");
            tokio::time::timeout(Duration::from_secs(5), client).await
        };
        let client = self
            .runtime
            .block_on(connecting)
            .map_err(|_| tracing::debug!("the canonical store is still away: no answer in 5 s"))
            .ok()?
            .map_err(|e| tracing::debug!("the canonical store is still away: {e}"))
            .ok()?;
        self.client = client;
        match last_seq {
            Some(seq) => self
                .runtime
                .block_on(committed(&self.client, self.shard, seq))
                .map_err(|e| tracing::debug!("the canonical store is still away: {e}"))
                .ok(),
            None => Some(false),
        }
    }

    fn send(&mut self, batch: Batch) -> Result<(), Failure> {
        let sent = match &mut self.sender {
            Sender::Relay(relay) => batch.messages.iter().try_for_each(|m| relay.send(&m)),
            Sender::Sink(sink) => batch.records.iter().try_for_each(|r| sink.publish(r)),
        };
        sent.map_err(failure)
    }
}

fn failure(e: PublishError) -> Failure {
    match e {
        PublishError::Closed => Failure::Closed,
        other => Failure::Failed(other.to_string()),
    }
}

fn publish_error(f: Failure) -> PublishError {
    match f {
        Failure::Closed => PublishError::Closed,
        Failure::Failed(e) => PublishError::Sink(e),
    }
}

/// The engine's publisher when the store is Postgres.
pub struct CommittingPublisher {
    stage: Stage,
    topics: TopicNames,
    encoder: Option<Box<dyn SchemaEncoder>>,
    durability: Durability,
    next_seq: i64,
    worker: Option<JoinHandle<Result<Vec<TopicReport>, Failure>>>,
}

impl CommittingPublisher {
    /// Starts the worker on its own thread; `client` is its connection (replaced from `pool` when
    /// lost, for up to `reconnect_timeout`), `runtime` runs its queries,
    /// `stats` gets its commit latencies, outbox backlog and failure.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        stage: Stage,
        (client, pool, reconnect_timeout): (Object, Pool, Duration),
        runtime: Handle,
        mode: StockMode,
        downstream: Downstream,
        topics: TopicNames,
        target: String,
        stats: Arc<RunStats>,
    ) -> Self {
        let (sender, encoder, durability, next_seq, shard) = match downstream {
            Downstream::Broker {
                relay,
                encoder,
                durability,
                first_seq,
                shard,
            } => (
                Sender::Relay(relay),
                Some(encoder),
                durability,
                first_seq,
                shard,
            ),
            Downstream::Sink(sink) => (Sender::Sink(sink), None, Durability::Every, 0, 0),
        };
        let worker = Worker {
            stage: stage.clone(),
            client,
            pool,
            reconnect_timeout,
            runtime,
            mode,
            sender,
            acknowledged: None,
            removed: None,
            committed: None,
            before_first: next_seq - 1,
            shard,
            target,
            stats,
        };
        let worker = std::thread::Builder::new()
            .name("retailgen-commit".into())
            .spawn(move || worker.run())
            .expect("a thread for the commit worker");
        Self {
            stage,
            topics,
            encoder,
            durability,
            next_seq,
            worker: Some(worker),
        }
    }

    /// The next outbox sequence number if the record being published gets an outbox row.
    fn seq(&mut self) -> Option<i64> {
        let durable = match self.durability {
            Durability::Every => true,
            Durability::WithEffects => self.stage.open_has_effects(),
        };
        durable.then(|| {
            self.next_seq += 1;
            self.next_seq - 1
        })
    }
}

impl EventPublisher for CommittingPublisher {
    fn publish(&mut self, record: &Record) -> Result<(), PublishError> {
        if let Some(e) = self.stage.failure() {
            return Err(publish_error(e));
        }
        let seq = self.seq();
        let Some(encoder) = &self.encoder else {
            let record = record.clone();
            self.stage.open(|b| b.records.push(record));
            return Ok(());
        };
        let stream = record.stream();
        let topic = self.topics.of(stream);
        self.stage.open(|b| {
            b.messages.push(seq, stream.index(), topic, record, |out| {
                encoder.encode(record, out)
            })
        })?;
        Ok(())
    }

    fn end_group(&mut self) -> Result<(), PublishError> {
        self.stage.end_group(BATCH_RECORDS).map_err(publish_error)
    }

    /// Postgres-canonical: the held record is a `retailgen_held` row, committed with the effect
    /// it reports (otherwise the engine's memory holds it).
    fn hold(&mut self, record: &Record, id: i64) -> Result<(), PublishError> {
        let (Some(encoder), Durability::Every) = (&self.encoder, self.durability) else {
            return Ok(());
        };
        let stream = record.stream();
        let topic = self.topics.of(stream);
        self.stage.open(|b| {
            b.held.push(Some(id), stream.index(), topic, record, |out| {
                encoder.encode(record, out)
            })
        })?;
        Ok(())
    }

    /// Its outbox row and the removal of its held row commit together.
    fn release(&mut self, record: &Record, id: i64) -> Result<(), PublishError> {
        self.publish(record)?;
        if self.encoder.is_some() && self.durability == Durability::Every {
            self.stage.open(|b| b.released.push(id));
        }
        Ok(())
    }

    /// Commits what is staged, waits for the downstream's acknowledgements, removes their rows.
    fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError> {
        self.stage.close();
        let worker = self
            .worker
            .take()
            .ok_or_else(|| PublishError::Sink("the commit worker was already stopped".into()))?;
        match worker.join() {
            Ok(result) => result.map_err(publish_error),
            Err(_) => Err(PublishError::Sink("the commit worker panicked".into())),
        }
    }
}

impl Drop for CommittingPublisher {
    fn drop(&mut self) {
        self.stage.close();
    }
}
