//! Stock conservation: on both stock topics, per (location, product) in partition order,
//! `new_qty = previous_qty + quantity_delta`, `previous_qty` is the last `new_qty` of the key,
//! and stock never goes negative; a change re-sent with the same `change_id` counts once.

use apache_avro::types::Value;
use rustc_hash::{FxHashMap, FxHashSet};

use super::value::{int, text};
use super::{stock_key, Seen, Tally};

pub struct Chains {
    last: FxHashMap<String, i64>,
    seen: FxHashSet<String>,
    arithmetic: Tally,
    chained: Tally,
}

impl Default for Chains {
    fn default() -> Self {
        Self {
            last: FxHashMap::default(),
            seen: FxHashSet::default(),
            arithmetic: Tally::new("stock: new = previous + delta >= 0"),
            chained: Tally::new("stock: previous = the key's last new"),
        }
    }
}

impl Chains {
    pub fn see(&mut self, r: &Seen<'_>, v: &Value) {
        let id = text(v, "change_id").unwrap_or_default();
        if !self.seen.insert(id.to_owned()) {
            return;
        }
        let key = stock_key(r.stream, v).unwrap_or_default();
        let (previous, delta, new) = (
            int(v, "previous_qty").unwrap_or(i64::MIN),
            int(v, "quantity_delta").unwrap_or(i64::MIN),
            int(v, "new_qty").unwrap_or(i64::MIN),
        );
        self.arithmetic.check(
            previous.checked_add(delta) == Some(new) && new >= 0,
            r.at,
            || format!("{key}: {previous} + {delta} is not {new}, or below 0"),
        );
        if let Some(last) = self.last.insert(key.clone(), new) {
            self.chained.check(previous == last, r.at, || {
                format!("{key}: previous_qty {previous}, but the last change left {last}")
            });
        }
    }

    /// The last level reported of every key.
    pub fn last(&self) -> &FxHashMap<String, i64> {
        &self.last
    }

    pub fn finish(self) -> Vec<Tally> {
        vec![self.arithmetic, self.chained]
    }
}
