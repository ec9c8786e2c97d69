//! Wiring the world: the reference store and the stock ledger, in memory or in Postgres
//! (migrated, and seeded when a table is empty), with the canonical inventory chosen.

use std::collections::HashMap;

use anyhow::Context;
use deadpool_postgres::Pool;
use tokio::runtime::Handle;

use crate::adapters::kafka::replay::StockTopic;
use crate::adapters::memory::{MemoryLedger, MemoryStore, NoJournal};
use crate::adapters::postgres::canonical::journal::open_lines;
use crate::adapters::postgres::canonical::recovery::{catch_up_mirror, restatements};
use crate::adapters::postgres::canonical::{Stage, StagedJournal, StagedLedger};
use crate::adapters::postgres::{self, PgStore};
use crate::config::{describe_dsn, CanonInventory, Settings, StoreKind};
use crate::domain::events::Millis;
use crate::domain::ports::{ReferenceStore, SalesJournal, StockLedger};
use crate::domain::reference::catalog::{Catalog, StockLevels};
use crate::domain::reference::{SeedCounts, StoreLayout};
use crate::domain::stock::location_key;
use crate::domain::store::refunds::{PastLine, PastRefund};
use crate::domain::Text;
use crate::services::inventory::Restatements;
use crate::services::{Service, World};

pub fn seed_counts(s: &Settings) -> SeedCounts {
    SeedCounts {
        users: s.store.seed_users,
        products: s.store.seed_products,
        warehouses: s.store.seed_warehouses,
        suppliers: s.store.seed_suppliers,
        stores: s.stores.seed_stores,
        terminals_per_store: s.stores.terminals_per_store,
        employees_per_store: s.stores.employees_per_store,
        layout: StoreLayout {
            zones: s.stores.timezones,
            hours: s.stores.hours,
        },
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

/// The world a run acts on, and the start-up services (stock someone else changed).
pub struct Built {
    pub world: World,
    pub initial: Vec<Box<dyn Service>>,
}

/// What a Kafka-canonical start-up read back from the topics.
#[derive(Default)]
pub struct ReadBack {
    /// The last stock levels (they override the starting levels).
    pub stock: Option<StockTopic>,
    /// Lines of store transactions paid since the refund window began, and the refunds made.
    pub sales: Option<(Vec<PastLine>, Vec<PastRefund>)>,
    /// The last price (cents) of every product changed on the topic (memory store only).
    pub prices: Option<HashMap<String, i64>>,
}

/// Builds the world: reference data from memory or Postgres, the ledger and the sales journal
/// as the canonical mode wants them, and the refundable transactions paid since `since` (from
/// the tables, or `read` back from the topics).
pub async fn build_world(
    s: &Settings,
    pool: Option<&Pool>,
    stage: &Stage,
    read: ReadBack,
    since: Millis,
) -> anyhow::Result<Built> {
    let p_signup = s.mutations.p_new_customer;
    let ReadBack {
        stock,
        sales,
        prices,
    } = read;
    let Some(pool) = pool else {
        let mut store = MemoryStore::generate(seed_counts(s), data_seed(s));
        let (mut catalog, mut levels) = store.load()?;
        if let Some(prices) = &prices {
            for p in &mut catalog.products {
                if let Some(cents) = prices.get(&p.product_id) {
                    p.price_cents = *cents;
                }
            }
        }
        let catalog = catalog.sharded(s.shard.shard());
        if let Some(stock) = &stock {
            overlay(&catalog, &mut levels, stock);
        }
        let ledger = MemoryLedger::new(levels);
        let mut world = World::new(
            catalog,
            Box::new(store),
            Box::new(ledger),
            Box::new(NoJournal),
            p_signup,
        );
        if let Some((lines, refunds)) = sales {
            world.restore_refunds(lines, &refunds);
        }
        return Ok(Built {
            world,
            initial: vec![],
        });
    };
    let runtime = Handle::current();
    let mut store = PgStore::new(pool.clone(), runtime, stage.clone(), data_seed(s));
    let (store, loaded) = tokio::task::spawn_blocking(move || {
        let loaded = store.load();
        (store, loaded)
    })
    .await?;
    let (catalog, mut levels) = loaded.context("loading reference data from Postgres")?;
    let catalog = catalog.sharded(s.shard.shard());
    anyhow::ensure!(
        !catalog.users.is_empty() && !catalog.products.is_empty(),
        "{} has no users or no products: run `retailgen seed`",
        describe_dsn(&s.store.pg_dsn)
    );
    let mut initial: Vec<Box<dyn Service>> = vec![];
    let mut sales = sales;
    let mut journal: Box<dyn SalesJournal> = Box::new(NoJournal);
    let ledger: Box<dyn StockLedger> = if postgres_canonical(s) {
        let client = postgres::client(pool, "reading refundable sales and changed stock").await?;
        sales = Some((open_lines(&client, since).await?, Vec::new()));
        journal = Box::new(StagedJournal::new(stage.clone()));
        let index = locations(&catalog, &levels);
        let reported: Vec<_> = restatements(&client)
            .await?
            .into_iter()
            .filter_map(|(w, p, qty)| Some((levels[*index.get(&location_key(&w, &p))?].0, qty)))
            // Another shard's rows are its own to restate.
            .filter(|(key, _)| catalog.owns_location(key.location))
            .collect();
        if !reported.is_empty() {
            eprintln!(
                "retailgen: {} stock rows were changed outside retailgen since they were last reported; reporting each as an ADJUSTMENT first",
                reported.len()
            );
            initial.push(Box::new(Restatements { reported }));
        }
        Box::new(StagedLedger::new(stage.clone(), &catalog, levels))
    } else {
        if let Some(stock) = &stock {
            overlay(&catalog, &mut levels, stock);
            if s.store.mirror_inventory_to_db {
                catch_up(pool, &catalog, &levels, stock).await?;
            }
        }
        match s.store.mirror_inventory_to_db {
            true => Box::new(StagedLedger::new(stage.clone(), &catalog, levels)),
            false => Box::new(MemoryLedger::new(levels)),
        }
    };
    let mut world = World::new(catalog, Box::new(store), ledger, journal, p_signup);
    if let Some((lines, refunds)) = sales {
        world.restore_refunds(lines, &refunds);
    }
    Ok(Built { world, initial })
}

/// The position of each stock row in `levels`, by its location key (`warehouse:product`).
fn locations(catalog: &Catalog, levels: &StockLevels) -> HashMap<Text, usize> {
    levels
        .iter()
        .enumerate()
        .map(|(i, (k, _))| {
            let (w, p) = catalog.location_ids(*k);
            (location_key(w, p), i)
        })
        .collect()
}

/// Sets each level to the last one on the stock topic (keys `warehouse:product`).
fn overlay(catalog: &Catalog, levels: &mut StockLevels, stock: &StockTopic) {
    let mut unknown = 0;
    let index = locations(catalog, levels);
    for (key, qty) in &stock.last {
        match index.get(key.as_str()) {
            Some(&i) => levels[i].1.qty = *qty,
            None => unknown += 1,
        }
    }
    if unknown > 0 {
        tracing::warn!("{unknown} locations on the stock topic are not in the reference data; they are left alone");
    }
}

/// The mirror takes the rebuilt levels where it differs, and records the offsets applied.
async fn catch_up(
    pool: &Pool,
    catalog: &Catalog,
    levels: &StockLevels,
    stock: &StockTopic,
) -> anyhow::Result<()> {
    // Another shard's rows are its own to mirror.
    let rows: Vec<(String, String, i32)> = levels
        .iter()
        .filter(|(k, _)| catalog.owns_location(k.location))
        .map(|(k, l)| {
            let (w, p) = catalog.location_ids(*k);
            (w.to_owned(), p.to_owned(), l.qty)
        })
        .collect();
    let mut client = postgres::client(pool, "catching the stock mirror up").await?;
    let changed = catch_up_mirror(&mut client, &rows, &stock.next_offsets).await?;
    if changed > 0 {
        eprintln!("retailgen: the stock mirror caught up with the topic ({changed} rows)");
    }
    Ok(())
}

/// A pool on a database whose tables are migrated.
async fn migrated_pool(s: &Settings) -> anyhow::Result<deadpool_postgres::Pool> {
    postgres::migrate(&s.store.pg_dsn).await?;
    Ok(postgres::connect(&s.store.pg_dsn).await?)
}

/// Migrates, and seeds when any table is empty.
pub async fn prepare_postgres(s: &Settings) -> anyhow::Result<deadpool_postgres::Pool> {
    // Instances starting together (shards) migrate and seed once: the first to take the lock
    // does it, the others then find it done. The lock ends with its session.
    let pool = postgres::connect(&s.store.pg_dsn).await?;
    let lock = postgres::client(&pool, "taking the seeding lock").await?;
    lock.execute("SELECT pg_advisory_lock($1)", &[&SEEDING_LOCK])
        .await
        .context("taking the seeding lock (pg_advisory_lock)")?;
    postgres::migrate(&s.store.pg_dsn).await?;
    let counts = postgres::table_counts(&pool).await?;
    if counts.iter().any(|(_, n)| *n == 0) {
        let report = postgres::seed(&pool, seed_counts(s), data_seed(s)).await?;
        let rows: u64 = report.rows.iter().map(|(_, n)| n).sum();
        tracing::info!(
            "seeded {rows} rows with seed {} (tables were empty)",
            data_seed(s)
        );
    }
    lock.execute("SELECT pg_advisory_unlock($1)", &[&SEEDING_LOCK])
        .await
        .context("releasing the seeding lock")?;
    Ok(pool)
}

/// The advisory lock key under which reference data is seeded (`retailgen` in ASCII, folded).
const SEEDING_LOCK: i64 = 0x0072_6574_6169_6c67;

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
