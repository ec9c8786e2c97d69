//! The canonical-store contract against a real broker, registry and Postgres: SIGKILL at awkward
//! instants and restarts lose nothing and reuse no id, chains continue across runs, an
//! operator's change is respected, Postgres going away loses nothing, and state that cannot be
//! recovered stops start-up with exit 2 before anything is written.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::support::cmd::{command, finish, run};
use crate::support::decode::Row;
use crate::support::kafka::consume_all;
use crate::support::stock::{
    global_is_the_sum_over_warehouses, prices_are_the_last_changes, replay, table_stock, COUNTS,
};
use crate::support::target::{good_once, Target, SEED};

/// The topics and the tables tell one story.
fn topics_and_tables_agree(target: &Target) -> Vec<Row> {
    let rows = target.rows();
    let good = good_once(&rows);
    let db = target.db();
    assert_eq!(
        table_stock(db),
        replay(&good, COUNTS, SEED),
        "warehouse_inventory = replay of the topic"
    );
    let users: HashSet<String> = db
        .query("SELECT user_id FROM users")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    for r in good.iter().filter(|r| r.fields.contains_key("user_id")) {
        assert!(
            users.contains(r.str("user_id")),
            "user {} exists",
            r.str("user_id")
        );
    }
    prices_are_the_last_changes(db, &good, COUNTS, SEED);
    global_is_the_sum_over_warehouses(db);
    assert_eq!(
        db.count("retailgen_outbox"),
        0,
        "the outbox is empty after a clean stop"
    );
    rows
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_postgres_canonical_run_killed_at_awkward_instants_and_restarted_loses_nothing() {
    let target = Target::new(true);
    // Between a commit and its publication: the batch is in Postgres, none of it on the topics.
    target.killed_run(
        Duration::from_secs(60),
        &[("RETAILGEN_TEST_CRASH_AT", "after_commit:3")],
    );
    let stranded = target.db().count("retailgen_outbox");
    assert!(
        stranded > 0,
        "the third batch was committed and not yet published"
    );
    // Late records held back when it stopped go out with them.
    let held = target.db().count("retailgen_held");
    // Its records handed to the producer, not yet acknowledged or removed.
    let out = target.killed_run(
        Duration::from_secs(60),
        &[("RETAILGEN_TEST_CRASH_AT", "after_relay:2")],
    );
    assert!(
        out.stderr
            .contains(&format!("published {} records", stranded + held)),
        "pending rows go out before anything new: {}",
        out.stderr
    );
    // Anywhere in the middle of a busy run.
    target.killed_run(Duration::from_millis(2_500), &[]);
    target.finish_run("3000", &[]);
    let runs = target.db().count("retailgen_runs");
    assert_eq!(runs, 4, "every start is a run");
    topics_and_tables_agree(&target);
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Late records a Postgres-canonical run holds back are rows committed with their effects: a
/// SIGKILL while they wait loses none; the restart publishes them, byte for byte.
#[test]
fn late_records_held_by_a_postgres_canonical_run_survive_a_sigkill() {
    let target = Target::new(true);
    let late = [("P_LATE_EVENT", "0.3"), ("MAX_LATE_MINUTES", "30")];
    target.killed_run(Duration::from_millis(3_000), &late);
    let held = target
        .db()
        .query("SELECT encode(value, 'hex') FROM retailgen_held");
    assert!(
        held.len() > 50,
        "{} late records held at the kill",
        held.len()
    );
    target.finish_run("2000", &late);
    assert_eq!(
        target.db().count("retailgen_held"),
        0,
        "the restart published what was held, and a clean stop flushes what it held"
    );
    let consumed = consume_all(
        &target.broker.bootstrap,
        &crate::support::TOPICS,
        Duration::from_secs(120),
    );
    let on_topics: HashSet<String> = consumed.iter().map(|c| hex(&c.payload)).collect();
    let lost = held.iter().filter(|v| !on_topics.contains(&v[0])).count();
    assert_eq!(lost, 0, "held records missing from the topics");
    topics_and_tables_agree(&target);
}

/// Waits until a Postgres-canonical run has migrated, numbered itself and signed customers up.
fn wait_for_a_busy_run(db: &crate::support::pg::TestDb) {
    wait_for("a busy run", || {
        let migrated = !db
            .query("SELECT 1 FROM pg_tables WHERE tablename = 'retailgen_runs'")
            .is_empty();
        migrated && db.count("retailgen_runs") == 1 && db.count("users") > 300
    });
}

#[test]
fn postgres_going_away_mid_run_fails_naming_pg_dsn_and_loses_nothing() {
    let target = Target::new(true);
    let db = target.db();
    let dsn = format!("{} password=s3cr3tpw", db.dsn);
    // Riding through is off: the first lost connection ends the run.
    let env = target.env(&[("PG_DSN", dsn.as_str()), ("PG_RECONNECT_TIMEOUT", "0s")]);
    let child = command(&["run"], &env).spawn().unwrap();
    wait_for_a_busy_run(db);
    db.query(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
        db.name
    ));
    let out = finish(child);
    assert_eq!(out.code, Some(1), "{}", out.stderr);
    assert!(out.stderr.contains("PG_DSN"), "{}", out.stderr);
    assert!(!out.stderr.contains("s3cr3tpw"), "{}", out.stderr);
    target.finish_run("1000", &[]);
    topics_and_tables_agree(&target);
}

/// The database refuses connections for 3 s and every connection to it is terminated (what a
/// restart or a failover looks like from retailgen): the run waits, commits the group again and
/// goes on; topics and tables agree afterwards.
#[test]
fn a_postgres_outage_mid_run_is_ridden_through_and_the_run_goes_on() {
    let target = Target::new(true);
    let db = target.db();
    let env = target.env(&[("TARGET_EPS", "3000"), ("METRICS_ADDR", "off")]);
    let child = command(&["run"], &env).spawn().unwrap();
    wait_for_a_busy_run(db);
    db.admin(&format!(
        "ALTER DATABASE {0} ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}'",
        db.name
    ));
    std::thread::sleep(Duration::from_secs(3));
    db.admin(&format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS true",
        db.name
    ));
    let before = db.count("users");
    let started = Instant::now();
    while db.count("users") <= before + 20 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let after = db.count("users");
    let out = crate::support::cmd::terminate(child);
    assert!(
        after > before + 20,
        "sign-ups go on after the outage: {}",
        out.stderr
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        out.stderr.contains("is away") && out.stderr.contains("is back after"),
        "{}",
        out.stderr
    );
    topics_and_tables_agree(&target);
}

#[test]
fn an_operators_stock_change_between_postgres_canonical_runs_is_respected() {
    let target = Target::new(true);
    target.finish_run("2000", &[]);
    let db = target.db();
    let row = &db.query(
        "SELECT warehouse_id, product_id, qty FROM warehouse_inventory ORDER BY 1, 2 LIMIT 1",
    )[0];
    let before: i64 = row[2].parse().unwrap();
    db.query(&format!(
        "UPDATE warehouse_inventory SET qty = qty + 37 WHERE warehouse_id = '{}' AND product_id = '{}'",
        row[0], row[1]
    ));
    db.query(&format!(
        "UPDATE inventory SET qty = qty + 37 WHERE product_id = '{}'",
        row[1]
    ));
    target.finish_run("2000", &[]);
    let rows = topics_and_tables_agree(&target);
    let bridge = rows
        .iter()
        .find(|r| {
            r.kafka.topic == "inventory-changes.v1"
                && r.str("warehouse_id") == row[0]
                && r.str("product_id") == row[1]
                && r.str("change_type") == "ADJUSTMENT"
                && r.i64("previous_qty") == before
                && r.i64("new_qty") == before + 37
        })
        .expect("the operator's change is reported as an adjustment");
    assert_eq!(
        bridge.fields["reason"],
        apache_avro::types::Value::String("changed outside retailgen".into())
    );
}

/// Every chain on the stock topic continues from its key's last level, in partition order.
fn chains_continue(rows: &[&Row]) -> usize {
    let mut last: HashMap<String, i64> = HashMap::new();
    let mut checked = 0;
    for c in rows
        .iter()
        .filter(|r| r.kafka.topic == "inventory-changes.v1")
    {
        if let Some(prev) = last.get(&c.kafka.key) {
            assert_eq!(
                c.i64("previous_qty"),
                *prev,
                "chain of {} at {}",
                c.kafka.key,
                c.str("change_id")
            );
            checked += 1;
        }
        last.insert(c.kafka.key.clone(), c.i64("new_qty"));
    }
    checked
}

#[test]
fn kafka_canonical_runs_continue_every_chain_across_restarts_and_a_sigkill() {
    let target = Target::new(false);
    let first = target.finish_run("3000", &[]);
    assert!(
        first
            .stderr
            .contains("rebuilt the stock ledger from 0 changes"),
        "{}",
        first.stderr
    );
    target.killed_run(Duration::from_millis(2_000), &[]);
    let last = target.finish_run("3000", &[]);
    assert!(
        last.stderr.contains("run 2 of this target"),
        "{}",
        last.stderr
    );
    let rows = target.rows();
    let good = good_once(&rows);
    assert!(chains_continue(&good) > 1_000, "chains were checked");
}

#[test]
fn a_kafka_canonical_mirror_equals_the_topic_after_a_sigkill_and_a_restart() {
    let target = Target::new(true);
    let mirror = [
        ("CANON_INVENTORY", "kafka"),
        ("MIRROR_INVENTORY_TO_DB", "true"),
    ];
    target.finish_run("3000", &mirror);
    target.killed_run(Duration::from_millis(2_500), &mirror);
    target.finish_run("3000", &mirror);
    let rows = target.rows();
    let good = good_once(&rows);
    assert!(chains_continue(&good) > 1_000);
    assert_eq!(
        table_stock(target.db()),
        replay(&good, COUNTS, SEED),
        "the mirror equals the replay"
    );
    let offsets = target
        .db()
        .query("SELECT count(*) FROM retailgen_mirror_offsets");
    assert_eq!(
        offsets[0][0], "6",
        "the mirror records how far it applied each partition of both stock topics"
    );
}

#[test]
fn state_that_cannot_be_recovered_stops_start_up_with_exit_2_and_writes_nothing() {
    let target = Target::new(true);
    target.finish_run("500", &[]);
    let db = target.db();
    let expect_2 = |what: &str, extra: &[(&str, &str)], said: &[&str]| {
        let runs = db.count("retailgen_runs");
        let out = run(&["run", "--count", "100"], &target.env(extra));
        assert_eq!(out.code, Some(2), "{what}: {}", out.stderr);
        for s in said {
            assert!(out.stderr.contains(s), "{what}: says {s:?}: {}", out.stderr);
        }
        assert_eq!(db.count("retailgen_runs"), runs, "{what}: no run recorded");
    };
    db.query(
        "INSERT INTO retailgen_outbox VALUES (1000000, 'orders.v1', 'k', '\\x'::bytea, '\\x00000f423f00'::bytea, 0, 999999)",
    );
    expect_2(
        "an unknown schema id",
        &[],
        &["schema id 999999", "SCHEMA_REGISTRY_URL"],
    );
    assert_eq!(db.count("retailgen_outbox"), 1, "the row is kept");
    db.query("UPDATE retailgen_outbox SET topic = 'gone.v1', schema_id = 1");
    expect_2("a missing topic", &[], &["gone.v1", "does not exist"]);
    db.query("DELETE FROM retailgen_outbox");
    expect_2(
        "a Kafka-canonical ledger whose topic is gone",
        &[
            ("CANON_INVENTORY", "kafka"),
            ("TOPIC_INVENTORY_CHANGES", "renamed.v1"),
        ],
        &["renamed.v1", "TOPIC_INVENTORY_CHANGES"],
    );
    db.query("DROP TABLE retailgen_stock_reported");
    expect_2("a missing table", &[], &["retailgen_stock_reported"]);
}

/// Two teams' topic sets on one cluster share the default run register (`retailgen-runs`): each
/// numbers its own runs, and a first run on a new topic set is run 0 of its own target.
#[test]
fn two_topic_sets_sharing_one_run_register_number_their_own_runs() {
    let target = Target::new(false);
    let settings: Vec<String> = retailgen::config::FIELDS
        .iter()
        .map(|f| f.env)
        .filter(|e| e.starts_with("TOPIC_") && *e != "TOPIC_RUNS" && *e != "TOPIC_PARTITIONS")
        .filter(|e| *e != "TOPIC_REPLICATION_FACTOR")
        .map(str::to_owned)
        .collect();
    assert_eq!(settings.len(), crate::support::TOPICS.len());
    let names: Vec<String> = crate::support::TOPICS
        .iter()
        .map(|t| format!("team-b.{t}"))
        .collect();
    let team_b: Vec<(&str, &str)> = settings
        .iter()
        .zip(&names)
        .map(|(s, n)| (s.as_str(), n.as_str()))
        .collect();
    let fresh = "on a fresh target reproduces this run";
    let a0 = target.finish_run("300", &[]);
    assert!(a0.stderr.contains(fresh), "{}", a0.stderr);
    // Team B's first Kafka-canonical run: its stock topic does not exist yet, and the register
    // holds team A's run, which is not B's.
    let b0 = target.finish_run("300", &team_b);
    assert!(
        b0.stderr.contains(fresh),
        "run 0 of its own target: {}",
        b0.stderr
    );
    let b1 = target.finish_run("300", &team_b);
    assert!(b1.stderr.contains("run 1 of this target"), "{}", b1.stderr);
    let a1 = target.finish_run("300", &[]);
    assert!(a1.stderr.contains("run 1 of this target"), "{}", a1.stderr);
}
