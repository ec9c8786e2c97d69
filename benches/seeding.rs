//! Seeding figures (not a test): `retailgen seed` of SEED_USERS users (default 1,000,000; plus as
//! many segments and 10,000 products) into a fresh database, beside two anchors loading the very
//! same rows into the same migrated schema in the same run:
//! - plain COPY: each table in order into its indexed, constrained table (as `psql \copy` does);
//! - restore-style: every index and constraint dropped, the tables COPYed two at a time on two
//!   connections, then the indexes, keys and foreign keys built again (as `pg_restore -j 2`).
//!
//! Then a second `retailgen seed` of the same data (every row exists).
//!
//! `cargo bench --bench seeding`

#[allow(dead_code)]
#[path = "../tests/it/support/mod.rs"]
mod support;

use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt, TryStreamExt};
use retailgen::adapters::postgres::TABLES;
use support::cmd::run;
use support::pg::TestDb;
use tokio_postgres::{Client, NoTls};

async fn connect(dsn: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(dsn, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

/// Every table's rows as COPY text.
async fn export(dsn: &str) -> Vec<(&'static str, Vec<Bytes>)> {
    let client = connect(dsn).await;
    let mut out = Vec::new();
    for table in TABLES {
        let stream = client
            .copy_out(&format!("COPY {table} TO STDOUT"))
            .await
            .unwrap();
        // COPY TO yields a message per row: regroup them in 1 MB chunks, as a loader sends them.
        let rows: Vec<Bytes> = stream.try_collect().await.unwrap();
        let mut chunks = vec![];
        let mut chunk = BytesMut::with_capacity(1 << 20);
        for row in rows {
            chunk.extend_from_slice(&row);
            if chunk.len() >= 1 << 20 {
                chunks.push(chunk.split().freeze());
            }
        }
        if !chunk.is_empty() {
            chunks.push(chunk.freeze());
        }
        out.push((table, chunks));
    }
    out
}

async fn copy_in(client: &Client, table: &str, chunks: &[Bytes]) {
    let sink = client
        .copy_in(&format!("COPY {table} FROM STDIN"))
        .await
        .unwrap();
    futures_util::pin_mut!(sink);
    for chunk in chunks {
        sink.send(chunk.clone()).await.unwrap();
    }
    sink.finish().await.unwrap();
}

/// Each table in order into the migrated schema, on one connection.
async fn plain_copy(dsn: &str, rows: &[(&'static str, Vec<Bytes>)]) {
    let client = connect(dsn).await;
    for (table, chunks) in rows {
        copy_in(&client, table, chunks).await;
    }
}

/// The schema's indexes and constraints as (drop, create) statements: foreign keys, then keys
/// and the other indexes.
async fn definitions(client: &Client) -> (Vec<String>, Vec<String>, Vec<String>) {
    let fks = client
        .query(
            "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid)
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype = 'f'",
            &[],
        )
        .await
        .unwrap();
    let keys = client
        .query(
            "SELECT conrelid::regclass::text, conname::text, pg_get_constraintdef(oid)
             FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype IN ('p', 'u')",
            &[],
        )
        .await
        .unwrap();
    let indexes = client
        .query(
            "SELECT indexname::text, indexdef FROM pg_indexes i WHERE schemaname = 'public'
               AND NOT EXISTS (SELECT 1 FROM pg_constraint c
                               WHERE c.conindid = (quote_ident(i.indexname))::regclass)",
            &[],
        )
        .await
        .unwrap();
    let mut drops = Vec::new();
    let (mut build_keys, mut build_fks) = (Vec::new(), Vec::new());
    for (rows, builds) in [(&fks, &mut build_fks), (&keys, &mut build_keys)] {
        for r in rows {
            let (table, name, def): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            drops.push(format!("ALTER TABLE {table} DROP CONSTRAINT \"{name}\""));
            builds.push(format!(
                "ALTER TABLE {table} ADD CONSTRAINT \"{name}\" {def}"
            ));
        }
    }
    for r in &indexes {
        drops.push(format!("DROP INDEX \"{}\"", r.get::<_, String>(0)));
        build_keys.push(r.get(1));
    }
    (drops, build_keys, build_fks)
}

/// Bare tables, two COPYs at a time, then indexes and keys two at a time, then foreign keys.
async fn restore_style(dsn: &str, rows: &[(&'static str, Vec<Bytes>)]) {
    let admin = connect(dsn).await;
    let (drops, builds, fks) = definitions(&admin).await;
    for d in &drops {
        admin.batch_execute(d).await.unwrap();
    }
    let lanes = [connect(dsn).await, connect(dsn).await];
    // The two largest tables go on different connections; the rest alternate.
    let mut sizes: Vec<(usize, &(&'static str, Vec<Bytes>))> = rows
        .iter()
        .map(|r| (r.1.iter().map(Bytes::len).sum(), r))
        .collect();
    sizes.sort_by_key(|s| std::cmp::Reverse(s.0));
    let work = |lane: usize| {
        let client = &lanes[lane];
        let mine: Vec<_> = sizes
            .iter()
            .skip(lane)
            .step_by(2)
            .map(|(_, r)| *r)
            .collect();
        async move {
            for (table, chunks) in mine {
                copy_in(client, table, chunks).await;
            }
        }
    };
    let started = Instant::now();
    futures_util::join!(work(0), work(1));
    eprintln!(
        "  restore-style: COPY {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    for lane in &lanes {
        lane.batch_execute("SET maintenance_work_mem = '256MB'")
            .await
            .unwrap();
    }
    let build = |lane: usize| {
        let client = &lanes[lane];
        let mine: Vec<String> = builds.iter().skip(lane).step_by(2).cloned().collect();
        async move {
            for b in mine {
                client.batch_execute(&b).await.unwrap();
            }
        }
    };
    futures_util::join!(build(0), build(1));
    eprintln!(
        "  restore-style: indexes and keys {:.2} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    futures_util::stream::iter(&fks)
        .for_each_concurrent(2, |fk| {
            let admin = &admin;
            async move { admin.batch_execute(fk).await.unwrap() }
        })
        .await;
    eprintln!(
        "  restore-style: foreign keys {:.2} s",
        started.elapsed().as_secs_f64()
    );
}

fn timed_seed(env: &[(&str, &str)]) -> f64 {
    let started = Instant::now();
    let out = run(&["seed", "--seed", "1"], env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let secs = started.elapsed().as_secs_f64();
    eprintln!("  {}", out.stderr.trim().replace('\n', "\n  "));
    secs
}

/// A load starts from the same state as the others: no dirty pages of earlier loads to write.
fn settle(db: &TestDb) {
    db.query("CHECKPOINT");
}

fn main() {
    let users = std::env::var("SEED_USERS").unwrap_or_else(|_| "1000000".into());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let env = |db: &TestDb| {
        [
            ("PG_DSN", db.dsn.clone()),
            ("SEED_USERS", users.clone()),
            ("SEED_PRODUCTS", "10000".to_owned()),
        ]
    };
    // The rows, from a seed that is not measured.
    let rows = {
        let source = TestDb::create();
        let pairs = env(&source);
        let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = run(&["seed", "--seed", "1"], &refs);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        runtime.block_on(export(&source.dsn))
    };
    let total: usize = rows
        .iter()
        .map(|(_, c)| c.iter().map(Bytes::len).sum::<usize>())
        .sum();
    eprintln!(
        "loading the same rows three ways ({:.0} MB of COPY text)",
        total as f64 / 1e6
    );
    let migrated = || {
        let db = TestDb::create();
        let out = run(&["migrate"], &[("PG_DSN", db.dsn.as_str())]);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        settle(&db);
        db
    };
    let plain = {
        let db = migrated();
        let started = Instant::now();
        runtime.block_on(plain_copy(&db.dsn, &rows));
        started.elapsed().as_secs_f64()
    };
    let (restore, restored) = {
        let db = migrated();
        let started = Instant::now();
        runtime.block_on(restore_style(&db.dsn, &rows));
        let secs = started.elapsed().as_secs_f64();
        (secs, (db.dump(), db.schema()))
    };
    let seeded = TestDb::create();
    settle(&seeded);
    let pairs = env(&seeded);
    let refs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    eprintln!("retailgen seed, fresh database:");
    let fresh = timed_seed(&refs);
    assert_eq!(seeded.count("users").to_string(), users);
    assert_eq!(
        (seeded.dump(), seeded.schema()),
        restored,
        "the anchors load the same rows into the same schema"
    );
    eprintln!("retailgen seed again (every row exists):");
    let again = timed_seed(&refs);

    println!("users: {users}, segments: {users}, products: 10000");
    println!("plain COPY of the same rows:    {plain:>8.2} s");
    println!("restore-style load, 2 lanes:    {restore:>8.2} s");
    println!("retailgen seed, fresh database: {fresh:>8.2} s (process start to exit)");
    println!(
        "restore-style / retailgen:      {:>8.2} (>= 1: retailgen as fast or faster)",
        restore / fresh
    );
    println!("retailgen seed again:           {again:>8.2} s (every row exists)");
}
