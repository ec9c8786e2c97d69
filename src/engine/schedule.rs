//! Records waiting for their logical due time (follow-ups such as payments and shipments).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// A bucket spans 2^24 ns (about 17 ms: 17 records' worth of logical time when unthrottled).
const BUCKET_SHIFT: u32 = 24;
/// The calendar covers 4,096 buckets (about 69 s, past the latest shipment); later items wait
/// in a heap until the calendar reaches them.
const BUCKETS: usize = 1 << 12;

/// A bounded priority queue: earliest due first, ties in scheduling order. When more than
/// `capacity` records wait, the earliest is released before its time (memory stays bounded).
///
/// Items due at once skip the calendar: they are pushed only when nothing else is due (the
/// engine steps only then), so they come before everything else, in the order they were pushed.
///
/// The others wait in a calendar of short buckets: a push appends to its bucket, and a bucket
/// is ordered only when it comes due, into a small heap. Items beyond the calendar's span
/// (refunds, replenishments) wait in a heap of their own and join their bucket as the calendar
/// reaches it. Every item is compared by (due time, scheduling order), so the order is exactly
/// that of one heap over all of them; only the memory touched per item is far smaller.
pub struct Schedule<T> {
    ready: VecDeque<T>,
    /// Every waiting item due in the current bucket or earlier.
    current: BinaryHeap<Entry<T>>,
    /// The current bucket's number (due time >> BUCKET_SHIFT).
    current_bucket: i64,
    /// Items of the next BUCKETS - 1 buckets, unordered, bucket b at b % BUCKETS.
    calendar: Vec<Vec<Entry<T>>>,
    in_calendar: usize,
    /// Items due after the calendar's span.
    later: BinaryHeap<Entry<T>>,
    seq: u64,
    capacity: usize,
}

/// An item with its due time and scheduling order; the heaps pop the smallest pair first.
struct Entry<T> {
    due_ns: i64,
    seq: u64,
    item: T,
}

impl<T> Entry<T> {
    fn bucket(&self) -> i64 {
        self.due_ns >> BUCKET_SHIFT
    }
}

impl<T> Ord for Entry<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        (other.due_ns, other.seq).cmp(&(self.due_ns, self.seq))
    }
}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.due_ns, self.seq) == (other.due_ns, other.seq)
    }
}

impl<T> Eq for Entry<T> {}

impl<T> Schedule<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            ready: VecDeque::new(),
            current: BinaryHeap::new(),
            // Far below any due time: the first items wait in `later` until the first pop
            // moves the calendar to them.
            current_bucket: i64::MIN >> 1,
            calendar: (0..BUCKETS).map(|_| Vec::new()).collect(),
            in_calendar: 0,
            later: BinaryHeap::new(),
            seq: 0,
            capacity: capacity.max(1),
        }
    }

    pub fn push(&mut self, due_ns: i64, item: T) {
        self.seq += 1;
        self.place(Entry {
            due_ns,
            seq: self.seq,
            item,
        });
    }

    /// An item due now, while nothing scheduled earlier is still waiting.
    pub fn push_now(&mut self, item: T) {
        self.ready.push_back(item);
    }

    /// The earliest item if it is due at `now_ns` (or the queue is over capacity).
    pub fn pop_due(&mut self, now_ns: i64) -> Option<T> {
        if let Some(item) = self.ready.pop_front() {
            return Some(item);
        }
        while self.current.is_empty() {
            if !self.advance() {
                return None;
            }
        }
        let due_ns = self.current.peek().expect("not empty").due_ns;
        if due_ns > now_ns && self.len() <= self.capacity {
            return None;
        }
        self.current.pop().map(|entry| entry.item)
    }

    pub fn len(&self) -> usize {
        self.ready.len() + self.current.len() + self.in_calendar + self.later.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn place(&mut self, entry: Entry<T>) {
        let bucket = entry.bucket();
        if bucket <= self.current_bucket {
            self.current.push(entry);
        } else if bucket - self.current_bucket < BUCKETS as i64 {
            self.calendar[slot(bucket)].push(entry);
            self.in_calendar += 1;
        } else {
            self.later.push(entry);
        }
    }

    /// Moves the calendar on by one bucket (or, if it is empty, to the earliest later item),
    /// and the later items its span now reaches into their buckets. False if nothing waits.
    fn advance(&mut self) -> bool {
        if self.in_calendar == 0 {
            let Some(next) = self.later.peek() else {
                return false;
            };
            self.current_bucket = next.bucket();
        } else {
            self.current_bucket += 1;
            // The emptied heap is freed, not kept in the bucket: a bucket keeping the largest it
            // ever held, over 4,096 buckets, added megabytes.
            let bucket = std::mem::take(&mut self.calendar[slot(self.current_bucket)]);
            self.in_calendar -= bucket.len();
            self.current = BinaryHeap::from(bucket);
        }
        let horizon = self.current_bucket + BUCKETS as i64;
        while self
            .later
            .peek()
            .is_some_and(|next| next.bucket() < horizon)
        {
            let entry = self.later.pop().expect("peeked");
            self.place(entry);
        }
        true
    }
}

/// Where bucket `bucket` waits in the calendar.
fn slot(bucket: i64) -> usize {
    bucket.rem_euclid(BUCKETS as i64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{Event, Shipment};
    use crate::domain::record::Record;

    fn rec(key: &str) -> Record {
        Record {
            key: key.into(),
            trace_id: None,
            fault: None,
            effect: None,
            at: None,
            event: Event::Shipment(Shipment {
                shipment_id: key.into(),
                order_id: key.into(),
                carrier: "UPS",
                eta_days: 1,
                ts: 0,
            }),
        }
    }

    #[test]
    fn records_come_out_by_due_time_then_in_scheduling_order() {
        let mut s = Schedule::new(10);
        s.push(20, rec("late"));
        s.push(10, rec("a"));
        s.push(10, rec("b"));
        assert!(s.pop_due(5).is_none());
        assert_eq!(s.pop_due(10).unwrap().key, "a");
        assert_eq!(s.pop_due(10).unwrap().key, "b");
        assert!(s.pop_due(19).is_none());
        assert_eq!(s.pop_due(20).unwrap().key, "late");
    }

    #[test]
    fn ties_keep_scheduling_order_when_a_freed_slot_is_reused() {
        let mut s = Schedule::new(10);
        s.push(10, rec("x"));
        s.push(10, rec("y"));
        s.push(20, rec("a"));
        assert_eq!(s.pop_due(10).unwrap().key, "x");
        // "b" waits in the slot "x" left, below "a"'s: it still comes after "a".
        s.push(20, rec("b"));
        assert_eq!(s.pop_due(10).unwrap().key, "y");
        assert_eq!(s.pop_due(20).unwrap().key, "a");
        assert_eq!(s.pop_due(20).unwrap().key, "b");
        assert!(s.is_empty());
    }

    #[test]
    fn items_due_now_come_first_in_the_order_they_were_pushed() {
        let mut s = Schedule::new(10);
        s.push(20, rec("later"));
        s.push_now(rec("a"));
        s.push_now(rec("b"));
        assert_eq!(s.pop_due(0).unwrap().key, "a");
        assert_eq!(s.pop_due(0).unwrap().key, "b");
        assert!(s.pop_due(0).is_none());
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn items_beyond_the_calendar_come_out_in_order_with_the_rest() {
        let span = (BUCKETS as i64) << BUCKET_SHIFT;
        let mut s = Schedule::new(100);
        s.push(3 * span, rec("far"));
        s.push(span + 5, rec("past the span"));
        s.push(7, rec("first"));
        s.push(3 * span, rec("far, later in order"));
        s.push(span - 1, rec("within the span"));
        let mut out = Vec::new();
        while let Some(record) = s.pop_due(i64::MAX) {
            out.push(record.key);
        }
        let want = [
            "first",
            "within the span",
            "past the span",
            "far",
            "far, later in order",
        ];
        assert_eq!(out, want);
    }

    /// Random pushes (at once, within a bucket, across the calendar and beyond it), pops at
    /// random times and a small capacity, against one ordered map of everything waiting.
    #[test]
    fn the_order_is_that_of_one_queue_over_everything_waiting() {
        use crate::services::DetRng;
        use rand::{Rng, SeedableRng};
        use std::collections::BTreeMap;
        let span = (BUCKETS as i64) << BUCKET_SHIFT;
        let mut rng = DetRng::seed_from_u64(7);
        let mut s = Schedule::new(300);
        let (mut waiting, mut ready) = (BTreeMap::new(), VecDeque::new());
        let (mut now, mut seq, mut popped) = (1_i64 << 40, 0_u64, 0);
        for _ in 0..200_000 {
            match rng.random_range(0..10) {
                0..=3 => {
                    let delay = match rng.random_range(0..4) {
                        0 => rng.random_range(0..1 << BUCKET_SHIFT),
                        1 => rng.random_range(0..span),
                        2 => rng.random_range(span / 2..4 * span),
                        _ => -rng.random_range(0..span),
                    };
                    seq += 1;
                    s.push(now + delay, seq);
                    waiting.insert((now + delay, seq), seq);
                }
                4 if waiting.is_empty() || rng.random_bool(0.1) => {
                    seq += 1;
                    s.push_now(seq);
                    ready.push_back(seq);
                }
                _ => {
                    now += rng.random_range(0..span / 500);
                    let want = ready.pop_front().or_else(|| {
                        let (&(due, _), _) = waiting.first_key_value()?;
                        let early = waiting.len() > 300;
                        (due <= now || early).then(|| waiting.pop_first().expect("first").1)
                    });
                    assert_eq!(s.pop_due(now), want);
                    popped += usize::from(want.is_some());
                }
            }
            assert_eq!(s.len(), waiting.len() + ready.len());
        }
        assert!(popped > 50_000, "only {popped} popped");
    }

    #[test]
    fn over_capacity_the_earliest_is_released_early() {
        let mut s = Schedule::new(1);
        s.push(100, rec("x"));
        s.push(200, rec("y"));
        assert_eq!(s.pop_due(0).unwrap().key, "x");
        assert!(s.pop_due(0).is_none());
    }
}
