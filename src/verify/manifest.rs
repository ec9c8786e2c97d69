//! `verify --manifest`: the records inside a run manifest's offset ranges, counted and totalled
//! as the run counted them, compared with what the manifest says.

use std::collections::BTreeMap;

use apache_avro::types::Value as Avro;
use serde_json::Value as Json;

use super::value::{cents, int, text};
use super::{At, Tally};
use crate::domain::stream::Stream;
use crate::domain::totals::day;

/// Counts and totals of the records inside the manifest's ranges.
pub struct AgainstManifest {
    manifest: Json,
    records: BTreeMap<String, u64>,
    faults: BTreeMap<(String, String), u64>,
    /// (UTC day, currency) -> (orders, cents)
    orders: BTreeMap<(String, String), (u64, i64)>,
    /// store -> (transactions, revenue cents, refunds, refunded cents), over all its days
    stores: BTreeMap<String, (u64, i64, u64, i64)>,
}

impl AgainstManifest {
    pub fn new(manifest: Json) -> Self {
        Self {
            manifest,
            records: BTreeMap::new(),
            faults: BTreeMap::new(),
            orders: BTreeMap::new(),
            stores: BTreeMap::new(),
        }
    }

    /// Whether the record at `at` is one the manifest's run wrote.
    pub fn holds(&self, at: At<'_>) -> bool {
        let range = &self.manifest["topics"][at.topic]["partitions"][at.partition.to_string()];
        match (
            range["first_offset"].as_i64(),
            range["last_offset"].as_i64(),
        ) {
            (Some(first), Some(last)) => (first..=last).contains(&at.offset),
            _ => false,
        }
    }

    /// A record of the run (inside its ranges).
    pub fn see(&mut self, at: At<'_>, stream: Stream, dq: Option<&str>, v: Option<&Avro>) {
        *self.records.entry(at.topic.to_owned()).or_default() += 1;
        if let Some(dq) = dq {
            *self
                .faults
                .entry((at.topic.to_owned(), dq.to_owned()))
                .or_default() += 1;
            if dq.starts_with("bad:") || dq == "duplicate" {
                return;
            }
        }
        let Some(v) = v else { return };
        match stream {
            Stream::Orders => {
                let day = int(v, "ts")
                    .map(|ts| day(ts, chrono_tz::Tz::UTC))
                    .unwrap_or_default();
                let currency = text(v, "currency").unwrap_or_default().to_owned();
                let e = self.orders.entry((day, currency)).or_default();
                *e = (e.0 + 1, e.1 + cents(v, "amount").unwrap_or(0));
            }
            Stream::PosTransactions => {
                let store = text(v, "store_id").unwrap_or_default().to_owned();
                let e = self.stores.entry(store).or_default();
                e.0 += 1;
                e.1 += cents(v, "amount").unwrap_or(0);
            }
            Stream::Refunds => {
                let store = text(v, "store_id").unwrap_or_default().to_owned();
                let e = self.stores.entry(store).or_default();
                e.2 += 1;
                e.3 += cents(v, "refund_amount").unwrap_or(0);
            }
            _ => {}
        }
    }

    /// The manifest's figures against the topics': one check per topic, fault kind, order day
    /// and store.
    pub fn finish(self) -> Tally {
        let mut t = Tally::new("the manifest adds up to the topics");
        let m = &self.manifest;
        let nowhere = At {
            topic: "manifest",
            partition: 0,
            offset: 0,
        };
        let topics = m["topics"].as_object().cloned().unwrap_or_default();
        for (topic, figures) in &topics {
            let said = figures["acknowledged"].as_u64().unwrap_or(0);
            let found = self.records.get(topic).copied().unwrap_or(0);
            t.check(said == found, nowhere, || {
                format!("{topic}: {said} records acknowledged, {found} in its offset ranges")
            });
        }
        let faults = m["faults"].as_object().cloned().unwrap_or_default();
        for (topic, kinds) in &faults {
            for (kind, n) in kinds.as_object().into_iter().flatten() {
                let found = self.faults.get(&(topic.clone(), kind.clone())).copied();
                t.check(n.as_u64() == found, nowhere, || {
                    format!("{topic}: {n} records labelled {kind}, {found:?} on the topic")
                });
            }
        }
        let business = &m["business"];
        for ((day, currency), (n, revenue)) in &self.orders {
            let said = &business["orders"][day][currency];
            let ok = said["orders"].as_u64() == Some(*n)
                && said["revenue_cents"].as_i64() == Some(*revenue);
            t.check(ok, nowhere, || {
                format!("orders of {day} in {currency}: {said} in the manifest, {n} for {revenue} cents on the topic")
            });
        }
        let said_orders: u64 = business["orders"]
            .as_object()
            .into_iter()
            .flatten()
            .flat_map(|(_, c)| c.as_object().into_iter().flatten())
            .filter_map(|(_, d)| d["orders"].as_u64())
            .sum();
        let found_orders: u64 = self.orders.values().map(|(n, _)| n).sum();
        t.check(said_orders == found_orders, nowhere, || {
            format!("{said_orders} orders in the manifest, {found_orders} on the topic")
        });
        for (store, (n, revenue, refunds, refunded)) in &self.stores {
            let days = business["stores"][store]
                .as_object()
                .cloned()
                .unwrap_or_default();
            let sum =
                |field: &str| -> i64 { days.values().filter_map(|d| d[field].as_i64()).sum() };
            let said = (
                sum("transactions"),
                sum("revenue_cents"),
                sum("refunds"),
                sum("refunded_cents"),
            );
            let found = (*n as i64, *revenue, *refunds as i64, *refunded);
            t.check(said == found, nowhere, || {
                format!("{store}: (transactions, revenue, refunds, refunded) {said:?} in the manifest, {found:?} on the topics")
            });
        }
        t
    }
}
