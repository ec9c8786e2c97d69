//! Unlabelled lateness: where publication order is known (each partition, in offset order, per
//! writer: the `shard` header tells the instances of a scale-out apart), no unlabelled record is
//! more than [`MAX_BEHIND_MS`] of event time behind the latest unlabelled record before it. Late
//! records carry `dq=late`; this finds lateness that does not.

use apache_avro::types::Value;
use rustc_hash::FxHashMap;

use super::value::int;
use super::{Seen, Tally};
use crate::domain::ids::fnv1a;
use crate::domain::stream::Stream;

/// How far behind its partition an unlabelled record may be (a basket's POS events, published
/// together at its payment, span its own duration: at most 100 s).
pub const MAX_BEHIND_MS: i64 = 120_000;

/// A record's event time as published.
fn published_time(stream: Stream, v: &Value) -> Option<i64> {
    match stream {
        Stream::Orders
        | Stream::Payments
        | Stream::Shipments
        | Stream::CustomerInteractions
        | Stream::InventoryChanges
        | Stream::PriceChanges => int(v, "ts"),
        Stream::FootTraffic => int(v, "entry_time"),
        _ => int(v, "timestamp"),
    }
}

pub struct Behind {
    /// The latest unlabelled event time per (stream, partition, writer: a hash of its `shard`
    /// header, 0 without one).
    latest: FxHashMap<(Stream, i32, u64), i64>,
    tally: Tally,
}

impl Default for Behind {
    fn default() -> Self {
        Self {
            latest: FxHashMap::default(),
            tally: Tally::new("no unlabelled record 2 min behind its partition"),
        }
    }
}

impl Behind {
    /// One record, in its partition's offset order.
    pub fn see(&mut self, r: &Seen<'_>) {
        let (None, Some(v)) = (r.dq, r.value) else {
            return;
        };
        let Some(t) = published_time(r.stream, v) else {
            return;
        };
        let writer = r.shard.map_or(0, |s| fnv1a(s.bytes()) | 1);
        let latest = self
            .latest
            .entry((r.stream, r.at.partition, writer))
            .or_insert(t);
        let behind = *latest - t;
        self.tally.check(behind <= MAX_BEHIND_MS, r.at, || {
            format!("unlabelled, {} s behind its partition", behind / 1_000)
        });
        *latest = (*latest).max(t);
    }

    /// The rule's tally so far.
    pub fn tally(&self) -> &Tally {
        &self.tally
    }

    pub fn finish(self) -> Tally {
        self.tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::faults::LateMode;
    use crate::verify::At;

    fn order(ts: i64) -> Value {
        Value::Record(vec![("ts".into(), Value::Long(ts))])
    }

    /// Feeds (partition, dq, shard, ts) in order; the violations.
    fn violations(records: &[(i32, Option<&str>, Option<&str>, i64)]) -> u64 {
        let mut behind = Behind::default();
        for (offset, &(partition, dq, shard, ts)) in records.iter().enumerate() {
            let value = order(ts);
            behind.see(&Seen {
                at: At {
                    topic: "orders.v1",
                    partition,
                    offset: offset as i64,
                },
                stream: Stream::Orders,
                key: "k",
                dq,
                shard,
                value: Some(&value),
                digest: 0,
                late_mode: LateMode::Delay,
            });
        }
        behind.finish().violations
    }

    #[test]
    fn an_unlabelled_record_far_behind_its_partition_is_caught_and_a_late_one_is_not() {
        let minute = 60_000;
        assert_eq!(
            violations(&[
                (0, None, None, 10 * minute),
                (0, None, None, 8 * minute + 1)
            ]),
            0
        );
        assert_eq!(
            violations(&[
                (0, None, None, 10 * minute),
                (0, None, None, 8 * minute - 1)
            ]),
            1
        );
        assert_eq!(
            violations(&[
                (0, None, None, 10 * minute),
                (0, Some("late"), None, minute)
            ]),
            0,
            "labelled late"
        );
        assert_eq!(
            violations(&[(0, None, None, 10 * minute), (1, None, None, minute)]),
            0,
            "another partition"
        );
        assert_eq!(
            violations(&[
                (0, None, Some("0/2"), 10 * minute),
                (0, None, Some("1/2"), minute)
            ]),
            0,
            "another writer of the partition"
        );
    }
}
