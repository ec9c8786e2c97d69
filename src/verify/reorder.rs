//! Event-time order within a bounded window: records of a partition come in offset order,
//! nearly in event time (a delayed late record comes up to the lateness bound after its
//! neighbours); each is held until its partition has reached `window` past it, then released
//! in event-time order (ties in arrival order). Holds what arrives within one window per
//! partition, never a whole topic (unless the topic spans less than a window of event time).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

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

    /// Holds a record without releasing anything (a live read releases by [`Self::release_until`]).
    pub fn hold(&mut self, partition: i32, time: Option<i64>, item: T) {
        self.seq += 1;
        let p = self.partitions.entry(partition).or_insert(Partition {
            heap: BinaryHeap::new(),
            latest: i64::MIN,
        });
        let time = time.unwrap_or(i64::MIN);
        p.latest = p.latest.max(time);
        p.heap.push(Reverse(Held {
            time,
            seq: self.seq,
            item,
        }));
    }

    /// Releases what is at `due` or before, partition by partition, each in event-time order.
    pub fn release_until(&mut self, due: i64, mut out: impl FnMut(T)) {
        let mut partitions: Vec<_> = self.partitions.iter_mut().collect();
        partitions.sort_unstable_by_key(|(p, _)| **p);
        for (_, p) in partitions {
            while p.heap.peek().is_some_and(|h| h.0.time <= due) {
                if let Some(Reverse(h)) = p.heap.pop() {
                    out(h.item);
                }
            }
        }
    }

    /// Records held now.
    pub fn held(&self) -> usize {
        self.partitions.values().map(|p| p.heap.len()).sum()
    }

    /// The window of event time records are held within.
    pub fn window(&self) -> i64 {
        self.window
    }
}

/// Arrival order, released up to an event time: a record comes out once everything that came
/// before it did and its own time is due, never before a record that came earlier.
/// `verify --follow` holds every topic's records this way (and the event-time topics in a
/// [`Reorder`]), releasing them topic by topic a window behind the latest time read, so what a
/// record names (a late order, say) has come first.
pub struct DelayLine<T> {
    queue: VecDeque<(i64, T)>,
}

impl<T> Default for DelayLine<T> {
    fn default() -> Self {
        Self {
            queue: VecDeque::new(),
        }
    }
}

impl<T> DelayLine<T> {
    /// One record at event `time` (`None`: as the one before it).
    pub fn hold(&mut self, time: Option<i64>, item: T) {
        let time = time.unwrap_or_else(|| self.queue.back().map_or(i64::MIN, |b| b.0));
        self.queue.push_back((time, item));
    }

    /// Releases, in arrival order, the records at `due` or before up to the first that is not.
    pub fn release_until(&mut self, due: i64, mut out: impl FnMut(T)) {
        while self.queue.front().is_some_and(|f| f.0 <= due) {
            if let Some((_, item)) = self.queue.pop_front() {
                out(item);
            }
        }
    }

    /// Everything still held, in arrival order.
    pub fn flush(&mut self, out: impl FnMut(T)) {
        self.queue.drain(..).map(|(_, item)| item).for_each(out);
    }

    /// Records held now.
    pub fn held(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delay_line_keeps_arrival_order_up_to_what_is_due() {
        let mut d = DelayLine::default();
        let mut out = Vec::new();
        for (t, name) in [(100, "a"), (150, "b"), (170, "c"), (50, "late"), (260, "d")] {
            d.hold(Some(t), name);
        }
        // Due up to 160: "late" (50) waits for "c" (170), which came before it.
        d.release_until(160, |x| out.push(x));
        assert_eq!(out, ["a", "b"]);
        d.release_until(200, |x| out.push(x));
        assert_eq!(out, ["a", "b", "c", "late"]);
        assert_eq!(d.held(), 1);
        d.hold(None, "untimed");
        d.flush(|x| out.push(x));
        assert_eq!(out, ["a", "b", "c", "late", "d", "untimed"]);
    }

    #[test]
    fn a_held_reorder_releases_in_event_time_up_to_what_is_due() {
        let mut r = Reorder::new(1_000);
        for (p, t, name) in [
            (0, 300, "c"),
            (0, 100, "a"),
            (1, 200, "b"),
            (1, 900, "late-ish"),
        ] {
            r.hold(p, Some(t), name);
        }
        let mut out = Vec::new();
        r.release_until(300, |x| out.push(x));
        assert_eq!(
            out,
            ["a", "c", "b"],
            "partition by partition, each in event time"
        );
        assert_eq!(r.held(), 1);
    }

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
