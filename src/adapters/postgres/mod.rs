//! Postgres: migrations (refinery), deterministic seeding (COPY through deadpool-postgres), the
//! reference store, and the canonical store (group commit, transactional outbox, recovery).

pub mod canonical;
mod seed;
mod store;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use crate::config::{describe_dsn, Secret};
use crate::domain::ports::RepositoryError;
pub use seed::{seed, table_counts, SeedReport, TABLES};
pub use store::PgStore;

/// Location and product ids by catalog index, to name a stock key in SQL.
pub struct KeyNames {
    /// Warehouses, then stores (the catalog's location order).
    locations: Vec<String>,
    warehouses: usize,
    products: Vec<String>,
}

impl KeyNames {
    pub fn new(catalog: &crate::domain::reference::catalog::Catalog) -> Self {
        let stores = catalog.stores.iter().map(|s| s.store_id.clone());
        Self {
            locations: catalog.warehouses.iter().cloned().chain(stores).collect(),
            warehouses: catalog.warehouses.len(),
            products: catalog
                .products
                .iter()
                .map(|p| p.product_id.clone())
                .collect(),
        }
    }

    /// (location id, product_id, whether the location is a store) of a key.
    pub fn of(&self, key: crate::domain::stock::StockKey) -> (&String, &String, bool) {
        (
            &self.locations[key.location as usize],
            &self.products[key.product as usize],
            key.location as usize >= self.warehouses,
        )
    }
}

mod embedded {
    refinery::embed_migrations!("migrations");
}

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("cannot connect to {target} (PG_DSN): {cause}")]
    Connect { target: String, cause: String },
    #[error("{what} failed: {cause}")]
    Query { what: String, cause: String },
    #[error("migrations failed: {0}")]
    Migrate(String),
}

impl From<PgError> for RepositoryError {
    fn from(e: PgError) -> Self {
        RepositoryError(e.to_string())
    }
}

/// A `Query` error for `what`.
pub fn query_error(what: &str) -> impl FnOnce(tokio_postgres::Error) -> PgError + '_ {
    move |e| PgError::Query {
        what: what.to_owned(),
        cause: e
            .as_db_error()
            .map_or_else(|| e.to_string(), |db| db.to_string()),
    }
}

/// The parsed DSN and how to name it in errors (never with its password).
fn parse(dsn: &Secret) -> Result<(tokio_postgres::Config, String), PgError> {
    let target = describe_dsn(dsn);
    match dsn.expose().parse() {
        Ok(config) => Ok((config, target)),
        Err(e) => Err(PgError::Connect {
            target,
            cause: e.to_string(),
        }),
    }
}

fn unreachable(target: &str) -> impl FnOnce(String) -> PgError + '_ {
    move |cause| PgError::Connect {
        target: target.to_owned(),
        cause,
    }
}

/// A pooled connection, for `what` (named in the error if none can be had).
pub async fn client(pool: &Pool, what: &str) -> Result<deadpool_postgres::Object, PgError> {
    pool.get().await.map_err(|e| PgError::Query {
        what: what.to_owned(),
        // The server's own words ("database ... is not currently accepting connections"),
        // not only the pool's "db error".
        cause: match &e {
            deadpool_postgres::PoolError::Backend(b) => b.as_db_error().map_or_else(
                || b.to_string(),
                |db| format!("a new connection failed: {db}"),
            ),
            _ => e.to_string(),
        },
    })
}

/// A small pool for `dsn`, checked by taking one connection.
pub async fn connect(dsn: &Secret) -> Result<Pool, PgError> {
    let (config, target) = parse(dsn)?;
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(4)
        .build()
        .map_err(|e| unreachable(&target)(e.to_string()))?;
    let _probe = pool
        .get()
        .await
        .map_err(|e| unreachable(&target)(e.to_string()))?;
    Ok(pool)
}

/// Whether the server at `dsn` takes connections now: `Ok(None)` it does; `Ok(Some(cause))` not
/// yet (nothing listening, unreachable, starting up or shutting down); `Err` when it answers
/// with a refusal that waiting does not cure (a wrong password, an unknown database).
pub async fn probe(dsn: &Secret) -> Result<Option<String>, PgError> {
    let (config, target) = parse(dsn)?;
    let attempt = tokio::time::timeout(std::time::Duration::from_secs(5), config.connect(NoTls));
    let error = match attempt.await {
        Ok(Ok((_client, connection))) => {
            drop(connection);
            return Ok(None);
        }
        Ok(Err(e)) => e,
        Err(_) => return Ok(Some("no answer within 5 s".into())),
    };
    match error.as_db_error() {
        Some(db)
            if db.code() != &tokio_postgres::error::SqlState::CANNOT_CONNECT_NOW
                && db.code() != &tokio_postgres::error::SqlState::ADMIN_SHUTDOWN =>
        {
            Err(unreachable(&target)(db.to_string()))
        }
        Some(db) => Ok(Some(db.to_string())),
        None => Ok(Some(error.to_string())),
    }
}

/// Runs the embedded migrations; returns the names of those applied now.
pub async fn migrate(dsn: &Secret) -> Result<Vec<String>, PgError> {
    let (config, target) = parse(dsn)?;
    let (mut client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| unreachable(&target)(e.to_string()))?;
    let driver = tokio::spawn(connection);
    let report = embedded::migrations::runner()
        .run_async(&mut client)
        .await
        .map_err(|e| PgError::Migrate(e.to_string()))?;
    drop(client);
    let _ = driver.await;
    Ok(report
        .applied_migrations()
        .iter()
        .map(|m| m.to_string())
        .collect())
}
