//! The acknowledgement barrier of Kafka-canonical runs: a record is handed to the producer only
//! once every earlier record of the streams it names ([`Stream::names`]) is acknowledged, so
//! whatever a crash leaves on the topics never names a record that is not on them. (librdkafka
//! sends each partition when its own batch is due: without the barrier a payment could be
//! acknowledged while its order still waited in the producer's queue.)

use std::collections::VecDeque;

use crate::domain::stream::Stream;

/// A record handed to the producer: its place in the order the records were made, whether the
/// broker acknowledged it, and the key it settles once it is (a held late record's release
/// settles its entry on the pending topic).
struct Flight {
    seq: u64,
    acked: bool,
    settles: Option<Box<str>>,
}

/// A record that may not go yet, with what it settles.
struct Waiting<T> {
    seq: u64,
    settles: Option<Box<str>>,
    message: T,
}

/// One stream's records, in the order made: handed and not yet acknowledged, then waiting.
struct Lane<T> {
    /// The ticket of `flying.front()`: tickets number a lane's handed records from 0.
    base: u64,
    flying: VecDeque<Flight>,
    waiting: VecDeque<Waiting<T>>,
}

impl<T> Default for Lane<T> {
    fn default() -> Self {
        Self {
            base: 0,
            flying: VecDeque::new(),
            waiting: VecDeque::new(),
        }
    }
}

impl<T> Lane<T> {
    /// The earliest record of the lane not yet acknowledged, if any.
    fn earliest(&self) -> Option<u64> {
        self.flying
            .front()
            .map(|f| f.seq)
            .or_else(|| self.waiting.front().map(|w| w.seq))
    }

    fn hand(&mut self, seq: u64, settles: Option<Box<str>>) -> u64 {
        let ticket = self.base + self.flying.len() as u64;
        self.flying.push_back(Flight {
            seq,
            acked: false,
            settles,
        });
        ticket
    }
}

/// The records of every stream between being made and being acknowledged; `T` is what a
/// waiting record keeps to be sent later (its encoded message).
pub struct Barrier<T> {
    lanes: [Lane<T>; Stream::COUNT],
    next: u64,
    waiting: usize,
    /// Keys settled by acknowledged records, to be tombstoned.
    settled: Vec<Box<str>>,
}

impl<T> Default for Barrier<T> {
    fn default() -> Self {
        Self {
            lanes: std::array::from_fn(|_| Lane::default()),
            next: 0,
            waiting: 0,
            settled: Vec::new(),
        }
    }
}

/// A record the barrier lets through: its lane's ticket (to be named by its delivery report).
pub type Ticket = u64;

impl<T> Barrier<T> {
    /// Whether every record made before `seq` of the streams `stream` names is acknowledged.
    fn clear(&self, stream: Stream, seq: u64) -> bool {
        stream.names().iter().all(|named| {
            self.lanes[named.index()]
                .earliest()
                .is_none_or(|earliest| earliest > seq)
        })
    }

    /// A new record of `stream`: `Ok(ticket)` if it may be handed to the producer now (it is
    /// counted as handed: send it with that ticket), or else it waits, with `message` made for
    /// a later send (records of a stream keep their order).
    pub fn admit(
        &mut self,
        stream: Stream,
        settles: Option<Box<str>>,
        message: impl FnOnce() -> T,
    ) -> Option<Ticket> {
        let seq = self.next;
        self.next += 1;
        let lane = &self.lanes[stream.index()];
        if lane.waiting.is_empty() && self.clear(stream, seq) {
            return Some(self.lanes[stream.index()].hand(seq, settles));
        }
        self.lanes[stream.index()].waiting.push_back(Waiting {
            seq,
            settles,
            message: message(),
        });
        self.waiting += 1;
        None
    }

    /// A waiting record that may go now, counted as handed: send it with its ticket.
    pub fn next_ready(&mut self) -> Option<(Stream, Ticket, T)> {
        if self.waiting == 0 {
            return None;
        }
        let stream = Stream::ALL.into_iter().find(|&s| {
            self.lanes[s.index()]
                .waiting
                .front()
                .is_some_and(|w| self.clear(s, w.seq))
        })?;
        let lane = &mut self.lanes[stream.index()];
        let w = lane.waiting.pop_front().expect("a waiting record");
        self.waiting -= 1;
        Some((stream, lane.hand(w.seq, w.settles), w.message))
    }

    /// The broker answered for record `ticket` of `stream` (acknowledged, or lost for good: a
    /// lost record fails the run, which is counted and reported elsewhere, and holds nothing up).
    pub fn answered(&mut self, stream: Stream, ticket: Ticket) {
        let lane = &mut self.lanes[stream.index()];
        let Some(at) = ticket.checked_sub(lane.base) else {
            return;
        };
        if let Some(flight) = lane.flying.get_mut(at as usize) {
            flight.acked = true;
        }
        while lane.flying.front().is_some_and(|f| f.acked) {
            let flight = lane.flying.pop_front().expect("a flight");
            lane.base += 1;
            self.settled.extend(flight.settles);
        }
    }

    /// Records waiting for an acknowledgement of another stream.
    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Records handed and not yet answered.
    #[cfg(test)]
    fn flying(&self) -> usize {
        self.lanes.iter().map(|l| l.flying.len()).sum()
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

    fn ack(b: &mut Barrier<&'static str>, stream: Stream, ticket: Ticket) {
        b.answered(stream, ticket);
    }

    #[test]
    fn a_payment_waits_for_every_earlier_order_and_goes_once_they_are_acknowledged() {
        let mut b = Barrier::default();
        let first = b.admit(Stream::Orders, None, || "o1").unwrap();
        let second = b.admit(Stream::Orders, None, || "o2").unwrap();
        assert_eq!(b.admit(Stream::Payments, None, || "p1"), None);
        // Records of streams it does not name go on; a later payment queues behind the first.
        assert!(b
            .admit(Stream::CustomerInteractions, None, || "c")
            .is_some());
        assert_eq!(b.admit(Stream::Payments, None, || "p2"), None);
        assert_eq!(b.waiting(), 2);
        ack(&mut b, Stream::Orders, second);
        assert!(
            b.next_ready().is_none(),
            "the first order is not acknowledged"
        );
        ack(&mut b, Stream::Orders, first);
        assert_eq!(b.next_ready(), Some((Stream::Payments, 0, "p1")));
        assert_eq!(b.next_ready(), Some((Stream::Payments, 1, "p2")));
        assert_eq!(b.next_ready(), None);
        assert_eq!((b.waiting(), b.flying()), (0, 3));
    }

    #[test]
    fn a_record_does_not_wait_for_records_made_after_it() {
        let mut b = Barrier::default();
        assert!(b.admit(Stream::Payments, None, || "p").is_some());
        assert!(b.admit(Stream::Orders, None, || "o").is_some());
        // The shipment names the payment, which is not acknowledged.
        assert_eq!(b.admit(Stream::Shipments, None, || "s"), None);
        ack(&mut b, Stream::Payments, 0);
        assert_eq!(b.next_ready(), None, "nor is the order before it");
        ack(&mut b, Stream::Orders, 0);
        assert_eq!(b.next_ready(), Some((Stream::Shipments, 0, "s")));
    }

    #[test]
    fn waiting_chains_never_wedge_and_settled_keys_come_out_when_acknowledged() {
        // A cycle of names (visits and transactions name each other) still moves: the earliest
        // record waits only for records made before it.
        let mut b = Barrier::default();
        let visit = b.admit(Stream::FootTraffic, None, || "v").unwrap();
        assert_eq!(
            b.admit(Stream::PosTransactions, Some("t".into()), || "t"),
            None
        );
        assert_eq!(b.admit(Stream::FootTraffic, None, || "v2"), None);
        ack(&mut b, Stream::FootTraffic, visit);
        assert_eq!(b.next_ready(), Some((Stream::PosTransactions, 0, "t")));
        assert_eq!(
            b.next_ready(),
            None,
            "the second visit names the transaction"
        );
        assert!(b.take_settled().is_empty());
        ack(&mut b, Stream::PosTransactions, 0);
        assert_eq!(b.take_settled(), vec![Box::from("t")]);
        assert_eq!(b.next_ready(), Some((Stream::FootTraffic, 1, "v2")));
    }
}
