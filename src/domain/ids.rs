//! Unique, reproducible, random-looking ids: `ord_0k3j9x...` from a per-run salt and a counter.

/// Generates ids that never repeat within a run (the counter goes through a bijection of u64)
/// and repeat exactly across runs with the same seed.
#[derive(Debug, Clone)]
pub struct IdGen {
    salt: u64,
    counter: u64,
}

const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
/// 36^13 > 2^64, so 13 digits hold any u64.
const DIGITS: usize = 13;

impl IdGen {
    pub fn new(seed: u64) -> Self {
        Self {
            salt: mix(seed ^ 0x05ee_d1d5),
            counter: 0,
        }
    }

    /// The next id with `prefix`, e.g. `next("ord")` gives `ord_` and 13 base-36 digits.
    pub fn next(&mut self, prefix: &str) -> String {
        self.counter += 1;
        let mut n = mix(self.counter ^ self.salt);
        let mut out = String::with_capacity(prefix.len() + 1 + DIGITS);
        out.push_str(prefix);
        out.push('_');
        let mut digits = [b'0'; DIGITS];
        for d in digits.iter_mut().rev() {
            *d = ALPHABET[(n % 36) as usize];
            n /= 36;
        }
        out.push_str(std::str::from_utf8(&digits).expect("ascii"));
        out
    }
}

/// splitmix64's finaliser: a bijection on u64 that scatters consecutive inputs.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_do_not_repeat_within_a_run() {
        let mut g = IdGen::new(7);
        let ids: HashSet<String> = (0..200_000).map(|_| g.next("int")).collect();
        assert_eq!(ids.len(), 200_000);
    }

    #[test]
    fn the_same_seed_gives_the_same_ids_and_another_seed_others() {
        let (mut a, mut b, mut c) = (IdGen::new(1), IdGen::new(1), IdGen::new(2));
        let x: Vec<_> = (0..5).map(|_| a.next("ord")).collect();
        let y: Vec<_> = (0..5).map(|_| b.next("ord")).collect();
        let z: Vec<_> = (0..5).map(|_| c.next("ord")).collect();
        assert_eq!(x, y);
        assert_ne!(x, z);
        assert!(x[0].starts_with("ord_") && x[0].len() == 4 + DIGITS);
    }
}
