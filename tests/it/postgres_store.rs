//! The Postgres side against a fresh database each: migrations, deterministic and idempotent
//! seeding (also after a crash), and tables that tell the same story as the topics.

use std::collections::{HashMap, HashSet};
use std::process::Command;
use std::time::Duration;

use crate::support::cmd::{assert_count, command, finish, run};
use crate::support::decode::{decode, kafka_env, Row};
use crate::support::kafka::consume;
use crate::support::pg::TestDb;
use crate::support::registry::Registry;
use crate::support::stock::{
    global_is_the_sum_over_warehouses, prices_are_the_last_changes, replay, table_stock, BUSY_ENV,
    COUNTS, SEED_ENV,
};
use crate::support::tansu::Tansu;
use crate::support::TOPICS;

fn seed_env(db: &TestDb) -> Vec<(&str, &str)> {
    let mut env = vec![("PG_DSN", db.dsn.as_str())];
    env.extend(SEED_ENV);
    env
}

#[test]
fn migrate_creates_the_eight_tables_and_touches_no_data() {
    let db = TestDb::create();
    let out = run(&["migrate"], &[("PG_DSN", &db.dsn)]);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    for table in retailgen::adapters::postgres::TABLES {
        assert_eq!(db.count(table), 0, "{table} exists and is empty");
    }
    let again = run(&["migrate"], &[("PG_DSN", &db.dsn)]);
    assert!(again.stderr.contains("up to date"), "{}", again.stderr);
}

#[test]
fn seeding_twice_leaves_the_tables_identical_to_one_clean_seed() {
    let (twice, once) = (TestDb::create(), TestDb::create());
    for _ in 0..2 {
        let out = run(&["seed", "--seed", "7"], &seed_env(&twice));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
    }
    assert_eq!(
        run(&["seed", "--seed", "7"], &seed_env(&once)).code,
        Some(0)
    );
    assert_eq!(twice.dump(), once.dump());
    assert_eq!(once.count("users"), 300);
    assert_eq!(once.count("customer_segments"), 300);
    assert_eq!(once.count("warehouses"), 4);
    let other = TestDb::create();
    assert_eq!(
        run(&["seed", "--seed", "8"], &seed_env(&other)).code,
        Some(0)
    );
    assert_ne!(other.dump(), once.dump(), "another seed gives other rows");
}

/// Borrowed (name, value) pairs for `run`.
fn as_env<'a>(pairs: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    pairs.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn a_seed_killed_half_way_and_rerun_equals_a_clean_seed() {
    let (crashed, clean, migrated) = (TestDb::create(), TestDb::create(), TestDb::create());
    let env = |db: &TestDb| {
        [
            ("PG_DSN", db.dsn.clone()),
            ("SEED_USERS", "400000".into()),
            ("SEED_PRODUCTS", "2000".into()),
        ]
    };
    let (crashed_env, clean_env) = (env(&crashed), env(&clean));
    let crashed_refs = as_env(&crashed_env);
    assert_eq!(
        run(&["seed", "--seed", "3"], &as_env(&clean_env)).code,
        Some(0)
    );
    assert_eq!(
        run(&["migrate"], &[("PG_DSN", &migrated.dsn)]).code,
        Some(0)
    );
    assert_eq!(
        clean.schema(),
        migrated.schema(),
        "a restore-style load builds again exactly the indexes and constraints it set aside"
    );
    let child = command(&["seed", "--seed", "3"], &crashed_refs)
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    // Kill it at the awkward instant: loading users restore-style, its indexes and unique key
    // dropped in the open transaction and being built again.
    let mut killed_mid_load = false;
    for _ in 0..3000 {
        let building = crashed.query(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND state = 'active'
               AND (query LIKE 'CREATE %INDEX % ON public.users %'
                    OR query LIKE 'ALTER TABLE users ADD CONSTRAINT %')",
        )[0][0]
            != "0";
        if building {
            Command::new("kill").args(["-KILL", &pid]).status().unwrap();
            killed_mid_load = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    finish(child);
    assert!(
        killed_mid_load,
        "the seed was never seen rebuilding users' indexes"
    );
    // The server rolls the killed session back once it notices the client is gone.
    for _ in 0..600 {
        if crashed.other_sessions() == 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(crashed.other_sessions(), 0, "the killed session ended");
    assert_eq!(
        crashed.schema(),
        migrated.schema(),
        "every index and constraint is in place after the crash"
    );
    assert_eq!(crashed.count("users"), 0, "the killed load left no rows");
    assert!(
        crashed.count("products") > 0,
        "tables before it stayed seeded"
    );
    assert_eq!(run(&["seed", "--seed", "3"], &crashed_refs).code, Some(0));
    assert_eq!(crashed.dump(), clean.dump());
    assert_eq!(crashed.schema(), migrated.schema());
}

#[test]
fn foreign_keys_are_checked_only_after_the_tables_they_reference_committed() {
    // A superuser loads children beside their parents and checks their keys before it commits;
    // a plain role starts a child once its parents committed. Both leave the same tables.
    let (superuser, plain, migrated) = (
        TestDb::create(),
        TestDb::owned_by_a_plain_role(),
        TestDb::create(),
    );
    assert_eq!(
        run(&["migrate"], &[("PG_DSN", &migrated.dsn)]).code,
        Some(0)
    );
    for (db, mode) in [
        (
            &superuser,
            "a table checks its foreign keys before it commits",
        ),
        (
            &plain,
            "a table starts once the tables it references committed",
        ),
    ] {
        let mut env = seed_env(db);
        env.push(("RUST_LOG", "retailgen=debug"));
        let out = run(&["seed", "--seed", "4"], &env);
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        assert!(out.stderr.contains(mode), "{mode}: {}", out.stderr);
        let at = |what: String| {
            out.stderr
                .lines()
                .position(|l| l.ends_with(&what) || l.contains(&format!("{what}: ")))
                .unwrap_or_else(|| panic!("no line {what:?} in {}", out.stderr))
        };
        let references = db.query(
            "SELECT c.conrelid::regclass::text, c.confrelid::regclass::text FROM pg_constraint c
             WHERE c.contype = 'f' AND c.conrelid <> c.confrelid",
        );
        let seeded = retailgen::adapters::postgres::TABLES;
        let pairs: Vec<_> = references
            .iter()
            .map(|row| (&row[0], &row[1]))
            .filter(|(child, parent)| {
                seeded.contains(&child.as_str()) && seeded.contains(&parent.as_str())
            })
            .collect();
        assert!(
            pairs.len() >= 10,
            "the seeded tables' foreign keys: {pairs:?}"
        );
        for (child, parent) in pairs {
            let checked = at(format!(
                "seeding {child}: the tables it references have committed"
            ));
            assert!(
                checked > at(format!("seeded {parent}")),
                "{child} was checked before {parent} committed:\n{}",
                out.stderr
            );
            assert!(checked < at(format!("seeded {child}")));
        }
        assert_eq!(
            db.schema(),
            migrated.schema(),
            "every index and key rebuilt"
        );
    }
    assert_eq!(superuser.dump(), plain.dump());
}

#[test]
fn a_child_loaded_beside_its_parent_checks_its_keys_only_after_the_parent_committed() {
    let db = TestDb::create();
    assert_eq!(run(&["migrate"], &[("PG_DSN", &db.dsn)]).code, Some(0));
    // Users cannot start loading while this is held; segments load beside it meanwhile.
    let users = db.hold("LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
    let seeding = command(&["seed", "--seed", "4"], &seed_env(&db))
        .spawn()
        .unwrap();
    let checks_early = "SELECT count(*) FROM pg_locks
         WHERE relation = 'users'::regclass AND mode = 'ShareLock' AND NOT granted";
    let started = std::time::Instant::now();
    let mut segments_loaded = false;
    while started.elapsed() < Duration::from_secs(3) {
        assert_eq!(
            db.query(checks_early)[0][0],
            "0",
            "customer_segments checks its key while users has not committed"
        );
        segments_loaded |= db.query(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
             AND query LIKE 'ALTER TABLE customer_segments ADD CONSTRAINT%'
             AND state = 'idle in transaction'",
        )[0][0]
            == "1";
        std::thread::sleep(Duration::from_millis(20));
    }
    users.release();
    let out = finish(seeding);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        segments_loaded,
        "segments loaded and rebuilt their keys while users waited"
    );
    assert_eq!(db.count("customer_segments"), 300);
}

#[test]
fn a_row_whose_reference_is_missing_fails_the_seed_and_leaves_its_table_empty() {
    // A user already holding U000001's e-mail keeps U000001 out of users (rows merge with ON
    // CONFLICT DO NOTHING); its segment then references nothing.
    for db in [TestDb::create(), TestDb::owned_by_a_plain_role()] {
        assert_eq!(run(&["migrate"], &[("PG_DSN", &db.dsn)]).code, Some(0));
        db.query("INSERT INTO users (user_id, email) VALUES ('X1', 'user1@example.com')");
        let out = run(&["seed", "--seed", "4"], &seed_env(&db));
        assert_eq!(out.code, Some(1), "{}", out.stderr);
        assert!(
            out.stderr.contains("customer_segments")
                && out.stderr.contains("U000001")
                && out.stderr.contains("customer_segments_user_id_fkey"),
            "names the table, the row and the key: {}",
            out.stderr
        );
        assert_eq!(db.count("customer_segments"), 0);
        assert_eq!(db.count("users"), 300, "users merged: 299 seeded and X1");
    }
}

#[test]
fn seeding_more_rows_later_keeps_the_rows_already_there() {
    let (grown, clean) = (TestDb::create(), TestDb::create());
    // Users and products grow; warehouses and suppliers stay (links and totals depend on them).
    let small = [
        ("PG_DSN", grown.dsn.as_str()),
        ("SEED_USERS", "100"),
        ("SEED_PRODUCTS", "30"),
        ("SEED_WAREHOUSES", "4"),
        ("SEED_SUPPLIERS", "10"),
        ("SEED_STORES", "3"),
        ("TERMINALS_PER_STORE", "2"),
        ("EMPLOYEES_PER_STORE", "3"),
    ];
    assert_eq!(run(&["seed", "--seed", "5"], &small).code, Some(0));
    assert_eq!(
        run(&["seed", "--seed", "5"], &seed_env(&grown)).code,
        Some(0)
    );
    assert_eq!(
        run(&["seed", "--seed", "5"], &seed_env(&clean)).code,
        Some(0)
    );
    // Global stock of the first 30 products was summed over the same warehouses: identical too.
    assert_eq!(grown.dump(), clean.dump());
}

/// Runs retailgen into Kafka with `env`, returns the good (unlabelled or late) rows in topic order.
fn produce(db: &TestDb, extra: &[(&str, &str)]) -> Vec<Row> {
    let broker = Tansu::start();
    let registry = Registry::start();
    let mut env = kafka_env(&broker, &registry);
    env.extend(seed_env(db));
    env.extend(BUSY_ENV);
    env.extend(extra.iter().copied());
    let out = run(
        &[
            "run", "--store", "postgres", "--sink", "kafka", "--count", "6000", "--eps", "0",
            "--seed", "3",
        ],
        &env,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let produced = assert_count(&out.stderr, 6000);
    let consumed = consume(
        &broker.bootstrap,
        &TOPICS,
        produced,
        Duration::from_secs(120),
    );
    decode(&registry, ("", ""), consumed)
}

fn good(rows: &[Row]) -> Vec<&Row> {
    rows.iter()
        .filter(|r| !r.header("dq").starts_with("bad:") && r.header("dq") != "duplicate")
        .collect()
}

#[test]
fn in_postgres_mode_the_tables_equal_the_replay_of_the_topics() {
    let db = TestDb::create();
    let rows = produce(&db, &[]);
    let good = good(&rows);
    let replayed = replay(&good, COUNTS, 3);
    assert_eq!(
        table_stock(&db),
        replayed,
        "warehouse_inventory equals the replay of inventory-changes"
    );
    global_is_the_sum_over_warehouses(&db);

    let users: HashSet<String> = db
        .query("SELECT user_id FROM users")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    let products: HashSet<String> = db
        .query("SELECT product_id FROM products")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert!(
        users.len() > 300,
        "sign-ups were inserted: {} users",
        users.len()
    );
    let offers: HashMap<(String, String), String> = db
        .query("SELECT product_id, supplier_id, cost_usd FROM product_suppliers")
        .into_iter()
        .map(|r| ((r[0].clone(), r[1].clone()), r[2].clone()))
        .collect();
    // Kafka orders nothing across topics: gather the orders first, then match sales to them.
    let orders: HashMap<&str, &Row> = good
        .iter()
        .filter(|r| r.kafka.topic == "orders.v1")
        .map(|r| (r.str("order_id"), *r))
        .collect();
    for r in &good {
        match r.kafka.topic.as_str() {
            "orders.v1" => {
                assert!(users.contains(r.str("user_id")) && products.contains(r.str("product_id")));
            }
            "customer-interactions.v1" => assert!(users.contains(r.str("user_id"))),
            "inventory-changes.v1" => match r.str("change_type") {
                "SALE" => {
                    let order = orders
                        .get(r.str("order_id"))
                        .expect("a sale names an order");
                    if r.header("dq") != "late" && order.header("dq") != "late" {
                        assert_eq!(
                            r.i64("ts"),
                            order.i64("ts"),
                            "a sale happens with its order"
                        );
                    }
                }
                "RESTOCK" => {
                    let key = (
                        r.str("product_id").to_owned(),
                        r.str("supplier_id").to_owned(),
                    );
                    let cost: f64 = offers
                        .get(&key)
                        .expect("a supplier of that product")
                        .parse()
                        .unwrap();
                    assert_eq!(r.f64("cost_per_unit"), cost);
                }
                _ => {}
            },
            _ => {}
        }
    }
    prices_are_the_last_changes(&db, &good, COUNTS, 3);
}

#[test]
fn kafka_canonical_inventory_mirrored_to_postgres_keeps_the_table_equal_to_the_ledger() {
    let db = TestDb::create();
    let rows = produce(
        &db,
        &[
            ("CANON_INVENTORY", "kafka"),
            ("MIRROR_INVENTORY_TO_DB", "true"),
        ],
    );
    assert_eq!(table_stock(&db), replay(&good(&rows), COUNTS, 3));
    global_is_the_sum_over_warehouses(&db);
}

#[test]
fn kafka_canonical_inventory_without_a_mirror_leaves_the_seeded_stock_alone() {
    let db = TestDb::create();
    let rows = produce(&db, &[("CANON_INVENTORY", "kafka")]);
    let replayed = replay(&good(&rows), COUNTS, 3);
    let seeded = replay(&[], COUNTS, 3);
    assert_eq!(
        table_stock(&db),
        seeded,
        "the topic is the truth; the table keeps the seed"
    );
    assert_ne!(replayed, seeded, "stock moved on the topic");
}

#[test]
fn an_unreachable_database_fails_naming_it_without_the_password() {
    let dsn = "host=127.0.0.1 port=1 dbname=demo user=shop password=s3cr3tpw";
    let out = run(
        &["run", "--store", "postgres", "--count", "1"],
        &[("PG_DSN", dsn)],
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("127.0.0.1:1") && out.stderr.contains("PG_DSN"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("s3cr3tpw"), "{}", out.stderr);
    let bad = run(&["run", "--count", "1"], &[("CANON_INVENTORY", "postgres")]);
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert!(bad.stderr.contains("STORE=postgres"), "{}", bad.stderr);
}

#[test]
fn a_reader_closing_stdout_stops_a_postgres_run_quietly() {
    use std::io::{BufRead, BufReader};
    let db = TestDb::create();
    let mut env = seed_env(&db);
    env.push(("STORE", "postgres"));
    let mut child = command(&["run", "--eps", "0"], &env).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for _ in 0..5 {
        assert!(
            lines.next().unwrap().unwrap().starts_with('{'),
            "JSON lines"
        );
    }
    drop(lines);
    let out = finish(child);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("sink closed by its reader"),
        "{}",
        out.stderr
    );
}

/// Forwards every connection to `listen` to Postgres on 127.0.0.1:5432, from `after` on (before
/// it, nothing listens there: connections are refused, as for a database still starting).
fn postgres_appearing_at(listen: String, after: Duration) {
    std::thread::spawn(move || {
        std::thread::sleep(after);
        let listener = std::net::TcpListener::bind(&listen).unwrap();
        for client in listener.incoming() {
            let Ok(client) = client else { continue };
            let server = std::net::TcpStream::connect("127.0.0.1:5432").unwrap();
            for (mut from, mut to) in [
                (client.try_clone().unwrap(), server.try_clone().unwrap()),
                (server, client),
            ] {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
}

#[test]
fn start_up_waits_for_a_database_that_comes_up_within_startup_wait() {
    let db = TestDb::create();
    let addr = crate::support::free_addr();
    let port = addr.rsplit(':').next().unwrap().to_owned();
    let dsn = db.dsn.replace("port=5432", &format!("port={port}"));
    assert_ne!(dsn, db.dsn);
    postgres_appearing_at(addr.clone(), Duration::from_secs(3));
    let mut env = seed_env(&db);
    env.retain(|(k, _)| *k != "PG_DSN");
    env.extend([("PG_DSN", dsn.as_str()), ("STARTUP_WAIT", "30s")]);
    let started = std::time::Instant::now();
    let out = run(&["run", "--store", "postgres", "--count", "50"], &env);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(started.elapsed() >= Duration::from_secs(2), "it waited");
    assert!(
        out.stderr
            .contains(&format!("waiting for postgres at 127.0.0.1:{port}")),
        "a log line names what it waits for: {}",
        out.stderr
    );
    assert!(out.stderr.contains("STARTUP_WAIT"), "{}", out.stderr);
    assert_count(&out.stderr, 50);
}

#[test]
fn start_up_gives_up_after_startup_wait_naming_the_database() {
    let dsn = "host=127.0.0.1 port=1 dbname=demo user=shop password=s3cr3tpw";
    let started = std::time::Instant::now();
    let out = run(
        &["run", "--store", "postgres", "--count", "1"],
        &[("PG_DSN", dsn), ("STARTUP_WAIT", "2s")],
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(started.elapsed() >= Duration::from_secs(2), "it waited");
    assert!(
        out.stderr
            .contains("postgres at 127.0.0.1:1 database demo user shop (PG_DSN) did not answer within STARTUP_WAIT=2s"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("s3cr3tpw"), "{}", out.stderr);
    // A refusal that waiting does not cure fails at once.
    let db = TestDb::create();
    let wrong = db.dsn.replace("dbname=", "dbname=no_such_");
    let started = std::time::Instant::now();
    let out = run(
        &["run", "--store", "postgres", "--count", "1"],
        &[("PG_DSN", wrong.as_str()), ("STARTUP_WAIT", "30s")],
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(started.elapsed() < Duration::from_secs(15), "no wait");
    assert!(out.stderr.contains("no_such_"), "{}", out.stderr);
}
