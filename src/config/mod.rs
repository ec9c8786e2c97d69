//! Settings: the embedded `config/default.toml`, then an optional TOML file, then environment
//! variables, then CLI flags; validated once at start-up, with errors that name the setting.

mod dsn;
mod fields;
mod model;
mod parse;
pub mod reference;
mod secret;

use std::collections::BTreeMap;
use std::path::Path;

pub use dsn::{describe_dsn, dsn_password};
pub use fields::{by_key, Field, FIELDS, KAFKA_PROPERTY_PREFIX};
pub use model::*;
pub use secret::{redact, Secret};

/// The defaults, compiled into the binary so `retailgen run` needs no files at all.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// A setting with an invalid value: names the setting, where it came from and what is valid.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// A value given on the command line: the flag as typed, the setting's TOML key, the value.
pub type CliOverride = (&'static str, &'static str, String);

/// Merges every layer into validated settings. `env` is the process environment (passed in for tests).
pub fn load(
    file: Option<&Path>,
    env: &BTreeMap<String, String>,
    cli: &[CliOverride],
) -> Result<Settings, ConfigError> {
    let mut s = Settings::default();
    apply_toml(&mut s, DEFAULT_TOML, "the embedded config/default.toml")?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError(format!("cannot read config file {}: {e}", path.display())))?;
        apply_toml(&mut s, &text, &path.display().to_string())?;
    }
    apply_env(&mut s, env)?;
    for (flag, key, value) in cli {
        let field = by_key(key).expect("CLI flags map to known settings");
        apply(
            &mut s,
            field,
            value,
            &format!("{flag} (command line)"),
            flag,
        )?;
    }
    validate(&s)?;
    Ok(s)
}

fn apply(
    s: &mut Settings,
    f: &Field,
    value: &str,
    origin: &str,
    name: &str,
) -> Result<(), ConfigError> {
    let shown = match f.secret {
        true => "(secret)".to_owned(),
        false => value.to_owned(),
    };
    s.given.insert(f.key, shown);
    (f.apply)(s, value).map_err(|why| {
        let shown = if f.secret {
            " (value hidden)".to_owned()
        } else {
            format!("={value:?}")
        };
        ConfigError(format!(
            "invalid {name}{shown} from {origin}: {why}; valid: {}",
            f.valid
        ))
    })
}

fn apply_env(s: &mut Settings, env: &BTreeMap<String, String>) -> Result<(), ConfigError> {
    for f in FIELDS {
        if let Some(v) = env.get(f.env) {
            apply(s, f, v, "the environment", f.env)?;
        }
    }
    // A Kubernetes Indexed Job numbers its pods: the shard, unless SHARD_INDEX says otherwise.
    if let (None, Some(v)) = (s.shard.index, env.get("JOB_COMPLETION_INDEX")) {
        let f = by_key("shard.index").expect("a known setting");
        apply(s, f, v, "the environment", "JOB_COMPLETION_INDEX")?;
    }
    for (name, value) in env {
        if let Some(prop) = name.strip_prefix(KAFKA_PROPERTY_PREFIX) {
            let key = prop.to_ascii_lowercase().replace('_', ".");
            if key.is_empty() {
                return Err(ConfigError(format!(
                    "{name} names no librdkafka property; valid: {KAFKA_PROPERTY_PREFIX}<PROPERTY>, e.g. {KAFKA_PROPERTY_PREFIX}SSL_CA_LOCATION"
                )));
            }
            s.kafka.properties.insert(key, value.clone());
        }
    }
    Ok(())
}

fn apply_toml(s: &mut Settings, text: &str, origin: &str) -> Result<(), ConfigError> {
    let table: toml::Table = text
        .parse()
        .map_err(|e| ConfigError(format!("{origin} is not valid TOML: {e}")))?;
    let mut flat = Vec::new();
    flatten("", &table, &mut flat, s, origin)?;
    for (key, value) in flat {
        let f = by_key(&key).ok_or_else(|| {
            let keys: Vec<&str> = FIELDS.iter().map(|f| f.key).collect();
            ConfigError(format!(
                "unknown setting `{key}` in {origin}; valid keys: {}, and kafka.properties.<librdkafka property>",
                keys.join(", ")
            ))
        })?;
        apply(s, f, &value, origin, &key)?;
    }
    Ok(())
}

fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut Vec<(String, String)>,
    s: &mut Settings,
    origin: &str,
) -> Result<(), ConfigError> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) if key == "kafka.properties" => {
                for (name, value) in t {
                    let value = scalar(value).ok_or_else(|| {
                        ConfigError(format!("kafka.properties.{name} in {origin} must be a string, number or boolean"))
                    })?;
                    s.kafka.properties.insert(name.clone(), value);
                }
            }
            toml::Value::Table(t) => flatten(&key, t, out, s, origin)?,
            other => {
                let value = scalar(other).ok_or_else(|| {
                    ConfigError(format!(
                        "{key} in {origin} must be a string, number or boolean"
                    ))
                })?;
                out.push((key, value));
            }
        }
    }
    Ok(())
}

fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

fn validate(s: &Settings) -> Result<(), ConfigError> {
    let w = &s.weights;
    if w.orders + w.interactions + w.inventory + w.store <= 0.0 {
        return Err(ConfigError(
            "WEIGHT_ORDERS, WEIGHT_INTERACTIONS, WEIGHT_INVENTORY_CHG and WEIGHT_STORE are all 0: at least one weight must be > 0 (weights are normalised)".into(),
        ));
    }
    validate_store(s)?;
    validate_store_world(s)?;
    if s.kafka.security_protocol.starts_with("sasl") && s.kafka.sasl_mechanism.is_empty() {
        return Err(ConfigError(format!(
            "KAFKA_SASL_MECHANISM is empty but KAFKA_SECURITY_PROTOCOL={}; valid: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER",
            s.kafka.security_protocol
        )));
    }
    if s.diurnal.min > s.diurnal.max {
        return Err(ConfigError(format!(
            "DIURNAL_MIN={} is above DIURNAL_MAX={}: valid is 0 < DIURNAL_MIN <= DIURNAL_MAX (both 1 turns the curve off)",
            s.diurnal.min, s.diurnal.max
        )));
    }
    if s.run.pacing == PacingKind::Gaps && s.run.min_delta_secs > s.run.max_delta_secs {
        return Err(ConfigError(format!(
            "MIN_DELTA={} is above MAX_DELTA={}: valid is 0 <= MIN_DELTA <= MAX_DELTA seconds",
            s.run.min_delta_secs, s.run.max_delta_secs
        )));
    }
    if s.run.pacing == PacingKind::Gaps && s.run.max_delta_secs <= 0.0 {
        return Err(ConfigError(
            "MAX_DELTA is 0 with PACING=gaps: valid is a gap above 0 seconds".into(),
        ));
    }
    validate_span(s)?;
    validate_manifest(s)?;
    let shard = s.shard.shard();
    if shard.index >= shard.count {
        return Err(ConfigError(format!(
            "SHARD_INDEX={} (or JOB_COMPLETION_INDEX) is not below SHARD_COUNT={}; valid: 0 to {}",
            shard.index,
            shard.count,
            shard.count - 1
        )));
    }
    validate_shard_share(s, shard)?;
    let topics = topic_settings(s);
    for (i, (a, ta)) in topics.iter().enumerate() {
        if let Some((b, _)) = topics[i + 1..].iter().find(|(_, tb)| tb == ta) {
            return Err(ConfigError(format!(
                "{a} and {b} are both {ta:?}: each stream needs its own topic (its subject holds one record schema)"
            )));
        }
    }
    Ok(())
}

/// Every shard owns at least one of what its weighted streams need (shard `i` owns the
/// warehouses, stores and products whose index is `i` modulo `SHARD_COUNT`): a shard that owns
/// none would run without ever producing those streams.
fn validate_shard_share(
    s: &Settings,
    shard: crate::domain::reference::shard::Shard,
) -> Result<(), ConfigError> {
    if shard.count <= 1 {
        return Ok(());
    }
    let w = &s.weights;
    let needs = [
        (
            "SEED_WAREHOUSES",
            s.store.seed_warehouses,
            w.orders > 0.0 || w.inventory > 0.0,
            "orders and warehouse stock changes (WEIGHT_ORDERS, WEIGHT_INVENTORY_CHG)",
        ),
        (
            "SEED_STORES",
            s.stores.seed_stores,
            w.store > 0.0,
            "the store world (WEIGHT_STORE)",
        ),
        ("SEED_PRODUCTS", s.store.seed_products, true, "every stream"),
    ];
    for (setting, n, needed, what) in needs {
        if needed && n < shard.count as usize {
            return Err(ConfigError(format!(
                "SHARD_COUNT={} with {setting}={n}: shards {n} to {} would own none of them and \
                 never produce {what}; valid: {setting} >= SHARD_COUNT (raise {setting} to at least {}, \
                 or lower SHARD_COUNT to at most {n})",
                shard.count,
                shard.count - 1,
                shard.count
            )));
        }
    }
    Ok(())
}

/// The id of the target a run writes to: its topic set (the 13 stream topics' names), so runs
/// of different topic sets can share one run register (`TOPIC_RUNS`) without numbering each
/// other's runs. 16 hex digits of an FNV-1a hash.
pub fn target_id(s: &Settings) -> String {
    let topics = topic_settings(s);
    topic_set_id(topics[..topics.len() - 1].iter().map(|(_, t)| *t))
}

/// [`target_id`] of the default topic names (what run records without a target belong to).
pub fn default_target_id() -> String {
    let mut defaults = Settings::default();
    apply_toml(
        &mut defaults,
        DEFAULT_TOML,
        "the embedded config/default.toml",
    )
    .expect("the embedded defaults load");
    target_id(&defaults)
}

fn topic_set_id<'a>(topics: impl Iterator<Item = &'a str>) -> String {
    let bytes = topics.flat_map(|t| t.bytes().chain([0]));
    format!("{:016x}", crate::domain::ids::fnv1a(bytes))
}

/// Each topic setting's name and value: the streams' topics in `Stream` order, then the runs topic.
pub fn topic_settings(s: &Settings) -> [(&'static str, &str); 14] {
    [
        ("TOPIC_ORDERS", s.topics.orders.as_str()),
        ("TOPIC_PAYMENTS", s.topics.payments.as_str()),
        ("TOPIC_SHIPMENTS", s.topics.shipments.as_str()),
        (
            "TOPIC_CUSTOMER_INTERACTIONS",
            s.topics.customer_interactions.as_str(),
        ),
        (
            "TOPIC_INVENTORY_CHANGES",
            s.topics.inventory_changes.as_str(),
        ),
        ("TOPIC_PRICE_CHANGES", s.topics.price_changes.as_str()),
        ("TOPIC_POS_EVENTS", s.topics.pos_events.as_str()),
        ("TOPIC_POS_TRANSACTIONS", s.topics.pos_transactions.as_str()),
        ("TOPIC_REFUNDS", s.topics.refunds.as_str()),
        (
            "TOPIC_STORE_INVENTORY_CHANGES",
            s.topics.store_inventory_changes.as_str(),
        ),
        ("TOPIC_RESTOCK_ALERTS", s.topics.restock_alerts.as_str()),
        ("TOPIC_FOOT_TRAFFIC", s.topics.foot_traffic.as_str()),
        ("TOPIC_SHELF_EVENTS", s.topics.shelf_events.as_str()),
        ("TOPIC_RUNS", s.topics.runs.as_str()),
    ]
}

/// The manifest's directory must exist: a run that cannot write it is refused before it starts.
fn validate_manifest(s: &Settings) -> Result<(), ConfigError> {
    let Some(path) = &s.ops.manifest else {
        return Ok(());
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(ConfigError(format!(
            "MANIFEST_PATH={} (--manifest) is in {}, which is not an existing directory; valid: a file path in an existing directory",
            path.display(),
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(ConfigError(format!(
            "MANIFEST_PATH={} (--manifest) is a directory; valid: a file path in an existing directory",
            path.display()
        )));
    }
    Ok(())
}

fn validate_store(s: &Settings) -> Result<(), ConfigError> {
    let memory = s.store.kind == StoreKind::Memory;
    if memory && s.store.canon_inventory == CanonInventory::Postgres {
        return Err(ConfigError(
            "CANON_INVENTORY=postgres needs STORE=postgres (--store postgres); valid with STORE=memory: auto or kafka".into(),
        ));
    }
    let postgres_canon = match s.store.canon_inventory {
        CanonInventory::Postgres => true,
        CanonInventory::Kafka => false,
        CanonInventory::Auto => !memory,
    };
    if s.store.mirror_inventory_to_db && (memory || postgres_canon) {
        return Err(ConfigError(
            "MIRROR_INVENTORY_TO_DB=true mirrors a Kafka-canonical ledger into Postgres: valid only with STORE=postgres and CANON_INVENTORY=kafka".into(),
        ));
    }
    Ok(())
}

fn validate_store_world(s: &Settings) -> Result<(), ConfigError> {
    let w = &s.stores;
    if w.basket_lines_min > w.basket_lines_max {
        return Err(ConfigError(format!(
            "BASKET_LINES_MIN={} is above BASKET_LINES_MAX={}: valid is 1 <= BASKET_LINES_MIN <= BASKET_LINES_MAX <= 50",
            w.basket_lines_min, w.basket_lines_max
        )));
    }
    if w.refund_delay_min > w.refund_delay_max {
        return Err(ConfigError(format!(
            "REFUND_DELAY_MIN={:?} is above REFUND_DELAY_MAX={:?}: valid is REFUND_DELAY_MIN <= REFUND_DELAY_MAX",
            w.refund_delay_min, w.refund_delay_max
        )));
    }
    Ok(())
}

fn validate_span(s: &Settings) -> Result<(), ConfigError> {
    match (s.run.from_ms, s.run.to_ms) {
        (None, Some(_)) => Err(ConfigError(
            "SIM_TO (--to) is set without SIM_FROM (--from): valid is --from alone or --from T1 --to T2".into(),
        )),
        (Some(from), Some(to)) if from >= to => Err(ConfigError(
            "SIM_FROM (--from) is not before SIM_TO (--to): valid is --from T1 --to T2 with T1 < T2".into(),
        )),
        (Some(_), _) if s.run.pacing == PacingKind::Rate && s.run.target_eps <= 0.0 => Err(ConfigError(
            "TARGET_EPS is 0 with a simulated clock (--from): valid is a rate > 0, the records per second of event time".into(),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
