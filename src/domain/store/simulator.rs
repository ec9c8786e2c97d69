//! The POS simulator's carts (the pos_producer.py POS simulator, without its defects): sessions and shelf events
//! in, one checkout per session out, decided in event time. A session checks out once the
//! watermark (the latest event time seen minus the allowed lateness) passes its exit, or when it
//! has been open longer than the maximum age; its cart leaves memory then, and a shelf event
//! that comes after its session checked out is counted as late, never recreating a cart.
//!
//! Every input carries a `Tag` (the adapter's handle on where it was read): a checkout names the
//! tags it was built from, and inputs that end up in no checkout are released at once, so the
//! adapter knows which inputs are done with only once their checkout is acknowledged.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::domain::events::Millis;
use crate::domain::ids::fnv1a;

/// The adapter's handle on one input record.
pub type Tag = u64;

/// A foot-traffic session as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionIn {
    pub customer_id: String,
    /// retailgen's `store_id` (pos_producer.py's sessions have none).
    pub store_id: Option<String>,
    pub entry: Millis,
    pub exit: Millis,
    /// retailgen's `visit_id`, if the input has one.
    pub visit_id: Option<String>,
}

/// A pickup or putback as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShelfIn {
    pub customer_id: String,
    pub item_id: String,
    pub quantity: i32,
    pub pickup: bool,
    pub at: Millis,
}

/// A session's checkout: what its cart holds at the exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// Derived from the session alone, so a checkout re-sent after a crash keeps its id.
    pub transaction_id: String,
    pub customer_id: String,
    pub store_id: Option<String>,
    pub visit_id: Option<String>,
    pub at: Millis,
    /// (item, units), by item.
    pub items: Vec<(String, i32)>,
    /// Checked out by age, not by the watermark.
    pub forced: bool,
}

/// What was read but could not count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rejected {
    /// Shelf events of a session already checked out, or outside their session.
    pub late: u64,
    /// Putbacks of more than the cart held (clamped).
    pub over_putback: u64,
    /// Shelf events that never found a session.
    pub orphan: u64,
    /// A session read again while it is open or after it checked out (a duplicate).
    pub replayed: u64,
}

/// What the carts finished with since the last `take`: checkouts with the inputs they were
/// built from (the session's first), sessions closed with an empty cart (their inputs, the
/// session's first), and inputs done with that belong to no session.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Finished {
    pub checkouts: Vec<(Checkout, Vec<Tag>)>,
    pub empty: Vec<Vec<Tag>>,
    pub released: Vec<Tag>,
}

struct Cart {
    session: SessionIn,
    items: BTreeMap<String, i32>,
    /// When (processing time) the session was first seen.
    seen_at: Millis,
    tags: Vec<Tag>,
}

/// The simulator's state; memory holds only open sessions and shelf events waiting for theirs.
pub struct Carts {
    lateness_ms: Millis,
    max_age_ms: Millis,
    force_if_empty: bool,
    /// Open sessions by customer (a customer's visits follow each other; shelf events go to
    /// the one whose span holds them).
    carts: HashMap<String, Vec<Cart>>,
    open: usize,
    /// (exit, customer, entry) of every open session.
    by_exit: BTreeSet<(Millis, String, Millis)>,
    /// Shelf events whose session has not been read yet, by customer.
    waiting: HashMap<String, Vec<(ShelfIn, Tag)>>,
    /// The latest end of a session checked out, per customer: shelf events up to it are late.
    closed_until: HashMap<String, Millis>,
    /// The latest event time read from each source (a partition) of each input: an input is
    /// read up to the earliest of its sources' (one source racing ahead proves nothing about
    /// the others).
    max_session: HashMap<u32, Millis>,
    max_shelf: HashMap<u32, Millis>,
    /// A floor under the watermark: event time known to be complete (inputs idle and caught up).
    floor: Millis,
    finished: Finished,
    pub rejected: Rejected,
}

/// A shelf event inside its session's span changes the cart (a putback never below zero).
fn apply(cart: &mut Cart, e: ShelfIn, tag: Tag, rejected: &mut Rejected) {
    cart.tags.push(tag);
    let held = cart.items.entry(e.item_id).or_default();
    if e.pickup {
        *held += e.quantity;
    } else {
        if e.quantity > *held {
            rejected.over_putback += 1;
        }
        *held = (*held - e.quantity).max(0);
    }
}

fn raise(max: &mut HashMap<u32, Millis>, source: u32, t: Millis) {
    let m = max.entry(source).or_insert(t);
    *m = (*m).max(t);
}

fn read_up_to(max: &HashMap<u32, Millis>) -> Option<Millis> {
    max.values().min().copied()
}

/// A transaction id that depends only on the session.
pub fn transaction_id(customer_id: &str, entry: Millis, visit_id: Option<&str>) -> String {
    let basis = match visit_id {
        Some(v) => v.to_owned(),
        None => format!("{customer_id}@{entry}"),
    };
    let h = fnv1a(basis.bytes());
    format!("sim_{h:016x}")
}

impl Carts {
    pub fn new(lateness_ms: Millis, max_age_ms: Millis, force_if_empty: bool) -> Self {
        Self {
            lateness_ms,
            max_age_ms,
            force_if_empty,
            carts: HashMap::new(),
            open: 0,
            by_exit: BTreeSet::new(),
            waiting: HashMap::new(),
            closed_until: HashMap::new(),
            max_session: HashMap::new(),
            max_shelf: HashMap::new(),
            floor: Millis::MIN,
            finished: Finished::default(),
            rejected: Rejected::default(),
        }
    }

    /// The sources (partitions) each input has: until a source has shown an event, its input
    /// counts as read up to nothing (an empty partition holds event time back until `advance`).
    pub fn expect_sources(&mut self, sessions: &[u32], shelf: &[u32]) {
        for s in sessions {
            self.max_session.entry(*s).or_insert(Millis::MIN);
        }
        for s in shelf {
            self.max_shelf.entry(*s).or_insert(Millis::MIN);
        }
    }

    /// Open sessions (the memory bound).
    pub fn open(&self) -> usize {
        self.open
    }

    /// The event time each input is read up to: (sessions, shelf events).
    pub fn latest(&self) -> (Option<Millis>, Option<Millis>) {
        (read_up_to(&self.max_session), read_up_to(&self.max_shelf))
    }

    /// The event time up to which both inputs are taken as read: the earlier of their latest
    /// event times, minus the allowed lateness (an input that has shown nothing yet does not
    /// hold the other back), and never below what `advance` said is complete.
    pub fn watermark(&self) -> Millis {
        let latest = match self.latest() {
            (Some(a), Some(b)) => a.min(b),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => Millis::MIN,
        };
        latest.saturating_sub(self.lateness_ms).max(self.floor)
    }

    /// Event time up to `t` is complete (both inputs are caught up and idle): sessions that
    /// ended by then check out.
    pub fn advance(&mut self, t: Millis) {
        self.floor = self.floor.max(t);
        self.seen();
    }

    /// What finished since the last call.
    pub fn take(&mut self) -> Finished {
        std::mem::take(&mut self.finished)
    }

    /// A session opens and takes the shelf events that waited for it. A session read again
    /// (open with the same span, or ending no later than one of the customer's that checked
    /// out) is a replay.
    pub fn session(&mut self, s: SessionIn, source: u32, tag: Tag, now: Millis) {
        let entry = s.entry;
        raise(&mut self.max_session, source, entry);
        let replay = self
            .closed_until
            .get(&s.customer_id)
            .is_some_and(|until| s.exit <= *until)
            || self.carts.get(&s.customer_id).is_some_and(|open| {
                open.iter()
                    .any(|c| c.session.entry == s.entry && c.session.exit == s.exit)
            });
        if replay {
            self.rejected.replayed += 1;
            self.finished.released.push(tag);
            self.seen();
            return;
        }
        self.by_exit
            .insert((s.exit, s.customer_id.clone(), s.entry));
        let mut cart = Cart {
            session: s,
            items: BTreeMap::new(),
            seen_at: now,
            tags: vec![tag],
        };
        let id = cart.session.customer_id.clone();
        if let Some(mut waiting) = self.waiting.remove(&id) {
            let (span, rest): (Vec<_>, Vec<_>) = waiting
                .drain(..)
                .partition(|(e, _)| cart.session.entry <= e.at && e.at <= cart.session.exit);
            for (e, tag) in span {
                apply(&mut cart, e, tag, &mut self.rejected);
            }
            if !rest.is_empty() {
                self.waiting.insert(id.clone(), rest);
            }
        }
        self.carts.entry(id).or_default().push(cart);
        self.open += 1;
        self.seen();
    }

    /// A pickup or putback goes to its customer's session whose span holds it; one of a
    /// session not read yet waits for it (until the sessions read pass it: then it is an
    /// orphan), one of a session already checked out is late.
    pub fn shelf(&mut self, e: ShelfIn, source: u32, tag: Tag) {
        let at = e.at;
        raise(&mut self.max_shelf, source, at);
        let open = self.carts.get_mut(&e.customer_id).and_then(|carts| {
            carts
                .iter_mut()
                .find(|c| c.session.entry <= at && at <= c.session.exit)
        });
        match open {
            Some(cart) => apply(cart, e, tag, &mut self.rejected),
            None if self
                .closed_until
                .get(&e.customer_id)
                .is_some_and(|until| at <= *until) =>
            {
                self.reject_late(tag);
            }
            None => self
                .waiting
                .entry(e.customer_id.clone())
                .or_default()
                .push((e, tag)),
        }
        self.seen();
    }

    /// Sessions open longer than the maximum age (processing time) check out now.
    pub fn force(&mut self, now: Millis) {
        let old: Vec<(Millis, String, Millis)> = self
            .carts
            .values()
            .flatten()
            .filter(|c| now - c.seen_at > self.max_age_ms)
            .map(|c| {
                let s = &c.session;
                (s.exit, s.customer_id.clone(), s.entry)
            })
            .collect();
        for key in old {
            self.by_exit.remove(&key);
            self.take_out(&key, true);
        }
    }

    /// Removes the session (exit, customer, entry) from the open ones and checks it out.
    fn take_out(&mut self, (_, id, entry): &(Millis, String, Millis), forced: bool) {
        let Some(carts) = self.carts.get_mut(id) else {
            return;
        };
        let Some(i) = carts.iter().position(|c| c.session.entry == *entry) else {
            return;
        };
        let cart = carts.swap_remove(i);
        if carts.is_empty() {
            self.carts.remove(id);
        }
        self.open -= 1;
        self.close(cart, forced);
    }

    fn reject_late(&mut self, tag: Tag) {
        self.rejected.late += 1;
        self.finished.released.push(tag);
    }

    /// Event time moved on: sessions the watermark has passed check out, and shelf events
    /// whose session can no longer come (the sessions read have passed them) are orphans.
    fn seen(&mut self) {
        let watermark = self.watermark();
        let sessions_read = read_up_to(&self.max_session)
            .map_or(Millis::MIN, |m| m.saturating_sub(self.lateness_ms))
            .max(self.floor);
        while let Some(key) = self.by_exit.first().cloned() {
            if key.0 > watermark {
                break;
            }
            self.by_exit.pop_first();
            self.take_out(&key, false);
        }
        let (rejected, finished) = (&mut self.rejected, &mut self.finished);
        self.waiting.retain(|_, events| {
            events.retain(|(e, tag)| {
                let keep = e.at > sessions_read;
                if !keep {
                    rejected.orphan += 1;
                    finished.released.push(*tag);
                }
                keep
            });
            !events.is_empty()
        });
        // Checked-out sessions the watermark has passed need no memory: a shelf event of
        // theirs now waits, and is an orphan at once.
        if self.closed_until.len() > 2 * self.open + 1_024 {
            self.closed_until.retain(|_, until| *until > watermark);
        }
    }

    fn close(&mut self, cart: Cart, forced: bool) {
        let s = cart.session;
        let until = self.closed_until.entry(s.customer_id.clone()).or_default();
        *until = (*until).max(s.exit);
        let items: Vec<(String, i32)> = cart.items.into_iter().filter(|(_, q)| *q > 0).collect();
        if items.is_empty() && !self.force_if_empty {
            self.finished.empty.push(cart.tags);
            return;
        }
        let checkout = Checkout {
            transaction_id: transaction_id(&s.customer_id, s.entry, s.visit_id.as_deref()),
            customer_id: s.customer_id,
            store_id: s.store_id,
            visit_id: s.visit_id,
            at: s.exit,
            items,
            forced,
        };
        self.finished.checkouts.push((checkout, cart.tags));
    }
}

/// A product's price and discount at a store at a moment, as the simulator's price source
/// knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    pub unit_cents: i64,
    /// Basis points (1/100 of a percent): pos_producer.py's discounts are fractions such as 0.125.
    pub discount_bp: i64,
}

/// pos_producer.py's price of an item its price table does not list.
pub const UNLISTED_PRICE_CENTS: i64 = 500;

/// A priced line, pos_producer.py's shape: `total = quantity x unit x (1 - discount)` to the cent.
#[derive(Debug, Clone, PartialEq)]
pub struct PricedLine {
    pub item_id: String,
    pub quantity: i32,
    pub unit_cents: i64,
    pub discount_bp: i64,
    pub total_cents: i64,
}

/// A line's total in cents at a discount in basis points, rounded half up (equal to
/// `line_total_cents` for whole percents).
pub fn priced_line(item_id: String, quantity: i32, q: Quote) -> PricedLine {
    let exact = i64::from(quantity) * q.unit_cents * (10_000 - q.discount_bp);
    PricedLine {
        item_id,
        quantity,
        unit_cents: q.unit_cents,
        discount_bp: q.discount_bp,
        total_cents: (exact + 5_000).div_euclid(10_000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::store::line_total_cents;

    const MIN: Millis = 60_000;

    fn session(c: &str, entry: Millis, exit: Millis) -> SessionIn {
        SessionIn {
            customer_id: c.into(),
            store_id: None,
            entry,
            exit,
            visit_id: None,
        }
    }

    fn shelf(c: &str, item: &str, quantity: i32, pickup: bool, at: Millis) -> ShelfIn {
        ShelfIn {
            customer_id: c.into(),
            item_id: item.into(),
            quantity,
            pickup,
            at,
        }
    }

    fn checkouts(carts: &mut Carts) -> Vec<Checkout> {
        carts.take().checkouts.into_iter().map(|(c, _)| c).collect()
    }

    #[test]
    fn a_session_checks_out_its_net_cart_once_the_watermark_passes_its_exit() {
        let mut carts = Carts::new(MIN, 3 * 60 * MIN, false);
        carts.session(session("a", 0, 30 * MIN), 0, 1, 0);
        carts.shelf(shelf("a", "P1", 3, true, MIN), 0, 2);
        carts.shelf(shelf("a", "P2", 1, true, 2 * MIN), 0, 3);
        carts.shelf(shelf("a", "P1", 1, false, 3 * MIN), 0, 4);
        // Exit at 30 min, lateness 1 min: not yet at 30 min, checked out once 31 min is seen.
        carts.session(session("b", 30 * MIN, 40 * MIN), 0, 5, 0);
        carts.session(session("c", 31 * MIN, 50 * MIN), 0, 6, 0);
        assert!(
            carts.take().checkouts.is_empty(),
            "shelf events end at 3 min"
        );
        carts.shelf(shelf("c", "P3", 1, true, 31 * MIN + 1), 0, 7);
        let done = carts.take();
        assert_eq!(done.checkouts.len(), 1);
        let (c, tags) = &done.checkouts[0];
        assert_eq!(
            (c.customer_id.as_str(), c.at, c.forced),
            ("a", 30 * MIN, false)
        );
        assert_eq!(c.items, [("P1".to_owned(), 2), ("P2".to_owned(), 1)]);
        assert_eq!(c.transaction_id, transaction_id("a", 0, None));
        assert_eq!(
            tags,
            &[1, 2, 3, 4],
            "the checkout holds every input it was built from"
        );
        assert_eq!(carts.open(), 2, "a's cart left memory");
    }

    #[test]
    fn late_putbacks_never_recreate_a_cart_and_shelf_events_may_come_first() {
        let mut carts = Carts::new(0, 3 * 60 * MIN, false);
        // The shelf event is read before its session (two topics, two consumers).
        carts.shelf(shelf("a", "P1", 1, true, 5 * MIN), 0, 1);
        carts.session(session("a", 0, 10 * MIN), 0, 2, 0);
        carts.shelf(shelf("z", "P9", 1, true, 11 * MIN), 0, 3);
        carts.session(session("x", 12 * MIN, 13 * MIN), 0, 4, 0);
        let done = carts.take();
        assert_eq!(done.checkouts[0].0.items, [("P1".to_owned(), 1)]);
        assert_eq!(done.checkouts[0].1, [2, 1]);
        // "z" never had a session: an orphan once the sessions read (up to 12 min) pass it.
        assert_eq!(
            (carts.rejected.orphan, done.released.as_slice()),
            (1, &[3][..])
        );
        // After the checkout: a putback is late, released at once, and no cart comes back.
        carts.shelf(shelf("a", "P1", 1, false, 9 * MIN), 0, 5);
        assert_eq!(carts.rejected.late, 1);
        assert_eq!(carts.take().released, [5]);
        assert_eq!(carts.open(), 1, "only x's session is open");
    }

    #[test]
    fn old_sessions_are_forced_out_and_empty_carts_only_on_request() {
        let mut carts = Carts::new(MIN, 10 * MIN, false);
        carts.session(session("a", 0, 600 * MIN), 0, 1, 1_000);
        carts.session(session("b", 0, 600 * MIN), 0, 2, 1_000);
        carts.shelf(shelf("b", "P1", 1, true, MIN), 0, 3);
        carts.force(1_000 + 11 * MIN);
        let done = carts.take();
        assert_eq!(
            done.checkouts.len(),
            1,
            "a's empty cart is not a transaction"
        );
        assert!(done.checkouts[0].0.forced && done.checkouts[0].0.customer_id == "b");
        assert_eq!(done.empty, [vec![1]], "a's session is done with");
        assert_eq!(carts.open(), 0);
        let mut carts = Carts::new(MIN, 10 * MIN, true);
        carts.session(session("a", 0, MIN), 0, 1, 0);
        carts.force(11 * MIN + 1);
        assert_eq!(checkouts(&mut carts).len(), 1, "FORCE_CHECKOUT_IF_EMPTY");
    }

    #[test]
    fn a_session_read_again_makes_no_second_transaction() {
        let mut carts = Carts::new(0, 3 * 60 * MIN, false);
        carts.session(session("a", 0, 10 * MIN), 0, 1, 0);
        carts.session(session("a", 0, 10 * MIN), 0, 2, 0);
        carts.shelf(shelf("a", "P1", 1, true, MIN), 0, 3);
        carts.advance(10 * MIN);
        let done = carts.take();
        assert_eq!(done.checkouts.len(), 1);
        assert_eq!(done.released, [2], "the copy is done with at once");
        carts.session(session("a", 0, 10 * MIN), 0, 4, 0);
        assert_eq!(carts.rejected.replayed, 2);
        assert!(checkouts(&mut carts).is_empty());
    }

    #[test]
    fn an_input_is_read_up_to_its_slowest_partition() {
        let mut carts = Carts::new(0, 3 * 60 * MIN, false);
        carts.session(session("a", 0, 10 * MIN), 0, 1, 0);
        carts.shelf(shelf("a", "P1", 1, true, MIN), 0, 2);
        // Partition 1 races ahead; partition 0 is still at 1 minute.
        carts.session(session("z", 60 * MIN, 70 * MIN), 1, 3, 0);
        carts.shelf(shelf("z", "P1", 1, true, 61 * MIN), 1, 4);
        assert!(
            checkouts(&mut carts).is_empty(),
            "a may still get shelf events"
        );
        carts.shelf(shelf("a", "P2", 1, true, 9 * MIN), 0, 5);
        carts.session(session("b", 20 * MIN, 30 * MIN), 0, 6, 0);
        carts.shelf(shelf("b", "P1", 1, true, 21 * MIN), 0, 7);
        let out = checkouts(&mut carts);
        assert_eq!(out[0].items, [("P1".to_owned(), 1), ("P2".to_owned(), 1)]);
        assert_eq!(carts.rejected, Rejected::default());
    }

    #[test]
    fn a_partition_not_read_yet_holds_its_input_back() {
        let mut carts = Carts::new(0, 3 * 60 * MIN, false);
        carts.expect_sources(&[0], &[0, 1]);
        carts.session(session("a", 0, 10 * MIN), 0, 1, 0);
        carts.shelf(shelf("z", "P1", 1, true, 600 * MIN), 0, 2);
        assert!(
            checkouts(&mut carts).is_empty(),
            "shelf partition 1 has shown nothing"
        );
        carts.shelf(shelf("a", "P1", 1, true, 5 * MIN), 1, 3);
        carts.session(session("b", 700 * MIN, 710 * MIN), 0, 4, 0);
        carts.shelf(shelf("b", "P1", 1, true, 701 * MIN), 1, 5);
        let out = checkouts(&mut carts);
        assert_eq!(out[0].items, [("P1".to_owned(), 1)]);
        assert_eq!(carts.rejected.late, 0);
    }

    #[test]
    fn idle_inputs_let_event_time_advance() {
        let mut carts = Carts::new(5 * MIN, 3 * 60 * MIN, false);
        carts.session(session("a", 0, 10 * MIN), 0, 1, 0);
        carts.shelf(shelf("a", "P1", 1, true, MIN), 0, 2);
        carts.advance(9 * MIN);
        assert!(checkouts(&mut carts).is_empty());
        carts.advance(10 * MIN);
        assert_eq!(checkouts(&mut carts).len(), 1);
    }

    #[test]
    fn lines_are_priced_to_the_cent_like_the_store_world() {
        for (q, unit, pct) in [(3, 199, 15), (1, 1_005, 0), (7, 333, 95), (2, 1, 50)] {
            let line = priced_line(
                "P".into(),
                q,
                Quote {
                    unit_cents: unit,
                    discount_bp: pct * 100,
                },
            );
            assert_eq!(line.total_cents, line_total_cents(q, unit, pct));
        }
        let odd = Quote {
            unit_cents: 1_000,
            discount_bp: 1_250,
        };
        assert_eq!(priced_line("P".into(), 1, odd).total_cents, 875);
    }

    #[test]
    fn memory_stays_bounded_by_open_sessions_over_a_long_stream() {
        let mut carts = Carts::new(MIN, 3 * 60 * MIN, false);
        let mut checked = 0;
        let mut tag = 0;
        for i in 0..200_000i64 {
            let (c, t) = (format!("anon_{i}"), i * 1_000);
            tag += 2;
            carts.session(session(&c, t, t + 20 * MIN), 0, tag, 0);
            carts.shelf(shelf(&c, "P1", 1, true, t + MIN), 0, tag + 1);
            checked += carts.take().checkouts.len();
        }
        assert!(checked > 190_000, "{checked}");
        assert!(carts.open() <= 1_300, "open {}", carts.open());
        assert!(
            carts.closed_until.len() < 5_000,
            "{}",
            carts.closed_until.len()
        );
        assert!(carts.waiting.is_empty());
    }
}
