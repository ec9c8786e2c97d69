//! Compact state keyed by ids: an id as a 64-bit key (its draw position where it is one of
//! retailgen's ids, whose positions are dense; a hash otherwise), and a set of ids that costs a
//! few bits to two bytes per id (blocks of 65,536 positions, each a sorted list while sparse and
//! a bitmap once dense, as roaring bitmaps do).

use rustc_hash::{FxHashMap, FxHashSet};

use crate::domain::ids::{fnv1a, position};

/// An id as a key: its draw position (exact: no two ids share one), or, for text that is not
/// a retailgen id, its FNV-1a hash with the top bit set. 64-bit keys collide with a chance of
/// about n^2 / 2^65 (1 in 40,000 at 20 million ids of one kind).
pub fn key(id: &str) -> u64 {
    position(id).unwrap_or_else(|| fnv1a(id.bytes()) | 1 << 63)
}

/// Positions per block.
const BLOCK: u64 = 1 << 16;
/// A block's sorted list becomes a bitmap past this many ids (where both take 8 KB).
const DENSE: usize = 4096;

enum Block {
    Sparse(Vec<u16>),
    Dense(Box<[u64; (BLOCK / 64) as usize]>),
}

impl Block {
    /// Adds `low`; whether it was new.
    fn insert(&mut self, low: u16) -> bool {
        match self {
            Block::Sparse(list) => match list.binary_search(&low) {
                Ok(_) => false,
                Err(at) => {
                    list.insert(at, low);
                    if list.len() > DENSE {
                        let mut bits = Box::new([0u64; (BLOCK / 64) as usize]);
                        for &l in list.iter() {
                            bits[usize::from(l) / 64] |= 1 << (l % 64);
                        }
                        *self = Block::Dense(bits);
                    }
                    true
                }
            },
            Block::Dense(bits) => {
                let (word, bit) = (usize::from(low) / 64, 1u64 << (low % 64));
                let new = bits[word] & bit == 0;
                bits[word] |= bit;
                new
            }
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Block::Sparse(list) => list.capacity() * 2,
            Block::Dense(_) => (BLOCK / 8) as usize,
        }
    }
}

/// The ids seen, exactly.
#[derive(Default)]
pub struct IdSet {
    blocks: FxHashMap<u64, Block>,
    /// Keys that are hashes (ids retailgen did not draw): no density to use.
    hashed: FxHashSet<u64>,
    len: u64,
}

impl IdSet {
    /// Adds `id`; whether it was new.
    pub fn insert(&mut self, id: &str) -> bool {
        let new = match position(id) {
            Some(p) => self
                .blocks
                .entry(p / BLOCK)
                .or_insert_with(|| Block::Sparse(Vec::new()))
                .insert((p % BLOCK) as u16),
            None => self.hashed.insert(fnv1a(id.bytes())),
        };
        self.len += u64::from(new);
        new
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    /// Heap bytes held (about).
    pub fn bytes(&self) -> usize {
        let blocks: usize = self.blocks.values().map(Block::bytes).sum();
        blocks + self.blocks.capacity() * 24 + self.hashed.capacity() * 9
    }
}

/// Names of a small set (stores, products) as numbers, and back.
#[derive(Default)]
pub struct Names {
    numbers: FxHashMap<Box<str>, u32>,
    names: Vec<Box<str>>,
}

impl Names {
    /// The number of `name`, given it one if it is new.
    pub fn number(&mut self, name: &str) -> u32 {
        if let Some(&n) = self.numbers.get(name) {
            return n;
        }
        let n = self.names.len() as u32;
        self.names.push(name.into());
        self.numbers.insert(name.into(), n);
        n
    }

    pub fn name(&self, n: u32) -> &str {
        self.names.get(n as usize).map_or("", |s| s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::IdGen;

    #[test]
    fn the_set_is_exact_and_costs_bits_per_id_when_ids_are_dense() {
        let mut g = IdGen::for_run(4, 1);
        let ids: Vec<_> = (0..1_000_000).map(|_| g.next("ord")).collect();
        let mut set = IdSet::default();
        // Every fifth draw is an order: the others are other kinds' ids.
        for id in ids.iter().step_by(5) {
            assert!(set.insert(id));
        }
        for id in ids.iter().step_by(5) {
            assert!(!set.insert(id), "seen before: {id}");
        }
        assert!(set.insert(&ids[1]), "never added");
        assert_eq!(set.len(), 200_001);
        let per_id = set.bytes() as f64 / 200_000.0;
        assert!(per_id < 2.5, "{per_id:.2} bytes per id");
        let mut other = IdSet::default();
        assert!(other.insert("visit-42") && !other.insert("visit-42"));
    }
}
