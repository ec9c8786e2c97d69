//! Stock conservation: on both stock topics, per (location, product) in partition order,
//! `new_qty = previous_qty + quantity_delta`, `previous_qty` is the last `new_qty` of the key,
//! and stock never goes negative (a re-sent change is left out before: see `resends`). State:
//! the last level of each key.

use apache_avro::types::Value;
use rustc_hash::FxHashMap;

use super::value::int;
use super::{stock_key, Seen, Tally};

pub struct Chains {
    last: FxHashMap<String, i64>,
    arithmetic: Tally,
    chained: Tally,
}

impl Default for Chains {
    fn default() -> Self {
        Self {
            last: FxHashMap::default(),
            arithmetic: Tally::new("stock: new = previous + delta >= 0"),
            chained: Tally::new("stock: previous = the key's last new"),
        }
    }
}

impl Chains {
    pub fn see(&mut self, r: &Seen<'_>, v: &Value) {
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
        let last = match self.last.get_mut(&key) {
            Some(last) => Some(std::mem::replace(last, new)),
            None => self.last.insert(key.clone(), new),
        };
        if let Some(last) = last {
            self.chained.check(previous == last, r.at, || {
                format!("{key}: previous_qty {previous}, but the last change left {last}")
            });
        }
    }

    /// The last level reported of every key.
    pub fn last(&self) -> &FxHashMap<String, i64> {
        &self.last
    }

    /// Keys held, and their heap bytes (about).
    pub fn state(&self) -> (u64, usize) {
        let text: usize = self.last.keys().map(String::capacity).sum();
        (self.last.len() as u64, self.last.capacity() * 33 + text)
    }

    /// The rules' tallies so far.
    pub fn tallies(&self) -> Vec<&Tally> {
        vec![&self.arithmetic, &self.chained]
    }

    pub fn finish(self) -> Vec<Tally> {
        vec![self.arithmetic, self.chained]
    }
}
