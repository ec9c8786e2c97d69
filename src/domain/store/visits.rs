//! Store visits (the pos_producer.py POS simulator): a foot-traffic session and the pickups and putbacks that fill
//! its cart, planned so every shelf event falls inside the visit, a putback only returns what
//! was picked and not yet put back, and the net of the events is the cart that checks out.

use chrono::{DateTime, Datelike, Timelike};
use rand::Rng;
use serde::Serialize;

use crate::domain::events::Millis;
use crate::domain::Text;

/// A visit, published at entry with its planned exit (the pos_producer.py POS simulator's `foot_traffic`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FootTraffic {
    pub event_type: &'static str,
    pub customer_id: Text,
    pub entry_time: Millis,
    pub exit_time: Millis,
    pub trip_duration_minutes: i32,
    pub weekday: &'static str,
    pub time_slot: &'static str,
    pub store_id: Text,
    pub visit_id: Text,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShelfEventType {
    Pickup,
    Putback,
}

/// A pickup or putback (the pos_producer.py POS simulator's shelf event).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShelfEvent {
    pub event_type: ShelfEventType,
    pub customer_id: Text,
    pub item_id: Text,
    /// Grams: quantity x the item's unit weight.
    pub weight: f64,
    pub quantity: i32,
    pub timestamp: Millis,
    pub store_id: Text,
    pub visit_id: Text,
    pub event_id: Text,
}

/// The pos_producer.py POS simulator's UTC slots: (first hour, last hour, label).
const SLOTS: [(u32, u32, &str); 6] = [
    (0, 6, "00:00–06:59"),
    (7, 9, "07:00–09:59"),
    (10, 13, "10:00–13:59"),
    (14, 16, "14:00–16:59"),
    (17, 19, "17:00–19:59"),
    (20, 23, "20:00–23:59"),
];
const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

fn utc(t: Millis) -> DateTime<chrono::Utc> {
    DateTime::from_timestamp_millis(t).unwrap_or_default()
}

/// The UTC slot of `t`, labelled as the pos_producer.py POS simulator does.
pub fn time_slot(t: Millis) -> &'static str {
    let hour = utc(t).hour();
    SLOTS
        .iter()
        .find(|(first, last, _)| (*first..=*last).contains(&hour))
        .map_or(SLOTS[0].2, |s| s.2)
}

/// The UTC weekday of `t`.
pub fn weekday(t: Millis) -> &'static str {
    WEEKDAYS[utc(t).weekday().num_days_from_monday() as usize]
}

/// The mean of [`trip_minutes`]: 0.35 x 19.5 + 0.39 x 37 + 0.26 x 60.
pub const MEAN_TRIP_MINUTES: f64 = 36.8;

/// A trip's length in minutes, as the pos_producer.py POS simulator draws it: 10-29 (35%), 30-44 (39%), 45-75 (26%).
pub fn trip_minutes<R: Rng>(rng: &mut R) -> i32 {
    match rng.random_range(0..100) {
        0..35 => rng.random_range(10..=29),
        35..74 => rng.random_range(30..=44),
        _ => rng.random_range(45..=75),
    }
}

/// An item's unit weight in grams (50 g to 2 kg), fixed per product.
pub fn unit_grams(product: u32) -> f64 {
    let h = u64::from(product)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .rotate_left(17);
    50.0 + (h % 1_951) as f64
}

/// One planned shelf event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShelfAction {
    pub at: Millis,
    pub product: u32,
    pub quantity: i32,
    pub pickup: bool,
}

/// The shelf events of a visit from `entry` to `exit` whose cart is `cart` (product, units):
/// each item picked up (sometimes in two pickups), and with `p_putback` per item one more unit
/// picked and put back later; in time order between entry + 60 s and exit - 30 s (the whole
/// visit if it is shorter). Their net is exactly `cart`.
pub fn plan_shelf<R: Rng>(
    rng: &mut R,
    entry: Millis,
    exit: Millis,
    cart: &[(u32, i32)],
    p_putback: f64,
) -> Vec<ShelfAction> {
    // (product, quantity, pickup, the index of the pickup a putback returns)
    let mut steps: Vec<(u32, i32, bool, Option<usize>)> = Vec::new();
    for &(product, units) in cart {
        if units >= 2 && rng.random_bool(0.3) {
            let first = rng.random_range(1..units);
            steps.push((product, first, true, None));
            steps.push((product, units - first, true, None));
        } else {
            steps.push((product, units, true, None));
        }
        if rng.random_bool(p_putback) {
            steps.push((product, 1, true, None));
            steps.push((product, 1, false, Some(steps.len() - 1)));
        }
    }
    // A random order in which every putback comes after the pickup it returns.
    let mut order: Vec<usize> = (0..steps.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, rng.random_range(0..=i));
    }
    let mut position = vec![0; steps.len()];
    for (p, &s) in order.iter().enumerate() {
        position[s] = p;
    }
    for s in 0..steps.len() {
        if let Some(pick) = steps[s].3 {
            if position[pick] > position[s] {
                let (a, b) = (position[pick], position[s]);
                order.swap(a, b);
                position[pick] = b;
                position[s] = a;
            }
        }
    }
    let (lo, hi) = match (entry + 60_000, exit - 30_000) {
        (lo, hi) if lo < hi => (lo, hi),
        _ => (entry, exit.max(entry)),
    };
    let mut times: Vec<Millis> = (0..steps.len())
        .map(|_| rng.random_range(lo..=hi))
        .collect();
    times.sort_unstable();
    order
        .iter()
        .zip(times)
        .map(|(&s, at)| ShelfAction {
            at,
            product: steps[s].0,
            quantity: steps[s].1,
            pickup: steps[s].2,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;
    use std::collections::HashMap;

    #[test]
    fn shelf_events_fall_in_the_visit_put_back_only_what_is_held_and_net_to_the_cart() {
        let mut rng = Pcg64Mcg::seed_from_u64(2);
        for round in 0..500 {
            let cart: Vec<(u32, i32)> = (0..rng.random_range(1..5))
                .map(|p| (p, rng.random_range(1..=3)))
                .collect();
            let entry = 1_000_000;
            let exit = entry + i64::from(trip_minutes(&mut rng)) * 60_000;
            let plan = plan_shelf(&mut rng, entry, exit, &cart, 0.5);
            let mut held: HashMap<u32, i32> = HashMap::new();
            let mut last = entry;
            for a in &plan {
                assert!(
                    (entry + 60_000..=exit - 30_000).contains(&a.at),
                    "{round}: {a:?}"
                );
                assert!(a.at >= last, "in time order");
                last = a.at;
                let h = held.entry(a.product).or_default();
                if a.pickup {
                    *h += a.quantity;
                } else {
                    assert!(*h >= a.quantity, "{round}: a putback of what is not held");
                    *h -= a.quantity;
                }
            }
            let mut net: Vec<(u32, i32)> = held.into_iter().filter(|(_, q)| *q > 0).collect();
            net.sort();
            assert_eq!(net, cart, "{round}");
        }
    }

    #[test]
    fn slots_weekdays_and_trips_follow_reference_001() {
        // 2024-07-01 (a Monday) 13:59:59 and 14:00 UTC.
        let t = 1_719_842_399_000;
        assert_eq!((weekday(t), time_slot(t)), ("Monday", "10:00–13:59"));
        assert_eq!(time_slot(t + 1_000), "14:00–16:59");
        let mut rng = Pcg64Mcg::seed_from_u64(1);
        let trips: Vec<i32> = (0..10_000).map(|_| trip_minutes(&mut rng)).collect();
        assert!(trips.iter().all(|m| (10..=75).contains(m)));
        let short = trips.iter().filter(|m| **m < 30).count() as f64 / 1e4;
        assert!((0.32..0.38).contains(&short), "{short}");
    }
}
