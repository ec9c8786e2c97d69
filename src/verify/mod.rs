//! `retailgen verify`: the rules of the data (DESIGN.md) checked on what the topics hold. Records
//! are fed topic by topic in [`ORDER`] (each in partition order, so per-entity order holds);
//! every rule counts what it checked and keeps the first offenders with their position.
//! Records labelled bad or duplicate are left out of every rule but the labels rule.

mod commerce;
mod ids;
mod lateness;
pub mod manifest;
pub mod reorder;
pub mod resends;
mod stock;
mod store;
pub mod tables;
pub mod value;

use std::fmt::Write;

use apache_avro::types::Value;

use crate::domain::faults::{BadKind, LateMode};
use crate::domain::stock::location_key;
use crate::domain::stream::Stream;

/// The order topics are read in: what a rule looks up comes before what names it.
pub const ORDER: [Stream; 13] = [
    Stream::PriceChanges,
    Stream::Orders,
    Stream::Payments,
    Stream::Shipments,
    Stream::CustomerInteractions,
    Stream::InventoryChanges,
    Stream::FootTraffic,
    Stream::ShelfEvents,
    Stream::PosEvents,
    Stream::PosTransactions,
    Stream::Refunds,
    Stream::StoreInventoryChanges,
    Stream::RestockAlerts,
];

/// Offenders kept per rule.
const EXAMPLES: usize = 3;

/// Where a record is.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.topic, self.partition, self.offset)
    }
}

/// A record as read: where, its key, its `dq` label and its decoded value (`None`: it does not
/// decode).
pub struct Seen<'a> {
    pub at: At<'a>,
    pub stream: Stream,
    pub key: &'a str,
    pub dq: Option<&'a str>,
    /// The `shard` header: which instance of a scale-out wrote it.
    pub shard: Option<&'a str>,
    pub value: Option<&'a Value>,
    /// The key and value's bytes as published, hashed ([`resends::digest`]: a re-send has the
    /// same).
    pub digest: u64,
    /// How late records were made: moved in time (their time is not to be checked) or delayed.
    pub late_mode: LateMode,
}

impl Seen<'_> {
    /// A late record whose event time was moved (`LATE_MODE=shift`): its content holds, its
    /// time does not. A delayed late record keeps its true time and is checked like any other.
    pub fn late(&self) -> bool {
        self.dq == Some("late") && self.late_mode == LateMode::Shift
    }
}

/// Topics whose rules follow each key in event time, which delayed late records interleave
/// with the rest: read in event-time order (`LATE_MODE=delay`) rather than partition order.
pub fn in_event_time(stream: Stream) -> bool {
    matches!(stream, Stream::PosEvents | Stream::ShelfEvents)
}

/// A record's event time (a visit's: its entry, when it is published).
pub fn event_time(stream: Stream, v: &Value) -> Option<i64> {
    let field = match stream {
        Stream::Orders
        | Stream::Payments
        | Stream::Shipments
        | Stream::CustomerInteractions
        | Stream::InventoryChanges
        | Stream::PriceChanges => "ts",
        Stream::FootTraffic => "entry_time",
        Stream::ShelfEvents
        | Stream::PosEvents
        | Stream::PosTransactions
        | Stream::Refunds
        | Stream::StoreInventoryChanges
        | Stream::RestockAlerts => "timestamp",
    };
    value::int(v, field)
}

/// One rule's verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub rule: &'static str,
    pub checked: u64,
    pub violations: u64,
    pub examples: Vec<String>,
    /// The same first offenders, as (topic, partition, offset, reason).
    pub offenders: Vec<(String, i32, i64, String)>,
}

impl Tally {
    fn new(rule: &'static str) -> Self {
        Self {
            rule,
            ..Self::default()
        }
    }

    /// Counts one check; a failed one is a violation at `at`, described by `why`.
    pub fn check(&mut self, ok: bool, at: At<'_>, why: impl FnOnce() -> String) {
        self.checked += 1;
        if !ok {
            self.violations += 1;
            if self.examples.len() < EXAMPLES {
                let reason = why();
                self.examples.push(format!("{at}: {reason}"));
                self.offenders
                    .push((at.topic.to_owned(), at.partition, at.offset, reason));
            }
        }
    }
}

/// Every rule's state.
pub struct Verifier {
    labels: Tally,
    keys: Tally,
    commerce: commerce::Commerce,
    stock: stock::Chains,
    store: store::Store,
    tables: Option<tables::AgainstTables>,
    behind: lateness::Behind,
    resends: resends::Resends,
}

impl Default for Verifier {
    fn default() -> Self {
        Self::new()
    }
}

fn valid_label(dq: &str) -> bool {
    match dq.strip_prefix("bad:") {
        Some(kind) => BadKind::ALL.iter().any(|k| k.name() == kind),
        None => matches!(dq, "late" | "duplicate"),
    }
}

/// The stock row a change or an alert is of, as its key names it (`location:product`).
pub fn stock_key(stream: Stream, v: &Value) -> Option<String> {
    use value::text;
    let location = match stream {
        Stream::InventoryChanges => text(v, "warehouse_id"),
        Stream::StoreInventoryChanges => text(v, "store_id"),
        _ => text(v, "warehouse_id").or(text(v, "store_id")),
    };
    Some(location_key(location?, text(v, "product_id")?).into())
}

/// The field a stream's key is made of (`None`: the stock streams, keyed `location:product`).
fn key_field(stream: Stream) -> Option<&'static str> {
    match stream {
        Stream::Orders | Stream::Payments | Stream::Shipments => Some("order_id"),
        Stream::CustomerInteractions => Some("session_id"),
        Stream::InventoryChanges | Stream::StoreInventoryChanges | Stream::RestockAlerts => None,
        Stream::PriceChanges => Some("product_id"),
        Stream::PosEvents => Some("terminal_id"),
        Stream::PosTransactions => Some("transaction_id"),
        Stream::Refunds => Some("original_transaction_id"),
        Stream::FootTraffic | Stream::ShelfEvents => Some("customer_id"),
    }
}

/// The key a record should have.
fn expected_key(stream: Stream, v: &Value) -> Option<String> {
    match key_field(stream) {
        Some(field) => value::text(v, field).map(str::to_owned),
        None => stock_key(stream, v),
    }
}

/// Whether `key` is the one [`expected_key`] makes (without making it, where it is one field).
fn names_its_key(stream: Stream, v: &Value, key: &str) -> bool {
    match key_field(stream) {
        Some(field) => value::text(v, field) == Some(key),
        None => stock_key(stream, v).as_deref() == Some(key),
    }
}

impl Verifier {
    pub fn new() -> Self {
        Self {
            labels: Tally::new("labelled faults only"),
            keys: Tally::new("keys name their entity"),
            commerce: commerce::Commerce::default(),
            stock: stock::Chains::default(),
            store: store::Store::default(),
            tables: None,
            behind: lateness::Behind::default(),
            resends: resends::Resends::default(),
        }
    }

    /// Also checks the records against what the Postgres tables hold.
    pub fn with_tables(mut self, tables: tables::Tables) -> Self {
        self.tables = Some(tables::AgainstTables::new(tables));
        self
    }

    /// One record as published: each partition in offset order (before a topic is re-ordered
    /// by event time for [`Verifier::see`]).
    pub fn published(&mut self, r: &Seen<'_>) {
        self.behind.see(r);
    }

    /// One record, in [`ORDER`] and partition order (or event time: see [`in_event_time`]).
    pub fn see(&mut self, r: &Seen<'_>) {
        let labelled_out = match r.dq {
            Some(dq) => {
                self.labels.check(valid_label(dq), r.at, || {
                    format!("an unknown dq label {dq:?}")
                });
                dq.starts_with("bad:") || dq == "duplicate"
            }
            None => false,
        };
        if labelled_out {
            return;
        }
        let Some(v) = r.value else {
            self.labels.check(false, r.at, || {
                "a record that does not decode and is not labelled bad".into()
            });
            return;
        };
        self.labels.check(true, r.at, String::new);
        if self.resends.again(r, v) {
            return;
        }
        let named = names_its_key(r.stream, v, r.key);
        self.keys.check(named, r.at, || {
            format!("key {:?}, expected {:?}", r.key, expected_key(r.stream, v))
        });
        if let Some(tables) = &mut self.tables {
            tables.see(r, v);
        }
        match r.stream {
            Stream::PriceChanges | Stream::Orders | Stream::Payments | Stream::Shipments => {
                self.commerce.see(r, v)
            }
            Stream::InventoryChanges | Stream::StoreInventoryChanges => self.stock.see(r, v),
            Stream::FootTraffic
            | Stream::ShelfEvents
            | Stream::PosEvents
            | Stream::PosTransactions
            | Stream::Refunds => self.store.see(r, v, &mut self.commerce),
            Stream::CustomerInteractions | Stream::RestockAlerts => {}
        }
    }

    /// Every record of `stream` has been seen (topics come in [`ORDER`]): state that only
    /// its readers needed is let go.
    pub fn done(&mut self, stream: Stream) {
        self.commerce.done(stream);
        self.store.done(stream);
    }

    /// What the rules hold: entries (ids, keys, open entities) and their heap bytes (about).
    pub fn state(&self) -> (u64, usize) {
        let parts = [
            self.resends.state(),
            self.commerce.state(),
            self.stock.state(),
            self.store.state(),
        ];
        parts
            .iter()
            .fold((0, 0), |(n, b), (pn, pb)| (n + pn, b + pb))
    }

    /// Every rule's tally so far (the rules decided only at the end are left out), for a live
    /// summary.
    pub fn so_far(&self) -> Vec<&Tally> {
        let mut all = vec![&self.labels, &self.keys];
        all.extend(self.resends.tallies());
        all.extend(self.commerce.tallies());
        if let Some(tables) = &self.tables {
            all.extend(tables.tallies());
        }
        all.extend(self.stock.tallies());
        all.extend(self.store.tallies());
        all.push(self.behind.tally());
        all
    }

    /// The verdict of every rule.
    pub fn finish(self) -> Vec<Tally> {
        let mut all = vec![self.labels, self.keys];
        all.extend(self.resends.finish());
        all.extend(self.commerce.finish());
        if let Some(tables) = self.tables {
            all.extend(tables.finish(self.stock.last()));
        }
        all.extend(self.stock.finish());
        all.extend(self.store.finish());
        all.push(self.behind.finish());
        all
    }
}

/// Every rule as JSON: its name, checked, violations and first offenders.
pub fn rules_json(tallies: &[Tally]) -> serde_json::Value {
    serde_json::Value::Array(
        tallies
            .iter()
            .map(|t| {
                serde_json::json!({
                    "rule": t.rule,
                    "ok": t.violations == 0,
                    "checked": t.checked,
                    "violations": t.violations,
                    "offenders": t.offenders.iter().map(|(topic, partition, offset, reason)| {
                        serde_json::json!({
                            "topic": topic,
                            "partition": partition,
                            "offset": offset,
                            "reason": reason,
                        })
                    }).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

/// One line per rule: checked, violations, and the first offenders.
pub fn render(tallies: &[Tally]) -> String {
    let mut out = String::new();
    for t in tallies {
        let verdict = match t.violations {
            0 => "ok",
            _ => "VIOLATED",
        };
        let _ = writeln!(
            out,
            "verify: {:<40} {verdict:<9} checked {:>10}  violations {:>8}",
            t.rule, t.checked, t.violations
        );
        for e in &t.examples {
            let _ = writeln!(out, "          {e}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::resends::tests::seen;
    use super::*;
    use crate::domain::ids::IdGen;

    fn record(fields: Vec<(&str, Value)>) -> Value {
        Value::Record(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    #[test]
    fn every_stream_has_an_event_time_its_schema_writes() {
        for stream in Stream::ALL {
            let schema: serde_json::Value =
                serde_json::from_str(crate::adapters::avro::schema_text(stream)).unwrap();
            let fields: Vec<&str> = schema["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["name"].as_str().unwrap())
                .collect();
            let found = fields.iter().find(|name| {
                let v = record(vec![(name, Value::TimestampMillis(7))]);
                event_time(stream, &v) == Some(7)
            });
            assert!(found.is_some(), "{stream:?}: none of {fields:?}");
        }
    }

    fn feed(verifier: &mut Verifier, stream: Stream, offset: usize, key: &str, v: &Value) {
        let bytes = offset.to_string();
        verifier.see(&seen(
            stream,
            stream.entity(),
            key,
            offset,
            v,
            bytes.as_bytes(),
        ));
    }

    /// A million stock changes of 1,000 keys: the rules keep each key's level and a few bits
    /// per id, not the records (or their ids as text, at 40 bytes and more each).
    #[test]
    fn the_state_after_a_million_records_grows_with_keys_not_records() {
        let mut verifier = Verifier::new();
        let mut ids = IdGen::for_run(1, 0);
        let mut levels = vec![1_000i32; 1_000];
        for i in 0..1_000_000 {
            let k = i % 1_000;
            let delta = if (i / 1_000) % 2 == 0 { -1 } else { 1 };
            let previous = levels[k];
            levels[k] += delta;
            let v = record(vec![
                ("change_id", Value::String(ids.next("chg").into())),
                ("warehouse_id", Value::String(format!("W{}", k % 10))),
                ("product_id", Value::String(format!("P{k}"))),
                ("previous_qty", Value::Int(previous)),
                ("quantity_delta", Value::Int(delta)),
                ("new_qty", Value::Int(previous + delta)),
                ("ts", Value::Long(i as i64)),
            ]);
            let key = format!("W{}:P{k}", k % 10);
            feed(&mut verifier, Stream::InventoryChanges, i, &key, &v);
        }
        let (entries, bytes) = verifier.state();
        let tallies = verifier.finish();
        assert!(tallies.iter().all(|t| t.violations == 0), "{tallies:?}");
        assert!(entries >= 1_000_000, "the ids are tracked: {entries}");
        assert!(
            bytes < 4 << 20,
            "{bytes} bytes of state after a million records ({} per record)",
            bytes / 1_000_000
        );
    }

    /// Orders are held compactly until the topics naming them are read, then let go.
    #[test]
    fn orders_are_held_in_a_few_bytes_each_and_let_go_after_their_shipments() {
        let mut verifier = Verifier::new();
        let mut ids = IdGen::for_run(2, 0);
        let orders: Vec<_> = (0..100_000).map(|_| ids.next("ord")).collect();
        for (i, id) in orders.iter().enumerate() {
            let v = record(vec![
                ("order_id", Value::String(id.as_str().into())),
                ("amount", Value::Double(10.0)),
                ("ts", Value::Long(i as i64)),
            ]);
            feed(&mut verifier, Stream::Orders, i, id, &v);
        }
        verifier.done(Stream::Orders);
        let (_, held) = verifier.state();
        assert!(held < 100_000 * 60, "{held} bytes for 100,000 orders");
        for (i, id) in orders.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
            let v = record(vec![
                ("payment_id", Value::String(ids.next("pay").into())),
                ("order_id", Value::String(id.as_str().into())),
                ("amount", Value::Double(10.0)),
                ("status", Value::String("SETTLED".into())),
                ("ts", Value::Long(i as i64 + 5)),
            ]);
            feed(&mut verifier, Stream::Payments, i, id, &v);
        }
        verifier.done(Stream::Payments);
        verifier.done(Stream::Shipments);
        let (_, after) = verifier.state();
        assert!(
            after < held / 2,
            "{after} bytes after the shipments, {held} before"
        );
        let tallies = verifier.finish();
        assert!(tallies.iter().all(|t| t.violations == 0), "{tallies:?}");
    }
}
