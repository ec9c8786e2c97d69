//! The embedded default store: reference data generated in memory from the seed, and an
//! in-memory stock ledger (the truth when inventory is Kafka-canonical).

use crate::domain::events::{Millis, PosTransaction, Refund};
use crate::domain::ports::{ReferenceStore, RepositoryError, SalesJournal, StockLedger};
use crate::domain::reference::catalog::{Catalog, StockLevels, User};
use crate::domain::reference::stores::discount_pct;
use crate::domain::reference::{ReferenceData, SeedCounts, Segment};
use crate::domain::stock::{Applied, StockBook, StockKey, StockLevel};

/// The reference tables, in memory. Sign-ups are not kept here: the run's catalog holds them
/// (one byte each), nothing reads this store's users back during the run, and the next run
/// starts from the seed again; keeping their rows would grow a long run with every customer.
pub struct MemoryStore {
    data: ReferenceData,
    seed: u64,
    loaded: bool,
}

impl MemoryStore {
    pub fn generate(counts: SeedCounts, seed: u64) -> Self {
        Self {
            data: ReferenceData::generate(counts, seed),
            seed,
            loaded: false,
        }
    }
}

impl ReferenceStore for MemoryStore {
    /// The catalog, once: afterwards only the products (repriced) and the store assortment
    /// (discounts) are kept, so users, segments and stock rows do not stay in memory twice.
    fn load(&mut self) -> Result<(Catalog, StockLevels), RepositoryError> {
        if self.loaded {
            return Err(RepositoryError(
                "the memory store's reference data is loaded once per run".into(),
            ));
        }
        let loaded = Catalog::from_reference(&self.data);
        self.loaded = true;
        let kept = ReferenceData {
            products: std::mem::take(&mut self.data.products),
            store_stock: std::mem::take(&mut self.data.store_stock),
            ..ReferenceData::default()
        };
        self.data = kept;
        Ok(loaded)
    }

    fn insert_user(&mut self, _user: &User, _segment: &Segment) -> Result<(), RepositoryError> {
        Ok(())
    }

    fn update_price(
        &mut self,
        product_id: &str,
        price_cents: i64,
        _at: Millis,
    ) -> Result<(), RepositoryError> {
        let product = self
            .data
            .products
            .iter_mut()
            .find(|p| p.product_id == product_id)
            .ok_or_else(|| RepositoryError(format!("no product {product_id}")))?;
        product.price_cents = price_cents;
        Ok(())
    }

    fn discounts(&mut self, week: &str) -> Result<Vec<(String, String, i64)>, RepositoryError> {
        Ok(self
            .data
            .store_stock
            .iter()
            .filter_map(|r| {
                let pct = discount_pct(self.seed, &r.store_id, &r.product_id, week)?;
                Some((r.store_id.clone(), r.product_id.clone(), pct))
            })
            .collect())
    }
}

/// Stock in memory: the ledger of record in Kafka-canonical mode.
pub struct MemoryLedger {
    book: StockBook,
}

impl MemoryLedger {
    pub fn new(levels: StockLevels) -> Self {
        Self {
            book: StockBook::new(levels),
        }
    }
}

impl StockLedger for MemoryLedger {
    fn level(&self, key: StockKey) -> Option<StockLevel> {
        self.book.level(key)
    }

    fn apply(&mut self, key: StockKey, requested: i32) -> Result<Applied, RepositoryError> {
        self.book
            .apply(key, requested)
            .ok_or_else(|| RepositoryError(format!("no stock row for {key:?}")))
    }

    fn restate(&mut self, key: StockKey, reported: i32) -> Result<Applied, RepositoryError> {
        self.book
            .restate(key, reported)
            .ok_or_else(|| RepositoryError(format!("no stock row for {key:?}")))
    }
}

/// No sales journal: the topics are the record of transactions and refunds (memory store,
/// Kafka-canonical mode), and the refund book lives in the world.
pub struct NoJournal;

impl SalesJournal for NoJournal {
    fn transaction(&mut self, _: &PosTransaction) -> Result<(), RepositoryError> {
        Ok(())
    }

    fn refund(&mut self, _: &Refund) -> Result<(), RepositoryError> {
        Ok(())
    }
}
