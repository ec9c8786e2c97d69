//! The POS simulator's carts (reference 001, without its defects): sessions and shelf events
//! in, one checkout per session out, decided in event time. A session checks out once the
//! watermark (the latest event time seen minus the allowed lateness) passes its exit, or when it
//! has been open longer than the maximum age; its cart leaves memory then, and a shelf event
//! that comes after its session checked out is counted as late, never recreating a cart.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::domain::events::Millis;
use crate::domain::ids::fnv1a;

/// A foot-traffic session as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionIn {
    pub customer_id: String,
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
}

struct Cart {
    session: SessionIn,
    items: BTreeMap<String, i32>,
    /// When (processing time) the session was first seen.
    seen_at: Millis,
}

/// The simulator's state; memory holds only open sessions and shelf events waiting for theirs.
pub struct Carts {
    lateness_ms: Millis,
    max_age_ms: Millis,
    force_if_empty: bool,
    carts: HashMap<String, Cart>,
    by_exit: BTreeSet<(Millis, String)>,
    /// Shelf events whose session has not been read yet, by customer.
    waiting: HashMap<String, Vec<ShelfIn>>,
    /// The latest end of a session checked out, per customer: shelf events up to it are late.
    closed_until: HashMap<String, Millis>,
    /// The latest event time read from each input (sessions, shelf events).
    max_session: Option<Millis>,
    max_shelf: Option<Millis>,
    pub rejected: Rejected,
}

/// A transaction id that depends only on the session.
pub fn transaction_id(s: &SessionIn) -> String {
    let basis = match &s.visit_id {
        Some(v) => v.clone(),
        None => format!("{}@{}", s.customer_id, s.entry),
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
            by_exit: BTreeSet::new(),
            waiting: HashMap::new(),
            closed_until: HashMap::new(),
            max_session: None,
            max_shelf: None,
            rejected: Rejected::default(),
        }
    }

    /// Open sessions (the memory bound).
    pub fn open(&self) -> usize {
        self.carts.len()
    }

    /// The event time up to which both inputs are taken as read: the earlier of their latest
    /// event times, minus the allowed lateness (an input that has shown nothing yet does not
    /// hold the other back).
    pub fn watermark(&self) -> Millis {
        let latest = match (self.max_session, self.max_shelf) {
            (Some(a), Some(b)) => a.min(b),
            (Some(t), None) | (None, Some(t)) => t,
            (None, None) => return Millis::MIN,
        };
        latest.saturating_sub(self.lateness_ms)
    }

    /// A session opens; one already open for the customer checks out first (a customer is in
    /// one store at a time). Returns the checkouts that brings.
    pub fn session(&mut self, s: SessionIn, now: Millis) -> Vec<Checkout> {
        let entry = s.entry;
        let mut out = Vec::new();
        if let Some(previous) = self.carts.remove(&s.customer_id) {
            self.by_exit
                .remove(&(previous.session.exit, s.customer_id.clone()));
            out.extend(self.close(previous, false));
        }
        self.by_exit.insert((s.exit, s.customer_id.clone()));
        let mut cart = Cart {
            session: s,
            items: BTreeMap::new(),
            seen_at: now,
        };
        let id = cart.session.customer_id.clone();
        for e in self.waiting.remove(&id).unwrap_or_default() {
            self.apply(&mut cart, e);
        }
        self.carts.insert(id, cart);
        self.max_session = Some(self.max_session.map_or(entry, |m| m.max(entry)));
        out.extend(self.seen());
        out
    }

    /// A pickup or putback; one of a session not read yet waits for it (until the watermark
    /// passes it: then it is an orphan).
    pub fn shelf(&mut self, e: ShelfIn) -> Vec<Checkout> {
        let at = e.at;
        match self.carts.remove(&e.customer_id) {
            Some(mut cart) => {
                self.apply(&mut cart, e);
                self.carts.insert(cart.session.customer_id.clone(), cart);
            }
            None if self
                .closed_until
                .get(&e.customer_id)
                .is_some_and(|until| at <= *until) =>
            {
                self.rejected.late += 1;
            }
            None => self
                .waiting
                .entry(e.customer_id.clone())
                .or_default()
                .push(e),
        }
        self.max_shelf = Some(self.max_shelf.map_or(at, |m| m.max(at)));
        self.seen()
    }

    /// Sessions open longer than the maximum age (processing time) check out now.
    pub fn force(&mut self, now: Millis) -> Vec<Checkout> {
        let old: Vec<String> = self
            .carts
            .iter()
            .filter(|(_, c)| now - c.seen_at > self.max_age_ms)
            .map(|(k, _)| k.clone())
            .collect();
        let mut out = Vec::new();
        for id in old {
            if let Some(cart) = self.carts.remove(&id) {
                self.by_exit.remove(&(cart.session.exit, id));
                out.extend(self.close(cart, true));
            }
        }
        out
    }

    fn apply(&mut self, cart: &mut Cart, e: ShelfIn) {
        let s = &cart.session;
        if e.at < s.entry || e.at > s.exit {
            self.rejected.late += 1;
            return;
        }
        let held = cart.items.entry(e.item_id).or_default();
        if e.pickup {
            *held += e.quantity;
        } else {
            if e.quantity > *held {
                self.rejected.over_putback += 1;
            }
            *held = (*held - e.quantity).max(0);
        }
    }

    /// Event time moved on: sessions the watermark has passed check out, and shelf events
    /// whose session can no longer come (the sessions read have passed them) are orphans.
    fn seen(&mut self) -> Vec<Checkout> {
        let watermark = self.watermark();
        let sessions_read = self
            .max_session
            .map_or(Millis::MIN, |m| m.saturating_sub(self.lateness_ms));
        let mut out = Vec::new();
        while let Some((exit, id)) = self.by_exit.first().cloned() {
            if exit > watermark {
                break;
            }
            self.by_exit.pop_first();
            if let Some(cart) = self.carts.remove(&id) {
                out.extend(self.close(cart, false));
            }
        }
        let before = self.waiting.len();
        self.waiting.retain(|_, events| {
            events.retain(|e| e.at > sessions_read);
            !events.is_empty()
        });
        self.rejected.orphan += (before - self.waiting.len()) as u64;
        // Checked-out sessions the watermark has passed need no memory: a shelf event of
        // theirs now waits, and is an orphan at once.
        if self.closed_until.len() > 2 * self.carts.len() + 1_024 {
            self.closed_until.retain(|_, until| *until > watermark);
        }
        out
    }

    fn close(&mut self, cart: Cart, forced: bool) -> Option<Checkout> {
        let s = cart.session;
        let until = self.closed_until.entry(s.customer_id.clone()).or_default();
        *until = (*until).max(s.exit);
        let items: Vec<(String, i32)> = cart.items.into_iter().filter(|(_, q)| *q > 0).collect();
        if items.is_empty() && !self.force_if_empty {
            return None;
        }
        Some(Checkout {
            transaction_id: transaction_id(&s),
            customer_id: s.customer_id,
            at: s.exit,
            items,
            forced,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Millis = 60_000;

    fn session(c: &str, entry: Millis, exit: Millis) -> SessionIn {
        SessionIn {
            customer_id: c.into(),
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

    #[test]
    fn a_session_checks_out_its_net_cart_once_the_watermark_passes_its_exit() {
        let mut carts = Carts::new(MIN, 3 * 60 * MIN, false);
        assert!(carts.session(session("a", 0, 30 * MIN), 0).is_empty());
        carts.shelf(shelf("a", "P1", 3, true, MIN));
        carts.shelf(shelf("a", "P2", 1, true, 2 * MIN));
        carts.shelf(shelf("a", "P1", 1, false, 3 * MIN));
        // Exit at 30 min, lateness 1 min: not yet at 30 min, checked out once 31 min is seen.
        assert!(carts
            .session(session("b", 30 * MIN, 40 * MIN), 0)
            .is_empty());
        let out = carts.session(session("c", 31 * MIN, 50 * MIN), 0);
        assert!(out.is_empty(), "the shelf events read so far end at 3 min");
        let out = carts.shelf(shelf("c", "P3", 1, true, 31 * MIN + 1));
        assert_eq!(out.len(), 1);
        let c = &out[0];
        assert_eq!(
            (c.customer_id.as_str(), c.at, c.forced),
            ("a", 30 * MIN, false)
        );
        assert_eq!(c.items, [("P1".to_owned(), 2), ("P2".to_owned(), 1)]);
        assert_eq!(c.transaction_id, transaction_id(&session("a", 0, 30 * MIN)));
        assert_eq!(carts.open(), 2, "a's cart left memory");
    }

    #[test]
    fn late_putbacks_never_recreate_a_cart_and_shelf_events_may_come_first() {
        let mut carts = Carts::new(0, 3 * 60 * MIN, false);
        // The shelf event is read before its session (two topics, two consumers).
        carts.shelf(shelf("a", "P1", 1, true, 5 * MIN));
        carts.session(session("a", 0, 10 * MIN), 0);
        carts.shelf(shelf("z", "P9", 1, true, 11 * MIN));
        let out = carts.session(session("x", 12 * MIN, 13 * MIN), 0);
        assert_eq!(out[0].items, [("P1".to_owned(), 1)]);
        // After the checkout: a putback is late and no cart comes back.
        carts.shelf(shelf("a", "P1", 1, false, 9 * MIN));
        assert_eq!(carts.rejected.late, 1);
        assert_eq!(carts.open(), 1, "only x's session is open");
        // "z" never had a session: an orphan once the sessions read pass it.
        carts.session(session("y", 20 * MIN, 21 * MIN), 0);
        assert_eq!(carts.rejected.orphan, 1);
    }

    #[test]
    fn old_sessions_are_forced_out_and_empty_carts_only_on_request() {
        let mut carts = Carts::new(MIN, 10 * MIN, false);
        carts.session(session("a", 0, 600 * MIN), 1_000);
        carts.session(session("b", 0, 600 * MIN), 1_000);
        carts.shelf(shelf("b", "P1", 1, true, MIN));
        let out = carts.force(1_000 + 11 * MIN);
        assert_eq!(out.len(), 1, "a's empty cart is not a transaction");
        assert!(out[0].forced && out[0].customer_id == "b");
        assert_eq!(carts.open(), 0);
        let mut carts = Carts::new(MIN, 10 * MIN, true);
        carts.session(session("a", 0, MIN), 0);
        assert_eq!(
            carts.force(11 * MIN + 1).len(),
            1,
            "FORCE_CHECKOUT_IF_EMPTY"
        );
    }

    #[test]
    fn memory_stays_bounded_by_open_sessions_over_a_long_stream() {
        let mut carts = Carts::new(MIN, 3 * 60 * MIN, false);
        let mut checked = 0;
        for i in 0..200_000i64 {
            let (c, t) = (format!("anon_{i}"), i * 1_000);
            checked += carts.session(session(&c, t, t + 20 * MIN), 0).len();
            checked += carts.shelf(shelf(&c, "P1", 1, true, t + MIN)).len();
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
