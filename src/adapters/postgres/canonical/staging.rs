//! The staging area shared by the Postgres ports (effects) and the committing publisher
//! (records): what one group added is moved whole into the batch the commit worker takes next.

use std::mem;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::domain::events::{Millis, PosTransaction, Refund};
use crate::domain::message::Packed;
use crate::domain::record::Record;
use crate::domain::reference::catalog::User;
use crate::domain::reference::Segment;

/// A stock row's new level, as the batch leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StockWrite {
    /// A warehouse id (`warehouse_inventory`) or a store id (`store_inventory`).
    pub location_id: String,
    pub store: bool,
    pub product_id: String,
    /// The level the row had before this change (checked: nobody else may have moved it).
    pub previous: i32,
    pub qty: i32,
    /// What the global `inventory` of the product moves by.
    pub delta: i32,
}

/// What a batch changes in the reference tables.
#[derive(Debug, Default)]
pub struct Effects {
    pub stock: Vec<StockWrite>,
    pub sign_ups: Vec<(User, Segment)>,
    /// (product_id, cents, effective at)
    pub prices: Vec<(String, i64, Millis)>,
    /// Store transactions and refunds (Postgres-canonical mode).
    pub transactions: Vec<PosTransaction>,
    pub refunds: Vec<Refund>,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        self.stock.is_empty()
            && self.sign_ups.is_empty()
            && self.prices.is_empty()
            && self.transactions.is_empty()
            && self.refunds.is_empty()
    }

    fn append(&mut self, other: &mut Effects) {
        self.stock.append(&mut other.stock);
        self.sign_ups.append(&mut other.sign_ups);
        self.prices.append(&mut other.prices);
        self.transactions.append(&mut other.transactions);
        self.refunds.append(&mut other.refunds);
    }
}

/// Effects and the records that report them, committed in one transaction. The records go
/// downstream after the commit: as encoded messages to a broker (through the outbox), or as
/// records to a sink without a durable target.
#[derive(Debug, Default)]
pub struct Batch {
    pub effects: Effects,
    pub messages: Packed,
    pub records: Vec<Record>,
    /// Late records held back until due (`retailgen_held` rows, their seq the held id), and
    /// the held ids that came due (published in this batch's outbox rows).
    pub held: Packed,
    pub released: Vec<i64>,
}

impl Batch {
    /// Records in the batch.
    pub fn len(&self) -> usize {
        self.messages.len() + self.records.len() + self.held.len()
    }

    pub fn is_empty(&self) -> bool {
        self.effects.is_empty() && self.len() == 0 && self.released.is_empty()
    }

    fn append(&mut self, other: &mut Batch) {
        self.effects.append(&mut other.effects);
        self.messages.append(&mut other.messages);
        self.records.append(&mut other.records);
        self.held.append(&mut other.held);
        self.released.append(&mut other.released);
    }
}

#[derive(Debug, Default)]
struct Staging {
    /// Staged by the current group, not yet visible to the worker.
    open: Batch,
    /// Whole groups, taken by the worker.
    ready: Batch,
    /// The worker should take `ready` now (a flush or the end of the run).
    urgent: bool,
    /// The first failure of the worker: every later call reports it.
    failed: Option<Failure>,
    /// No more batches will come.
    closed: bool,
}

/// Why the worker stopped before its time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The sink's reader went away (e.g. `retailgen run | head`): stop quietly.
    Closed,
    Failed(String),
}

/// The staging area, shared by the ports, the publisher and the commit worker.
#[derive(Debug, Clone, Default)]
pub struct Stage {
    inner: Arc<(Mutex<Staging>, Condvar)>,
}

/// What the worker is given: a batch, or the word that nothing more will come.
// One Take per batch (every 50 ms at most): its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Take {
    Batch(Batch),
    Closed,
}

impl Stage {
    fn lock(&self) -> MutexGuard<'_, Staging> {
        self.inner.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds effects to the open group.
    pub fn effects(&self, add: impl FnOnce(&mut Effects)) {
        add(&mut self.lock().open.effects);
    }

    /// Whether the open group has staged effects since its last record.
    pub fn open_has_effects(&self) -> bool {
        !self.lock().open.effects.is_empty()
    }

    /// Adds to the open group (a record, or its message).
    pub fn open<R>(&self, add: impl FnOnce(&mut Batch) -> R) -> R {
        add(&mut self.lock().open)
    }

    /// Closes the open group into the batch. Blocks while the worker is `max` records behind.
    pub fn end_group(&self, batch_size: usize) -> Result<(), Failure> {
        let (_, wake) = &*self.inner;
        let mut s = self.lock();
        if let Some(e) = &s.failed {
            return Err(e.clone());
        }
        let Staging { open, ready, .. } = &mut *s;
        ready.append(open);
        if s.ready.len() >= batch_size {
            wake.notify_all();
            while s.ready.len() >= 2 * batch_size && s.failed.is_none() {
                s = wake.wait(s).unwrap_or_else(|p| p.into_inner());
            }
        }
        match &s.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// For the worker: the next batch once `batch_size` records are ready, `interval` passed,
    /// or a flush asked for it (the batch may then be empty); `Closed` once all is taken.
    pub fn take(&self, batch_size: usize, interval: Duration) -> Take {
        let (_, wake) = &*self.inner;
        let mut s = self.lock();
        let mut waited = false;
        loop {
            let full = s.ready.len() >= batch_size;
            let pending = !s.ready.is_empty();
            if full || s.urgent || waited || (s.closed && pending) {
                s.urgent = false;
                let batch = mem::take(&mut s.ready);
                wake.notify_all();
                return Take::Batch(batch);
            }
            if s.closed {
                return Take::Closed;
            }
            let (guard, timeout) = wake
                .wait_timeout(s, interval)
                .unwrap_or_else(|p| p.into_inner());
            s = guard;
            waited = timeout.timed_out();
        }
    }

    /// Asks the worker to commit what is ready now.
    pub fn hurry(&self) {
        self.lock().urgent = true;
        self.inner.1.notify_all();
    }

    /// Nothing more will be staged.
    pub fn close(&self) {
        self.lock().closed = true;
        self.inner.1.notify_all();
    }

    /// The worker failed: callers learn it at their next call.
    pub fn fail(&self, cause: Failure) {
        let mut s = self.lock();
        s.failed.get_or_insert(cause);
        self.inner.1.notify_all();
    }

    pub fn failure(&self) -> Option<Failure> {
        self.lock().failed.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(qty: i32) -> StockWrite {
        StockWrite {
            location_id: "WH001".into(),
            store: false,
            product_id: "P000001".into(),
            previous: 0,
            qty,
            delta: qty,
        }
    }

    #[test]
    fn a_group_reaches_the_worker_whole_or_not_at_all() {
        let stage = Stage::default();
        stage.effects(|e| e.stock.push(write(1)));
        stage.hurry();
        // The open group is not visible: the worker gets an empty batch.
        let Take::Batch(first) = stage.take(10, Duration::from_millis(1)) else {
            panic!("a batch")
        };
        assert!(first.is_empty());
        stage.end_group(10).unwrap();
        let Take::Batch(second) = stage.take(10, Duration::from_millis(1)) else {
            panic!("a batch")
        };
        assert_eq!(second.effects.stock, vec![write(1)]);
        stage.effects(|e| e.stock.push(write(2)));
        stage.end_group(10).unwrap();
        stage.close();
        let Take::Batch(last) = stage.take(10, Duration::from_secs(60)) else {
            panic!("what was ready before the close is still taken")
        };
        assert_eq!(last.effects.stock, vec![write(2)]);
        assert!(matches!(
            stage.take(10, Duration::from_millis(1)),
            Take::Closed
        ));
    }

    #[test]
    fn a_failure_reaches_the_next_group() {
        let stage = Stage::default();
        stage.fail(Failure::Failed("the database went away".into()));
        stage.fail(Failure::Closed);
        assert_eq!(
            stage.end_group(10),
            Err(Failure::Failed("the database went away".into()))
        );
    }
}
