//! Ports: what the engine and services need from the outside world, as traits adapters implement.

use super::events::{Millis, PosTransaction, Refund};
use super::message::MessageRef;
use super::record::Record;
use super::reference::catalog::{Catalog, StockLevels, User};
use super::reference::Segment;
use super::stock::{Applied, StockKey, StockLevel};
use super::store::simulator::Quote;
use super::stream::Stream;

/// Delivery figures of one topic at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicReport {
    pub topic: String,
    /// Handed to the sink.
    pub produced: u64,
    /// Confirmed written by the sink (for Kafka: delivery reports without error).
    pub acknowledged: u64,
    /// Confirmed lost (delivery reports with an error).
    pub failed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The reader went away (e.g. `retailgen run | head`): stop quietly.
    #[error("the sink's reader closed it")]
    Closed,
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("{0}")]
    Sink(String),
}

/// Sends records to a sink (Kafka, stdout, files, nowhere).
///
/// # Errors
/// [`PublishError::Sink`] when the sink fails for good; backpressure is waited out, not returned.
pub trait EventPublisher: Send {
    /// Hands one record to the sink, blocking while the sink applies backpressure.
    fn publish(&mut self, record: &Record) -> Result<(), PublishError>;

    /// Waits until everything handed over is delivered or failed; reports per topic.
    fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError>;

    /// The records published since the last call form a group (an order and its sale, a
    /// transfer's two legs): a sink that commits in batches never splits one.
    fn end_group(&mut self) -> Result<(), PublishError> {
        Ok(())
    }

    /// A late record is held back as `id` (unique per shard across runs) until it is due: a
    /// sink with a durable store keeps it there with the effect it reports, so a crash loses
    /// nothing; others need not do anything (the engine holds it in memory).
    fn hold(&mut self, _record: &Record, _id: i64) -> Result<(), PublishError> {
        Ok(())
    }

    /// The held record `id` comes due: it is published, and no longer held.
    fn release(&mut self, record: &Record, _id: i64) -> Result<(), PublishError> {
        self.publish(record)
    }
}

/// Hands encoded messages to a broker and tells which are acknowledged (the outbox relay).
///
/// # Errors
/// [`PublishError::Sink`] when the broker refuses or loses a message for good.
pub trait MessageRelay: Send {
    /// Queues one message, waiting while the broker applies backpressure.
    fn send(&mut self, message: &MessageRef<'_>) -> Result<(), PublishError>;
    /// The highest `seq` such that it and every message sent before it are acknowledged.
    fn acknowledged(&mut self) -> Result<Option<i64>, PublishError>;
    /// Waits until every message is acknowledged or failed; reports per topic of this run.
    fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError>;
}

#[derive(Debug, thiserror::Error)]
#[error("cannot encode a {stream:?} record: {reason}")]
pub struct EncodeError {
    pub stream: Stream,
    pub reason: String,
}

/// Turns a record's value into the bytes a sink writes (Confluent wire format for Kafka).
///
/// # Errors
/// [`EncodeError`] when the value does not fit its schema.
pub trait SchemaEncoder: Send + Sync {
    /// Appends the encoded value of `record` to `out`.
    fn encode(&self, record: &Record, out: &mut Vec<u8>) -> Result<(), EncodeError>;
}

#[derive(Debug, thiserror::Error)]
#[error("reference data store: {0}")]
pub struct RepositoryError(pub String);

/// The reference tables: read once at start, then changed by sign-ups and price changes.
///
/// # Errors
/// [`RepositoryError`] when the store cannot be read or written.
pub trait ReferenceStore: Send {
    /// The catalog and the stock levels it starts from.
    fn load(&mut self) -> Result<(Catalog, StockLevels), RepositoryError>;
    /// A sign-up: the user and their segment exist before any event names them.
    fn insert_user(&mut self, user: &User, segment: &Segment) -> Result<(), RepositoryError>;
    /// A price change taking effect at `at`, visible to every later order.
    fn update_price(
        &mut self,
        product_id: &str,
        price_cents: i64,
        at: Millis,
    ) -> Result<(), RepositoryError>;
    /// The discounts of ISO week `week` (`2024-W07`): (store_id, product_id, whole percent).
    fn discounts(&mut self, week: &str) -> Result<Vec<(String, String, i64)>, RepositoryError>;
}

/// The canonical stock: each change is applied atomically and reported as the row went through it.
///
/// # Errors
/// [`RepositoryError`] when the canonical store fails.
pub trait StockLedger: Send {
    fn level(&self, key: StockKey) -> Option<StockLevel>;
    /// Applies `requested` to a stocked key, clamped so stock never drops below what is reserved.
    fn apply(&mut self, key: StockKey, requested: i32) -> Result<Applied, RepositoryError>;
    /// A level someone else changed since it was last reported as `reported`: the change that
    /// bridges the two, so the reported chain stays gapless.
    fn restate(&mut self, key: StockKey, reported: i32) -> Result<Applied, RepositoryError>;
}

/// The store sales kept beside the stock they move: in Postgres-canonical mode transactions,
/// their lines and refunds are rows committed with it (the database caps each line's refunds).
/// Elsewhere the topics are that record and this port keeps nothing.
///
/// # Errors
/// [`RepositoryError`] when the journal cannot be written.
pub trait SalesJournal: Send {
    fn transaction(&mut self, transaction: &PosTransaction) -> Result<(), RepositoryError>;
    fn refund(&mut self, refund: &Refund) -> Result<(), RepositoryError>;
}

/// Prices and discounts as the POS simulator reads them.
///
/// # Errors
/// [`RepositoryError`] when the source cannot be read.
pub trait PriceBook: Send {
    /// The price in effect at `at` and that week's discount of an item (at a store, where the
    /// source knows stores); `None` if the source does not list the item.
    fn quote(
        &mut self,
        item_id: &str,
        store_id: Option<&str>,
        at: Millis,
    ) -> Result<Option<Quote>, RepositoryError>;
}

/// Wall-clock time, injectable so runs can be simulated.
pub trait Clock: Send {
    fn now_ms(&self) -> Millis;
}
