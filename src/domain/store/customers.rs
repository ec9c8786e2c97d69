//! Customers with a home and habits: an identified customer lives in the city of one store (their
//! `users.country` is that city's country), shops there at a frequency of their own (most a few
//! times a month, a few several times a week), and is in one place at a time: no two of their
//! visits overlap, and a trip to another store takes hours.

use rand::Rng;
use rustc_hash::FxHashMap;

use crate::domain::events::Millis;
use crate::domain::ids::fnv1a;
use crate::domain::reference::stores::Store;

/// Share of users living in a city that has one of the stores (the rest shop online only).
const P_LOCAL: u32 = 85;
/// Share of identified visits made by a traveller: a customer of another city.
pub const P_TRAVELLER: f64 = 0.03;
/// Locals kept per store at most (sign-ups beyond it stay online customers: bounds memory, 8
/// bytes each, to 2 MB for ten stores; an unthrottled run signs up ~7,000 customers a second).
const MAX_LOCALS_PER_STORE: usize = 25_000;
/// The shortest trip between two different stores; verify checks it.
pub const MIN_TRIP_MS: Millis = 3_600_000;
const HOUR: Millis = 3_600_000;
const MONTH_MS: Millis = 30 * 24 * HOUR;

/// The countries users live in, one entry per store that has one: a country with three stores
/// is three times as likely as a country with one.
pub fn home_countries(stores: &[Store]) -> Vec<&'static str> {
    stores
        .iter()
        .map(|s| s.country)
        .filter(|c| !c.is_empty())
        .collect()
}

/// A user's country: usually one of `homes` (where the stores are), else one of `others` that
/// has no store (the n-th of them found without collecting them: seeding calls this per row).
pub fn draw_country<R: Rng>(
    r: &mut R,
    homes: &[&'static str],
    others: &[&'static str],
) -> &'static str {
    let foreign = || others.iter().copied().filter(|c| !homes.contains(c));
    let local = r.random_range(0..100) < P_LOCAL;
    let abroad = foreign().count();
    match (local, homes.is_empty(), abroad == 0) {
        (_, true, _) => others[r.random_range(0..others.len())],
        (true, false, _) | (false, false, true) => homes[r.random_range(0..homes.len())],
        (false, false, false) => foreign()
            .nth(r.random_range(0..abroad))
            .expect("within the count"),
    }
}

fn hash(user_id: &str, salt: u8) -> u64 {
    fnv1a(user_id.bytes().chain([salt]))
}

/// The store whose city a user lives in: one of the stores in their country, fixed by their
/// id; none if their country has no store.
pub fn home_store(user_id: &str, country: &str, stores: &[Store]) -> Option<usize> {
    let here: Vec<usize> = (0..stores.len())
        .filter(|&s| !country.is_empty() && stores[s].country == country)
        .collect();
    (!here.is_empty()).then(|| here[(hash(user_id, 1) % here.len() as u64) as usize])
}

/// How often a customer shops in stores, in visits per 30 days, fixed by their id: half shop
/// 1-3 times a month, a third 4-8 times (about weekly), the rest 10-20 times (several a week).
pub fn visits_per_month(user_id: &str) -> u32 {
    let h = hash(user_id, 2);
    let (class, within) = (h % 100, (h >> 8) % 1_000);
    match class {
        0..50 => 1 + (within % 3) as u32,
        50..85 => 4 + (within % 5) as u32,
        _ => 10 + (within % 11) as u32,
    }
}

/// The least time between the entries of two visits of a customer: 40% of their mean interval.
pub fn min_gap_ms(user_id: &str) -> Millis {
    MONTH_MS * 2 / (5 * Millis::from(visits_per_month(user_id)))
}

/// The least time from leaving store `from` to entering store `to`: none for the same store,
/// an hour across one city, three across a country, twelve between countries.
pub fn trip_ms(from: &Store, to: &Store) -> Millis {
    match () {
        _ if from.store_id == to.store_id => 0,
        _ if from.city == to.city => MIN_TRIP_MS,
        _ if !from.country.is_empty() && from.country == to.country => 3 * HOUR,
        _ => 12 * HOUR,
    }
}

/// Each store's locals, drawn by their visit frequency.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Locals {
    /// User indexes of each store's locals, and the running sum of their frequencies.
    users: Vec<Vec<u32>>,
    cumulative: Vec<Vec<u32>>,
}

impl Locals {
    pub fn new(stores: usize) -> Self {
        Self {
            users: vec![Vec::new(); stores],
            cumulative: vec![Vec::new(); stores],
        }
    }

    /// Adds user `user` (index) with id `user_id` as a local of `store`, if there is room.
    pub fn add(&mut self, store: usize, user: usize, user_id: &str) {
        let Some(users) = self.users.get_mut(store) else {
            return;
        };
        if users.len() >= MAX_LOCALS_PER_STORE {
            return;
        }
        let sum = &mut self.cumulative[store];
        let total = sum.last().copied().unwrap_or(0);
        users.push(user as u32);
        sum.push(total + visits_per_month(user_id));
    }

    pub fn count(&self, store: usize) -> usize {
        self.users.get(store).map_or(0, Vec::len)
    }

    /// A local of `store`, drawn by visit frequency; none if it has none.
    pub fn pick<R: Rng>(&self, rng: &mut R, store: usize) -> Option<usize> {
        let sum = self.cumulative.get(store)?;
        let total = *sum.last()?;
        let r = rng.random_range(0..total);
        let i = sum.partition_point(|&c| c <= r);
        Some(self.users[store][i] as usize)
    }
}

/// A customer's latest visit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Last {
    entry: Millis,
    exit: Millis,
    store: usize,
}

/// Where identified customers were last: their latest visit, kept while it can still matter.
#[derive(Debug, Default)]
pub struct Whereabouts {
    last: FxHashMap<u32, Last>,
    /// The latest entry seen, and how many were recorded since the last clean-up.
    latest: Millis,
    recorded: usize,
}

/// Visits recorded between clean-ups of whereabouts that can no longer matter.
const CLEAN_UP_EVERY: usize = 8_192;

impl Whereabouts {
    /// Whether customer `user` (id `user_id`) may visit `store` from `entry`: not inside a
    /// visit, back from their last store in time, and not sooner than their habit allows.
    pub fn may_visit(
        &self,
        user: usize,
        user_id: &str,
        stores: &[Store],
        store: usize,
        entry: Millis,
    ) -> bool {
        let Some(last) = self.last.get(&(user as u32)) else {
            return true;
        };
        last.exit + trip_ms(&stores[last.store], &stores[store]) <= entry
            && last.entry + min_gap_ms(user_id) <= entry
    }

    /// Notes a visit of `user` to `store` from `entry` to `exit`.
    pub fn visit(&mut self, user: usize, store: usize, entry: Millis, exit: Millis) {
        self.last.insert(user as u32, Last { entry, exit, store });
        self.latest = self.latest.max(entry);
        self.recorded += 1;
        if self.recorded >= CLEAN_UP_EVERY {
            self.recorded = 0;
            // No habit waits longer than a month after an entry, no trip takes longer than 12 h.
            let latest = self.latest;
            self.last
                .retain(|_, l| l.entry + MONTH_MS > latest || l.exit + 12 * HOUR > latest);
        }
    }

    /// Customers whose whereabouts are kept.
    pub fn len(&self) -> usize {
        self.last.len()
    }

    pub fn is_empty(&self) -> bool {
        self.last.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::reference::stores::store_in;
    use crate::domain::reference::StoreLayout;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    fn stores() -> Vec<Store> {
        (0..10)
            .map(|i| store_in(1, i, StoreLayout::VARIED))
            .collect()
    }

    #[test]
    fn most_users_live_where_a_store_is_and_countries_follow_the_stores() {
        let stores = stores();
        let homes = home_countries(&stores);
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let others = ["US", "DE", "IL", "IT"];
        let drawn: Vec<&str> = (0..10_000)
            .map(|_| draw_country(&mut rng, &homes, &others))
            .collect();
        let local = drawn.iter().filter(|c| homes.contains(c)).count();
        assert!((8_300..8_700).contains(&local), "{local} of 10,000 local");
        let us = drawn.iter().filter(|c| **c == "US").count() as f64;
        let gb = drawn.iter().filter(|c| **c == "GB").count() as f64;
        assert!(
            us > 2.5 * gb && us < 3.5 * gb,
            "three US stores, one GB: {us} {gb}"
        );
    }

    #[test]
    fn a_home_is_a_store_of_the_users_country() {
        let stores = stores();
        for i in 0..500 {
            let id = format!("U{i:06}");
            for country in ["US", "GB", "JP"] {
                let s = home_store(&id, country, &stores).expect("a store there");
                assert_eq!(stores[s].country, country);
            }
            assert_eq!(home_store(&id, "IL", &stores), None);
        }
    }

    #[test]
    fn frequencies_are_mostly_a_few_a_month_and_some_several_a_week() {
        let f: Vec<u32> = (0..10_000)
            .map(|i| visits_per_month(&format!("U{i:06}")))
            .collect();
        let few = f.iter().filter(|&&v| v <= 3).count();
        let often = f.iter().filter(|&&v| v >= 10).count();
        assert!((4_700..5_300).contains(&few), "{few}");
        assert!((1_300..1_700).contains(&often), "{often}");
        assert!(f.iter().all(|&v| (1..=20).contains(&v)));
    }

    #[test]
    fn locals_are_drawn_by_frequency() {
        let mut locals = Locals::new(2);
        locals.add(1, 7, "U000001");
        locals.add(1, 9, "U000002");
        let (a, b) = (visits_per_month("U000001"), visits_per_month("U000002"));
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let n = 20_000;
        let sevens = (0..n)
            .filter(|_| locals.pick(&mut rng, 1) == Some(7))
            .count() as f64;
        let expected = f64::from(a) / f64::from(a + b) * n as f64;
        assert!(
            (sevens - expected).abs() < 0.05 * n as f64,
            "{sevens} vs {expected}"
        );
        assert_eq!(locals.pick(&mut rng, 0), None, "a store without locals");
    }

    #[test]
    fn nobody_is_in_two_places_or_back_sooner_than_the_trip_or_habit() {
        let stores = stores();
        let mut w = Whereabouts::default();
        let id = "U000001";
        let gap = min_gap_ms(id);
        w.visit(1, 0, 1_000, 1_000 + HOUR);
        assert!(!w.may_visit(1, id, &stores, 0, 1_000 + HOUR / 2), "inside");
        assert!(
            !w.may_visit(1, id, &stores, 0, 1_000 + gap - 1),
            "too soon for the habit"
        );
        assert!(w.may_visit(1, id, &stores, 0, 1_000 + gap));
        // Berlin (0) to Sao Paulo (1): 12 hours after leaving.
        let far = 1_000 + HOUR + 12 * HOUR;
        assert!(
            !w.may_visit(1, id, &stores, 1, far - 1),
            "another country within 12 h"
        );
        assert!(w.may_visit(1, id, &stores, 1, far.max(1_000 + gap)));
        assert!(w.may_visit(2, "U000002", &stores, 1, 0), "never seen");
    }
}
