//! Postgres-canonical stock: each change is one atomic statement that locks the row, clamps the
//! delta, updates `warehouse_inventory` and the global `inventory`, and returns what the row went through.

use deadpool_postgres::Pool;
use tokio::runtime::Handle;

use super::{client, query_error, KeyNames, PgError};
use crate::domain::catalog::{Catalog, StockLevels};
use crate::domain::inventory::{Applied, StockBook, StockKey, StockLevel};
use crate::domain::ports::{RepositoryError, StockLedger};

/// Lock, clamp (never below reserved, so never below 0), apply to the row and the global total.
const APPLY: &str = "
WITH cur AS (
  SELECT qty, reserved_qty FROM warehouse_inventory
  WHERE warehouse_id = $1 AND product_id = $2 FOR UPDATE
), d AS (
  SELECT qty AS previous_qty, reserved_qty,
         CASE WHEN $3::int >= 0 THEN $3::int ELSE GREATEST($3::int, -GREATEST(qty - reserved_qty, 0)) END AS delta
  FROM cur
), w AS (
  UPDATE warehouse_inventory SET qty = warehouse_inventory.qty + d.delta, updated_at = now()
  FROM d WHERE warehouse_id = $1 AND product_id = $2
  RETURNING warehouse_inventory.qty AS new_qty
), g AS (
  UPDATE inventory SET qty = inventory.qty + d.delta, updated_at = now()
  FROM d WHERE inventory.product_id = $2 AND d.delta <> 0
)
SELECT d.previous_qty, d.delta, w.new_qty, d.reserved_qty FROM d, w";

pub struct PgLedger {
    pool: Pool,
    runtime: Handle,
    /// Levels as the table last reported them, for choosing where to sell from.
    cache: StockBook,
    names: KeyNames,
}

impl PgLedger {
    pub fn new(pool: Pool, runtime: Handle, catalog: &Catalog, levels: StockLevels) -> Self {
        Self {
            pool,
            runtime,
            cache: StockBook::new(levels),
            names: KeyNames::new(catalog),
        }
    }

    async fn apply_row(&self, key: StockKey, requested: i32) -> Result<(Applied, i32), PgError> {
        let (w, p) = self.names.of(key);
        let what = format!("changing stock of {p} at {w}");
        let c = client(&self.pool, &what).await?;
        let row = c
            .query_opt(APPLY, &[w, p, &requested])
            .await
            .map_err(query_error(&what))?
            .ok_or_else(|| PgError::Query {
                what,
                cause: "no warehouse_inventory row".into(),
            })?;
        let applied = Applied {
            previous_qty: row.get(0),
            quantity_delta: row.get(1),
            new_qty: row.get(2),
        };
        Ok((applied, row.get(3)))
    }
}

impl StockLedger for PgLedger {
    fn level(&self, key: StockKey) -> Option<StockLevel> {
        self.cache.level(key)
    }

    fn apply(&mut self, key: StockKey, requested: i32) -> Result<Applied, RepositoryError> {
        let (applied, reserved) = self.runtime.block_on(self.apply_row(key, requested))?;
        self.cache.set(
            key,
            StockLevel {
                qty: applied.new_qty,
                reserved,
            },
        );
        Ok(applied)
    }
}
