//! Stock decided in memory (one writer per location) and staged for the group commit: the
//! Postgres-canonical ledger, and the mirror of a Kafka-canonical one.

use super::staging::{Stage, StockWrite};
use crate::adapters::postgres::KeyNames;
use crate::domain::ports::{RepositoryError, StockLedger};
use crate::domain::reference::catalog::{Catalog, StockLevels};
use crate::domain::stock::{Applied, StockBook, StockKey, StockLevel};

pub struct StagedLedger {
    book: StockBook,
    stage: Stage,
    names: KeyNames,
}

impl StagedLedger {
    pub fn new(stage: Stage, catalog: &Catalog, levels: StockLevels) -> Self {
        Self {
            book: StockBook::new(levels),
            stage,
            names: KeyNames::new(catalog),
        }
    }

    /// Stages the row's new level; `row_before` is what the row holds now (the write checks it),
    /// `global` what the product's global total moves by.
    fn stage(&self, key: StockKey, applied: Applied, row_before: i32, global: i32) -> Applied {
        let (location_id, product_id, store) = self.names.of(key);
        let write = StockWrite {
            location_id: location_id.clone(),
            product_id: product_id.clone(),
            store,
            previous: row_before,
            qty: applied.new_qty,
            // The global `inventory` is the sum over warehouses only.
            delta: if store { 0 } else { global },
        };
        self.stage.effects(|e| e.stock.push(write));
        applied
    }
}

fn no_row(key: StockKey) -> RepositoryError {
    RepositoryError(format!("no stock row for {key:?}"))
}

impl StockLedger for StagedLedger {
    fn level(&self, key: StockKey) -> Option<StockLevel> {
        self.book.level(key)
    }

    fn apply(&mut self, key: StockKey, requested: i32) -> Result<Applied, RepositoryError> {
        let applied = self.book.apply(key, requested).ok_or_else(|| no_row(key))?;
        Ok(self.stage(key, applied, applied.previous_qty, applied.quantity_delta))
    }

    /// The row already holds the level someone else set: the write checks that and records it
    /// as reported (start-up made the global totals the sums over warehouses again).
    fn restate(&mut self, key: StockKey, reported: i32) -> Result<Applied, RepositoryError> {
        let applied = self
            .book
            .restate(key, reported)
            .ok_or_else(|| no_row(key))?;
        Ok(self.stage(key, applied, applied.new_qty, 0))
    }
}
