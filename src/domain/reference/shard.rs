//! Scale-out: the share of the world one instance owns. Shard `index` of `count` owns every
//! warehouse, store and product whose catalog index is `index` modulo `count`, so each stock
//! chain (a location's product) and each product's price has exactly one writer.

/// Which share of the world an instance owns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Default for Shard {
    fn default() -> Self {
        Self::WHOLE
    }
}

impl Shard {
    /// One instance owns everything.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether the location or product at catalog index `i` is this shard's.
    pub fn owns(self, i: usize) -> bool {
        i as u64 % u64::from(self.count) == u64::from(self.index)
    }

    pub fn is_whole(self) -> bool {
        self.count <= 1
    }

    /// How many of `n` indexes this shard owns.
    pub fn share_of(self, n: usize) -> usize {
        (0..n).filter(|&i| self.owns(i)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shards_of_a_count_own_every_index_exactly_once() {
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        for i in 0..20 {
            assert_eq!(shards.iter().filter(|s| s.owns(i)).count(), 1, "{i}");
        }
        assert_eq!(shards[1].share_of(7), 2);
        assert!((0..7).all(|i| Shard::WHOLE.owns(i)));
    }
}
