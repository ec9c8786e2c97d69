//! Records waiting for their logical due time (follow-ups such as payments and shipments).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// A bounded priority queue: earliest due first, ties in scheduling order. When more than
/// `capacity` records wait, the earliest is released before its time (memory stays bounded).
///
/// Items due at once skip the heap: they are pushed only when nothing else is due (the engine
/// steps only then), so they come before everything in the heap, in the order they were pushed.
///
/// The heap orders small keys (due time, scheduling order, slot); the items wait in slots, so
/// reordering moves 24 bytes, not the items.
pub struct Schedule<T> {
    ready: VecDeque<T>,
    heap: BinaryHeap<Reverse<(i64, u64, u32)>>,
    slots: Vec<Option<T>>,
    free: Vec<u32>,
    seq: u64,
    capacity: usize,
}

impl<T> Schedule<T> {
    pub fn new(capacity: usize) -> Self {
        Self {
            ready: VecDeque::new(),
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            seq: 0,
            capacity: capacity.max(1),
        }
    }

    pub fn push(&mut self, due_ns: i64, item: T) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot as usize] = Some(item);
                slot
            }
            None => {
                self.slots.push(Some(item));
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 items wait")
            }
        };
        self.heap.push(Reverse((due_ns, self.seq, slot)));
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
        let Reverse((due_ns, _, _)) = *self.heap.peek()?;
        if due_ns > now_ns && self.heap.len() <= self.capacity {
            return None;
        }
        let Reverse((_, _, slot)) = self.heap.pop().expect("peeked");
        self.free.push(slot);
        self.slots[slot as usize].take()
    }

    pub fn len(&self) -> usize {
        self.ready.len() + self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.heap.is_empty()
    }
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
    fn over_capacity_the_earliest_is_released_early() {
        let mut s = Schedule::new(1);
        s.push(100, rec("x"));
        s.push(200, rec("y"));
        assert_eq!(s.pop_due(0).unwrap().key, "x");
        assert!(s.pop_due(0).is_none());
    }
}
