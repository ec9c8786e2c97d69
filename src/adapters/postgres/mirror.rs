//! Kafka-canonical stock mirrored into Postgres: the in-memory ledger decides, and a writer task
//! sets `warehouse_inventory` (and the global `inventory`) to what it decided, in order.

use deadpool_postgres::Pool;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot};

use super::{client, query_error, KeyNames, PgError};
use crate::adapters::memory::MemoryLedger;
use crate::domain::catalog::Catalog;
use crate::domain::inventory::{Applied, StockKey, StockLevel};
use crate::domain::ports::{RepositoryError, StockLedger};

/// Changes waiting to be written before the ledger blocks (backpressure).
const QUEUE: usize = 10_000;
/// Changes written per transaction at most.
const BATCH: usize = 1_000;

enum Write {
    Set {
        warehouse: String,
        product: String,
        qty: i32,
        delta: i32,
    },
    Flush(oneshot::Sender<Result<(), String>>),
}

pub struct MirroredLedger {
    ledger: MemoryLedger,
    writes: mpsc::Sender<Write>,
    names: KeyNames,
}

impl MirroredLedger {
    /// Starts the writer on `runtime`.
    pub fn new(ledger: MemoryLedger, pool: Pool, runtime: Handle, catalog: &Catalog) -> Self {
        let (writes, queue) = mpsc::channel(QUEUE);
        runtime.spawn(write_all(pool, queue));
        Self {
            ledger,
            writes,
            names: KeyNames::new(catalog),
        }
    }
}

async fn write_all(pool: Pool, mut queue: mpsc::Receiver<Write>) {
    let mut failed: Option<String> = None;
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let mut sets = Vec::with_capacity(batch.len());
        for write in batch.drain(..) {
            match write {
                Write::Set {
                    warehouse,
                    product,
                    qty,
                    delta,
                } => sets.push((warehouse, product, qty, delta)),
                Write::Flush(done) => {
                    if failed.is_none() && !sets.is_empty() {
                        failed = write_batch(&pool, std::mem::take(&mut sets))
                            .await
                            .err()
                            .map(|e| e.to_string());
                    }
                    let _ = done.send(failed.clone().map_or(Ok(()), Err));
                }
            }
        }
        if failed.is_none() && !sets.is_empty() {
            failed = write_batch(&pool, sets).await.err().map(|e| e.to_string());
        }
    }
}

async fn write_batch(pool: &Pool, sets: Vec<(String, String, i32, i32)>) -> Result<(), PgError> {
    let what = "mirroring stock to warehouse_inventory";
    let mut c = client(pool, what).await?;
    let tx = c.transaction().await.map_err(query_error(what))?;
    for (warehouse, product, qty, delta) in &sets {
        tx.execute(
            "UPDATE warehouse_inventory SET qty = $3, updated_at = now() WHERE warehouse_id = $1 AND product_id = $2",
            &[warehouse, product, qty],
        )
        .await
        .map_err(query_error(what))?;
        if *delta != 0 {
            tx.execute(
                "UPDATE inventory SET qty = qty + $2, updated_at = now() WHERE product_id = $1",
                &[product, delta],
            )
            .await
            .map_err(query_error(what))?;
        }
    }
    tx.commit().await.map_err(query_error(what))
}

impl StockLedger for MirroredLedger {
    fn level(&self, key: StockKey) -> Option<StockLevel> {
        self.ledger.level(key)
    }

    fn apply(&mut self, key: StockKey, requested: i32) -> Result<Applied, RepositoryError> {
        let applied = self.ledger.apply(key, requested)?;
        let write = Write::Set {
            warehouse: self.names.of(key).0.clone(),
            product: self.names.of(key).1.clone(),
            qty: applied.new_qty,
            delta: applied.quantity_delta,
        };
        self.writes
            .blocking_send(write)
            .map_err(|_| RepositoryError("the stock mirror writer stopped".into()))?;
        Ok(applied)
    }

    fn flush(&mut self) -> Result<(), RepositoryError> {
        let (done, wait) = oneshot::channel();
        self.writes
            .blocking_send(Write::Flush(done))
            .map_err(|_| RepositoryError("the stock mirror writer stopped".into()))?;
        wait.blocking_recv()
            .map_err(|_| RepositoryError("the stock mirror writer stopped".into()))?
            .map_err(RepositoryError)
    }
}
