//! The one table of settings: TOML key, environment variable, valid values and how to apply each.

use super::model::{
    CanonInventory, LateMode, PacingKind, Settings, SinkKind, StartFrom, StoreKind, Transactions,
};
use super::parse::*;
use super::secret::Secret;

/// One configurable setting.
pub struct Field {
    /// Dotted key in the TOML files, e.g. `weights.orders`.
    pub key: &'static str,
    /// Environment variable, named as in the reference documents where they name one.
    pub env: &'static str,
    /// What is valid, as shown to the user in errors and the configuration reference.
    pub valid: &'static str,
    /// The command-line flag that sets it too, if any (e.g. `--eps`).
    pub flag: &'static str,
    /// What it does, for the configuration reference (`docs/configuration.md`).
    pub doc: &'static str,
    /// Secret values are never echoed back.
    pub secret: bool,
    pub apply: fn(&mut Settings, &str) -> Result<(), String>,
}

macro_rules! field {
    ($key:literal, $env:literal, $valid:literal, $flag:literal, $doc:literal, |$s:ident, $v:ident| $body:expr) => {
        field!($key, $env, $valid, $flag, $doc, false, |$s, $v| $body)
    };
    ($key:literal, $env:literal, $valid:literal, $flag:literal, $doc:literal, $secret:literal, |$s:ident, $v:ident| $body:expr) => {
        Field {
            key: $key,
            env: $env,
            valid: $valid,
            flag: $flag,
            doc: $doc,
            secret: $secret,
            apply: |$s: &mut Settings, $v: &str| {
                $body;
                Ok(())
            },
        }
    };
}

pub const FIELDS: &[Field] = &[
    field!(
        "shard.index",
        "SHARD_INDEX",
        "a whole number from 0 to SHARD_COUNT - 1, or auto (JOB_COMPLETION_INDEX, else 0)",
        "",
        "this instance's shard, 0 to `SHARD_COUNT - 1`; `auto`: `JOB_COMPLETION_INDEX` (a Kubernetes Indexed Job), else 0",
        |s, v| s.shard.index = optional(v, "auto", |v| {
            let n = unsigned(v)?;
            u32::try_from(n).map_err(|_| "too large".to_owned())
        })?
    ),
    field!(
        "shard.count",
        "SHARD_COUNT",
        "a whole number from 1 to 256",
        "",
        "instances sharing one Kafka cluster and one Postgres (see \"Scale-out\")",
        |s, v| s.shard.count = bounded(v, 1, 256)? as u32
    ),
    field!(
        "ops.metrics_addr",
        "METRICS_ADDR",
        "an address and port such as 0.0.0.0:9400 or 127.0.0.1:9400, or off",
        "",
        "serve Prometheus `/metrics` and `/healthz` at this address and port, e.g. `0.0.0.0:9400` (see \"Operations\")",
        |s, v| s.ops.metrics_addr = optional(v, "off", socket_addr)?
    ),
    field!(
        "ops.startup_wait",
        "STARTUP_WAIT",
        "a duration such as 0s (fail at once) or 2m",
        "",
        "how long start-up waits for Postgres, Kafka and the Schema Registry to answer, logging what it waits for every 5 s (compose sets `120s`); `0s` fails at once; a refusal that waiting does not cure (a wrong password or database) fails at once too",
        |s, v| s.ops.startup_wait = duration_or_zero(v)?
    ),
    field!(
        "ops.progress_interval",
        "PROGRESS_INTERVAL",
        "a duration such as 10s or 1m",
        "",
        "a progress line this often when stderr is not a terminal",
        |s, v| s.ops.progress_interval = duration(v)?
    ),
    field!(
        "ops.manifest",
        "MANIFEST_PATH",
        "a file path in an existing directory, or empty (no manifest)",
        "--manifest",
        "write the run manifest (JSON) here at the end of every run; its directory must exist",
        |s, v| s.ops.manifest = optional(v, "", |p| Ok(p.into()))?
    ),
    field!("run.sink", "SINK", "stdout, kafka, file or null",
        "--sink",
        "`stdout`, `kafka`, `file`, `null`", |s, v| {
        s.run.sink = SinkKind::parse(v).ok_or("unknown sink")?
    }),
    field!(
        "run.target_eps",
        "TARGET_EPS",
        "a number >= 0 (0 = unthrottled)",
        "--eps",
        "records per second (not service calls), >= 0; 0 = unthrottled. Burst: one second's worth",
        |s, v| s.run.target_eps = non_negative(v)?
    ),
    field!(
        "run.seed",
        "RANDOM_SEED",
        "an integer from 0 to 18446744073709551615, or random",
        "--seed",
        "integer; the drawn seed is printed so a run can be repeated",
        |s, v| s.run.seed = optional(v, "random", unsigned)?
    ),
    field!(
        "run.count",
        "RECORD_COUNT",
        "a whole number >= 1, or unlimited",
        "--count",
        "stop after N >= 1 records",
        |s, v| s.run.count = optional(v, "unlimited", positive)?
    ),
    field!(
        "run.duration",
        "RUN_DURATION",
        "a duration such as 10s, 5m or 2h, or unlimited",
        "--duration",
        "stop after `10s`, `5m`, `2h`, ...",
        |s, v| s.run.duration = optional(v, "unlimited", duration)?
    ),
    field!("run.out_dir", "OUT_DIR", "a directory path",
        "--out",
        "directory of the `file` sink", |s, v| s
        .run
        .out_dir =
        non_empty(v)?.into()),
    field!(
        "run.max_pending",
        "MAX_PENDING",
        "a whole number >= 1",
        "",
        "follow-up records (payments, shipments) waiting for their time; beyond it the earliest go out early",
        |s, v| s.run.max_pending = positive(v)? as usize
    ),
    field!(
        "run.burst",
        "BURST",
        "a whole number of records >= 1, or auto (one second's worth)",
        "",
        "token bucket capacity in records (auto: one second's worth); after a stall retailgen never sends more than this at once",
        |s, v| s.run.burst =
            optional(v, "auto", positive)?.map(|b| b.min(u64::from(u32::MAX)) as u32)
    ),
    field!("run.pacing", "PACING", "rate or gaps",
        "--pacing",
        "`rate` (`TARGET_EPS` x diurnal curve) or `gaps` (one record, then a random gap)", |s, v| s
        .run
        .pacing =
        PacingKind::parse(v).ok_or("unknown pacing")?),
    field!("run.min_delta", "MIN_DELTA", "seconds >= 0",
        "--min-delta",
        "smallest gap in seconds with `PACING=gaps`", |s, v| s
        .run
        .min_delta_secs =
        non_negative(v)?),
    field!("run.max_delta", "MAX_DELTA", "seconds >= 0",
        "--max-delta",
        "largest gap in seconds with `PACING=gaps`", |s, v| s
        .run
        .max_delta_secs =
        non_negative(v)?),
    field!(
        "run.from",
        "SIM_FROM",
        "a time such as 2024-01-01T00:00:00Z or 2024-01-01, or unset",
        "--from",
        "simulated clock: generate event time from here (`2024-01-01T00:00:00Z` or `2024-01-01`) as fast as the sink allows",
        |s, v| s.run.from_ms = optional(v, "unset", instant)?
    ),
    field!(
        "run.to",
        "SIM_TO",
        "a time such as 2024-01-02T00:00:00Z or 2024-01-02, or unset",
        "--to",
        "simulated clock: stop before this event time",
        |s, v| s.run.to_ms = optional(v, "unset", instant)?
    ),
    field!("diurnal.min", "DIURNAL_MIN", "a number > 0",
        "",
        "rate multiplier at the quietest time of day (> 0)", |s, v| s
        .diurnal
        .min =
        positive_number(v)?),
    field!("diurnal.max", "DIURNAL_MAX", "a number > 0",
        "",
        "rate multiplier at the peak; `DIURNAL_MIN=DIURNAL_MAX=1` turns the curve off", |s, v| s
        .diurnal
        .max =
        positive_number(v)?),
    field!(
        "diurnal.peak_hour",
        "DIURNAL_PEAK_HOUR",
        "an hour from 0 to 24 (exclusive), fractions allowed",
        "",
        "local hour of the peak (0 to 24, fractions allowed)",
        |s, v| s.diurnal.peak_hour = hour(v)?
    ),
    field!(
        "diurnal.timezone",
        "DIURNAL_TZ",
        "an IANA time zone such as UTC, Europe/Berlin or America/New_York",
        "",
        "IANA time zone of that hour, e.g. `Europe/Berlin`",
        |s, v| s.diurnal.timezone = v
            .trim()
            .parse()
            .map_err(|_| "unknown time zone".to_owned())?
    ),
    field!(
        "diurnal.weekdays",
        "DIURNAL_WEEKDAYS",
        "empty, or 7 comma-separated numbers > 0 for Monday..Sunday",
        "",
        "optional Monday..Sunday weights, e.g. `1,1,1,1,1.1,1.4,1.2`",
        |s, v| s.diurnal.weekdays = weekdays(v)?
    ),
    field!(
        "faults.p_late_event",
        "P_LATE_EVENT",
        "a probability from 0 to 1",
        "",
        "share of records delivered late (`dq=late`; see `LATE_MODE`)",
        |s, v| s.faults.p_late_event = probability(v)?
    ),
    field!(
        "faults.max_late_minutes",
        "MAX_LATE_MINUTES",
        "a whole number >= 1",
        "",
        "how late at most, in event time",
        |s, v| s.faults.max_late_minutes = positive(v)?.min(u64::from(u32::MAX)) as u32
    ),
    field!(
        "faults.late_mode",
        "LATE_MODE",
        "delay (published later, true event time) or shift (event time moved into the past)",
        "",
        "`delay`: a late record keeps its true event time and is published later (stock and price changes never are); `shift`: published at once with its event time moved back (the original generator's)",
        |s, v| s.faults.late_mode = LateMode::parse(v).ok_or("unknown late mode")?
    ),
    field!(
        "faults.max_held_late",
        "MAX_HELD_LATE",
        "a whole number >= 1 (records; about 600 bytes each)",
        "",
        "late records held back at most in `delay` mode (about 600 bytes each); past it the earliest due goes out early, still labelled",
        |s, v| s.faults.max_held_late = positive(v)?.min(u64::from(u32::MAX)) as usize
    ),
    field!(
        "faults.p_bad_record",
        "P_BAD_RECORD",
        "a probability from 0 to 1",
        "",
        "chance that a record is followed by a bad copy (`dq=bad:<kind>`)",
        |s, v| s.faults.p_bad_record = probability(v)?
    ),
    field!(
        "faults.bad_wire_share",
        "BAD_RECORD_WIRE_SHARE",
        "a probability from 0 to 1",
        "",
        "share of bad records that are wire-level poison pills rather than semantic",
        |s, v| s.faults.bad_wire_share = probability(v)?
    ),
    field!(
        "faults.p_duplicate",
        "P_DUPLICATE",
        "a probability from 0 to 1",
        "",
        "chance that a recent record is sent again unchanged (`dq=duplicate`)",
        |s, v| s.faults.p_duplicate = probability(v)?
    ),
    field!("weights.inventory", "WEIGHT_INVENTORY_CHG", "a number >= 0",
        "",
        "share of inventory changes (restock, damage, return, transfer, adjustment), >= 0", |s, v| s.weights.inventory =
        non_negative(v)?),
    field!("mutations.p_update_inventory", "P_UPDATE_INVENTORY", "a probability from 0 to 1",
        "",
        "chance per generated record of a background stock adjustment", |s, v| s
        .mutations
        .p_update_inventory = probability(v)?),
    field!("mutations.p_update_price", "P_UPDATE_PRICE", "a probability from 0 to 1",
        "",
        "chance per generated record of a price change", |s, v| s
        .mutations
        .p_update_price = probability(v)?),
    field!("mutations.p_new_customer", "P_NEW_CUSTOMER", "a probability from 0 to 1",
        "",
        "chance that a customer is a new sign-up", |s, v| s
        .mutations
        .p_new_customer = probability(v)?),
    field!("store.seed_warehouses", "SEED_WAREHOUSES", "a whole number from 1 to 999",
        "",
        "warehouses (1..999)", |s, v| s
        .store
        .seed_warehouses = bounded(v, 1, 999)? as usize),
    field!("store.seed_suppliers", "SEED_SUPPLIERS", "a whole number from 1 to 999",
        "",
        "suppliers (1..999)", |s, v| s
        .store
        .seed_suppliers = bounded(v, 1, 999)? as usize),
    field!("store.pg_dsn", "PG_DSN", "a libpq DSN such as host=localhost port=5432 dbname=demo user=postgres, or a postgres:// URL",
        "",
        "libpq DSN or `postgres://` URL (secret: never printed); TLS is not supported yet", true, |s, v| s
        .store
        .pg_dsn = dsn(v)?),
    field!("store.canon_inventory", "CANON_INVENTORY", "auto, postgres or kafka",
        "",
        "`postgres` (the table is the truth; effects and records committed together through an outbox), `kafka` (the topic is the truth; the ledger is rebuilt from it at start); `auto` = postgres with `STORE=postgres`. See [The canonical store](canonical-store.md#the-canonical-store-crashes-and-restarts)", |s, v| s
        .store
        .canon_inventory = CanonInventory::parse(v).ok_or("unknown inventory canon")?),
    field!("store.pg_reconnect_timeout", "PG_RECONNECT_TIMEOUT", "a duration such as 60s or 5m, or 0s (fail at once)",
        "",
        "how long a run rides through a lost Postgres connection (a restart, a failover, a terminated backend, refused connections): the group being committed is retried with backoff while generation waits (the POS simulator asks its price query again while checkouts wait), `/healthz` says `degraded`; past it the run exits 1. `0s` fails at once", |s, v| s
        .store
        .pg_reconnect_timeout = duration_or_zero(v)?),
    field!("store.mirror_inventory_to_db", "MIRROR_INVENTORY_TO_DB", "true or false",
        "",
        "with `CANON_INVENTORY=kafka` and `STORE=postgres`: keep `warehouse_inventory` equal to the topic (caught up at start)", |s, v| s
        .store
        .mirror_inventory_to_db = boolean(v)?),
    field!("topics.inventory_changes", "TOPIC_INVENTORY_CHANGES", "a Kafka topic name",
        "",
        "topic of the inventory changes stream; each stream needs its own", |s, v| s
        .topics
        .inventory_changes = topic(v)?),
    field!("topics.price_changes", "TOPIC_PRICE_CHANGES", "a Kafka topic name",
        "",
        "topic of the price changes stream; each stream needs its own", |s, v| s
        .topics
        .price_changes = topic(v)?),
    field!("weights.store", "WEIGHT_STORE", "a number >= 0 (0 turns the store world off)",
        "",
        "share of store-world steps (a basket is ~12 records, so about a third of all records), >= 0; `0` turns the store world off", |s, v| s
        .weights
        .store = non_negative(v)?),
    field!("stores.seed_stores", "SEED_STORES", "a whole number from 1 to 999",
        "",
        "stores (1..999), in ten cities and time zones (New York, London, Berlin, Chicago, Tokyo, Los Angeles, Paris, Riyadh, Sydney, Madrid)", |s, v| s
        .stores
        .seed_stores = bounded(v, 1, 999)? as usize),
    field!("stores.terminals_per_store", "TERMINALS_PER_STORE", "a whole number from 1 to 99",
        "",
        "terminals per store (1..99)", |s, v| s
        .stores
        .terminals_per_store = bounded(v, 1, 99)? as usize),
    field!("stores.employees_per_store", "EMPLOYEES_PER_STORE", "a whole number from 1 to 999",
        "",
        "employees per store (1..999); a terminal needs an employee not on shift elsewhere to open", |s, v| s
        .stores
        .employees_per_store = bounded(v, 1, 999)? as usize),
    field!("stores.basket_lines_min", "BASKET_LINES_MIN", "a whole number from 1 to 50",
        "",
        "lines per basket, at least (1..50; the Distributed-POS-Concept event generator: 2-4)", |s, v| s
        .stores
        .basket_lines_min = bounded(v, 1, 50)? as usize),
    field!("stores.basket_lines_max", "BASKET_LINES_MAX", "a whole number from 1 to 50",
        "",
        "and at most (>= `BASKET_LINES_MIN`)", |s, v| s
        .stores
        .basket_lines_max = bounded(v, 1, 50)? as usize),
    field!("stores.p_identified_customer", "P_IDENTIFIED_CUSTOMER", "a probability from 0 to 1",
        "",
        "share of baskets naming a customer (an existing user, or a sign-up inserted first); the rest have `customer_id` null", |s, v| s
        .stores
        .p_identified_customer = probability(v)?),
    field!("stores.refund_probability", "REFUND_PROBABILITY", "a probability from 0 to 1",
        "",
        "chance per transaction that its store also refunds part of one line of an earlier transaction (the realtime-retail-pipeline producer's name), so refunds are about this share of transactions", |s, v| s
        .stores
        .refund_probability = probability(v)?),
    field!("stores.refund_delay_min", "REFUND_DELAY_MIN", "a duration such as 10m",
        "",
        "a refund names a transaction of its store paid at least this long before (event time)", |s, v| s
        .stores
        .refund_delay_min = duration(v)?),
    field!("stores.refund_delay_max", "REFUND_DELAY_MAX", "a duration such as 3d",
        "",
        "and at most this long (>= `REFUND_DELAY_MIN`): the refundable window, rebuilt at start from the tables (Postgres-canonical) or the topics (Kafka-canonical)", |s, v| s
        .stores
        .refund_delay_max = duration(v)?),
    field!(
        "stores.timezones",
        "STORE_TIMEZONES",
        "comma-separated IANA time zones such as Europe/Berlin,America/New_York, given to the stores in turn (empty: ten built-in cities)",
        "",
        "comma-separated IANA zones given to the stores in turn, e.g. `Europe/Berlin,America/New_York` (a built-in city of that zone, or one named after it with 10% tax); empty: the ten cities of `SEED_STORES`. An unknown zone exits 2",
        |s, v| s.stores.timezones = time_zones(v)?
    ),
    field!(
        "stores.hours",
        "STORE_HOURS",
        "local opening and closing time HH:MM-HH:MM with opening before closing, such as 08:00-21:00, or varied",
        "",
        "`HH:MM-HH:MM` local opening and closing time of every store (opening before closing, else exit 2); `varied`: each store opens 07-10 and closes 19-22",
        |s, v| s.stores.hours = opening_hours(v)?
    ),
    field!("stores.replenish_lead_time", "REPLENISH_LEAD_TIME", "a duration such as 30m",
        "",
        "from a restock alert to its replenishment (a store receives at its next opening)", |s, v| s
        .stores
        .replenish_lead_time = duration(v)?),
    field!("topics.pos_events", "TOPIC_POS_EVENTS", "a Kafka topic name",
        "",
        "topic of the pos events stream; each stream needs its own", |s, v| s
        .topics
        .pos_events = topic(v)?),
    field!("topics.pos_transactions", "TOPIC_POS_TRANSACTIONS", "a Kafka topic name",
        "",
        "topic of the pos transactions stream; each stream needs its own", |s, v| s
        .topics
        .pos_transactions = topic(v)?),
    field!("topics.refunds", "TOPIC_REFUNDS", "a Kafka topic name",
        "",
        "topic of the refunds stream; each stream needs its own", |s, v| s
        .topics
        .refunds = topic(v)?),
    field!("topics.store_inventory_changes", "TOPIC_STORE_INVENTORY_CHANGES", "a Kafka topic name",
        "",
        "topic of the store inventory changes stream; each stream needs its own", |s, v| s
        .topics
        .store_inventory_changes = topic(v)?),
    field!("topics.restock_alerts", "TOPIC_RESTOCK_ALERTS", "a Kafka topic name",
        "",
        "topic of the restock alerts stream; each stream needs its own", |s, v| s
        .topics
        .restock_alerts = topic(v)?),
    field!("topics.foot_traffic", "TOPIC_FOOT_TRAFFIC", "a Kafka topic name",
        "",
        "topic of the foot traffic stream; each stream needs its own", |s, v| s
        .topics
        .foot_traffic = topic(v)?),
    field!("topics.shelf_events", "TOPIC_SHELF_EVENTS", "a Kafka topic name",
        "",
        "topic of the shelf events stream; each stream needs its own", |s, v| s
        .topics
        .shelf_events = topic(v)?),
    field!("topics.runs", "TOPIC_RUNS", "a Kafka topic name",
        "",
        "one JSON record per run start (`target`, `run`, `seed`, `version`, keyed by `target`): the run numbers of a Kafka target (1 partition); a target is its topic set, so topic sets can share one register", |s, v| s
        .topics
        .runs = topic(v)?),
    field!(
        "weights.orders",
        "WEIGHT_ORDERS",
        "a number >= 0",
        "",
        "share of order chains, >= 0 (weights are normalised)",
        |s, v| s.weights.orders = non_negative(v)?
    ),
    field!(
        "weights.interactions",
        "WEIGHT_INTERACTIONS",
        "a number >= 0",
        "",
        "share of customer interactions, >= 0",
        |s, v| s.weights.interactions = non_negative(v)?
    ),
    field!(
        "orders.p_order_has_payment",
        "P_ORDER_HAS_PAYMENT",
        "a probability from 0 to 1",
        "",
        "probability 0..1 that an order is paid (10 ms - 2 s later)",
        |s, v| s.orders.p_order_has_payment = probability(v)?
    ),
    field!(
        "orders.p_order_has_shipment",
        "P_ORDER_HAS_SHIPMENT",
        "a probability from 0 to 1",
        "",
        "probability 0..1 that a `SETTLED` payment is shipped (5 - 60 s later)",
        |s, v| s.orders.p_order_has_shipment = probability(v)?
    ),
    field!(
        "interactions.p_new_session",
        "P_NEW_SESSION",
        "a probability from 0 to 1",
        "",
        "probability 0..1 that an interaction opens a new session",
        |s, v| s.interactions.p_new_session = probability(v)?
    ),
    field!(
        "interactions.session_cache_size",
        "SESSION_CACHE_SIZE",
        "a whole number >= 1",
        "",
        "open sessions kept (LRU)",
        |s, v| s.interactions.session_cache_size = positive(v)? as usize
    ),
    field!("store.kind", "STORE", "memory or postgres",
        "--store",
        "`memory` (generated from the seed) or `postgres` (`PG_DSN`)", |s, v| s.store.kind =
        StoreKind::parse(v).ok_or("unknown store")?),
    field!(
        "store.seed_users",
        "SEED_USERS",
        "a whole number >= 1",
        "",
        "users in the reference data; most live in a store's city (see [Who shops where](store-world.md#who-shops-where))",
        |s, v| s.store.seed_users = positive(v)? as usize
    ),
    field!(
        "store.seed_products",
        "SEED_PRODUCTS",
        "a whole number >= 1",
        "",
        "products in the reference data",
        |s, v| s.store.seed_products = positive(v)? as usize
    ),
    field!(
        "topics.orders",
        "TOPIC_ORDERS",
        "a Kafka topic name",
        "",
        "topic names; each stream needs its own",
        |s, v| s.topics.orders = topic(v)?
    ),
    field!(
        "topics.payments",
        "TOPIC_PAYMENTS",
        "a Kafka topic name",
        "",
        "topic of the payments stream; each stream needs its own",
        |s, v| s.topics.payments = topic(v)?
    ),
    field!(
        "topics.shipments",
        "TOPIC_SHIPMENTS",
        "a Kafka topic name",
        "",
        "topic of the shipments stream; each stream needs its own",
        |s, v| s.topics.shipments = topic(v)?
    ),
    field!(
        "topics.customer_interactions",
        "TOPIC_CUSTOMER_INTERACTIONS",
        "a Kafka topic name",
        "",
        "topic of the customer interactions stream; each stream needs its own",
        |s, v| s.topics.customer_interactions = topic(v)?
    ),
    field!(
        "topics.partitions",
        "TOPIC_PARTITIONS",
        "a whole number from 1 to 10000",
        "--partitions",
        "partitions of topics retailgen creates (1..10000)",
        |s, v| s.topics.partitions = bounded(v, 1, 10_000)?
    ),
    field!(
        "topics.replication_factor",
        "TOPIC_REPLICATION_FACTOR",
        "a whole number from 1 to 32",
        "",
        "replication of topics retailgen creates (1..32)",
        |s, v| s.topics.replication_factor = bounded(v, 1, 32)?
    ),
    // The pos_producer.py POS simulator's name, applied before KAFKA_BOOTSTRAP so that one wins when both are set.
    field!(
        "kafka.broker",
        "KAFKA_BROKER",
        "host:port[,host:port...] (an alias of KAFKA_BOOTSTRAP), or empty",
        "",
        "the `pos_producer.py` POS simulator's name for `KAFKA_BOOTSTRAP` (that one wins if both are set)",
        |s, v| if let Some(b) = optional(v, "", bootstrap)? {
            s.kafka.bootstrap = b
        }
    ),
    field!(
        "kafka.bootstrap",
        "KAFKA_BOOTSTRAP",
        "host:port[,host:port...]",
        "",
        "`host:port[,host:port...]`",
        |s, v| s.kafka.bootstrap = bootstrap(v)?
    ),
    field!(
        "kafka.security_protocol",
        "KAFKA_SECURITY_PROTOCOL",
        "plaintext, ssl, sasl_plaintext or sasl_ssl",
        "",
        "`plaintext`, `ssl`, `sasl_plaintext`, `sasl_ssl`",
        |s, v| s.kafka.security_protocol =
            one_of(v, &["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"])?
    ),
    field!(
        "kafka.sasl_mechanism",
        "KAFKA_SASL_MECHANISM",
        "empty, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
        "",
        "`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `OAUTHBEARER`",
        |s, v| s.kafka.sasl_mechanism = sasl_mechanism(v)?
    ),
    field!(
        "kafka.sasl_username",
        "KAFKA_SASL_USERNAME",
        "any text",
        "",
        "SASL user name (with `KAFKA_SASL_MECHANISM`)",
        |s, v| s.kafka.sasl_username = v.to_owned()
    ),
    field!(
        "kafka.sasl_password",
        "KAFKA_SASL_PASSWORD",
        "any text",
        "",
        "secret: never printed",
        true,
        |s, v| s.kafka.sasl_password = Secret::new(v)
    ),
    field!(
        "kafka.flush_timeout",
        "KAFKA_FLUSH_TIMEOUT",
        "a duration such as 30s",
        "",
        "how long the final flush waits for acknowledgements",
        |s, v| s.kafka.flush_timeout = duration(v)?
    ),
    field!(
        "kafka.transactions",
        "KAFKA_TRANSACTIONS",
        "auto, on or off",
        "",
        "Kafka-canonical crash consistency: `on` commits each ~100 ms of groups in a Kafka transaction (the cluster must support them), `off` holds each record back until what it names is acknowledged (a barrier), `auto` uses transactions where the cluster offers them, else the barrier",
        |s, v| s.kafka.transactions = Transactions::parse(v).ok_or("unknown transactions mode")?
    ),
    field!(
        "registry.url",
        "SCHEMA_REGISTRY_URL",
        "an http:// or https:// URL",
        "",
        "`http(s)://host:port`; credentials in the URL move to basic auth and are never printed",
        true,
        |s, v| registry_url(s, v)?
    ),
    field!(
        "registry.basic_auth_user_info",
        "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO",
        "empty, or user:password",
        "",
        "`user:password` (secret)",
        true,
        |s, v| user_info(s, v)?
    ),
    field!(
        "registry.timeout",
        "SCHEMA_REGISTRY_TIMEOUT",
        "a duration such as 10s",
        "",
        "per request",
        |s, v| s.registry.timeout = duration(v)?
    ),
    field!(
        "simulator.foot_topic",
        "FOOT_TOPIC",
        "a Kafka topic name, or empty (the TOPIC_FOOT_TRAFFIC topic)",
        "",
        "sessions to read (empty: the `TOPIC_FOOT_TRAFFIC` topic)",
        |s, v| s.simulator.foot_topic = optional(v, "", topic)?
    ),
    field!(
        "simulator.shelf_topic",
        "SHELF_TOPIC",
        "a Kafka topic name, or empty (the TOPIC_SHELF_EVENTS topic)",
        "",
        "shelf events to read (empty: the `TOPIC_SHELF_EVENTS` topic)",
        |s, v| s.simulator.shelf_topic = optional(v, "", topic)?
    ),
    field!(
        "simulator.pos_topic",
        "POS_TOPIC",
        "a Kafka topic name",
        "",
        "where transactions go (subject `<POS_TOPIC>-value`)",
        |s, v| s.simulator.pos_topic = topic(v)?
    ),
    field!(
        "simulator.group_id_foot",
        "GROUP_ID_FOOT",
        "a consumer group id",
        "",
        "consumer group of the sessions",
        |s, v| s.simulator.group_id_foot = non_empty(v)?
    ),
    field!(
        "simulator.group_id_shelf",
        "GROUP_ID_SHELF",
        "a consumer group id",
        "",
        "consumer group of the shelf events",
        |s, v| s.simulator.group_id_shelf = non_empty(v)?
    ),
    field!(
        "simulator.force_checkout_if_empty",
        "FORCE_CHECKOUT_IF_EMPTY",
        "1 or 0 (true or false)",
        "",
        "`1` = a transaction for empty carts too",
        |s, v| s.simulator.force_checkout_if_empty = boolean(v)?
    ),
    field!(
        "simulator.max_session_age",
        "MAX_SESSION_AGE_SEC",
        "whole seconds >= 1",
        "",
        "a session open this long (processing time) checks out anyway (`forced`)",
        |s, v| s.simulator.max_session_age = std::time::Duration::from_secs(positive(v)?)
    ),
    field!(
        "simulator.lateness",
        "WATERMARK_LATENESS",
        "a duration such as 2m",
        "",
        "how late in event time a shelf event may come and still count",
        |s, v| s.simulator.lateness = duration(v)?
    ),
    field!(
        "simulator.start",
        "START_OFFSET",
        "earliest or latest",
        "",
        "`earliest` or `latest`: where both groups start without committed offsets",
        |s, v| s.simulator.start = StartFrom::parse(v).ok_or("unknown start position")?
    ),
    field!(
        "simulator.store_parquet",
        "STORE_PARQUET",
        "a parquet file with shelf_id and item_price, or empty (prices from PG_DSN)",
        "",
        "pos_producer.py's `store_inventory_final.parquet` (`shelf_id`, `item_price`); empty = prices from `PG_DSN`",
        |s, v| s.simulator.store_parquet = optional(v, "", non_empty)?.map(Into::into)
    ),
    field!(
        "simulator.discount_parquet",
        "DISCOUNT_PARQUET_PATH",
        "a parquet file with shelf_id, discount and week, or empty (no discounts)",
        "",
        "pos_producer.py's `all_discounts.parquet` (`shelf_id`, `discount`, `week`)",
        |s, v| s.simulator.discount_parquet = optional(v, "", non_empty)?.map(Into::into)
    ),
    field!(
        "simulator.commit_interval",
        "COMMIT_INTERVAL",
        "a duration such as 1s",
        "",
        "how often acknowledged progress is committed",
        |s, v| s.simulator.commit_interval = duration(v)?
    ),
];

/// Environment variables of the form `KAFKA_PROPERTY_SSL_CA_LOCATION` set librdkafka's `ssl.ca.location`.
pub const KAFKA_PROPERTY_PREFIX: &str = "KAFKA_PROPERTY_";

pub fn by_key(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.key == key)
}
