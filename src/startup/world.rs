//! Wiring the world: the reference store and the stock ledger, in memory or in Postgres
//! (migrated, and seeded when a table is empty), with the canonical inventory chosen.

use anyhow::Context;
use tokio::runtime::Handle;

use crate::adapters::memory::{MemoryLedger, MemoryStore};
use crate::adapters::postgres::{self, MirroredLedger, PgLedger, PgStore};
use crate::config::{describe_dsn, CanonInventory, Settings, StoreKind};
use crate::domain::ports::{ReferenceStore, StockLedger};
use crate::domain::reference::SeedCounts;
use crate::services::World;

pub fn seed_counts(s: &Settings) -> SeedCounts {
    SeedCounts {
        users: s.store.seed_users,
        products: s.store.seed_products,
        warehouses: s.store.seed_warehouses,
        suppliers: s.store.seed_suppliers,
    }
}

/// The seed of the reference data: `--seed`, or 0, so seeding is always deterministic.
pub fn data_seed(s: &Settings) -> u64 {
    s.run.seed.unwrap_or(0)
}

/// Whether Postgres holds the canonical stock.
pub fn postgres_canonical(s: &Settings) -> bool {
    match s.store.canon_inventory {
        CanonInventory::Postgres => true,
        CanonInventory::Kafka => false,
        CanonInventory::Auto => s.store.kind == StoreKind::Postgres,
    }
}

pub async fn build_world(s: &Settings) -> anyhow::Result<World> {
    let p_signup = s.mutations.p_new_customer;
    if s.store.kind == StoreKind::Memory {
        let mut store = MemoryStore::generate(seed_counts(s), data_seed(s));
        let (catalog, levels) = store.load()?;
        let ledger = MemoryLedger::new(levels);
        return Ok(World::new(
            catalog,
            Box::new(store),
            Box::new(ledger),
            p_signup,
        ));
    }
    let pool = prepare_postgres(s).await?;
    let runtime = Handle::current();
    let mut store = PgStore::new(pool.clone(), runtime.clone());
    let (store, loaded) = tokio::task::spawn_blocking(move || {
        let loaded = store.load();
        (store, loaded)
    })
    .await?;
    let (catalog, levels) = loaded.context("loading reference data from Postgres")?;
    anyhow::ensure!(
        !catalog.users.is_empty() && !catalog.products.is_empty(),
        "{} has no users or no products: run `retailgen seed`",
        describe_dsn(&s.store.pg_dsn)
    );
    let ledger: Box<dyn StockLedger> = if postgres_canonical(s) {
        Box::new(PgLedger::new(pool, runtime, &catalog, levels))
    } else if s.store.mirror_inventory_to_db {
        Box::new(MirroredLedger::new(
            MemoryLedger::new(levels),
            pool,
            runtime,
            &catalog,
        ))
    } else {
        Box::new(MemoryLedger::new(levels))
    };
    Ok(World::new(catalog, Box::new(store), ledger, p_signup))
}

/// A pool on a database whose tables are migrated.
async fn migrated_pool(s: &Settings) -> anyhow::Result<deadpool_postgres::Pool> {
    postgres::migrate(&s.store.pg_dsn).await?;
    Ok(postgres::connect(&s.store.pg_dsn).await?)
}

/// Migrates, and seeds when any table is empty.
async fn prepare_postgres(s: &Settings) -> anyhow::Result<deadpool_postgres::Pool> {
    let pool = migrated_pool(s).await?;
    let counts = postgres::table_counts(&pool).await?;
    if counts.iter().any(|(_, n)| *n == 0) {
        let report = postgres::seed(&pool, seed_counts(s), data_seed(s)).await?;
        let rows: u64 = report.rows.iter().map(|(_, n)| n).sum();
        tracing::info!(
            "seeded {rows} rows with seed {} (tables were empty)",
            data_seed(s)
        );
    }
    Ok(pool)
}

/// `retailgen migrate`: migrations only.
pub async fn migrate_only(s: &Settings) -> anyhow::Result<String> {
    let applied = postgres::migrate(&s.store.pg_dsn).await?;
    let target = describe_dsn(&s.store.pg_dsn);
    Ok(match applied.is_empty() {
        true => format!("retailgen: {target} is up to date"),
        false => format!("retailgen: applied {} to {target}", applied.join(", ")),
    })
}

/// `retailgen seed`: migrations, then the deterministic seed; prints rows per table and rows/s.
pub async fn seed_only(s: &Settings) -> anyhow::Result<String> {
    let pool = migrated_pool(s).await?;
    let started = std::time::Instant::now();
    let report = postgres::seed(&pool, seed_counts(s), data_seed(s)).await?;
    let secs = started.elapsed().as_secs_f64();
    let rows: u64 = report.rows.iter().map(|(_, n)| n).sum();
    let tables: Vec<String> = report
        .rows
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect();
    Ok(format!(
        "retailgen: seeded {} with seed {}: {} ({rows} rows in {secs:.2} s, {:.0} rows/s; existing rows kept)",
        describe_dsn(&s.store.pg_dsn),
        data_seed(s),
        tables.join(", "),
        rows as f64 / secs.max(1e-9)
    ))
}
