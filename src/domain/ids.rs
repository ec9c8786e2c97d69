//! Unique, reproducible, random-looking ids: `ord_0k3j9x...` from a per-seed salt and a counter
//! whose high bits are the run number, so a restart against the same target never reuses an id.

use crate::domain::Text;

/// Generates ids that never repeat within a run (the counter goes through a bijection of u64),
/// never repeat across the runs of one target (each run counts in its own range), and repeat
/// exactly for the same seed and run number (run 0 on a fresh target).
#[derive(Debug, Clone)]
pub struct IdGen {
    salt: u64,
    counter: u64,
}

/// FNV-1a of `bytes`: a hash that is stable across versions and platforms (for ids and draws
/// derived from names).
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
/// 36^13 > 2^64, so 13 digits hold any u64.
const DIGITS: usize = 13;
/// Ids a run may draw before its range would reach the next run's: 2^40, about 10^12.
const RUN_BITS: u32 = 40;
/// The top 8 bits of the counter are the shard's: up to 256 shards, 65,536 runs each.
const SHARD_BITS: u32 = 56;

impl IdGen {
    /// Run 0 of `seed`: what a fresh target gets.
    pub fn new(seed: u64) -> Self {
        Self::for_run(seed, 0)
    }

    /// The ids of run number `run` (the runs recorded by the target before this one).
    pub fn for_run(seed: u64, run: u32) -> Self {
        Self::for_shard(seed, run, 0)
    }

    /// The ids of run `run` of shard `shard`: no two shards of one seed ever draw the same id
    /// (shard 0 draws what an unsharded run draws).
    pub fn for_shard(seed: u64, run: u32, shard: u32) -> Self {
        Self {
            salt: mix(seed ^ 0x05ee_d1d5),
            counter: (u64::from(shard) << SHARD_BITS) | (u64::from(run) << RUN_BITS),
        }
    }

    /// The next id with `prefix`, e.g. `next("ord")` gives `ord_` and 13 base-36 digits.
    pub fn next(&mut self, prefix: &str) -> Text {
        self.counter += 1;
        let digits = base36(mix(self.counter ^ self.salt));
        if prefix.len() > INLINE_PREFIX {
            return crate::domain::joined(&[prefix, "_", digits_str(&digits)]);
        }
        // Written on the stack, then copied once into the text's inline room.
        let mut id = [0u8; INLINE_PREFIX + 1 + DIGITS];
        let digits_at = prefix.len() + 1;
        let len = digits_at + DIGITS;
        id[..prefix.len()].copy_from_slice(prefix.as_bytes());
        id[prefix.len()] = b'_';
        id[digits_at..len].copy_from_slice(&digits);
        // SAFETY: `prefix` is UTF-8 and is followed only by ASCII ('_' and base-36 digits), so
        // the whole is UTF-8 (checking it again cost half as much as drawing the id).
        Text::from(unsafe { std::str::from_utf8_unchecked(&id[..len]) })
    }
}

/// Prefixes up to this long make an id that fits a text's inline room (24 bytes).
const INLINE_PREFIX: usize = 10;

/// Base-36 digits as text.
fn digits_str(digits: &[u8; DIGITS]) -> &str {
    std::str::from_utf8(digits).expect("base-36 digits are ASCII")
}

/// `PAIRS[2k..2k + 2]` spells `k` (below 36^2) in two base-36 digits.
const PAIRS: [u8; 2 * 36 * 36] = {
    let mut pairs = [0u8; 2 * 36 * 36];
    let mut k = 0;
    while k < 36 * 36 {
        pairs[2 * k] = ALPHABET[k / 36];
        pairs[2 * k + 1] = ALPHABET[k % 36];
        k += 1;
    }
    pairs
};

/// `n` in `DIGITS` base-36 digits, most significant first: the top digit, then two halves of
/// six digits each written two at a time in 32-bit arithmetic (a u64 division per digit took
/// a tenth of the generator's instructions).
fn base36(n: u64) -> [u8; DIGITS] {
    const SIX: u64 = 36u64.pow(6);
    let mut digits = [0u8; DIGITS];
    let (top, rest) = (n / (SIX * SIX), n % (SIX * SIX));
    digits[0] = ALPHABET[top as usize];
    let halves = [(rest / SIX) as u32, (rest % SIX) as u32];
    for (half, mut x) in digits[1..].chunks_exact_mut(6).zip(halves) {
        for pair in half.chunks_exact_mut(2).rev() {
            let k = (x % (36 * 36)) as usize;
            x /= 36 * 36;
            pair.copy_from_slice(&PAIRS[2 * k..2 * k + 2]);
        }
    }
    digits
}

/// The position an id was drawn at, as a number: `counter ^ salt` of the [`IdGen`] that drew it
/// (`None` for text that is not `<prefix>_` and 13 base-36 digits). The ids of one run's draws
/// are a dense range of counters, so their positions fill aligned blocks: what lets a reader keep
/// "which ids were seen" in a few bits each.
pub fn position(id: &str) -> Option<u64> {
    let digits = id.as_bytes().get(id.len().checked_sub(DIGITS + 1)?..)?;
    let (sep, digits) = digits.split_first()?;
    if *sep != b'_' {
        return None;
    }
    let mut n: u64 = 0;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'z' => d - b'a' + 10,
            _ => return None,
        };
        n = n.checked_mul(36)?.checked_add(u64::from(v))?;
    }
    Some(unmix(n))
}

/// The inverse of `m` modulo 2^64 (`m` odd), by Newton's iteration.
const fn inverse(m: u64) -> u64 {
    let mut x = m;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(m.wrapping_mul(x)));
        i += 1;
    }
    x
}

/// The inverse of [`mix`].
fn unmix(mut z: u64) -> u64 {
    z ^= (z >> 31) ^ (z >> 62);
    z = z.wrapping_mul(inverse(0x94d0_49bb_1331_11eb));
    z ^= (z >> 27) ^ (z >> 54);
    z = z.wrapping_mul(inverse(0xbf58_476d_1ce4_e5b9));
    z ^= (z >> 30) ^ (z >> 60);
    z.wrapping_sub(0x9e37_79b9_7f4a_7c15)
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

    /// One digit at a time, as ids were always written.
    fn base36_by_division(mut n: u64) -> [u8; DIGITS] {
        let mut digits = [0u8; DIGITS];
        for d in digits.iter_mut().rev() {
            *d = ALPHABET[(n % 36) as usize];
            n /= 36;
        }
        digits
    }

    #[test]
    fn digits_written_in_pairs_are_the_digits_one_at_a_time() {
        let six = 36u64.pow(6);
        let edges = [
            0,
            1,
            35,
            36,
            1295,
            1296,
            six - 1,
            six,
            six * six - 1,
            six * six,
            u64::MAX,
        ];
        let drawn = (0..100_000u64).map(|i| mix(i ^ 0x05ee_d1d5));
        for n in edges.into_iter().chain(drawn) {
            assert_eq!(base36(n), base36_by_division(n), "{n}");
        }
    }

    #[test]
    fn an_ids_position_is_its_counter_and_consecutive_ids_fill_one_block() {
        let mut g = IdGen::for_run(9, 3);
        let salt = g.salt;
        let first = g.counter + 1;
        let positions: Vec<u64> = (0..70_000)
            .map(|_| position(&g.next("ord")).expect("an id"))
            .collect();
        assert_eq!(positions[0], first ^ salt);
        assert_eq!(
            positions.iter().map(|p| p ^ salt).max(),
            Some(first + 69_999)
        );
        let blocks: HashSet<u64> = positions.iter().map(|p| p >> 16).collect();
        assert!(blocks.len() <= 3, "{} blocks", blocks.len());
        for bad in [
            "ord",
            "ord_",
            "ord_0123456789abC",
            "ord-0123456789abc",
            "x_zzzzzzzzzzzzz",
        ] {
            assert_eq!(position(bad), None, "{bad}");
        }
    }

    #[test]
    fn fnv1a_is_the_published_function() {
        assert_eq!(fnv1a(*b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(*b"a"), 0xaf63_dc4c_8601_ec8c);
    }
    use std::collections::HashSet;

    #[test]
    fn ids_do_not_repeat_within_a_run() {
        let mut g = IdGen::new(7);
        let ids: HashSet<Text> = (0..200_000).map(|_| g.next("int")).collect();
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

    /// Prefixes of any length (and any UTF-8) give the prefix, `_` and the same digits.
    #[test]
    fn every_prefix_length_gives_the_prefix_and_the_same_digits() {
        for prefix in [
            "",
            "o",
            "ord",
            "ten_bytes_",
            "eleven_byte",
            "préfixe",
            "a_much_longer_prefix",
        ] {
            let (mut a, mut b) = (IdGen::new(5), IdGen::new(5));
            for _ in 0..3 {
                let (id, plain) = (a.next(prefix), b.next("x"));
                assert_eq!(id.strip_suffix(&plain[2..]), Some(&*format!("{prefix}_")));
                assert!(plain[2..].bytes().all(|c| ALPHABET.contains(&c)), "{plain}");
            }
        }
    }

    #[test]
    fn shards_of_one_seed_draw_disjoint_ids_and_shard_0_draws_the_unsharded_ones() {
        let mut zero = IdGen::for_shard(3, 2, 0);
        let seen: HashSet<Text> = (0..100_000).map(|_| zero.next("ord")).collect();
        let mut one = IdGen::for_shard(3, 2, 1);
        assert!((0..100_000).all(|_| !seen.contains(&one.next("ord"))));
        assert_eq!(
            IdGen::for_shard(3, 2, 0).next("ord"),
            IdGen::for_run(3, 2).next("ord")
        );
    }

    #[test]
    fn a_later_run_of_the_same_seed_draws_ids_no_earlier_run_drew() {
        let mut first = IdGen::for_run(3, 0);
        let seen: HashSet<Text> = (0..100_000).map(|_| first.next("chg")).collect();
        let mut second = IdGen::for_run(3, 1);
        assert!((0..100_000).all(|_| !seen.contains(&second.next("chg"))));
        assert_eq!(IdGen::for_run(3, 0).next("chg"), IdGen::new(3).next("chg"));
    }
}
