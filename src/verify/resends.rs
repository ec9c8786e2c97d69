//! At-least-once delivery: a record that appears again with the same id, key and bytes is a
//! re-send (the outbox relay's after a restart, a producer's retry), counted and checked by no
//! rule twice; the same id with another key or other bytes is a violation (and the record is
//! checked by every rule, as any other). State: per topic, the ids seen (an [`IdSet`]: a few
//! bits to two bytes per id) and a digest of the last [`RECENT`] records, within which a re-send
//! is compared byte for byte; an id seen again further back than that is a violation (a re-send
//! comes soon after its first: from what was not yet acknowledged).

use std::collections::VecDeque;
use std::hash::Hasher;

use apache_avro::types::Value;
use rustc_hash::{FxHashMap, FxHasher};

use super::ids::{key, IdSet};
use super::value::text;
use super::{Seen, Tally};
use crate::domain::stream::Stream;

/// Records per topic within which a re-send is recognised by its bytes.
pub const RECENT: usize = 32_768;

/// The field holding a stream's own id.
pub fn id_field(stream: Stream) -> &'static str {
    match stream {
        Stream::Orders => "order_id",
        Stream::Payments => "payment_id",
        Stream::Shipments => "shipment_id",
        Stream::CustomerInteractions => "interaction_id",
        Stream::InventoryChanges | Stream::StoreInventoryChanges => "change_id",
        Stream::PriceChanges => "price_change_id",
        Stream::PosEvents | Stream::ShelfEvents => "event_id",
        Stream::PosTransactions => "transaction_id",
        Stream::Refunds => "refund_id",
        Stream::RestockAlerts => "alert_id",
        Stream::FootTraffic => "visit_id",
    }
}

/// What tells two records with one id apart: a hash of the key and the value's bytes.
pub fn digest(key: &[u8], bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(key);
    h.write_u8(0xff);
    h.write(bytes);
    h.finish()
}

/// A topic's ids: all seen, and the digests of the recent ones.
#[derive(Default)]
struct Topic {
    seen: IdSet,
    order: VecDeque<u64>,
    digests: FxHashMap<u64, u64>,
}

impl Topic {
    fn remember(&mut self, k: u64, digest: u64) {
        if self.order.len() == RECENT {
            if let Some(old) = self.order.pop_front() {
                self.digests.remove(&old);
            }
        }
        self.order.push_back(k);
        self.digests.insert(k, digest);
    }
}

pub struct Resends {
    topics: Vec<Topic>,
    tally: Tally,
    resent: Tally,
}

impl Default for Resends {
    fn default() -> Self {
        Self {
            topics: Stream::ALL.iter().map(|_| Topic::default()).collect(),
            tally: Tally::new("an id names one record"),
            resent: Tally::new("re-sends (same id, same bytes): accepted"),
        }
    }
}

impl Resends {
    /// Whether `r` is a re-send of a record seen before (then no rule checks it again).
    /// A record that reuses an id for something else is not: it is a violation here, and the
    /// other rules check it too.
    pub fn again(&mut self, r: &Seen<'_>, v: &Value) -> bool {
        let Some(id) = text(v, id_field(r.stream)) else {
            return false;
        };
        let topic = &mut self.topics[r.stream.index()];
        let k = key(id);
        if topic.seen.insert(id) {
            topic.remember(k, r.digest);
            self.tally.check(true, r.at, String::new);
            return false;
        }
        match topic.digests.get(&k) {
            Some(&before) if before == r.digest => {
                self.resent.check(true, r.at, String::new);
                true
            }
            Some(_) => {
                self.tally.check(false, r.at, || {
                    format!("id {id} published for two different records")
                });
                false
            }
            None => {
                self.tally.check(false, r.at, || {
                    format!(
                        "id {id} published again more than {RECENT} records after its first \
                         (a re-send comes sooner)"
                    )
                });
                false
            }
        }
    }

    /// Ids tracked, and the heap bytes the rule holds (about).
    pub fn state(&self) -> (u64, usize) {
        let ids = self.topics.iter().map(|t| t.seen.len()).sum();
        let bytes = self
            .topics
            .iter()
            .map(|t| t.seen.bytes() + t.order.capacity() * 8 + t.digests.capacity() * 17)
            .sum();
        (ids, bytes)
    }

    /// The rules' tallies so far.
    pub fn tallies(&self) -> [&Tally; 2] {
        [&self.tally, &self.resent]
    }

    pub fn finish(self) -> [Tally; 2] {
        [self.tally, self.resent]
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::{At, Tally, Verifier};
    use super::*;
    use crate::domain::faults::LateMode;

    fn price_change(id: &str, old: f64, new: f64, ts: i64) -> Value {
        Value::Record(vec![
            ("price_change_id".into(), Value::String(id.into())),
            ("product_id".into(), Value::String("P1".into())),
            ("old_price".into(), Value::Double(old)),
            ("new_price".into(), Value::Double(new)),
            ("ts".into(), Value::Long(ts)),
        ])
    }

    fn stock_change(id: &str, previous: i32, delta: i32, ts: i64) -> Value {
        Value::Record(vec![
            ("change_id".into(), Value::String(id.into())),
            ("warehouse_id".into(), Value::String("W1".into())),
            ("product_id".into(), Value::String("P1".into())),
            ("previous_qty".into(), Value::Int(previous)),
            ("quantity_delta".into(), Value::Int(delta)),
            ("new_qty".into(), Value::Int(previous + delta)),
            ("ts".into(), Value::Long(ts)),
        ])
    }

    /// A record of `stream` as read at `offset`.
    pub(in crate::verify) fn seen<'a>(
        stream: Stream,
        topic: &'a str,
        key: &'a str,
        offset: usize,
        value: &'a Value,
        bytes: &'a [u8],
    ) -> Seen<'a> {
        Seen {
            at: At {
                topic,
                partition: 0,
                offset: offset as i64,
            },
            stream,
            key,
            dq: None,
            shard: None,
            value: Some(value),
            digest: digest(key.as_bytes(), bytes),
            late_mode: LateMode::Delay,
        }
    }

    /// Feeds (value, bytes) of `stream` in offset order; every rule's verdict.
    fn verify(stream: Stream, topic: &str, key: &str, records: &[(Value, &[u8])]) -> Vec<Tally> {
        let mut verifier = Verifier::new();
        for (offset, (value, bytes)) in records.iter().enumerate() {
            verifier.see(&seen(stream, topic, key, offset, value, bytes));
        }
        verifier.finish()
    }

    fn violations(tallies: &[Tally], rule: &str) -> u64 {
        tallies
            .iter()
            .find(|t| t.rule.starts_with(rule))
            .unwrap_or_else(|| panic!("no rule {rule}"))
            .violations
    }

    fn checked(tallies: &[Tally], rule: &str) -> u64 {
        tallies
            .iter()
            .find(|t| t.rule.starts_with(rule))
            .unwrap()
            .checked
    }

    #[test]
    fn a_price_change_re_sent_after_a_restart_is_accepted_and_counted() {
        let a = price_change("pc1", 10.0, 9.0, 100);
        let b = price_change("pc2", 9.0, 8.0, 200);
        // The outbox relay re-sends pc1 and pc2 after a Postgres restart: same ids, same bytes.
        let records = [
            (a.clone(), &b"pc1"[..]),
            (b.clone(), &b"pc2"[..]),
            (a, &b"pc1"[..]),
            (b, &b"pc2"[..]),
        ];
        let t = verify(Stream::PriceChanges, "price-changes.v1", "P1", &records);
        assert_eq!(violations(&t, "price changes chain"), 0, "{t:?}");
        assert_eq!(checked(&t, "price changes chain"), 2, "each change once");
        assert_eq!(checked(&t, "re-sends"), 2);
        assert_eq!(violations(&t, "an id names one record"), 0);
    }

    #[test]
    fn one_id_published_for_two_different_records_is_a_violation() {
        let a = price_change("pc1", 10.0, 9.0, 100);
        let other = price_change("pc1", 10.0, 7.0, 100);
        let records = [(a, &b"pc1"[..]), (other, &b"pc1 but other"[..])];
        let t = verify(Stream::PriceChanges, "price-changes.v1", "P1", &records);
        assert_eq!(violations(&t, "an id names one record"), 1);
        let rule = t.iter().find(|t| t.rule.starts_with("an id")).unwrap();
        assert!(
            rule.examples[0].contains("id pc1 published for two different records"),
            "{:?}",
            rule.examples
        );
        // Stock changes likewise (they de-duplicated by change_id before, bytes unchecked).
        let s = stock_change("c1", 10, -2, 100);
        let s_other = stock_change("c1", 10, -3, 100);
        let again = [(s.clone(), &b"c1"[..]), (s, &b"c1"[..])];
        let t = verify(
            Stream::InventoryChanges,
            "inventory-changes.v1",
            "W1:P1",
            &again,
        );
        assert_eq!(violations(&t, "an id names one record"), 0);
        assert_eq!(checked(&t, "re-sends"), 1);
        let differ = [
            (stock_change("c1", 10, -2, 100), &b"c1"[..]),
            (s_other, &b"c1'"[..]),
        ];
        let t = verify(
            Stream::InventoryChanges,
            "inventory-changes.v1",
            "W1:P1",
            &differ,
        );
        assert_eq!(violations(&t, "an id names one record"), 1);
    }

    /// Every topic's records de-duplicate by their own id: an outbox re-send (same id, same
    /// bytes) is accepted and counted, the same id with other bytes is refused.
    #[test]
    fn every_topic_accepts_a_re_send_and_refuses_one_id_for_two_records() {
        for stream in Stream::ALL {
            let mut verifier = Verifier::new();
            let mut feed = |id: &str, bytes: &[u8], offset: usize| {
                let v = Value::Record(vec![(id_field(stream).into(), Value::String(id.into()))]);
                verifier.see(&seen(stream, "t", "k", offset, &v, bytes));
            };
            feed("id_1", b"first", 0);
            feed("id_1", b"first", 1);
            feed("id_2", b"second", 2);
            feed("id_2", b"second, changed", 3);
            let t = verifier.finish();
            assert_eq!(checked(&t, "re-sends"), 1, "{stream:?}");
            assert_eq!(violations(&t, "an id names one record"), 1, "{stream:?}");
        }
    }

    #[test]
    fn a_re_send_too_far_back_to_compare_is_a_violation() {
        let first = price_change("pc0", 1.0, 2.0, 0);
        let mut records = vec![(first.clone(), &b"pc0"[..])];
        for i in 1..=RECENT {
            records.push((price_change(&format!("pc{i}"), 1.0, 2.0, 0), &b"x"[..]));
        }
        records.push((first, &b"pc0"[..]));
        let t = verify(Stream::PriceChanges, "price-changes.v1", "P1", &records);
        assert_eq!(violations(&t, "an id names one record"), 1);
        assert_eq!(checked(&t, "re-sends"), 0);
    }

    #[test]
    fn the_state_is_a_few_bytes_per_distinct_id() {
        let mut resends = Resends::default();
        let mut again = |id: String| {
            let v = price_change(&id, 1.0, 2.0, 0);
            let r = seen(
                Stream::PriceChanges,
                "price-changes.v1",
                "P1",
                0,
                &v,
                id.as_bytes(),
            );
            resends.again(&r, &v)
        };
        for i in 0..1_000 {
            assert!(!again(format!("pc{i}")));
        }
        for i in 0..1_000 {
            assert!(again(format!("pc{i}")), "a re-send");
        }
        let (ids, bytes) = resends.state();
        assert_eq!(ids, 1_000, "one entry per id, not per record");
        assert!(bytes < 1_000 * 100, "{bytes} bytes");
    }
}
