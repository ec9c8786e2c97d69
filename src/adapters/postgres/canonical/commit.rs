//! One group commit: a batch's effects (stock, reference rows, store sales), its outbox rows and
//! the removal of rows the broker has acknowledged, in one transaction. Every stock and price
//! change is its own row version (a CDC consumer reading the WAL sees each value the topics
//! report): a batch's changes are written in rounds, the k-th change of every row in the k-th
//! statement. What each stock row last reported is recorded in `retailgen_stock_reported`, to
//! find changes made by others.

use rustc_hash::FxHashMap;
use tokio_postgres::Transaction;

use super::journal;
use super::staging::{Batch, StockWrite};
use crate::adapters::postgres::{query_error, PgError};

/// How stock writes treat the rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockMode {
    /// The table is the truth: a row must still hold what retailgen last set.
    Canonical,
    /// The table mirrors the Kafka-canonical ledger.
    Mirror,
}

/// The stock tables: (table, location column), warehouses and stores.
const WAREHOUSE_TABLE: (&str, &str) = ("warehouse_inventory", "warehouse_id");
const STORE_TABLE: (&str, &str) = ("store_inventory", "store_id");

/// The update of a stock table's rows; in canonical mode only rows still at `previous` change.
fn set_sql((table, column): (&str, &str), mode: StockMode) -> String {
    let checked = match mode {
        StockMode::Canonical => " AND w.qty = v.previous",
        StockMode::Mirror => "",
    };
    format!(
        "UPDATE {table} w SET qty = v.qty, updated_at = now() \
         FROM unnest($1::text[], $2::text[], $3::int[], $4::int[]) AS v(location_id, product_id, previous, qty) \
         WHERE w.{column} = v.location_id AND w.product_id = v.product_id{checked}"
    )
}
const REPORTED: &str = "INSERT INTO retailgen_stock_reported (location_id, product_id, qty) \
    SELECT * FROM unnest($1::text[], $2::text[], $3::int[]) \
    ON CONFLICT (location_id, product_id) DO UPDATE SET qty = EXCLUDED.qty";
const GLOBAL: &str = "UPDATE inventory i SET qty = i.qty + v.delta, updated_at = now() \
    FROM unnest($1::text[], $2::int[]) AS v(product_id, delta) WHERE i.product_id = v.product_id";
const USERS: &str = "INSERT INTO users (user_id, email, country, created_at, updated_at) \
    SELECT u, e, c, to_timestamp(t / 1000.0), now() FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) AS v(u, e, c, t) \
    ON CONFLICT (user_id) DO NOTHING";
const SEGMENTS: &str =
    "INSERT INTO customer_segments (user_id, segment, lifetime_value, updated_at) \
    SELECT u, s, l / 100.0, now() FROM unnest($1::text[], $2::text[], $3::bigint[]) AS v(u, s, l) \
    ON CONFLICT (user_id) DO NOTHING";
const PRICES: &str = "UPDATE products p SET price_usd = v.cents / 100.0, updated_at = now() \
    FROM unnest($1::text[], $2::bigint[]) AS v(product_id, cents) WHERE p.product_id = v.product_id";
/// Every change in order with the price it replaced (the one before it in the batch, else the
/// table's), so the price in effect at any moment can be looked up. Runs before `PRICES`.
const PRICE_HISTORY: &str = "INSERT INTO price_history (product_id, effective_at, old_price, new_price) \
    SELECT v.product_id, to_timestamp(v.at / 1000.0), \
      coalesce(lag(v.cents) OVER (PARTITION BY v.product_id ORDER BY v.n) / 100.0, p.price_usd), v.cents / 100.0 \
    FROM unnest($1::text[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS v(product_id, cents, at, n) \
    JOIN products p USING (product_id) ORDER BY v.n";
const OUTBOX: &str = "INSERT INTO retailgen_outbox (shard, seq, topic, record_key, headers, value, ts, schema_id) \
    SELECT $8, * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::bigint[], $7::int[])";
const ACKNOWLEDGED: &str = "DELETE FROM retailgen_outbox WHERE shard = $2 AND seq <= $1";
const HELD: &str = "INSERT INTO retailgen_held (shard, id, topic, record_key, headers, value, ts, schema_id) \
    SELECT $8, * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bytea[], $5::bytea[], $6::bigint[], $7::int[])";
const RELEASED: &str = "DELETE FROM retailgen_held WHERE shard = $2 AND id = ANY($1)";

/// Per row of one table (stores or warehouses): the level it had before the batch, and after it.
fn per_row(stock: &[StockWrite], stores: bool) -> Vec<(&str, &str, i32, i32)> {
    let mut rows: FxHashMap<(&str, &str), usize> = FxHashMap::default();
    let mut out: Vec<(&str, &str, i32, i32)> = Vec::new();
    for w in stock.iter().filter(|w| w.store == stores) {
        let key = (w.location_id.as_str(), w.product_id.as_str());
        match rows.get(&key) {
            Some(&i) => out[i].3 = w.qty,
            None => {
                rows.insert(key, out.len());
                out.push((key.0, key.1, w.previous, w.qty));
            }
        }
    }
    out
}

/// The changes of one table (stores or warehouses) in rounds: the k-th change of every row in
/// round k, each as (location, product, level before it, level after it).
fn rounds(stock: &[StockWrite], stores: bool) -> Vec<Vec<(&str, &str, i32, i32)>> {
    let mut seen: FxHashMap<(&str, &str), usize> = FxHashMap::default();
    let mut out: Vec<Vec<(&str, &str, i32, i32)>> = Vec::new();
    for w in stock.iter().filter(|w| w.store == stores) {
        let key = (w.location_id.as_str(), w.product_id.as_str());
        let k = seen.entry(key).or_default();
        if out.len() == *k {
            out.push(Vec::new());
        }
        out[*k].push((key.0, key.1, w.previous, w.qty));
        *k += 1;
    }
    out
}

/// Price changes in rounds, like [`rounds`]: the k-th change of every product in round k.
fn price_rounds(prices: &[(String, i64, i64)]) -> Vec<(Vec<&str>, Vec<i64>)> {
    let mut seen: FxHashMap<&str, usize> = FxHashMap::default();
    let mut out: Vec<(Vec<&str>, Vec<i64>)> = Vec::new();
    for (product, cents, _) in prices {
        let k = seen.entry(product.as_str()).or_default();
        if out.len() == *k {
            out.push((Vec::new(), Vec::new()));
        }
        out[*k].0.push(product);
        out[*k].1.push(*cents);
        *k += 1;
    }
    out
}

/// Net change of the global `inventory` per product.
fn per_product(stock: &[StockWrite]) -> (Vec<&str>, Vec<i32>) {
    let mut net: FxHashMap<&str, i32> = FxHashMap::default();
    for w in stock {
        *net.entry(w.product_id.as_str()).or_default() += w.delta;
    }
    net.into_iter().filter(|(_, d)| *d != 0).unzip()
}

fn columns<'a, T, A, B, C, D>(
    rows: &'a [T],
    f: impl Fn(&'a T) -> (A, B, C, D),
) -> (Vec<A>, Vec<B>, Vec<C>, Vec<D>) {
    let mut out = (
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
        Vec::with_capacity(rows.len()),
    );
    for r in rows {
        let (a, b, c, d) = f(r);
        out.0.push(a);
        out.1.push(b);
        out.2.push(c);
        out.3.push(d);
    }
    out
}

async fn stock(tx: &Transaction<'_>, stock: &[StockWrite], mode: StockMode) -> Result<(), PgError> {
    if stock.is_empty() {
        return Ok(());
    }
    for (stores, table) in [(false, WAREHOUSE_TABLE), (true, STORE_TABLE)] {
        for round in rounds(stock, stores) {
            table_rows(tx, &round, table, mode).await?;
        }
        let rows = per_row(stock, stores);
        if !rows.is_empty() {
            let (w, p, _, after) = columns(&rows, |r| (r.0, r.1, r.2, r.3));
            tx.execute(REPORTED, &[&w, &p, &after])
                .await
                .map_err(query_error("recording reported stock"))?;
        }
    }
    let (products, deltas) = per_product(stock);
    if !products.is_empty() {
        tx.execute(GLOBAL, &[&products, &deltas])
            .await
            .map_err(query_error("updating global inventory"))?;
    }
    Ok(())
}

/// Writes one round of a stock table's rows (at most one change per row).
async fn table_rows(
    tx: &Transaction<'_>,
    rows: &[(&str, &str, i32, i32)],
    table: (&str, &str),
    mode: StockMode,
) -> Result<(), PgError> {
    let what = format!("writing stock to {}", table.0);
    let (w, p, before, after) = columns(rows, |r| (r.0, r.1, r.2, r.3));
    let changed = tx
        .execute(&set_sql(table, mode), &[&w, &p, &before, &after])
        .await
        .map_err(query_error(&what))?;
    if mode == StockMode::Canonical && changed != rows.len() as u64 {
        return Err(PgError::Query {
            what,
            cause: format!(
                "{} of {} rows no longer hold the stock retailgen last set: another writer changed \
                 {} during the run (one writer per location; change stock between runs)",
                rows.len() as u64 - changed,
                rows.len(),
                table.0
            ),
        });
    }
    Ok(())
}

async fn reference(tx: &Transaction<'_>, batch: &Batch) -> Result<(), PgError> {
    let e = &batch.effects;
    if !e.sign_ups.is_empty() {
        let what = "inserting sign-ups";
        let (ids, emails, countries, created) = columns(&e.sign_ups, |(u, _)| {
            (
                u.user_id.as_str(),
                u.email.as_str(),
                u.country.as_str(),
                u.created_ms,
            )
        });
        tx.execute(USERS, &[&ids, &emails, &countries, &created])
            .await
            .map_err(query_error(what))?;
        let (ids, segments, ltv, _) = columns(&e.sign_ups, |(_, s)| {
            (s.user_id.as_str(), s.segment, s.lifetime_value_cents, ())
        });
        tx.execute(SEGMENTS, &[&ids, &segments, &ltv])
            .await
            .map_err(query_error(what))?;
    }
    if !e.prices.is_empty() {
        let (products, cents, at, _) = columns(&e.prices, |(p, c, at)| (p.as_str(), *c, *at, ()));
        tx.execute(PRICE_HISTORY, &[&products, &cents, &at])
            .await
            .map_err(query_error("recording price history"))?;
        for (products, cents) in price_rounds(&e.prices) {
            tx.execute(PRICES, &[&products, &cents])
                .await
                .map_err(query_error("updating prices"))?;
        }
    }
    Ok(())
}

async fn outbox(tx: &Transaction<'_>, batch: &Batch, shard: i32) -> Result<(), PgError> {
    rows(tx, &batch.messages, OUTBOX, "writing the outbox", shard).await?;
    rows(tx, &batch.held, HELD, "holding late records", shard).await?;
    if !batch.released.is_empty() {
        tx.execute(RELEASED, &[&batch.released, &shard])
            .await
            .map_err(query_error("releasing held late records"))?;
    }
    Ok(())
}

/// Writes the messages with a sequence number as rows of `sql`'s table.
async fn rows(
    tx: &Transaction<'_>,
    messages: &crate::domain::message::Packed,
    sql: &str,
    what: &str,
    shard: i32,
) -> Result<(), PgError> {
    let stored: Vec<_> = messages
        .iter()
        .filter_map(|m| m.seq.map(|seq| (seq, m)))
        .collect();
    if stored.is_empty() {
        return Ok(());
    }
    let (seq, topic, key, headers) = columns(&stored, |(seq, m)| (*seq, m.topic, m.key, m.headers));
    let (value, ts, schema, _) = columns(&stored, |(_, m)| {
        let id = m
            .value
            .get(1..5)
            .map_or(0, |b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        (m.value, m.ts, id, ())
    });
    tx.execute(
        sql,
        &[&seq, &topic, &key, &headers, &value, &ts, &schema, &shard],
    )
    .await
    .map_err(query_error(what))?;
    Ok(())
}

/// Commits `batch` and removes the outbox rows up to `acknowledged`, all or nothing; the outbox
/// rows are `shard`'s.
pub async fn commit(
    client: &mut tokio_postgres::Client,
    batch: &Batch,
    mode: StockMode,
    acknowledged: Option<i64>,
    shard: i32,
) -> Result<(), PgError> {
    let what = "committing a batch";
    let tx = client.transaction().await.map_err(query_error(what))?;
    stock(&tx, &batch.effects.stock, mode).await?;
    reference(&tx, batch).await?;
    journal::write(&tx, &batch.effects.transactions, &batch.effects.refunds).await?;
    outbox(&tx, batch, shard).await?;
    if let Some(seq) = acknowledged {
        tx.execute(ACKNOWLEDGED, &[&seq, &shard])
            .await
            .map_err(query_error("removing acknowledged outbox rows"))?;
    }
    tx.commit().await.map_err(query_error(what))
}

/// Whether outbox row `seq` of `shard` is there: a group whose commit's answer was lost with its
/// connection committed if its last row is (rows are removed only once the broker acknowledged
/// them, after they were sent, so never before this check).
pub async fn committed(
    client: &tokio_postgres::Client,
    shard: i32,
    seq: i64,
) -> Result<bool, PgError> {
    let row = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM retailgen_outbox WHERE shard = $1 AND seq = $2)",
            &[&shard, &seq],
        )
        .await
        .map_err(query_error("looking for a group's outbox row"))?;
    Ok(row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: &str, previous: i32, qty: i32) -> StockWrite {
        StockWrite {
            location_id: "WH001".into(),
            store: false,
            product_id: p.into(),
            previous,
            qty,
            delta: qty - previous,
        }
    }

    #[test]
    fn a_row_changed_twice_in_a_batch_is_checked_against_its_first_level_and_set_to_its_last() {
        let writes = [w("P1", 10, 7), w("P2", 5, 9), w("P1", 7, 3)];
        assert_eq!(
            per_row(&writes, false),
            vec![("WH001", "P1", 10, 3), ("WH001", "P2", 5, 9)]
        );
        assert_eq!(
            rounds(&writes, false),
            vec![
                vec![("WH001", "P1", 10, 7), ("WH001", "P2", 5, 9)],
                vec![("WH001", "P1", 7, 3)]
            ],
            "every change its own row version, in order"
        );
        assert!(rounds(&writes, true).is_empty());
        let prices = [
            ("P1".to_owned(), 5, 1),
            ("P1".to_owned(), 6, 2),
            ("P2".to_owned(), 7, 3),
        ];
        assert_eq!(
            price_rounds(&prices),
            vec![(vec!["P1", "P2"], vec![5, 7]), (vec!["P1"], vec![6])]
        );
        let (products, deltas) = per_product(&writes);
        let mut net: Vec<_> = products.into_iter().zip(deltas).collect();
        net.sort();
        assert_eq!(net, vec![("P1", -7), ("P2", 4)]);
    }
}
