//! The reference store in Postgres: loads the catalog; sign-ups and price changes are staged
//! and committed with the records that report them (see `canonical`).

use deadpool_postgres::Pool;
use tokio::runtime::Handle;

use super::canonical::Stage;
use super::{client, query_error, PgError};
use crate::domain::ports::{ReferenceStore, RepositoryError};
use crate::domain::reference::catalog::{Catalog, Product, StockLevels, User, CATEGORIES};
use crate::domain::reference::{ProductSupplier, Segment, StockRow};

pub struct PgStore {
    pool: Pool,
    runtime: Handle,
    stage: Stage,
}

impl PgStore {
    /// `runtime` runs the queries; call the port from outside it (e.g. `spawn_blocking`).
    pub fn new(pool: Pool, runtime: Handle, stage: Stage) -> Self {
        Self {
            pool,
            runtime,
            stage,
        }
    }

    async fn load_rows(&self) -> Result<(Catalog, StockLevels), PgError> {
        let what = "loading reference data";
        let c = client(&self.pool, what).await?;
        let q = |sql: &'static str| async { c.query(sql, &[]).await.map_err(query_error(what)) };
        let users = q("SELECT user_id, email, coalesce(country, ''), (extract(epoch FROM created_at) * 1000)::bigint FROM users ORDER BY user_id")
            .await?
            .iter()
            .map(|r| User { user_id: r.get(0), email: r.get(1), country: r.get(2), created_ms: r.get(3) })
            .collect();
        let products = q("SELECT product_id, title, coalesce(category, ''), (price_usd * 100)::bigint FROM products ORDER BY product_id")
            .await?
            .iter()
            .map(|r| {
                let category: String = r.get(2);
                Product {
                    product_id: r.get(0),
                    title: r.get(1),
                    category: CATEGORIES.iter().find(|c| **c == category).copied().unwrap_or("Other"),
                    price_cents: r.get(3),
                }
            })
            .collect();
        let warehouses = q("SELECT warehouse_id FROM warehouses ORDER BY warehouse_id")
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let offers: Vec<ProductSupplier> = q("SELECT product_id, supplier_id, (cost_usd * 100)::bigint, coalesce(lead_time_days, 0) FROM product_suppliers ORDER BY product_id, supplier_id")
            .await?
            .iter()
            .map(|r| ProductSupplier { product_id: r.get(0), supplier_id: r.get(1), cost_cents: r.get(2), lead_time_days: r.get(3) })
            .collect();
        let stock: Vec<StockRow> = q("SELECT warehouse_id, product_id, qty, reserved_qty FROM warehouse_inventory ORDER BY warehouse_id, product_id")
            .await?
            .iter()
            .map(|r| StockRow { warehouse_id: r.get(0), product_id: r.get(1), qty: r.get(2), reserved_qty: r.get(3) })
            .collect();
        Ok(Catalog::from_rows(
            users, products, warehouses, &offers, &stock,
        ))
    }
}

impl ReferenceStore for PgStore {
    fn load(&mut self) -> Result<(Catalog, StockLevels), RepositoryError> {
        Ok(self.runtime.block_on(self.load_rows())?)
    }

    fn insert_user(&mut self, user: &User, segment: &Segment) -> Result<(), RepositoryError> {
        let row = (user.clone(), segment.clone());
        self.stage.effects(|e| e.sign_ups.push(row));
        Ok(())
    }

    fn update_price(&mut self, product_id: &str, price_cents: i64) -> Result<(), RepositoryError> {
        let row = (product_id.to_owned(), price_cents);
        self.stage.effects(|e| e.prices.push(row));
        Ok(())
    }
}
