//! A target of the broker tests: the real broker, the test registry and (maybe) a database,
//! runs against it, and what it holds read back (de-duplicated by each record's own id).

use std::collections::HashMap;
use std::time::Duration;

use super::cmd::{command, finish_or_kill, run, Output};
use super::decode::{decode, kafka_env, Row};
use super::kafka::consume_all;
use super::pg::TestDb;
use super::registry::Registry;
use super::stock::{BUSY_ENV, SEED_ENV};
use super::tansu::Tansu;
use super::TOPICS;

/// Stores open and selling (simulated event time in their opening hours), refunds soon after
/// their sales, and more labelled faults than by default.
pub const SELLING_STORES: [(&str, &str); 8] = [
    ("WEIGHT_STORE", "0.5"),
    ("SIM_FROM", "2024-03-01T16:00:00Z"),
    ("TARGET_EPS", "4"),
    ("REFUND_PROBABILITY", "0.3"),
    ("REFUND_DELAY_MIN", "1m"),
    ("REFUND_DELAY_MAX", "10m"),
    ("P_BAD_RECORD", "0.02"),
    ("P_DUPLICATE", "0.02"),
];

/// The seed of the runs (`RANDOM_SEED`).
pub const SEED: u64 = 3;

pub struct Target {
    pub broker: Tansu,
    pub registry: Registry,
    pub db: Option<TestDb>,
}

impl Target {
    pub fn new(postgres: bool) -> Self {
        Self {
            broker: Tansu::start(),
            registry: Registry::start(),
            db: postgres.then(TestDb::create),
        }
    }

    pub fn db(&self) -> &TestDb {
        self.db.as_ref().expect("a database")
    }

    /// The environment of a busy run against this target, plus `extra`.
    pub fn env<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = kafka_env(&self.broker, &self.registry);
        if let Some(db) = &self.db {
            env.extend([("PG_DSN", db.dsn.as_str()), ("STORE", "postgres")]);
        }
        env.extend(SEED_ENV);
        env.extend(BUSY_ENV);
        env.extend([("SINK", "kafka"), ("TARGET_EPS", "0"), ("RANDOM_SEED", "3")]);
        env.extend(extra.iter().copied());
        env
    }

    pub fn finish_run(&self, count: &str, extra: &[(&str, &str)]) -> Output {
        let out = run(&["run", "--count", count], &self.env(extra));
        assert_eq!(out.code, Some(0), "{}", out.stderr);
        out
    }

    /// A run killed with SIGKILL after `after` (or before, by `RETAILGEN_TEST_CRASH_AT` in `extra`).
    pub fn killed_run(&self, after: Duration, extra: &[(&str, &str)]) -> Output {
        let child = command(&["run"], &self.env(extra)).spawn().unwrap();
        let out = finish_or_kill(child, after);
        assert_eq!(out.code, None, "killed by a signal: {}", out.stderr);
        out
    }

    /// Every record on the topics, decoded (wire-level poison pills left out).
    pub fn rows(&self) -> Vec<Row> {
        let consumed = consume_all(&self.broker.bootstrap, &TOPICS, Duration::from_secs(120));
        decode(&self.registry, ("", ""), consumed)
    }
}

/// The record's own id (the one a consumer de-duplicates by).
pub fn own_id(r: &Row) -> &str {
    let field = match r.kafka.topic.as_str() {
        "orders.v1" => "order_id",
        "payments.v1" => "payment_id",
        "shipments.v1" => "shipment_id",
        "customer-interactions.v1" => "interaction_id",
        "inventory-changes.v1" => "change_id",
        "price-changes.v1" => "price_change_id",
        "pos-events.v1" => "event_id",
        "pos-transactions.v1" => "transaction_id",
        "refunds.v1" => "refund_id",
        "store-inventory-changes.v1" => "change_id",
        "restock-alerts.v1" => "alert_id",
        "foot-traffic.v1" => "visit_id",
        "shelf-events.v1" => "event_id",
        t => panic!("unexpected topic {t}"),
    };
    r.str(field)
}

/// Unlabelled (or late) records, de-duplicated by their own id (first copy kept); asserts
/// every copy of an id carries the same value: a republished record is the same record.
pub fn good_once(rows: &[Row]) -> Vec<&Row> {
    let mut seen: HashMap<&str, &[u8]> = HashMap::new();
    let mut out = Vec::new();
    for r in rows {
        match seen.get(own_id(r)) {
            Some(first) => assert_eq!(
                *first,
                &r.kafka.payload[..],
                "id {} was published for two different records",
                own_id(r)
            ),
            None => {
                seen.insert(own_id(r), &r.kafka.payload);
                let dq = r.header("dq");
                if !dq.starts_with("bad:") && dq != "duplicate" {
                    out.push(r);
                }
            }
        }
    }
    out
}
