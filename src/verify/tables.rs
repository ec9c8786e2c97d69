//! Rules against the Postgres tables (with `STORE=postgres`): ids in events name rows (users,
//! products, stores, warehouses), tax is the store's rate, and in Postgres-canonical mode the
//! stock tables equal the last level the topics report for every key.

use apache_avro::types::Value;
use rustc_hash::{FxHashMap, FxHashSet};

use super::value::{cents, items, text};
use super::{stock_key, At, Seen, Tally};
use crate::domain::stream::Stream;

/// What the tables hold, read once before the topics.
#[derive(Debug, Default)]
pub struct Tables {
    pub users: FxHashSet<String>,
    pub products: FxHashSet<String>,
    /// Store id -> sales tax in basis points.
    pub stores: FxHashMap<String, i64>,
    /// `location:product` -> qty, of warehouses and stores.
    pub stock: FxHashMap<String, i64>,
    /// Whether the tables are the truth (Postgres-canonical), so the topics must match them.
    pub canonical: bool,
}

pub struct AgainstTables {
    tables: Tables,
    references: Tally,
    tax: Tally,
}

impl AgainstTables {
    pub fn new(tables: Tables) -> Self {
        Self {
            tables,
            references: Tally::new("ids name rows of the tables"),
            tax: Tally::new("tax = the store's rate x subtotal"),
        }
    }

    pub fn see(&mut self, r: &Seen<'_>, v: &Value) {
        let t = &self.tables;
        match r.stream {
            Stream::Orders => {
                let (user, product) = (text(v, "user_id"), text(v, "product_id"));
                let found = user.is_some_and(|u| t.users.contains(u))
                    && product.is_some_and(|p| t.products.contains(p));
                self.references.check(found, r.at, || {
                    format!("user {user:?} or product {product:?} is in no row")
                });
            }
            Stream::InventoryChanges | Stream::StoreInventoryChanges => {
                let key = stock_key(r.stream, v).unwrap_or_default();
                let found = t.stock.contains_key(&key);
                self.references
                    .check(found, r.at, || format!("stock row {key} is in no table"));
            }
            Stream::PosTransactions => {
                let store = text(v, "store_id").unwrap_or_default();
                let rate = t.stores.get(store).copied();
                let unknown: Vec<String> = items(v, "items")
                    .iter()
                    .filter_map(|l| text(l, "item_id"))
                    .filter(|p| !t.products.contains(*p))
                    .map(str::to_owned)
                    .collect();
                self.references
                    .check(rate.is_some() && unknown.is_empty(), r.at, || {
                        format!("store {store} or products {unknown:?} are in no row")
                    });
                if let (Some(rate), Some(subtotal), Some(tax)) =
                    (rate, cents(v, "subtotal"), cents(v, "tax"))
                {
                    let expected = (subtotal * rate + 5_000).div_euclid(10_000);
                    self.tax.check(tax == expected, r.at, || {
                        format!("tax {tax} cents; {rate} bp of {subtotal} is {expected}")
                    });
                }
            }
            _ => {}
        }
    }

    /// With the topics read: in Postgres-canonical mode, every key's last reported level is its
    /// table's level.
    /// The rules' tallies so far (the stock tables are compared at the end).
    pub fn tallies(&self) -> Vec<&Tally> {
        vec![&self.references, &self.tax]
    }

    pub fn finish(self, last: &FxHashMap<String, i64>) -> Vec<Tally> {
        let mut all = vec![self.references, self.tax];
        if self.tables.canonical {
            let mut equal = Tally::new("stock tables = the topics' last levels");
            let nowhere = At {
                topic: "tables",
                partition: 0,
                offset: 0,
            };
            let mut keys: Vec<&String> = last.keys().collect();
            keys.sort_unstable();
            for key in keys {
                let table = self.tables.stock.get(key).copied();
                let reported = last[key];
                equal.check(table == Some(reported), nowhere, || {
                    format!("{key}: the table holds {table:?}, the topic last reported {reported}")
                });
            }
            all.push(equal);
        }
        all
    }
}
