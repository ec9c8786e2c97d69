//! Seeding: one transaction per table, from rows that depend only on the seed. An empty table is
//! loaded restore-style (its indexes and constraints set aside, COPY, then built again before the
//! commit); a table with rows gets them by COPY into a temporary table and `INSERT ... ON
//! CONFLICT DO NOTHING`. Up to three tables load at once; a table's foreign keys are checked only
//! once the tables it references committed. Seeding again, or after a crash at any point, leaves
//! exactly what one clean seed leaves, with every index and constraint in place.

use std::fmt::Write;

use bytes::Bytes;
use deadpool_postgres::Pool;
use futures_util::SinkExt;

use super::{client, query_error, PgError};
use crate::domain::reference::stores;
use crate::domain::reference::{self, SeedCounts};

/// The tables, in the order they are seeded (parents before children).
pub const TABLES: [&str; 12] = [
    "warehouses",
    "suppliers",
    "products",
    "users",
    "customer_segments",
    "product_suppliers",
    "warehouse_inventory",
    "inventory",
    "stores",
    "terminals",
    "employees",
    "store_inventory",
];

/// COPY chunks of about this many bytes.
const CHUNK: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedReport {
    /// Rows generated per table (existing rows are left as they are).
    pub rows: Vec<(&'static str, u64)>,
}

/// `ms` as a `timestamptz` in COPY text, `YYYY-MM-DD HH:MM:SS.mmm+00`, written digit by digit:
/// chrono's `format` parses its pattern again on every call, which was the largest part of
/// generating a million users.
fn ts(ms: i64) -> String {
    use chrono::{Datelike, Timelike};
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    let Ok(year @ 0..=9999) = u32::try_from(t.year()) else {
        return t.format("%Y-%m-%d %H:%M:%S%.3f+00").to_string();
    };
    let mut out = String::with_capacity(27);
    let fields = [
        (year, 4, ""),
        (t.month(), 2, "-"),
        (t.day(), 2, "-"),
        (t.hour(), 2, " "),
        (t.minute(), 2, ":"),
        (t.second(), 2, ":"),
        (t.timestamp_subsec_millis(), 3, "."),
    ];
    for (n, width, before) in fields {
        out.push_str(before);
        for k in (0..width).rev() {
            out.push(char::from(b'0' + (n / 10u32.pow(k) % 10) as u8));
        }
    }
    out.push_str("+00");
    out
}

fn money(cents: i64) -> String {
    format!(
        "{}{}.{:02}",
        if cents < 0 { "-" } else { "" },
        cents.abs() / 100,
        cents.abs() % 100
    )
}

/// A COPY text-format line from already tab-free fields.
fn line(buf: &mut String, fields: &[&str]) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            buf.push('\t');
        }
        if !f.bytes().any(|b| matches!(b, b'\\' | b'\t' | b'\n')) {
            buf.push_str(f);
            continue;
        }
        for c in f.chars() {
            match c {
                '\\' => buf.push_str("\\\\"),
                '\t' => buf.push_str("\\t"),
                '\n' => buf.push_str("\\n"),
                _ => buf.push(c),
            }
        }
    }
    buf.push('\n');
}

/// The rows of `table` as COPY text, produced chunk by chunk into `emit`.
fn rows(table: &str, counts: SeedCounts, seed: u64, emit: &mut dyn FnMut(&mut String)) -> u64 {
    let epoch = ts(reference::SEED_EPOCH_MS);
    let mut buf = String::with_capacity(CHUNK + 4096);
    let mut n = 0;
    let mut push = |buf: &mut String, fields: &[&str]| {
        line(buf, fields);
        n += 1;
        if buf.len() >= CHUNK {
            emit(buf);
            buf.clear();
        }
    };
    match table {
        "warehouses" => (0..counts.warehouses).for_each(|i| {
            let w = reference::warehouse(seed, i);
            push(
                &mut buf,
                &[&w.warehouse_id, &w.name, w.country, w.region, &epoch],
            );
        }),
        "suppliers" => (0..counts.suppliers).for_each(|i| {
            let s = reference::supplier(seed, i);
            let rating = format!("{}.{}", s.rating_tenths / 10, s.rating_tenths % 10);
            push(
                &mut buf,
                &[&s.supplier_id, &s.name, s.country, &rating, &epoch],
            );
        }),
        "products" => (0..counts.products).for_each(|i| {
            let p = reference::product(seed, i);
            push(
                &mut buf,
                &[
                    &p.product_id,
                    &p.title,
                    p.category,
                    &money(p.price_cents),
                    &epoch,
                ],
            );
        }),
        "users" => {
            let stores: Vec<_> = (0..counts.stores)
                .map(|i| reference::stores::store_in(seed, i, counts.layout))
                .collect();
            let homes = crate::domain::store::customers::home_countries(&stores);
            (0..counts.users).for_each(|i| {
                let u = reference::user(seed, i, &homes);
                let at = ts(u.created_ms);
                push(&mut buf, &[&u.user_id, &u.email, &u.country, &at, &at]);
            })
        }
        "customer_segments" => (0..counts.users).for_each(|i| {
            let s = reference::segment(seed, i, &format!("U{:06}", i + 1));
            push(
                &mut buf,
                &[
                    &s.user_id,
                    s.segment,
                    &money(s.lifetime_value_cents),
                    &epoch,
                ],
            );
        }),
        "product_suppliers" => (0..counts.products).for_each(|i| {
            let p = reference::product(seed, i);
            for ps in reference::product_suppliers(seed, i, &p, counts.suppliers) {
                let lead = ps.lead_time_days.to_string();
                push(
                    &mut buf,
                    &[
                        &ps.product_id,
                        &ps.supplier_id,
                        &money(ps.cost_cents),
                        &lead,
                        &epoch,
                    ],
                );
            }
        }),
        "warehouse_inventory" => (0..counts.warehouses).for_each(|w| {
            for row in (0..counts.products).filter_map(|p| reference::stock(seed, w, p)) {
                let (qty, reserved) = (row.qty.to_string(), row.reserved_qty.to_string());
                push(
                    &mut buf,
                    &[&row.warehouse_id, &row.product_id, &qty, &reserved, &epoch],
                );
            }
        }),
        "inventory" => (0..counts.products).for_each(|p| {
            let total: i32 = (0..counts.warehouses)
                .filter_map(|w| reference::stock(seed, w, p))
                .map(|r| r.qty)
                .sum();
            let mut id = String::new();
            let _ = write!(id, "P{:06}", p + 1);
            push(&mut buf, &[&id, &total.to_string(), &epoch]);
        }),
        "stores" => (0..counts.stores).for_each(|i| {
            let s = stores::store(seed, i);
            let tax = format!("{}.{:04}", s.tax_rate_bp / 10_000, s.tax_rate_bp % 10_000);
            let hm = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
            push(
                &mut buf,
                &[
                    &s.store_id,
                    &s.name,
                    s.city,
                    s.region,
                    s.country,
                    s.timezone.name(),
                    &tax,
                    &hm(s.opens_min),
                    &hm(s.closes_min),
                    &s.size_sqft.to_string(),
                    &epoch,
                ],
            );
        }),
        "terminals" => (0..counts.stores).for_each(|s| {
            for t in 0..counts.terminals_per_store {
                let t = stores::terminal(s, t);
                push(&mut buf, &[&t.terminal_id, &stores::store_id(s), &epoch]);
            }
        }),
        "employees" => (0..counts.stores).for_each(|s| {
            for e in 0..counts.employees_per_store {
                let e = stores::employee(seed, s, e);
                push(
                    &mut buf,
                    &[
                        &e.employee_id,
                        &stores::store_id(s),
                        &e.name,
                        e.role,
                        &epoch,
                    ],
                );
            }
        }),
        "store_inventory" => (0..counts.stores).for_each(|s| {
            for row in (0..counts.products).filter_map(|p| stores::store_stock(seed, s, p)) {
                push(
                    &mut buf,
                    &[
                        &row.store_id,
                        &row.product_id,
                        &row.qty.to_string(),
                        &row.reserved_qty.to_string(),
                        &row.reorder_point.to_string(),
                        &row.reorder_qty.to_string(),
                        &epoch,
                    ],
                );
            }
        }),
        other => unreachable!("no table {other}"),
    }
    if !buf.is_empty() {
        emit(&mut buf);
    }
    n
}

fn columns(table: &str) -> &'static str {
    match table {
        "warehouses" => "warehouse_id, name, country, region, updated_at",
        "suppliers" => "supplier_id, name, country, rating, updated_at",
        "products" => "product_id, title, category, price_usd, updated_at",
        "users" => "user_id, email, country, created_at, updated_at",
        "customer_segments" => "user_id, segment, lifetime_value, updated_at",
        "product_suppliers" => "product_id, supplier_id, cost_usd, lead_time_days, updated_at",
        "warehouse_inventory" => "warehouse_id, product_id, qty, reserved_qty, updated_at",
        "inventory" => "product_id, qty, updated_at",
        "stores" => "store_id, name, city, region, country, timezone, tax_rate, opens_at, closes_at, size_sqft, updated_at",
        "terminals" => "terminal_id, store_id, updated_at",
        "employees" => "employee_id, store_id, name, role, updated_at",
        "store_inventory" => "store_id, product_id, qty, reserved_qty, reorder_point, reorder_qty, updated_at",
        other => unreachable!("no table {other}"),
    }
}

/// Tables loaded at once: one connection each, while their rows are generated on other threads.
/// Users and their segments take two; the third lets the small tables load meanwhile.
const PARALLEL_TABLES: usize = 3;
/// COPY chunks generated ahead of the connection.
const CHUNKS_AHEAD: usize = 4;

/// Seeds every table; safe to repeat and to resume after a crash.
pub async fn seed(pool: &Pool, counts: SeedCounts, seed: u64) -> Result<SeedReport, PgError> {
    use futures_util::stream::{FuturesUnordered, StreamExt};
    let parents = references(pool).await?;
    let checks = may_check_references(pool).await?;
    tracing::debug!(
        "seeding: {}",
        match checks {
            true => "a table checks its foreign keys before it commits",
            false => "a table starts once the tables it references committed",
        }
    );
    let mut plan = Plan::new(&parents, checks);
    let mut loading = FuturesUnordered::new();
    let mut rows = Vec::with_capacity(TABLES.len());
    loop {
        while loading.len() < PARALLEL_TABLES {
            let Some(table) = plan.next() else { break };
            let load = Load {
                table,
                parents: plan.parents_of(table),
                committed: plan.commits(),
                checks,
            };
            loading.push(async move {
                tracing::debug!("seeding {table}");
                let started = std::time::Instant::now();
                let n = seed_table(pool, load, counts, seed).await?;
                tracing::debug!(
                    "seeded {table}: {n} rows in {:.2} s",
                    started.elapsed().as_secs_f64()
                );
                Ok::<_, PgError>((table, n))
            });
        }
        let Some(done) = loading.next().await else {
            break;
        };
        let (table, n) = done?;
        plan.committed(table);
        rows.push((table, n));
    }
    rows.sort_by_key(|(table, _)| TABLES.iter().position(|t| t == table));
    Ok(SeedReport { rows })
}

/// The seeded tables each seeded table references by a foreign key, read from the catalog.
async fn references(pool: &Pool) -> Result<Vec<(&'static str, &'static str)>, PgError> {
    let what = "reading the foreign keys between the tables";
    let conn = client(pool, what).await?;
    let rows = conn
        .query(
            "SELECT child.relname::text, parent.relname::text
             FROM pg_constraint c
             JOIN pg_class child ON child.oid = c.conrelid
             JOIN pg_class parent ON parent.oid = c.confrelid
             WHERE c.contype = 'f' AND child.oid <> parent.oid
               AND child.relnamespace = to_regnamespace(current_schema())",
            &[],
        )
        .await
        .map_err(query_error(what))?;
    let seeded = |name: String| TABLES.into_iter().find(|t| *t == name);
    Ok(rows
        .into_iter()
        .filter_map(|row| Some((seeded(row.get(0))?, seeded(row.get(1))?)))
        .collect())
}

/// Whether this role may set `session_replication_role` (a superuser, or granted SET on it):
/// then an empty table loads with its foreign keys in place but unchecked row by row, and
/// checks them all at once before it commits, so a child loads while its parent does.
async fn may_check_references(pool: &Pool) -> Result<bool, PgError> {
    let what = "checking whether this role may set session_replication_role";
    let mut conn = client(pool, what).await?;
    let tx = conn.transaction().await.map_err(query_error(what))?;
    match tx
        .batch_execute("SET LOCAL session_replication_role = replica")
        .await
    {
        Ok(()) => Ok(true),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) => {
            tracing::debug!("seeding without session_replication_role: {e}");
            Ok(false)
        }
        Err(e) => Err(query_error(what)(e)),
    }
}

/// Which table may load next. A table's foreign keys are checked against what its transaction
/// sees, so they are checked only once every table it references has committed: at its start,
/// or, when tables check their own references (`checks`), just before it commits; then it may
/// start as soon as those tables have started.
#[derive(Debug)]
struct Plan<'a> {
    parents: &'a [(&'static str, &'static str)],
    checks: bool,
    waiting: Vec<&'static str>,
    started: Vec<&'static str>,
    /// The tables committed so far; loads wait on it for their parents.
    committed: tokio::sync::watch::Sender<Vec<&'static str>>,
}

impl<'a> Plan<'a> {
    fn new(parents: &'a [(&'static str, &'static str)], checks: bool) -> Self {
        Self {
            parents,
            checks,
            waiting: TABLES.to_vec(),
            started: vec![],
            committed: tokio::sync::watch::Sender::new(vec![]),
        }
    }

    /// Follows the tables committed so far.
    fn commits(&self) -> tokio::sync::watch::Receiver<Vec<&'static str>> {
        self.committed.subscribe()
    }

    fn parents_of(&self, table: &str) -> Vec<&'static str> {
        self.parents
            .iter()
            .filter(|(child, _)| *child == table)
            .map(|(_, parent)| *parent)
            .collect()
    }

    /// The first waiting table (in seeding order) that may start.
    fn next(&mut self) -> Option<&'static str> {
        let at = {
            let committed = self.committed.borrow();
            let before = match self.checks {
                true => &self.started,
                false => &*committed,
            };
            let ready = |table: &&str| self.parents_of(table).iter().all(|p| before.contains(p));
            self.waiting.iter().position(ready)?
        };
        let table = self.waiting.remove(at);
        self.started.push(table);
        Some(table)
    }

    fn committed(&mut self, table: &'static str) {
        self.committed.send_modify(|done| done.push(table));
    }
}

/// One table's load: what it references and how it learns that those have committed.
struct Load {
    table: &'static str,
    parents: Vec<&'static str>,
    committed: tokio::sync::watch::Receiver<Vec<&'static str>>,
    checks: bool,
}

impl Load {
    async fn parents_committed(&mut self) {
        let parents = &self.parents;
        // The sender lives as long as the whole seeding, which awaits this load.
        let _ = self
            .committed
            .wait_for(|done| parents.iter().all(|p| done.contains(p)))
            .await;
        tracing::debug!(
            "seeding {}: the tables it references have committed",
            self.table
        );
    }
}

/// What a bulk load into an empty table sets aside and builds again before it commits: the
/// table's secondary indexes, its primary and unique keys that no foreign key depends on, and
/// (unless it checks its references itself) its own foreign keys: restore-style, building them
/// once is far cheaper than row by row. Postgres' DDL is transactional, so a crash at any point
/// leaves them all as they were.
#[derive(Debug, Default)]
struct SetAside {
    drops: Vec<String>,
    rebuilds: Vec<String>,
}

async fn set_aside(
    tx: &deadpool_postgres::Transaction<'_>,
    table: &str,
    foreign_keys: bool,
) -> Result<SetAside, tokio_postgres::Error> {
    let mut aside = SetAside::default();
    let indexes = tx
        .query(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
             FROM pg_index i
             WHERE i.indrelid = $1::text::regclass
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                               WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
             ORDER BY 1",
            &[&table],
        )
        .await?;
    for row in indexes {
        aside
            .drops
            .push(format!("DROP INDEX {}", row.get::<_, String>(0)));
        aside.rebuilds.push(row.get(1));
    }
    // Keys first, so that the foreign keys rebuilt after them find what they reference.
    let constraints = tx
        .query(
            "SELECT c.conname::text, pg_get_constraintdef(c.oid)
             FROM pg_constraint c
             WHERE c.conrelid = $1::text::regclass
               AND ((c.contype = 'f' AND $2)
                    OR (c.contype IN ('p', 'u')
                        AND NOT EXISTS (SELECT 1 FROM pg_constraint r
                                        WHERE r.contype = 'f' AND r.conindid = c.conindid)))
             ORDER BY c.contype = 'f', 1",
            &[&table, &foreign_keys],
        )
        .await?;
    for row in constraints {
        let name: String = row.get(0);
        aside.drops.push(format!(
            "ALTER TABLE {table} DROP CONSTRAINT {}",
            ident(&name)
        ));
        aside.rebuilds.push(format!(
            "ALTER TABLE {table} ADD CONSTRAINT {} {}",
            ident(&name),
            row.get::<_, String>(1)
        ));
    }
    Ok(aside)
}

/// Quotes an identifier for SQL.
fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Checks every foreign key of `table` at once, as `ADD FOREIGN KEY` would (MATCH SIMPLE: a row
/// with a null in the key is not checked), after locking the referenced tables against changes
/// until the commit. The first row without its referenced row is an error naming both.
async fn check_references(
    tx: &deadpool_postgres::Transaction<'_>,
    table: &str,
) -> Result<(), PgError> {
    let what = format!("checking the foreign keys of {table}");
    let keys = tx
        .query(
            "SELECT c.conname::text, c.confrelid::regclass::text,
                    array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                          JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                          ORDER BY k.i),
                    array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                          JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                          ORDER BY k.i)
             FROM pg_constraint c
             WHERE c.contype = 'f' AND c.conrelid = $1::text::regclass
             ORDER BY 1",
            &[&table],
        )
        .await
        .map_err(query_error(&what))?;
    for key in keys {
        let (name, parent): (String, String) = (key.get(0), key.get(1));
        let (columns, referenced): (Vec<String>, Vec<String>) = (key.get(2), key.get(3));
        let all_set = columns
            .iter()
            .map(|c| format!("c.{} IS NOT NULL", ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let matches = columns
            .iter()
            .zip(&referenced)
            .map(|(c, r)| format!("p.{} = c.{}", ident(r), ident(c)))
            .collect::<Vec<_>>()
            .join(" AND ");
        let values = columns
            .iter()
            .map(|c| format!("c.{}::text", ident(c)))
            .collect::<Vec<_>>()
            .join(", ");
        tx.batch_execute(&format!("LOCK TABLE {parent} IN SHARE MODE"))
            .await
            .map_err(query_error(&what))?;
        let missing = tx
            .query_opt(
                &format!(
                    "SELECT concat_ws(', ', {values}) FROM {table} c
                     WHERE {all_set} AND NOT EXISTS (SELECT 1 FROM {parent} p WHERE {matches})
                     LIMIT 1"
                ),
                &[],
            )
            .await
            .map_err(query_error(&what))?;
        if let Some(row) = missing {
            return Err(PgError::Query {
                what,
                cause: format!(
                    "{table} ({}) = ({}) has no row in {parent}: foreign key {name} would not hold",
                    columns.join(", "),
                    row.get::<_, String>(0)
                ),
            });
        }
    }
    Ok(())
}

async fn seed_table(
    pool: &Pool,
    mut load: Load,
    counts: SeedCounts,
    seed: u64,
) -> Result<u64, PgError> {
    let table = load.table;
    let what = format!("seeding {table}");
    let err = |e| query_error(&what)(e);
    // Foreign keys are checked against what this transaction sees: either when they are added
    // again (so only once the parents committed), or by this table itself just before it commits.
    if !load.checks {
        load.parents_committed().await;
    }
    let mut conn = client(pool, &what).await?;
    let tx = conn.transaction().await.map_err(err)?;
    // One seeder at a time per table; then an empty table (a crash leaves none half-filled:
    // each table is one transaction) takes the rows directly, else they merge in.
    tx.batch_execute(&format!(
        "SET LOCAL synchronous_commit = off; SET LOCAL maintenance_work_mem = '256MB';
         LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"
    ))
    .await
    .map_err(err)?;
    let empty = tx
        .query_opt(&format!("SELECT 1 FROM {table} LIMIT 1"), &[])
        .await
        .map_err(err)?
        .is_none();
    // An empty table that checks its own references keeps its foreign keys, unchecked per row.
    let checks_itself = empty && load.checks;
    if checks_itself {
        tx.batch_execute("SET LOCAL session_replication_role = replica")
            .await
            .map_err(err)?;
    }
    let cols = columns(table);
    let aside = match empty {
        true => set_aside(&tx, table, !checks_itself).await.map_err(err)?,
        false => SetAside::default(),
    };
    for drop in &aside.drops {
        tx.batch_execute(drop).await.map_err(err)?;
    }
    let target = if empty {
        table.to_owned()
    } else {
        let staging = format!("seed_{table}");
        tx.batch_execute(&format!(
            "CREATE TEMP TABLE {staging} (LIKE {table} INCLUDING DEFAULTS) ON COMMIT DROP"
        ))
        .await
        .map_err(err)?;
        staging
    };
    let sink = tx
        .copy_in(&format!("COPY {target} ({cols}) FROM STDIN"))
        .await
        .map_err(err)?;
    futures_util::pin_mut!(sink);
    // The rows are generated on a blocking thread while earlier chunks travel.
    let (chunks, mut received) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS_AHEAD);
    let generator = tokio::task::spawn_blocking(move || {
        rows(table, counts, seed, &mut |buf| {
            // A closed channel means the COPY failed; its error is reported below.
            let _ = chunks.blocking_send(Bytes::from(std::mem::take(buf)));
        })
    });
    while let Some(chunk) = received.recv().await {
        sink.send(chunk).await.map_err(err)?;
    }
    let n = generator.await.map_err(|e| PgError::Query {
        what: what.clone(),
        cause: format!("the row generator failed: {e}"),
    })?;
    sink.finish().await.map_err(err)?;
    for rebuild in &aside.rebuilds {
        tx.batch_execute(rebuild).await.map_err(err)?;
    }
    if load.checks {
        load.parents_committed().await;
    }
    if checks_itself {
        check_references(&tx, table).await?;
    }
    if !empty {
        tx.batch_execute(&format!(
            "INSERT INTO {table} ({cols}) SELECT {cols} FROM {target} ON CONFLICT DO NOTHING"
        ))
        .await
        .map_err(err)?;
    }
    tx.commit().await.map_err(err)?;
    Ok(n)
}

/// Rows per table, in seeding order.
pub async fn table_counts(pool: &Pool) -> Result<Vec<(&'static str, i64)>, PgError> {
    let conn = client(pool, "counting rows").await?;
    let mut out = Vec::with_capacity(TABLES.len());
    for table in TABLES {
        let row = conn
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .await
            .map_err(query_error("counting rows"))?;
        out.push((table, row.get::<_, i64>(0)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_lines_escape_tabs_newlines_and_backslashes() {
        let mut buf = String::new();
        line(&mut buf, &["a\tb", "c\\d", "e\nf"]);
        assert_eq!(buf, "a\\tb\tc\\\\d\te\\nf\n");
        assert_eq!(money(12_345), "123.45");
        assert_eq!(money(-5), "-0.05");
        line(&mut buf, &["plain", ""]);
        assert_eq!(buf, "a\\tb\tc\\\\d\te\\nf\nplain\t\n");
    }

    /// Written digit by digit, timestamps are what chrono's format writes.
    #[test]
    fn timestamps_are_written_as_chrono_formats_them() {
        let chrono = |ms| {
            chrono::DateTime::from_timestamp_millis(ms)
                .unwrap()
                .format("%Y-%m-%d %H:%M:%S%.3f+00")
                .to_string()
        };
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let drawn = (0..100_000).map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 8_000_000_000_000) as i64 - 1_000_000_000_000
        });
        let edges = [
            0,
            1,
            999,
            1_000,
            -1,
            reference::SEED_EPOCH_MS,
            253_402_300_799_999,
        ];
        for ms in edges.into_iter().chain(drawn) {
            assert_eq!(ts(ms), chrono(ms), "{ms}");
        }
        assert_eq!(
            ts(-62_135_596_800_001),
            chrono(-62_135_596_800_001),
            "year 0 - 1 ms"
        );
    }

    #[test]
    fn a_table_loads_only_after_the_tables_it_references_committed() {
        let parents = [
            ("customer_segments", "users"),
            ("product_suppliers", "products"),
            ("product_suppliers", "suppliers"),
            ("terminals", "stores"),
        ];
        let mut plan = Plan::new(&parents, false);
        assert_eq!(plan.next(), Some("warehouses"));
        assert_eq!(plan.next(), Some("suppliers"));
        assert_eq!(plan.next(), Some("products"));
        assert_eq!(plan.next(), Some("users"));
        // Segments wait for users, product_suppliers for products: the rest goes ahead.
        assert_eq!(plan.next(), Some("warehouse_inventory"));
        plan.committed("users");
        assert_eq!(plan.next(), Some("customer_segments"));
        assert_eq!(plan.next(), Some("inventory"));
        assert_eq!(plan.next(), Some("stores"));
        assert_eq!(plan.next(), Some("employees"));
        assert_eq!(plan.next(), Some("store_inventory"));
        assert_eq!(
            plan.next(),
            None,
            "product_suppliers and terminals still wait"
        );
        plan.committed("suppliers");
        plan.committed("stores");
        assert_eq!(plan.next(), Some("terminals"));
        assert_eq!(plan.next(), None);
        plan.committed("products");
        assert_eq!(plan.next(), Some("product_suppliers"));
        assert_eq!(plan.next(), None);
    }

    #[test]
    fn a_table_that_checks_its_references_starts_with_the_tables_it_references() {
        let parents = [("customer_segments", "users"), ("terminals", "stores")];
        let mut plan = Plan::new(&parents, true);
        let started: Vec<_> = std::iter::from_fn(|| plan.next()).collect();
        assert_eq!(started, TABLES, "every parent comes before its children");
        let mut plan = Plan::new(&parents, true);
        plan.waiting
            .retain(|t| ["customer_segments", "users"].contains(t));
        assert_eq!(plan.next(), Some("users"));
        assert_eq!(plan.next(), Some("customer_segments"), "users has started");
        assert_eq!(plan.parents_of("customer_segments"), ["users"]);
    }

    #[test]
    fn the_global_inventory_is_the_sum_over_warehouses() {
        let counts = SeedCounts {
            users: 1,
            products: 3,
            warehouses: 4,
            suppliers: 2,
            stores: 1,
            terminals_per_store: 1,
            employees_per_store: 1,
            layout: reference::StoreLayout::VARIED,
        };
        let mut text = String::new();
        rows("inventory", counts, 5, &mut |b| text.push_str(b));
        let first: i32 = text
            .lines()
            .next()
            .unwrap()
            .split('\t')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let expected: i32 = (0..4)
            .filter_map(|w| reference::stock(5, w, 0))
            .map(|r| r.qty)
            .sum();
        assert_eq!(first, expected);
    }
}
