//! The reference store in Postgres: loads the catalog; sign-ups and price changes are staged
//! and committed with the records that report them (see `canonical`).

use deadpool_postgres::Pool;
use tokio::runtime::Handle;

use super::canonical::Stage;
use super::{client, query_error, PgError};
use crate::domain::events::Millis;
use crate::domain::ports::{ReferenceStore, RepositoryError};
use crate::domain::reference::catalog::{
    Catalog, Product, StockLevels, StoreRows, User, CATEGORIES,
};
use crate::domain::reference::stores::{discount_pct, Employee, Store, StoreStockRow, ROLES};
use crate::domain::reference::{ProductSupplier, Segment, StockRow};

pub struct PgStore {
    pool: Pool,
    runtime: Handle,
    stage: Stage,
    /// The reference-data seed: a week's discounts are written from it when first needed.
    seed: u64,
}

/// A store row that cannot be used, named with what is valid.
fn bad_store(store_id: &str, what: &str) -> PgError {
    PgError::Query {
        what: "loading stores".into(),
        cause: format!("store {store_id}: {what}"),
    }
}

impl PgStore {
    /// `runtime` runs the queries; call the port from outside it (e.g. `spawn_blocking`).
    pub fn new(pool: Pool, runtime: Handle, stage: Stage, seed: u64) -> Self {
        Self {
            pool,
            runtime,
            stage,
            seed,
        }
    }

    async fn store_rows(&self) -> Result<StoreRows, PgError> {
        let what = "loading stores";
        let c = client(&self.pool, what).await?;
        let q = |sql: &'static str| async { c.query(sql, &[]).await.map_err(query_error(what)) };
        let mut stores = Vec::new();
        for r in q("SELECT store_id, name, coalesce(city, ''), coalesce(region, ''), coalesce(country, ''), timezone, \
                    (tax_rate * 10000)::bigint, (extract(epoch FROM opens_at) / 60)::int, (extract(epoch FROM closes_at) / 60)::int, \
                    coalesce(size_sqft, 0) FROM stores ORDER BY store_id").await? {
            let store_id: String = r.get(0);
            let zone: String = r.get(5);
            let timezone = zone.parse().map_err(|_| {
                bad_store(&store_id, &format!("timezone '{zone}' is not an IANA time zone (such as Europe/Berlin)"))
            })?;
            let (opens, closes): (i32, i32) = (r.get(7), r.get(8));
            stores.push(Store {
                name: r.get(1),
                city: leak(r.get(2)),
                region: leak(r.get(3)),
                country: leak(r.get(4)),
                timezone,
                tax_rate_bp: r.get(6),
                opens_min: opens as u32,
                closes_min: closes as u32,
                size_sqft: r.get(9),
                store_id,
            });
        }
        let terminals = q("SELECT store_id, terminal_id FROM terminals ORDER BY terminal_id")
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let employees =
            q("SELECT store_id, employee_id, name, role FROM employees ORDER BY employee_id")
                .await?
                .iter()
                .map(|r| {
                    let role: String = r.get(3);
                    let employee = Employee {
                        employee_id: r.get(1),
                        store: 0,
                        name: r.get(2),
                        role: ROLES
                            .iter()
                            .find(|(n, _)| *n == role)
                            .map_or("other", |(n, _)| n),
                    };
                    (r.get(0), employee)
                })
                .collect();
        let stock = q("SELECT store_id, product_id, qty, reserved_qty, reorder_point, reorder_qty FROM store_inventory ORDER BY store_id, product_id")
            .await?
            .iter()
            .map(|r| StoreStockRow { store_id: r.get(0), product_id: r.get(1), qty: r.get(2), reserved_qty: r.get(3), reorder_point: r.get(4), reorder_qty: r.get(5) })
            .collect();
        Ok(StoreRows {
            stores,
            terminals,
            employees,
            stock,
        })
    }

    /// The week's discounts: written from the seed for every stocked row when the week is first
    /// needed (so an operator's later edits stand), then read back.
    async fn week_rows(&self, week: &str) -> Result<Vec<(String, String, i64)>, PgError> {
        let what = format!("loading the discounts of {week}");
        let c = client(&self.pool, &what).await?;
        let known = c
            .query_opt("SELECT 1 FROM discounts WHERE week = $1 LIMIT 1", &[&week])
            .await
            .map_err(query_error(&what))?;
        if known.is_none() {
            let rows = c
                .query("SELECT store_id, product_id FROM store_inventory", &[])
                .await
                .map_err(query_error(&what))?;
            let (mut s, mut p, mut d) = (Vec::new(), Vec::new(), Vec::new());
            for r in &rows {
                let (store, product): (&str, &str) = (r.get(0), r.get(1));
                if let Some(pct) = discount_pct(self.seed, store, product, week) {
                    s.push(store);
                    p.push(product);
                    d.push(pct);
                }
            }
            c.execute(
                "INSERT INTO discounts (store_id, product_id, week, discount) \
                 SELECT s, p, $4, d / 100.0 FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(s, p, d) \
                 ON CONFLICT DO NOTHING",
                &[&s, &p, &d, &week],
            )
            .await
            .map_err(query_error(&what))?;
        }
        Ok(c.query(
            "SELECT store_id, product_id, (discount * 100)::bigint FROM discounts WHERE week = $1",
            &[&week],
        )
        .await
        .map_err(query_error(&what))?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
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
        let world = self.store_rows().await?;
        Ok(Catalog::from_rows(
            users, products, warehouses, &offers, &stock, world,
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

    fn update_price(
        &mut self,
        product_id: &str,
        price_cents: i64,
        at: Millis,
    ) -> Result<(), RepositoryError> {
        let row = (product_id.to_owned(), price_cents, at);
        self.stage.effects(|e| e.prices.push(row));
        Ok(())
    }

    fn discounts(&mut self, week: &str) -> Result<Vec<(String, String, i64)>, RepositoryError> {
        Ok(self.runtime.block_on(self.week_rows(week))?)
    }
}

/// Store names and places are read once per run and live as long as it.
fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}
