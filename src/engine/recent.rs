//! A small ring of recently published records, to re-send one unchanged as a labelled duplicate.

use rand::Rng;

use crate::domain::record::Record;

const CAPACITY: usize = 64;
/// Only every n-th record is kept: cloning each one would cost ~15% of the generator's time.
const SAMPLE_EVERY: u64 = 16;

#[derive(Default)]
pub struct Recent {
    records: Vec<Record>,
    next: usize,
    seen: u64,
}

impl Recent {
    pub fn remember(&mut self, record: &Record) {
        self.seen += 1;
        if self.seen % SAMPLE_EVERY != 1 {
            return;
        }
        if self.records.len() < CAPACITY {
            self.records.push(record.clone());
        } else {
            self.records[self.next] = record.clone();
        }
        self.next = (self.next + 1) % CAPACITY;
    }

    pub fn pick<R: Rng>(&self, rng: &mut R) -> Option<Record> {
        (!self.records.is_empty())
            .then(|| self.records[rng.random_range(0..self.records.len())].clone())
    }
}
