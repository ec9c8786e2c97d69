//! What the canonical store does before a run generates anything: record the run, read the
//! outbox rows still pending, find stock someone else changed, bring the mirror up to date.

use tokio_postgres::{Client, GenericClient};

use crate::adapters::postgres::{query_error, PgError};
use crate::domain::message::Message;

/// retailgen's own tables, created by migration V2; a start-up without them cannot recover.
pub const OWN_TABLES: [&str; 5] = [
    "retailgen_runs",
    "retailgen_outbox",
    "retailgen_stock_reported",
    "retailgen_mirror_offsets",
    "retailgen_held",
];

/// The tables of `wanted` that do not exist.
pub async fn missing_tables(client: &Client, wanted: &[&str]) -> Result<Vec<String>, PgError> {
    let names: Vec<&str> = wanted.to_vec();
    let rows = client
        .query(
            "SELECT w FROM unnest($1::text[]) AS w WHERE to_regclass(w) IS NULL",
            &[&names],
        )
        .await
        .map_err(query_error("looking for retailgen's tables"))?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// Records this run of `shard` and returns its number: one past the shard's last recorded (0 on
/// a fresh database), at least `at_least` (the number recovered elsewhere, e.g. from the topics).
pub async fn record_run(
    client: &Client,
    seed: u64,
    at_least: u32,
    shard: i32,
) -> Result<u32, PgError> {
    let what = "recording the run in retailgen_runs";
    let last: Option<i32> = client
        .query_one(
            "SELECT max(run) FROM retailgen_runs WHERE shard = $1",
            &[&shard],
        )
        .await
        .map_err(query_error(what))?
        .get(0);
    let run = last.map_or(0, |r| r as u32 + 1).max(at_least);
    client
        .execute(
            "INSERT INTO retailgen_runs (shard, run, seed, version) VALUES ($1, $2, $3, $4)",
            &[
                &shard,
                &(run as i32),
                &(seed as i64),
                &env!("CARGO_PKG_VERSION"),
            ],
        )
        .await
        .map_err(query_error(what))?;
    Ok(run)
}

/// Moves the late records `shard` still held (a crash came before they were due) into the
/// outbox after its pending rows, in one transaction: they are published with them, still
/// labelled late. How many there were.
pub async fn adopt_held(client: &mut Client, shard: i32) -> Result<u64, PgError> {
    let what = "moving held late records into retailgen_outbox";
    let tx = client.transaction().await.map_err(query_error(what))?;
    let moved = tx
        .execute(
            "INSERT INTO retailgen_outbox (shard, seq, topic, record_key, headers, value, ts, schema_id) \
             SELECT shard, (SELECT coalesce(max(seq), 0) FROM retailgen_outbox WHERE shard = $1) \
               + row_number() OVER (ORDER BY id), topic, record_key, headers, value, ts, schema_id \
             FROM retailgen_held WHERE shard = $1",
            &[&shard],
        )
        .await
        .map_err(query_error(what))?;
    tx.execute("DELETE FROM retailgen_held WHERE shard = $1", &[&shard])
        .await
        .map_err(query_error(what))?;
    tx.commit().await.map_err(query_error(what))?;
    Ok(moved)
}

/// The outbox rows of `shard` still waiting for the broker, in order.
pub async fn pending(client: &Client, shard: i32) -> Result<Vec<Message>, PgError> {
    let rows = client
        .query(
            "SELECT seq, topic, record_key, headers, value, ts FROM retailgen_outbox \
             WHERE shard = $1 ORDER BY seq",
            &[&shard],
        )
        .await
        .map_err(query_error("reading retailgen_outbox"))?;
    Ok(rows
        .iter()
        .map(|r| Message {
            seq: Some(r.get(0)),
            topic: r.get(1),
            key: r.get(2),
            headers: r.get(3),
            value: r.get(4),
            ts: r.get(5),
        })
        .collect())
}

/// The first free outbox sequence number of `shard`.
pub async fn next_seq(client: &Client, shard: i32) -> Result<i64, PgError> {
    let row = client
        .query_one(
            "SELECT coalesce(max(seq), 0) + 1 FROM retailgen_outbox WHERE shard = $1",
            &[&shard],
        )
        .await
        .map_err(query_error("reading retailgen_outbox"))?;
    Ok(row.get(0))
}

/// Removes the outbox rows of `shard` up to `seq` (acknowledged by the broker).
pub async fn remove_up_to(client: &Client, seq: i64, shard: i32) -> Result<u64, PgError> {
    client
        .execute(
            "DELETE FROM retailgen_outbox WHERE shard = $2 AND seq <= $1",
            &[&seq, &shard],
        )
        .await
        .map_err(query_error("removing acknowledged outbox rows"))
}

/// Stock rows (warehouses and stores) someone else changed since retailgen last reported them:
/// (location, product, reported qty). Rows never reported are taken as reported at their current
/// level. The global totals of their products become the sums over warehouses again.
pub async fn restatements(client: &Client) -> Result<Vec<(String, String, i32)>, PgError> {
    let what = "comparing the stock tables with what was reported";
    client
        .execute(
            "INSERT INTO retailgen_stock_reported (location_id, product_id, qty) \
             SELECT location_id, product_id, qty FROM retailgen_stock_locations \
             ON CONFLICT (location_id, product_id) DO NOTHING",
            &[],
        )
        .await
        .map_err(query_error(what))?;
    let rows = client
        .query(
            "SELECT w.location_id, w.product_id, r.qty FROM retailgen_stock_locations w \
             JOIN retailgen_stock_reported r USING (location_id, product_id) \
             WHERE w.qty <> r.qty ORDER BY 1, 2",
            &[],
        )
        .await
        .map_err(query_error(what))?;
    let changed: Vec<(String, String, i32)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let products: Vec<&str> = changed.iter().map(|c| c.1.as_str()).collect();
    resum_global(client, &products).await?;
    Ok(changed)
}

/// Sets the global `inventory` of `products` to their sums over warehouses.
async fn resum_global(client: &impl GenericClient, products: &[&str]) -> Result<u64, PgError> {
    client
        .execute(
            "UPDATE inventory i SET qty = s.total, updated_at = now() FROM \
             (SELECT product_id, sum(qty)::int AS total FROM warehouse_inventory \
              WHERE product_id = ANY($1) GROUP BY product_id) s \
             WHERE i.product_id = s.product_id AND i.qty <> s.total",
            &[&products],
        )
        .await
        .map_err(query_error("summing global inventory over warehouses"))
}

/// Sets mirrored rows that differ from the ledger to its level, corrects the global totals of
/// their products, and records how far the topic was applied; one transaction.
pub async fn catch_up_mirror(
    client: &mut Client,
    levels: &[(String, String, i32)],
    offsets: &[(String, i32, i64)],
) -> Result<u64, PgError> {
    let what = "catching the stock mirror up with the topic";
    let tx = client.transaction().await.map_err(query_error(what))?;
    let w: Vec<&str> = levels.iter().map(|l| l.0.as_str()).collect();
    let p: Vec<&str> = levels.iter().map(|l| l.1.as_str()).collect();
    let q: Vec<i32> = levels.iter().map(|l| l.2).collect();
    let changed = tx
        .query(
            "UPDATE warehouse_inventory w SET qty = v.qty, updated_at = now() \
             FROM unnest($1::text[], $2::text[], $3::int[]) AS v(warehouse_id, product_id, qty) \
             WHERE w.warehouse_id = v.warehouse_id AND w.product_id = v.product_id AND w.qty <> v.qty \
             RETURNING w.product_id",
            &[&w, &p, &q],
        )
        .await
        .map_err(query_error(what))?;
    let stores = tx
        .execute(
            "UPDATE store_inventory w SET qty = v.qty, updated_at = now() \
             FROM unnest($1::text[], $2::text[], $3::int[]) AS v(store_id, product_id, qty) \
             WHERE w.store_id = v.store_id AND w.product_id = v.product_id AND w.qty <> v.qty",
            &[&w, &p, &q],
        )
        .await
        .map_err(query_error(what))?;
    let products: Vec<&str> = changed.iter().map(|r| r.get(0)).collect();
    resum_global(&tx, &products).await?;
    for (topic, partition, next) in offsets {
        tx.execute(
            "INSERT INTO retailgen_mirror_offsets (topic, partition, next_offset) VALUES ($1, $2, $3) \
             ON CONFLICT (topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()",
            &[&topic, partition, next],
        )
        .await
        .map_err(query_error(what))?;
    }
    tx.commit().await.map_err(query_error(what))?;
    Ok(changed.len() as u64 + stores)
}
