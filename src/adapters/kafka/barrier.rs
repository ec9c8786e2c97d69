//! The acknowledgement barrier of Kafka-canonical runs: a record is handed to the producer only
//! once the earlier records it may name are acknowledged (of the streams it names whole, every
//! earlier one; of those it names by key, the key's: [`Stream::names_whole`],
//! [`Stream::names_by_key`]), so whatever a crash
//! leaves on the topics never names a record that is not on them. (librdkafka sends each
//! partition when its own batch is due: without the barrier a payment could be acknowledged
//! while its order still waited in the producer's queue.)

use std::collections::VecDeque;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::domain::stream::Stream;

/// A key of a stream named by key ([`Stream::named_by_key`]), as a hash (two keys that collide
/// only make a record wait longer).
pub type KeyHash = u64;

/// What a record waits for beside the streams it names whole: the last earlier record of each
/// key it names (stream, place in the order).
type Needs = [Option<(Stream, u64)>; 2];

/// A record handed to the producer: its place in the order the records were made, its key,
/// whether the broker acknowledged it, and the key it settles once it is (a held late record's
/// release settles its entry on the pending topic).
struct Flight {
    seq: u64,
    key: KeyHash,
    acked: bool,
    settles: Option<Box<str>>,
}

/// How far in event time a record may overtake a waiting record of another key: far less than
/// the 2 minutes a partition's unlabelled records may lag (with a simulated clock a wait of
/// milliseconds can be minutes of event time).
pub const OVERTAKE_MS: i64 = 30_000;

/// A record that may not go yet, with what it needs and settles.
struct Waiting<T> {
    seq: u64,
    key: KeyHash,
    /// Its event time.
    at: i64,
    needs: Needs,
    settles: Option<Box<str>>,
    message: T,
}

/// One stream's records between being made and being acknowledged.
struct Lane<T> {
    /// The ticket of `flying.front()`: tickets number a lane's handed records from 0.
    base: u64,
    /// Handed, in the order handed, until acknowledged.
    flying: VecDeque<Flight>,
    waiting: VecDeque<Waiting<T>>,
    /// Whether its records may overtake waiting records of other keys: a stream no other
    /// names whole (records of a key still keep their order). Others are handed in the order
    /// made, which is what "every earlier record of the stream" is checked against.
    overtaking: bool,
    /// Of an overtaking lane: how many records of each key wait.
    waiting_keys: FxHashMap<KeyHash, u32>,
    /// Of a stream named by key: its records not yet acknowledged (handed or waiting).
    unacked: FxHashSet<u64>,
}

impl<T> Lane<T> {
    fn of(stream: Stream) -> Self {
        Self {
            base: 0,
            flying: VecDeque::new(),
            waiting: VecDeque::new(),
            overtaking: !Stream::ALL
                .iter()
                .any(|s| s.names_whole().contains(&stream)),
            waiting_keys: FxHashMap::default(),
            unacked: FxHashSet::default(),
        }
    }

    /// The earliest record of an in-order lane not yet acknowledged, if any.
    fn earliest(&self) -> Option<u64> {
        self.flying
            .front()
            .map(|f| f.seq)
            .or_else(|| self.waiting.front().map(|w| w.seq))
    }

    fn hand(&mut self, seq: u64, key: KeyHash, settles: Option<Box<str>>) -> Ticket {
        let ticket = self.base + self.flying.len() as u64;
        self.flying.push_back(Flight {
            seq,
            key,
            acked: false,
            settles,
        });
        ticket
    }

    /// Whether a new record of `key` at event time `at` must queue behind a waiting one.
    fn queued(&self, key: KeyHash, at: i64) -> bool {
        match (self.overtaking, self.waiting.front()) {
            (_, None) => false,
            (true, Some(first)) => {
                self.waiting_keys.contains_key(&key) || at > first.at + OVERTAKE_MS
            }
            (false, Some(_)) => true,
        }
    }
}

/// The records of every stream between being made and being acknowledged; `T` is what a
/// waiting record keeps to be sent later (its encoded message).
pub struct Barrier<T> {
    lanes: [Lane<T>; Stream::COUNT],
    next: u64,
    waiting: usize,
    /// The last record of each key of a stream named by key, while not acknowledged.
    last: FxHashMap<(Stream, KeyHash), u64>,
    /// Keys settled by acknowledged records, to be tombstoned.
    settled: Vec<Box<str>>,
    /// Whether an acknowledgement came since waiting records were last looked at.
    progress: bool,
}

impl<T> Default for Barrier<T> {
    fn default() -> Self {
        Self {
            lanes: std::array::from_fn(|i| Lane::of(Stream::ALL[i])),
            next: 0,
            waiting: 0,
            last: FxHashMap::default(),
            settled: Vec::new(),
            progress: false,
        }
    }
}

/// A record the barrier lets through: its lane's ticket (to be named by its delivery report).
pub type Ticket = u64;

impl<T> Barrier<T> {
    /// Whether every record made before `seq` of the streams `stream` names whole is
    /// acknowledged, and each record it `needs`.
    fn clear(&self, stream: Stream, seq: u64, needs: &Needs) -> bool {
        stream.names_whole().iter().all(|&named| {
            self.lanes[named.index()]
                .earliest()
                .is_none_or(|earliest| earliest > seq)
        }) && needs
            .iter()
            .flatten()
            .all(|(named, seq)| !self.lanes[named.index()].unacked.contains(seq))
    }

    /// A new record of `stream` with key `key` (hashed) at event time `at`, naming `names` by
    /// key: `Some(ticket)` if it may be handed to the producer now (it is counted as handed:
    /// send it with that ticket), or else it waits, with `message` made for a later send.
    #[allow(clippy::too_many_arguments)]
    pub fn admit(
        &mut self,
        stream: Stream,
        key: KeyHash,
        at: i64,
        names: [Option<(Stream, KeyHash)>; 2],
        settles: Option<Box<str>>,
        message: impl FnOnce() -> T,
    ) -> Option<Ticket> {
        let seq = self.next;
        self.next += 1;
        let needs = names.map(|named| {
            let (stream, key) = named?;
            Some((stream, *self.last.get(&(stream, key))?))
        });
        if stream.named_by_key() {
            self.last.insert((stream, key), seq);
            self.lanes[stream.index()].unacked.insert(seq);
        }
        if !self.lanes[stream.index()].queued(key, at) && self.clear(stream, seq, &needs) {
            return Some(self.lanes[stream.index()].hand(seq, key, settles));
        }
        let lane = &mut self.lanes[stream.index()];
        if lane.overtaking {
            *lane.waiting_keys.entry(key).or_default() += 1;
        }
        lane.waiting.push_back(Waiting {
            seq,
            key,
            at,
            needs,
            settles,
            message: message(),
        });
        self.waiting += 1;
        None
    }

    /// The waiting records that may go now (if an acknowledgement came since the last call),
    /// each counted as handed: send them with their tickets, in this order.
    pub fn release(&mut self) -> Vec<(Stream, Ticket, T)> {
        let mut out = Vec::new();
        if self.waiting == 0 || !std::mem::take(&mut self.progress) {
            return out;
        }
        for stream in Stream::ALL {
            let lane = &mut self.lanes[stream.index()];
            if lane.waiting.is_empty() {
                continue;
            }
            let mut waiting = std::mem::take(&mut lane.waiting);
            if !lane.overtaking {
                while let Some(w) = waiting.front() {
                    if !self.clear(stream, w.seq, &w.needs) {
                        break;
                    }
                    let w = waiting.pop_front().expect("a waiting record");
                    let ticket = self.lanes[stream.index()].hand(w.seq, w.key, w.settles);
                    out.push((stream, ticket, w.message));
                }
            } else {
                let mut blocked = FxHashSet::default();
                // Nothing goes more than OVERTAKE_MS after a record that stays.
                let mut until = i64::MAX;
                let mut kept = VecDeque::with_capacity(waiting.len());
                for w in waiting.drain(..) {
                    if blocked.contains(&w.key)
                        || w.at > until
                        || !self.clear(stream, w.seq, &w.needs)
                    {
                        blocked.insert(w.key);
                        until = until.min(w.at.saturating_add(OVERTAKE_MS));
                        kept.push_back(w);
                        continue;
                    }
                    let lane = &mut self.lanes[stream.index()];
                    if let Some(n) = lane.waiting_keys.get_mut(&w.key) {
                        *n -= 1;
                        if *n == 0 {
                            lane.waiting_keys.remove(&w.key);
                        }
                    }
                    let ticket = lane.hand(w.seq, w.key, w.settles);
                    out.push((stream, ticket, w.message));
                }
                waiting = kept;
            }
            self.lanes[stream.index()].waiting = waiting;
        }
        self.waiting = self.lanes.iter().map(|l| l.waiting.len()).sum();
        out
    }

    /// The broker answered for record `ticket` of `stream` (acknowledged, or lost for good: a
    /// lost record fails the run, which is counted and reported elsewhere, and holds nothing up).
    pub fn answered(&mut self, stream: Stream, ticket: Ticket) {
        let lane = &mut self.lanes[stream.index()];
        let Some(at) = ticket.checked_sub(lane.base).map(|at| at as usize) else {
            return;
        };
        let Some(flight) = lane.flying.get_mut(at) else {
            return;
        };
        if std::mem::replace(&mut flight.acked, true) {
            return;
        }
        self.progress = true;
        let (seq, key) = (flight.seq, flight.key);
        self.settled.extend(flight.settles.take());
        if stream.named_by_key() {
            lane.unacked.remove(&seq);
            // No later record of its key since: nothing can wait for the key.
            if self.last.get(&(stream, key)) == Some(&seq) {
                self.last.remove(&(stream, key));
            }
        }
        while lane.flying.front().is_some_and(|f| f.acked) {
            lane.flying.pop_front();
            lane.base += 1;
        }
    }

    /// Records waiting for an acknowledgement of another stream.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Records handed and not yet answered.
    #[cfg(test)]
    fn flying(&self) -> usize {
        self.lanes
            .iter()
            .map(|l| l.flying.iter().filter(|f| !f.acked).count())
            .sum()
    }

    /// Whether some acknowledged record settled a key not yet taken.
    pub fn has_settled(&self) -> bool {
        !self.settled.is_empty()
    }

    /// Keys whose records are acknowledged since the last call (to tombstone).
    pub fn take_settled(&mut self) -> Vec<Box<str>> {
        std::mem::take(&mut self.settled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type B = Barrier<&'static str>;

    fn ack(b: &mut B, stream: Stream, ticket: Ticket) {
        b.answered(stream, ticket);
    }

    /// A record naming nothing by key.
    fn plain(b: &mut B, stream: Stream, key: KeyHash, message: &'static str) -> Option<Ticket> {
        b.admit(stream, key, 0, [None, None], None, || message)
    }

    fn order(b: &mut B, id: KeyHash) -> Option<Ticket> {
        plain(b, Stream::Orders, id, "order")
    }

    fn payment(b: &mut B, order: KeyHash, message: &'static str) -> Option<Ticket> {
        let names = [Some((Stream::Orders, order)), None];
        b.admit(Stream::Payments, order, 0, names, None, || message)
    }

    fn released(b: &mut B) -> Vec<(Stream, Ticket, &'static str)> {
        b.release()
    }

    #[test]
    fn a_payment_waits_for_its_own_order_only() {
        let mut b = B::default();
        let first = order(&mut b, 1).unwrap();
        let second = order(&mut b, 2).unwrap();
        assert_eq!(payment(&mut b, 1, "p1"), None);
        assert_eq!(payment(&mut b, 2, "p2"), None);
        // Records of streams it does not name go on.
        assert!(plain(&mut b, Stream::CustomerInteractions, 7, "c").is_some());
        assert_eq!(b.waiting(), 2);
        ack(&mut b, Stream::Orders, second);
        // The second payment overtakes the first: its order is on the topic.
        assert_eq!(released(&mut b), vec![(Stream::Payments, 0, "p2")]);
        assert!(released(&mut b).is_empty(), "nothing new was acknowledged");
        ack(&mut b, Stream::Orders, first);
        assert_eq!(released(&mut b), vec![(Stream::Payments, 1, "p1")]);
        assert_eq!((b.waiting(), b.flying()), (0, 3));
    }

    #[test]
    fn records_of_one_key_keep_their_order_and_orders_acknowledged_earlier_hold_nothing() {
        let mut b = B::default();
        let old = order(&mut b, 1).unwrap();
        ack(&mut b, Stream::Orders, old);
        let new = order(&mut b, 2).unwrap();
        assert!(
            payment(&mut b, 1, "p1").is_some(),
            "its order is on the topic"
        );
        assert_eq!(payment(&mut b, 2, "p2"), None, "this one's is not");
        // A retry of the first order's payment may go; one of the second's queues behind.
        assert!(payment(&mut b, 1, "p1 again").is_some());
        let behind = b.admit(Stream::Payments, 2, 0, [None, None], None, || "p2 again");
        assert_eq!(behind, None, "after the waiting payment of its key");
        ack(&mut b, Stream::Orders, new);
        let order_of_release: Vec<&str> = released(&mut b).into_iter().map(|r| r.2).collect();
        assert_eq!(order_of_release, vec!["p2", "p2 again"]);
    }

    #[test]
    fn a_ledger_keeps_the_order_made_so_its_stock_chains_continue() {
        let mut b = B::default();
        let o = order(&mut b, 5).unwrap();
        // An order's SALE names it by its id, a field of the change.
        let sale = [Some((Stream::Orders, 5)), None];
        assert_eq!(
            b.admit(Stream::InventoryChanges, 9, 0, sale, None, || "sale"),
            None
        );
        let restock = plain(&mut b, Stream::InventoryChanges, 10, "restock");
        assert_eq!(
            restock, None,
            "a stock topic is named whole: it keeps its order"
        );
        ack(&mut b, Stream::Orders, o);
        let out: Vec<&str> = released(&mut b).into_iter().map(|r| r.2).collect();
        assert_eq!(out, vec!["sale", "restock"]);
    }

    #[test]
    fn a_record_waits_for_every_earlier_record_of_a_stream_it_names_whole() {
        let mut b = B::default();
        let event = plain(&mut b, Stream::PosEvents, 1, "e").unwrap();
        let later = plain(&mut b, Stream::PosEvents, 2, "e2").unwrap();
        assert_eq!(plain(&mut b, Stream::PosTransactions, 3, "t"), None);
        assert!(plain(&mut b, Stream::PosEvents, 1, "e3").is_some());
        ack(&mut b, Stream::PosEvents, later);
        assert!(released(&mut b).is_empty());
        ack(&mut b, Stream::PosEvents, event);
        // The third event came after the transaction: it does not hold it up.
        assert_eq!(released(&mut b), vec![(Stream::PosTransactions, 0, "t")]);
    }

    #[test]
    fn waiting_chains_never_wedge_and_settled_keys_come_out_when_acknowledged() {
        // A cycle of names (visits and transactions name each other) still moves: the earliest
        // record waits only for records made before it.
        let mut b = B::default();
        let visit = plain(&mut b, Stream::FootTraffic, 1, "v").unwrap();
        let t = b.admit(
            Stream::PosTransactions,
            2,
            0,
            [None, None],
            Some("t".into()),
            || "t",
        );
        assert_eq!(t, None);
        assert_eq!(plain(&mut b, Stream::FootTraffic, 1, "v2"), None);
        ack(&mut b, Stream::FootTraffic, visit);
        assert_eq!(released(&mut b), vec![(Stream::PosTransactions, 0, "t")]);
        assert!(!b.has_settled());
        ack(&mut b, Stream::PosTransactions, 0);
        assert_eq!(b.take_settled(), vec![Box::from("t")]);
        assert_eq!(released(&mut b), vec![(Stream::FootTraffic, 1, "v2")]);
    }

    #[test]
    fn nothing_overtakes_a_waiting_record_by_more_than_the_overtaking_window_of_event_time() {
        let mut b = B::default();
        let o = order(&mut b, 1).unwrap();
        let names = [Some((Stream::Orders, 1)), None];
        assert_eq!(
            b.admit(Stream::Payments, 1, 0, names, None, || "waits"),
            None
        );
        let soon = b.admit(Stream::Payments, 2, OVERTAKE_MS, [None, None], None, || {
            "soon"
        });
        assert!(soon.is_some(), "within the window");
        let late = b.admit(
            Stream::Payments,
            3,
            OVERTAKE_MS + 1,
            [None, None],
            None,
            || "l",
        );
        assert_eq!(late, None, "beyond it");
        ack(&mut b, Stream::Orders, o);
        let out: Vec<&str> = released(&mut b).into_iter().map(|r| r.2).collect();
        assert_eq!(out, vec!["waits", "l"]);
    }

    #[test]
    fn keys_are_forgotten_once_acknowledged() {
        let mut b = B::default();
        for id in 0..1_000 {
            let t = order(&mut b, id).unwrap();
            ack(&mut b, Stream::Orders, t);
        }
        let orders = &b.lanes[Stream::Orders.index()];
        assert!(b.last.is_empty() && orders.unacked.is_empty() && orders.flying.is_empty());
    }
}
