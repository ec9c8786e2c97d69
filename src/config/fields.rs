//! The one table of settings: TOML key, environment variable, valid values and how to apply each.

use std::time::Duration;

use super::model::{CanonInventory, PacingKind, Settings, SinkKind, StoreKind};
use super::secret::Secret;

/// One configurable setting.
pub struct Field {
    /// Dotted key in the TOML files, e.g. `weights.orders`.
    pub key: &'static str,
    /// Environment variable, named as in the reference documents where they name one.
    pub env: &'static str,
    /// What is valid, as shown to the user in errors and the README.
    pub valid: &'static str,
    /// Secret values are never echoed back.
    pub secret: bool,
    pub apply: fn(&mut Settings, &str) -> Result<(), String>,
}

macro_rules! field {
    ($key:literal, $env:literal, $valid:literal, |$s:ident, $v:ident| $body:expr) => {
        field!($key, $env, $valid, false, |$s, $v| $body)
    };
    ($key:literal, $env:literal, $valid:literal, $secret:literal, |$s:ident, $v:ident| $body:expr) => {
        Field {
            key: $key,
            env: $env,
            valid: $valid,
            secret: $secret,
            apply: |$s: &mut Settings, $v: &str| {
                $body;
                Ok(())
            },
        }
    };
}

pub const FIELDS: &[Field] = &[
    field!("run.sink", "SINK", "stdout, kafka, file or null", |s, v| {
        s.run.sink = SinkKind::parse(v).ok_or("unknown sink")?
    }),
    field!(
        "run.target_eps",
        "TARGET_EPS",
        "a number >= 0 (0 = unthrottled)",
        |s, v| s.run.target_eps = non_negative(v)?
    ),
    field!(
        "run.seed",
        "RANDOM_SEED",
        "an integer from 0 to 18446744073709551615, or random",
        |s, v| s.run.seed = optional(v, "random", unsigned)?
    ),
    field!(
        "run.count",
        "RECORD_COUNT",
        "a whole number >= 1, or unlimited",
        |s, v| s.run.count = optional(v, "unlimited", positive)?
    ),
    field!(
        "run.duration",
        "RUN_DURATION",
        "a duration such as 10s, 5m or 2h, or unlimited",
        |s, v| s.run.duration = optional(v, "unlimited", duration)?
    ),
    field!("run.out_dir", "OUT_DIR", "a directory path", |s, v| s
        .run
        .out_dir =
        non_empty(v)?.into()),
    field!(
        "run.max_pending",
        "MAX_PENDING",
        "a whole number >= 1",
        |s, v| s.run.max_pending = positive(v)? as usize
    ),
    field!(
        "run.burst",
        "BURST",
        "a whole number of records >= 1, or auto (one second's worth)",
        |s, v| s.run.burst =
            optional(v, "auto", positive)?.map(|b| b.min(u64::from(u32::MAX)) as u32)
    ),
    field!("run.pacing", "PACING", "rate or gaps", |s, v| s
        .run
        .pacing =
        PacingKind::parse(v).ok_or("unknown pacing")?),
    field!("run.min_delta", "MIN_DELTA", "seconds >= 0", |s, v| s
        .run
        .min_delta_secs =
        non_negative(v)?),
    field!("run.max_delta", "MAX_DELTA", "seconds >= 0", |s, v| s
        .run
        .max_delta_secs =
        non_negative(v)?),
    field!(
        "run.from",
        "SIM_FROM",
        "a time such as 2024-01-01T00:00:00Z or 2024-01-01, or unset",
        |s, v| s.run.from_ms = optional(v, "unset", instant)?
    ),
    field!(
        "run.to",
        "SIM_TO",
        "a time such as 2024-01-02T00:00:00Z or 2024-01-02, or unset",
        |s, v| s.run.to_ms = optional(v, "unset", instant)?
    ),
    field!("diurnal.min", "DIURNAL_MIN", "a number > 0", |s, v| s
        .diurnal
        .min =
        positive_number(v)?),
    field!("diurnal.max", "DIURNAL_MAX", "a number > 0", |s, v| s
        .diurnal
        .max =
        positive_number(v)?),
    field!(
        "diurnal.peak_hour",
        "DIURNAL_PEAK_HOUR",
        "an hour from 0 to 24 (exclusive), fractions allowed",
        |s, v| s.diurnal.peak_hour = hour(v)?
    ),
    field!(
        "diurnal.timezone",
        "DIURNAL_TZ",
        "an IANA time zone such as UTC, Europe/Berlin or America/New_York",
        |s, v| s.diurnal.timezone = v
            .trim()
            .parse()
            .map_err(|_| "unknown time zone".to_owned())?
    ),
    field!(
        "diurnal.weekdays",
        "DIURNAL_WEEKDAYS",
        "empty, or 7 comma-separated numbers > 0 for Monday..Sunday",
        |s, v| s.diurnal.weekdays = weekdays(v)?
    ),
    field!(
        "faults.p_late_event",
        "P_LATE_EVENT",
        "a probability from 0 to 1",
        |s, v| s.faults.p_late_event = probability(v)?
    ),
    field!(
        "faults.max_late_minutes",
        "MAX_LATE_MINUTES",
        "a whole number >= 1",
        |s, v| s.faults.max_late_minutes = positive(v)?.min(u64::from(u32::MAX)) as u32
    ),
    field!(
        "faults.p_bad_record",
        "P_BAD_RECORD",
        "a probability from 0 to 1",
        |s, v| s.faults.p_bad_record = probability(v)?
    ),
    field!(
        "faults.bad_wire_share",
        "BAD_RECORD_WIRE_SHARE",
        "a probability from 0 to 1",
        |s, v| s.faults.bad_wire_share = probability(v)?
    ),
    field!(
        "faults.p_duplicate",
        "P_DUPLICATE",
        "a probability from 0 to 1",
        |s, v| s.faults.p_duplicate = probability(v)?
    ),
    field!("weights.inventory", "WEIGHT_INVENTORY_CHG", "a number >= 0", |s, v| s.weights.inventory =
        non_negative(v)?),
    field!("mutations.p_update_inventory", "P_UPDATE_INVENTORY", "a probability from 0 to 1", |s, v| s
        .mutations
        .p_update_inventory = probability(v)?),
    field!("mutations.p_update_price", "P_UPDATE_PRICE", "a probability from 0 to 1", |s, v| s
        .mutations
        .p_update_price = probability(v)?),
    field!("mutations.p_new_customer", "P_NEW_CUSTOMER", "a probability from 0 to 1", |s, v| s
        .mutations
        .p_new_customer = probability(v)?),
    field!("store.seed_warehouses", "SEED_WAREHOUSES", "a whole number from 1 to 999", |s, v| s
        .store
        .seed_warehouses = bounded(v, 1, 999)? as usize),
    field!("store.seed_suppliers", "SEED_SUPPLIERS", "a whole number from 1 to 999", |s, v| s
        .store
        .seed_suppliers = bounded(v, 1, 999)? as usize),
    field!("store.pg_dsn", "PG_DSN", "a libpq DSN such as host=localhost port=5432 dbname=demo user=postgres, or a postgres:// URL", true, |s, v| s
        .store
        .pg_dsn = dsn(v)?),
    field!("store.canon_inventory", "CANON_INVENTORY", "auto, postgres or kafka", |s, v| s
        .store
        .canon_inventory = CanonInventory::parse(v).ok_or("unknown inventory canon")?),
    field!("store.mirror_inventory_to_db", "MIRROR_INVENTORY_TO_DB", "true or false", |s, v| s
        .store
        .mirror_inventory_to_db = boolean(v)?),
    field!("topics.inventory_changes", "TOPIC_INVENTORY_CHANGES", "a Kafka topic name", |s, v| s
        .topics
        .inventory_changes = topic(v)?),
    field!("topics.price_changes", "TOPIC_PRICE_CHANGES", "a Kafka topic name", |s, v| s
        .topics
        .price_changes = topic(v)?),
    field!(
        "weights.orders",
        "WEIGHT_ORDERS",
        "a number >= 0",
        |s, v| s.weights.orders = non_negative(v)?
    ),
    field!(
        "weights.interactions",
        "WEIGHT_INTERACTIONS",
        "a number >= 0",
        |s, v| s.weights.interactions = non_negative(v)?
    ),
    field!(
        "orders.p_order_has_payment",
        "P_ORDER_HAS_PAYMENT",
        "a probability from 0 to 1",
        |s, v| s.orders.p_order_has_payment = probability(v)?
    ),
    field!(
        "orders.p_order_has_shipment",
        "P_ORDER_HAS_SHIPMENT",
        "a probability from 0 to 1",
        |s, v| s.orders.p_order_has_shipment = probability(v)?
    ),
    field!(
        "interactions.p_new_session",
        "P_NEW_SESSION",
        "a probability from 0 to 1",
        |s, v| s.interactions.p_new_session = probability(v)?
    ),
    field!(
        "interactions.session_cache_size",
        "SESSION_CACHE_SIZE",
        "a whole number >= 1",
        |s, v| s.interactions.session_cache_size = positive(v)? as usize
    ),
    field!("store.kind", "STORE", "memory or postgres", |s, v| s.store.kind =
        StoreKind::parse(v).ok_or("unknown store")?),
    field!(
        "store.seed_users",
        "SEED_USERS",
        "a whole number >= 1",
        |s, v| s.store.seed_users = positive(v)? as usize
    ),
    field!(
        "store.seed_products",
        "SEED_PRODUCTS",
        "a whole number >= 1",
        |s, v| s.store.seed_products = positive(v)? as usize
    ),
    field!(
        "topics.orders",
        "TOPIC_ORDERS",
        "a Kafka topic name",
        |s, v| s.topics.orders = topic(v)?
    ),
    field!(
        "topics.payments",
        "TOPIC_PAYMENTS",
        "a Kafka topic name",
        |s, v| s.topics.payments = topic(v)?
    ),
    field!(
        "topics.shipments",
        "TOPIC_SHIPMENTS",
        "a Kafka topic name",
        |s, v| s.topics.shipments = topic(v)?
    ),
    field!(
        "topics.customer_interactions",
        "TOPIC_CUSTOMER_INTERACTIONS",
        "a Kafka topic name",
        |s, v| s.topics.customer_interactions = topic(v)?
    ),
    field!(
        "topics.partitions",
        "TOPIC_PARTITIONS",
        "a whole number from 1 to 10000",
        |s, v| s.topics.partitions = bounded(v, 1, 10_000)?
    ),
    field!(
        "topics.replication_factor",
        "TOPIC_REPLICATION_FACTOR",
        "a whole number from 1 to 32",
        |s, v| s.topics.replication_factor = bounded(v, 1, 32)?
    ),
    field!(
        "kafka.bootstrap",
        "KAFKA_BOOTSTRAP",
        "host:port[,host:port...]",
        |s, v| s.kafka.bootstrap = bootstrap(v)?
    ),
    field!(
        "kafka.security_protocol",
        "KAFKA_SECURITY_PROTOCOL",
        "plaintext, ssl, sasl_plaintext or sasl_ssl",
        |s, v| s.kafka.security_protocol =
            one_of(v, &["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"])?
    ),
    field!(
        "kafka.sasl_mechanism",
        "KAFKA_SASL_MECHANISM",
        "empty, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
        |s, v| s.kafka.sasl_mechanism = sasl_mechanism(v)?
    ),
    field!(
        "kafka.sasl_username",
        "KAFKA_SASL_USERNAME",
        "any text",
        |s, v| s.kafka.sasl_username = v.to_owned()
    ),
    field!(
        "kafka.sasl_password",
        "KAFKA_SASL_PASSWORD",
        "any text",
        true,
        |s, v| s.kafka.sasl_password = Secret::new(v)
    ),
    field!(
        "kafka.flush_timeout",
        "KAFKA_FLUSH_TIMEOUT",
        "a duration such as 30s",
        |s, v| s.kafka.flush_timeout = duration(v)?
    ),
    field!(
        "registry.url",
        "SCHEMA_REGISTRY_URL",
        "an http:// or https:// URL",
        true,
        |s, v| registry_url(s, v)?
    ),
    field!(
        "registry.basic_auth_user_info",
        "SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO",
        "empty, or user:password",
        true,
        |s, v| user_info(s, v)?
    ),
    field!(
        "registry.timeout",
        "SCHEMA_REGISTRY_TIMEOUT",
        "a duration such as 10s",
        |s, v| s.registry.timeout = duration(v)?
    ),
];

/// Environment variables of the form `KAFKA_PROPERTY_SSL_CA_LOCATION` set librdkafka's `ssl.ca.location`.
pub const KAFKA_PROPERTY_PREFIX: &str = "KAFKA_PROPERTY_";

pub fn by_key(key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.key == key)
}

fn number(v: &str) -> Result<f64, String> {
    let n: f64 = v.trim().parse().map_err(|_| "not a number".to_owned())?;
    if n.is_finite() {
        Ok(n)
    } else {
        Err("not a finite number".into())
    }
}

fn non_negative(v: &str) -> Result<f64, String> {
    let n = number(v)?;
    if n < 0.0 {
        return Err("negative".into());
    }
    Ok(n)
}

fn boolean(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err("not true or false".into()),
    }
}

fn dsn(v: &str) -> Result<Secret, String> {
    v.trim()
        .parse::<tokio_postgres::Config>()
        .map_err(|_| "not a Postgres connection string".to_owned())?;
    Ok(Secret::new(v.trim()))
}

fn positive_number(v: &str) -> Result<f64, String> {
    match number(v)? {
        n if n > 0.0 => Ok(n),
        _ => Err("not above 0".into()),
    }
}

fn hour(v: &str) -> Result<f64, String> {
    match number(v)? {
        h if (0.0..24.0).contains(&h) => Ok(h),
        _ => Err("not an hour of the day".into()),
    }
}

fn weekdays(v: &str) -> Result<Option<[f64; 7]>, String> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    let parts: Vec<f64> = v
        .split(',')
        .map(positive_number)
        .collect::<Result<_, _>>()?;
    let days: [f64; 7] = parts
        .try_into()
        .map_err(|p: Vec<f64>| format!("{} numbers, not 7", p.len()))?;
    Ok(Some(days))
}

/// RFC 3339 (`2024-01-01T00:00:00Z`) or a date (midnight UTC), as ms since the epoch.
fn instant(v: &str) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map(|d| {
            d.and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp_millis()
        })
        .map_err(|_| "not an RFC 3339 time or a YYYY-MM-DD date".into())
}

fn probability(v: &str) -> Result<f64, String> {
    let n = number(v)?;
    if !(0.0..=1.0).contains(&n) {
        return Err("outside 0..1".into());
    }
    Ok(n)
}

fn unsigned(v: &str) -> Result<u64, String> {
    v.trim()
        .parse()
        .map_err(|_| "not a whole number >= 0".to_owned())
}

fn positive(v: &str) -> Result<u64, String> {
    match unsigned(v)? {
        0 => Err("zero".into()),
        n => Ok(n),
    }
}

fn bounded(v: &str, min: i32, max: i32) -> Result<i32, String> {
    let n: i64 = v
        .trim()
        .parse()
        .map_err(|_| "not a whole number".to_owned())?;
    if n < i64::from(min) || n > i64::from(max) {
        return Err("out of range".into());
    }
    Ok(n as i32)
}

fn duration(v: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(v.trim()).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("zero".into());
    }
    Ok(d)
}

/// `word` (or an empty value) means "not set"; anything else must parse.
fn optional<T>(
    v: &str,
    word: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    let t = v.trim();
    if t.is_empty() || t.eq_ignore_ascii_case(word) {
        Ok(None)
    } else {
        parse(t).map(Some)
    }
}

fn non_empty(v: &str) -> Result<String, String> {
    match v.trim() {
        "" => Err("empty".into()),
        t => Ok(t.to_owned()),
    }
}

fn one_of(v: &str, allowed: &[&str]) -> Result<String, String> {
    let t = v.trim().to_ascii_lowercase();
    if allowed.contains(&t.as_str()) {
        Ok(t)
    } else {
        Err("not one of the allowed values".into())
    }
}

fn sasl_mechanism(v: &str) -> Result<String, String> {
    let t = v.trim().to_ascii_uppercase();
    match t.as_str() {
        "" | "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" | "OAUTHBEARER" => Ok(t),
        _ => Err("unknown SASL mechanism".into()),
    }
}

/// Kafka topic names: 1-249 characters of `[a-zA-Z0-9._-]`.
fn topic(v: &str) -> Result<String, String> {
    let t = v.trim();
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if t.is_empty() || t.len() > 249 || !t.chars().all(legal) || t == "." || t == ".." {
        return Err("not a legal topic name (1-249 of a-z A-Z 0-9 . _ -)".into());
    }
    Ok(t.to_owned())
}

fn bootstrap(v: &str) -> Result<String, String> {
    let t = v.trim();
    let ok = !t.is_empty()
        && t.split(',').all(|hp| {
            let hp = hp.trim();
            let hp = hp.rsplit_once("://").map_or(hp, |(_, rest)| rest);
            matches!(hp.rsplit_once(':'), Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok())
        });
    if ok {
        Ok(t.to_owned())
    } else {
        Err("not a list of host:port".into())
    }
}

/// Credentials in the URL (`http://user:pw@host`) move to basic auth, so the URL can be shown.
fn registry_url(s: &mut Settings, v: &str) -> Result<(), String> {
    let mut url = url::Url::parse(v.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("not an http(s) URL with a host".into());
    }
    if !url.username().is_empty() {
        s.registry.username = url.username().to_owned();
        s.registry.password = Secret::new(url.password().unwrap_or_default());
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    s.registry.url = url.as_str().trim_end_matches('/').to_owned();
    Ok(())
}

fn user_info(s: &mut Settings, v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Ok(());
    }
    let (user, password) = v
        .split_once(':')
        .ok_or("missing ':' between user and password")?;
    if user.is_empty() {
        return Err("empty user".into());
    }
    s.registry.username = user.to_owned();
    s.registry.password = Secret::new(password);
    Ok(())
}
