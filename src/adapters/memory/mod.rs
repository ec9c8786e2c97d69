//! The embedded default store: reference data generated in memory from the seed.

use crate::domain::catalog::Catalog;
use crate::domain::ports::{CatalogRepository, RepositoryError};

pub struct MemoryStore {
    pub users: usize,
    pub products: usize,
    pub seed: u64,
}

impl CatalogRepository for MemoryStore {
    fn load_catalog(&self) -> Result<Catalog, RepositoryError> {
        Ok(Catalog::generate(self.users, self.products, self.seed))
    }
}
