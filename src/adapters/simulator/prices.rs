//! Where the simulator's prices come from: Postgres (the price in effect at the checkout, from
//! `products` and `price_history`, and that ISO week's discount of the store from `discounts`),
//! or the pos_producer.py POS simulator's parquet files (`shelf_id` -> `item_price`; `shelf_id`, `week` -> `discount`).

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::Field;
use tokio::runtime::Handle;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::adapters::postgres::{client, query_error, PgError};
use crate::domain::events::Millis;
use crate::domain::ports::{PriceBook, RepositoryError};
use crate::domain::reference::stores::iso_week;
use crate::domain::store::simulator::Quote;
use crate::observe::RunStats;

/// How often new price changes are read while running.
const REFRESH_EVERY: Duration = Duration::from_secs(5);

/// A product's price changes: (effective at, old cents, new cents), in the order they happened.
type History = Vec<(Millis, i64, i64)>;

/// How the price source rides through a Postgres outage: a lost connection is retried for up
/// to `timeout` (PG_RECONNECT_TIMEOUT; zero fails at once), the outage shown on `stats`.
pub struct RideThrough {
    pub timeout: Duration,
    pub stats: Arc<RunStats>,
}

/// Prices and discounts as the generator left them in Postgres.
pub struct PostgresPrices {
    pool: Pool,
    runtime: Handle,
    ride: RideThrough,
    base: HashMap<String, i64>,
    history: HashMap<String, History>,
    last_change: i64,
    refreshed: Instant,
    /// The discounts of the weeks asked for so far: (store, product) -> basis points.
    weeks: HashMap<String, HashMap<(String, String), i64>>,
    /// Weeks Postgres had no discounts for yet, with when it was asked.
    empty_weeks: HashMap<String, Instant>,
}

impl PostgresPrices {
    /// Reads the prices and every change so far. Call from outside the runtime.
    pub fn load(pool: Pool, runtime: Handle, ride: RideThrough) -> Result<Self, PgError> {
        let mut p = Self {
            pool,
            runtime,
            ride,
            base: HashMap::new(),
            history: HashMap::new(),
            last_change: 0,
            refreshed: Instant::now(),
            weeks: HashMap::new(),
            empty_weeks: HashMap::new(),
        };
        let rows = p.query(
            "reading products for the POS simulator",
            "SELECT product_id, (price_usd * 100)::bigint FROM products",
            &[],
        )?;
        p.base = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        p.read_changes()?;
        Ok(p)
    }

    /// One query on a pooled connection, from outside the runtime. The queries only read, so
    /// one lost with its connection (a restart, a failover, a terminated backend) is asked again
    /// on a new one, with backoff (0.1 s doubling to 2 s) for up to PG_RECONNECT_TIMEOUT; checkouts
    /// wait meanwhile. A query the server refuses on a live connection fails at once.
    fn query(
        &self,
        what: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, PgError> {
        let mut away: Option<Instant> = None;
        let mut pause = Duration::from_millis(100);
        loop {
            let tried = self.runtime.block_on(async {
                let c = client(&self.pool, what).await.map_err(|e| (true, e))?;
                c.query(sql, params)
                    .await
                    .map_err(|e| (lost(&e) || c.is_closed(), query_error(what)(e)))
            });
            let (lost, e) = match tried {
                Ok(rows) => {
                    if let Some(since) = away {
                        self.ride.stats.store_back();
                        tracing::warn!(
                            "Postgres (PG_DSN) is back after {:.1} s; the POS simulator goes on",
                            since.elapsed().as_secs_f64()
                        );
                    }
                    return Ok(rows);
                }
                Err(failed) => failed,
            };
            let first = away.is_none();
            let since = *away.get_or_insert_with(Instant::now);
            let timeout = self.ride.timeout;
            if !lost || since.elapsed() >= timeout {
                return Err(match e {
                    PgError::Query { what, cause } if lost && !timeout.is_zero() => PgError::Query {
                        what,
                        cause: format!(
                            "{cause} (the connection was lost and not back within PG_RECONNECT_TIMEOUT = {timeout:?}, after {:.1} s)",
                            since.elapsed().as_secs_f64()
                        ),
                    },
                    e => e,
                });
            }
            if first {
                let why = format!("the POS simulator's price source is away: {e}");
                tracing::warn!("{why}; checkouts wait and it is asked again for up to {timeout:?} (PG_RECONNECT_TIMEOUT)");
                self.ride.stats.store_away(&why);
            }
            std::thread::sleep(pause.min(timeout.saturating_sub(since.elapsed())));
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    fn read_changes(&mut self) -> Result<(), PgError> {
        let rows = self.query(
            "reading price_history for the POS simulator",
            "SELECT change_id, product_id, (extract(epoch FROM effective_at) * 1000)::bigint, \
             (old_price * 100)::bigint, (new_price * 100)::bigint \
             FROM price_history WHERE change_id > $1 ORDER BY change_id",
            &[&self.last_change],
        )?;
        for r in &rows {
            self.last_change = r.get(0);
            let h = self.history.entry(r.get(1)).or_default();
            let change = (r.get(2), r.get(3), r.get(4));
            // Changes come in commit order; keep them sorted by time (stable for equal times).
            let at = h.partition_point(|c| c.0 <= change.0);
            h.insert(at, change);
        }
        self.refreshed = Instant::now();
        Ok(())
    }

    /// The price of `product` in effect at `t`.
    fn price_at(&self, product: &str, t: Millis) -> Option<i64> {
        let base = *self.base.get(product)?;
        let Some(h) = self.history.get(product) else {
            return Some(base);
        };
        Some(match h.partition_point(|c| c.0 <= t) {
            0 => h.first().map_or(base, |c| c.1),
            n => h[n - 1].2,
        })
    }

    fn discount_bp(&mut self, store: &str, product: &str, t: Millis) -> Result<i64, PgError> {
        let week = iso_week(t);
        if !self.weeks.contains_key(&week) {
            let asked = self.empty_weeks.get(&week);
            if asked.is_some_and(|at| at.elapsed() < REFRESH_EVERY) {
                return Ok(0);
            }
            let rows = self.week(&week)?;
            if rows.is_empty() {
                self.empty_weeks.insert(week, Instant::now());
                return Ok(0);
            }
            self.empty_weeks.remove(&week);
            // A week's rows are read when it is first needed; two are kept (a backfill crosses
            // a week's end once).
            if self.weeks.len() >= 2 {
                self.weeks.clear();
            }
            self.weeks.insert(week.clone(), rows);
        }
        Ok(self.weeks[&week]
            .get(&(store.to_owned(), product.to_owned()))
            .copied()
            .unwrap_or(0))
    }

    fn week(&self, week: &str) -> Result<HashMap<(String, String), i64>, PgError> {
        let rows = self.query(
            &format!("reading the discounts of {week} for the POS simulator"),
            "SELECT store_id, product_id, (discount * 10000)::bigint FROM discounts WHERE week = $1",
            &[&week],
        )?;
        Ok(rows
            .iter()
            .map(|r| ((r.get(0), r.get(1)), r.get(2)))
            .collect())
    }
}

/// Whether a query failed with its connection (closed, or the server ending the session),
/// not on a refusal a live connection would repeat.
fn lost(e: &tokio_postgres::Error) -> bool {
    use std::error::Error;
    use tokio_postgres::error::SqlState;
    let ended = [
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
    ];
    e.is_closed()
        || match e.as_db_error() {
            Some(db) => ended.contains(db.code()),
            None => e.source().is_some_and(|s| s.is::<std::io::Error>()),
        }
}

impl PriceBook for PostgresPrices {
    fn quote(
        &mut self,
        item_id: &str,
        store_id: Option<&str>,
        at: Millis,
    ) -> Result<Option<Quote>, RepositoryError> {
        let pg = |e: PgError| RepositoryError(e.to_string());
        if self.refreshed.elapsed() >= REFRESH_EVERY {
            self.read_changes().map_err(pg)?;
        }
        let Some(unit_cents) = self.price_at(item_id, at) else {
            return Ok(None);
        };
        let discount_bp = match store_id {
            Some(store) => self.discount_bp(store, item_id, at).map_err(pg)?,
            None => 0,
        };
        Ok(Some(Quote {
            unit_cents,
            discount_bp,
        }))
    }
}

/// The pos_producer.py POS simulator's price tables, read once at start.
#[derive(Debug)]
pub struct ParquetPrices {
    prices: HashMap<String, i64>,
    /// (shelf_id, week) -> basis points.
    discounts: HashMap<(String, String), i64>,
}

/// A parquet file that cannot serve as a price table: names the file, the setting and the
/// columns expected.
#[derive(Debug, thiserror::Error)]
#[error("{setting}={path}: {why}; expected a parquet file with columns {expected}")]
pub struct ParquetError {
    setting: &'static str,
    path: String,
    why: String,
    expected: &'static str,
}

const STORE_COLUMNS: &str = "shelf_id (string) and item_price (number, in dollars)";
const DISCOUNT_COLUMNS: &str =
    "shelf_id (string), discount (number from 0 to 0.95) and week (string YYYY-Www)";

impl ParquetPrices {
    pub fn load(store: &Path, discounts: Option<&Path>) -> Result<Self, ParquetError> {
        let mut prices = HashMap::new();
        let fail = |why: String| ParquetError {
            setting: "STORE_PARQUET",
            path: store.display().to_string(),
            why,
            expected: STORE_COLUMNS,
        };
        rows(store, &["shelf_id", "item_price"], |row| {
            let price = number(&row[1]).ok_or("item_price is not a number")?;
            if !(price > 0.0 && price.is_finite()) {
                return Err(format!("item_price {price} is not above 0"));
            }
            prices.insert(text(&row[0])?, (price * 100.0).round() as i64);
            Ok(())
        })
        .map_err(fail)?;
        let mut by_week = HashMap::new();
        if let Some(path) = discounts {
            let fail = |why: String| ParquetError {
                setting: "DISCOUNT_PARQUET_PATH",
                path: path.display().to_string(),
                why,
                expected: DISCOUNT_COLUMNS,
            };
            rows(path, &["shelf_id", "discount", "week"], |row| {
                let d = number(&row[1]).ok_or("discount is not a number")?;
                if !(0.0..=0.95).contains(&d) {
                    return Err(format!("discount {d} is outside 0..0.95"));
                }
                by_week.insert(
                    (text(&row[0])?, text(&row[2])?),
                    (d * 10_000.0).round() as i64,
                );
                Ok(())
            })
            .map_err(fail)?;
        }
        Ok(Self {
            prices,
            discounts: by_week,
        })
    }
}

impl PriceBook for ParquetPrices {
    fn quote(
        &mut self,
        item_id: &str,
        _store_id: Option<&str>,
        at: Millis,
    ) -> Result<Option<Quote>, RepositoryError> {
        let Some(&unit_cents) = self.prices.get(item_id) else {
            return Ok(None);
        };
        let discount_bp = self
            .discounts
            .get(&(item_id.to_owned(), iso_week(at)))
            .copied()
            .unwrap_or(0);
        Ok(Some(Quote {
            unit_cents,
            discount_bp,
        }))
    }
}

/// Calls `each` with the named columns of every row of a parquet file, in the order named.
fn rows(
    path: &Path,
    columns: &[&str],
    mut each: impl FnMut(&[Field]) -> Result<(), String>,
) -> Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open it: {e}"))?;
    let reader =
        SerializedFileReader::new(file).map_err(|e| format!("not a readable parquet file: {e}"))?;
    let schema = reader.metadata().file_metadata().schema_descr();
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
    for wanted in columns {
        if !names.contains(wanted) {
            return Err(format!("no column {wanted} (it has {})", names.join(", ")));
        }
    }
    let iter = reader
        .get_row_iter(None)
        .map_err(|e| format!("cannot read its rows: {e}"))?;
    let mut picked = Vec::with_capacity(columns.len());
    for (n, row) in iter.enumerate() {
        let row = row.map_err(|e| format!("row {n}: {e}"))?;
        picked.clear();
        for wanted in columns {
            let field = row
                .get_column_iter()
                .find(|(name, _)| name == wanted)
                .map(|(_, f)| f.clone())
                .unwrap_or(Field::Null);
            picked.push(field);
        }
        each(&picked).map_err(|e| format!("row {n}: {e}"))?;
    }
    Ok(())
}

fn text(f: &Field) -> Result<String, String> {
    match f {
        Field::Str(s) => Ok(s.clone()),
        Field::Bytes(b) => std::str::from_utf8(b.data())
            .map(str::to_owned)
            .map_err(|_| "an id that is not UTF-8".into()),
        Field::Int(n) => Ok(n.to_string()),
        Field::Long(n) => Ok(n.to_string()),
        other => Err(format!("{other} where a string was expected")),
    }
}

fn number(f: &Field) -> Option<f64> {
    match f {
        Field::Double(x) => Some(*x),
        Field::Float(x) => Some(f64::from(*x)),
        Field::Int(n) => Some(f64::from(*n)),
        Field::Long(n) => Some(*n as f64),
        _ => None,
    }
}
