//! The pure domain, grouped by context: e-commerce, store, stock and reference data, around a
//! shared kernel (events, records, faults, ids, ports, traffic). No I/O crates here.

pub mod commerce;
pub mod events;
pub mod faults;
pub mod ids;
pub mod message;
pub mod ports;
pub mod record;
pub mod reference;
pub mod stock;
pub mod store;
pub mod stream;
pub mod totals;
pub mod traffic;

/// Text in events and records: ids, keys, names. Up to 24 bytes (every id and key retailgen
/// draws) it lives inline, so drawing, cloning and dropping one never allocates.
pub type Text = compact_str::CompactString;

/// A probability ready to draw: `rng.random_bool(p)` draws exactly the same, but works out its
/// threshold again on every call, which on the per-record paths cost about 3 % of the generator.
pub fn chance(p: f64) -> rand::distr::Bernoulli {
    rand::distr::Bernoulli::new(p).unwrap_or_else(|_| panic!("p={p:?} is outside [0.0, 1.0]"))
}

/// `parts` one after the other (the formatting machinery costs more than the copying).
pub fn joined(parts: &[&str]) -> Text {
    let mut text = Text::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        text.push_str(part);
    }
    text
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::chance;
    use crate::services::DetRng;

    /// Records stay the same only if a drawn chance takes the very values `random_bool` took.
    #[test]
    fn a_chance_draws_what_random_bool_draws() {
        for p in [0.0, 1e-9, 0.05, 0.3, 0.5, 0.999, 1.0] {
            let (mut a, mut b) = (DetRng::seed_from_u64(9), DetRng::seed_from_u64(9));
            let ready = chance(p);
            let drawn: Vec<bool> = (0..10_000).map(|_| a.sample(ready)).collect();
            let direct: Vec<bool> = (0..10_000).map(|_| b.random_bool(p)).collect();
            assert_eq!(drawn, direct, "p = {p}");
            assert_eq!(
                a.random::<u64>(),
                b.random::<u64>(),
                "p = {p}: same draws used"
            );
        }
    }

    #[test]
    #[should_panic(expected = "p=1.5 is outside [0.0, 1.0]")]
    fn a_chance_outside_zero_to_one_is_refused() {
        chance(1.5);
    }
}
