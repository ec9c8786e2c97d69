//! The canonical-store contract on Postgres: effects and the records that report them are
//! committed together in groups (transactional outbox), relayed only after their commit, and
//! whatever a stop left pending is published before a new run generates anything.

mod commit;
pub mod journal;
mod ledger;
mod publisher;
pub mod recovery;
mod staging;

pub use commit::StockMode;
pub use journal::StagedJournal;
pub use ledger::StagedLedger;
pub use publisher::{CommittingPublisher, Downstream, Durability, BATCH_INTERVAL, BATCH_RECORDS};
pub use staging::Stage;
