//! Seeding figures (not a test): `retailgen seed` of SEED_USERS users (default 1,000,000) into a
//! fresh database, and a second seed of the same data (all rows already there), in rows/s.
//!
//! `cargo bench --bench seeding`

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::Instant;

use support::cmd::run;
use support::pg::TestDb;

fn main() {
    let users = std::env::var("SEED_USERS").unwrap_or_else(|_| "1000000".into());
    let db = TestDb::create();
    let env = [
        ("PG_DSN", db.dsn.as_str()),
        ("SEED_USERS", users.as_str()),
        ("SEED_PRODUCTS", "10000"),
    ];
    for pass in ["fresh database", "again (every row exists)"] {
        let started = Instant::now();
        let out = run(&["seed", "--seed", "1"], &env);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        println!("{pass}: {:.2} s wall", started.elapsed().as_secs_f64());
        println!("  {}", out.stderr.trim());
    }
    assert_eq!(db.count("users").to_string(), users);
}
