//! Event-time order within a bounded window: records of a partition come in offset order,
//! nearly in event time (a delayed late record comes up to the lateness bound after its
//! neighbours); each is held until its partition has reached `window` past it, then released
//! in event-time order (ties in arrival order). Holds what arrives within one window per
//! partition, never a whole topic (unless the topic spans less than a window of event time).

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap;

struct Held<T> {
    time: i64,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Held<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<T> Eq for Held<T> {}
impl<T> PartialOrd for Held<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<T> Ord for Held<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.time, self.seq).cmp(&(other.time, other.seq))
    }
}

struct Partition<T> {
    heap: BinaryHeap<Reverse<Held<T>>>,
    latest: i64,
}

pub struct Reorder<T> {
    window: i64,
    seq: u64,
    partitions: FxHashMap<i32, Partition<T>>,
}

impl<T> Reorder<T> {
    pub fn new(window_ms: i64) -> Self {
        Self {
            window: window_ms,
            seq: 0,
            partitions: FxHashMap::default(),
        }
    }

    /// One record of `partition` at event `time` (`None`: released first, as unknown times
    /// sort first); hands what is now due to `out`, in event-time order.
    pub fn push(&mut self, partition: i32, time: Option<i64>, item: T, mut out: impl FnMut(T)) {
        let time = time.unwrap_or(i64::MIN);
        self.seq += 1;
        let p = self.partitions.entry(partition).or_insert(Partition {
            heap: BinaryHeap::new(),
            latest: i64::MIN,
        });
        p.latest = p.latest.max(time);
        p.heap.push(Reverse(Held {
            time,
            seq: self.seq,
            item,
        }));
        let due = p.latest.saturating_sub(self.window);
        while p.heap.peek().is_some_and(|h| h.0.time <= due) {
            if let Some(Reverse(h)) = p.heap.pop() {
                out(h.item);
            }
        }
    }

    /// Everything still held, partition by partition, each in event-time order.
    pub fn flush(&mut self, mut out: impl FnMut(T)) {
        let mut partitions: Vec<_> = self.partitions.drain().collect();
        partitions.sort_unstable_by_key(|(p, _)| *p);
        for (_, mut p) in partitions {
            while let Some(Reverse(h)) = p.heap.pop() {
                out(h.item);
            }
        }
    }

    /// Records held now.
    pub fn held(&self) -> usize {
        self.partitions.values().map(|p| p.heap.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_out_in_event_time_holding_one_window() {
        let mut r = Reorder::new(100);
        let mut out = Vec::new();
        let mut most = 0;
        // Partition 0 in time, but for a late record (at 150, arriving after 400); ties stay.
        for (t, name) in [
            (100, "a"),
            (200, "b"),
            (200, "c"),
            (400, "d"),
            (150, "late"),
        ] {
            r.push(0, Some(t), name, |x| out.push(x));
            most = most.max(r.held());
        }
        r.push(1, Some(5), "p1", |x| out.push(x));
        for t in (500..5_000).step_by(50) {
            r.push(0, Some(t), "later", |x| out.push(x));
            most = most.max(r.held());
        }
        assert_eq!(out[..5], ["a", "b", "c", "late", "d"]);
        assert!(most <= 4, "held {most} at most");
        let mut rest = Vec::new();
        r.flush(|x| rest.push(x));
        assert!(rest.len() >= 2 && rest[..rest.len() - 1].iter().all(|x| *x == "later"));
        assert_eq!(rest.last(), Some(&"p1"));
    }
}
