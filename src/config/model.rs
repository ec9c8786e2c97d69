//! The typed settings retailgen runs with, after all layers are merged and validated.

pub use crate::domain::faults::LateMode;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::secret::Secret;

/// Where records go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SinkKind {
    /// JSON lines on stdout, one object per record (`topic`, `key`, `headers`, `value`).
    #[default]
    Stdout,
    /// Kafka, Avro in Confluent wire format, schemas registered in a Schema Registry.
    Kafka,
    /// One Avro Object Container File per topic.
    File,
    /// Encode, count, discard (benchmarks).
    Null,
}

impl SinkKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "stdout" => Some(Self::Stdout),
            "kafka" => Some(Self::Kafka),
            "file" => Some(Self::File),
            "null" => Some(Self::Null),
            _ => None,
        }
    }
}

impl fmt::Display for SinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Stdout => "stdout",
            Self::Kafka => "kafka",
            Self::File => "file",
            Self::Null => "null",
        })
    }
}

/// Where reference data (users, products, stock...) lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreKind {
    /// Generated in memory from the seed; nothing external needed.
    #[default]
    Memory,
    /// The eight tables in Postgres (`PG_DSN`), seeded when empty and kept changing.
    Postgres,
}

/// Which copy of the stock is the truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CanonInventory {
    /// Postgres with `STORE=postgres`, else the in-memory ledger.
    #[default]
    Auto,
    /// `warehouse_inventory` rows, changed atomically; events report what the rows went through.
    Postgres,
    /// An in-memory ledger initialised from the seeded stock; the topic is its event log.
    Kafka,
}

impl CanonInventory {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "postgres" => Some(Self::Postgres),
            "kafka" => Some(Self::Kafka),
            _ => None,
        }
    }
}

impl StoreKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "memory" => Some(Self::Memory),
            "postgres" => Some(Self::Postgres),
            _ => None,
        }
    }
}

impl fmt::Display for StoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Memory => "memory",
            Self::Postgres => "postgres",
        })
    }
}

/// How records are spaced in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PacingKind {
    /// `TARGET_EPS` records per second through a capped token bucket, times the diurnal curve.
    #[default]
    Rate,
    /// One record at a time, a random gap between `MIN_DELTA` and `MAX_DELTA` seconds apart.
    Gaps,
}

impl PacingKind {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "rate" => Some(Self::Rate),
            "gaps" => Some(Self::Gaps),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub run: RunSettings,
    pub mutations: MutationSettings,
    pub diurnal: DiurnalSettings,
    pub faults: FaultSettings,
    pub weights: Weights,
    pub orders: OrderSettings,
    pub interactions: InteractionSettings,
    pub store: StoreSettings,
    pub stores: StoreWorldSettings,
    pub topics: TopicSettings,
    pub kafka: KafkaSettings,
    pub registry: RegistrySettings,
    pub simulator: SimulatorSettings,
    pub ops: OpsSettings,
    pub shard: ShardSettings,
    /// Each setting's value as given (TOML key -> text), after every layer; secret ones hidden.
    pub given: BTreeMap<&'static str, String>,
}

/// Scale-out: which of `count` instances this is.
#[derive(Debug, Clone, Default)]
pub struct ShardSettings {
    /// `None`: `JOB_COMPLETION_INDEX` (a Kubernetes Indexed Job), else 0.
    pub index: Option<u32>,
    pub count: u32,
}

impl ShardSettings {
    pub fn shard(&self) -> crate::domain::reference::shard::Shard {
        crate::domain::reference::shard::Shard {
            index: self.index.unwrap_or(0),
            count: self.count.max(1),
        }
    }
}

/// How a run shows itself to operators: metrics, progress, the run manifest.
#[derive(Debug, Clone, Default)]
pub struct OpsSettings {
    /// Where `/metrics` and `/healthz` are served; `None`: off.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// How often a progress line is logged when stderr is not a terminal.
    pub progress_interval: Duration,
    /// How long start-up waits for Postgres, Kafka and the Schema Registry to answer.
    pub startup_wait: Duration,
    /// Where the run manifest is written at the end of every run; `None`: not written.
    pub manifest: Option<PathBuf>,
}

#[derive(Debug, Clone, Default)]
pub struct RunSettings {
    pub sink: SinkKind,
    /// Records per second; 0 means unthrottled.
    pub target_eps: f64,
    /// `None`: draw one at start and print it.
    pub seed: Option<u64>,
    pub count: Option<u64>,
    pub duration: Option<Duration>,
    pub out_dir: PathBuf,
    pub max_pending: usize,
    /// Token bucket capacity in records; `None`: one second's worth.
    pub burst: Option<u32>,
    pub pacing: PacingKind,
    pub min_delta_secs: f64,
    pub max_delta_secs: f64,
    /// Simulated clock: event time starts here (ms since the epoch) and runs as fast as the sink allows.
    pub from_ms: Option<i64>,
    /// Simulated clock: event time stops before this.
    pub to_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct DiurnalSettings {
    pub min: f64,
    pub max: f64,
    pub peak_hour: f64,
    pub timezone: chrono_tz::Tz,
    /// Monday..Sunday weights.
    pub weekdays: Option<[f64; 7]>,
}

impl Default for DiurnalSettings {
    fn default() -> Self {
        Self {
            min: 1.0,
            max: 1.0,
            peak_hour: 0.0,
            timezone: chrono_tz::Tz::UTC,
            weekdays: None,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct FaultSettings {
    pub p_late_event: f64,
    pub max_late_minutes: u32,
    pub late_mode: LateMode,
    pub max_held_late: usize,
    pub p_bad_record: f64,
    pub bad_wire_share: f64,
    pub p_duplicate: f64,
}

/// Changes made while running, besides the weighted services.
#[derive(Debug, Clone, Default)]
pub struct MutationSettings {
    /// Chance per generated record of a background inventory change.
    pub p_update_inventory: f64,
    /// Chance per generated record of a price change.
    pub p_update_price: f64,
    /// Chance that a customer is a new sign-up.
    pub p_new_customer: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Weights {
    pub orders: f64,
    pub interactions: f64,
    pub inventory: f64,
    /// Store-world steps: a terminal's next basket, shift changes, store stock movements.
    pub store: f64,
}

/// The physical stores: how many, their staff, baskets, refunds and replenishment.
#[derive(Debug, Clone, Default)]
pub struct StoreWorldSettings {
    pub seed_stores: usize,
    pub terminals_per_store: usize,
    pub employees_per_store: usize,
    /// Lines per basket, inclusive.
    pub basket_lines_min: usize,
    pub basket_lines_max: usize,
    /// Share of baskets with an identified (existing or newly signed-up) customer.
    pub p_identified_customer: f64,
    /// Chance a transaction gets a refund of one line later (the realtime-retail-pipeline producer's name).
    pub refund_probability: f64,
    pub refund_delay_min: Duration,
    pub refund_delay_max: Duration,
    /// The stores' time zones, in turn (`STORE_TIMEZONES`); empty: the built-in cities.
    pub timezones: &'static [chrono_tz::Tz],
    /// Every store's local opening and closing minute (`STORE_HOURS`); `None`: varied per store.
    pub hours: Option<(u32, u32)>,
    /// From a restock alert to the replenishment that follows it (event time).
    pub replenish_lead_time: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct OrderSettings {
    pub p_order_has_payment: f64,
    pub p_order_has_shipment: f64,
}

#[derive(Debug, Clone, Default)]
pub struct InteractionSettings {
    pub p_new_session: f64,
    pub session_cache_size: usize,
}

#[derive(Debug, Clone, Default)]
pub struct StoreSettings {
    pub kind: StoreKind,
    pub seed_users: usize,
    pub seed_products: usize,
    pub seed_warehouses: usize,
    pub seed_suppliers: usize,
    /// libpq-style `host=... dbname=...` or `postgres://` URL; holds a password, so secret.
    pub pg_dsn: Secret,
    pub canon_inventory: CanonInventory,
    pub mirror_inventory_to_db: bool,
    /// How long a lost connection to the canonical store is ridden through.
    pub pg_reconnect_timeout: std::time::Duration,
}

#[derive(Debug, Clone, Default)]
pub struct TopicSettings {
    pub orders: String,
    pub payments: String,
    pub shipments: String,
    pub customer_interactions: String,
    pub inventory_changes: String,
    pub price_changes: String,
    pub pos_events: String,
    pub pos_transactions: String,
    pub refunds: String,
    pub store_inventory_changes: String,
    pub restock_alerts: String,
    pub foot_traffic: String,
    pub shelf_events: String,
    /// One record per run start (the run number of the id space), for targets without Postgres.
    pub runs: String,
    pub partitions: i32,
    pub replication_factor: i32,
}

#[derive(Clone, Default)]
pub struct KafkaSettings {
    pub bootstrap: String,
    pub security_protocol: String,
    pub sasl_mechanism: String,
    pub sasl_username: String,
    pub sasl_password: Secret,
    pub flush_timeout: Duration,
    /// Whether groups are committed in Kafka transactions (`KAFKA_TRANSACTIONS`).
    pub transactions: Transactions,
    /// librdkafka properties passed through as they are.
    pub properties: BTreeMap<String, String>,
}

/// How a Kafka-canonical run keeps the topics consistent through a crash: in Kafka transactions
/// (groups committed atomically, seen whole by `read_committed` consumers), or behind an
/// acknowledgement barrier (a record goes out once what it names is acknowledged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transactions {
    /// Transactions where the cluster supports them, else the barrier.
    #[default]
    Auto,
    /// Transactions; a cluster without them fails start-up.
    On,
    /// The barrier.
    Off,
}

impl Transactions {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(Self::Auto),
            "on" => Some(Self::On),
            "off" => Some(Self::Off),
            _ => None,
        }
    }
}

/// Whether a librdkafka property holds a secret and must never be printed.
pub fn is_secret_property(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.contains("password") || n.contains("secret") || n.contains("key.pem") || n.ends_with(".key")
}

impl fmt::Debug for KafkaSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let props: BTreeMap<&str, &str> = self
            .properties
            .iter()
            .map(|(k, v)| {
                let shown = if is_secret_property(k) { "***" } else { v };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("KafkaSettings")
            .field("bootstrap", &self.bootstrap)
            .field("security_protocol", &self.security_protocol)
            .field("sasl_mechanism", &self.sasl_mechanism)
            .field("sasl_username", &self.sasl_username)
            .field("sasl_password", &self.sasl_password)
            .field("flush_timeout", &self.flush_timeout)
            .field("transactions", &self.transactions)
            .field("properties", &props)
            .finish()
    }
}

/// `retailgen pos-simulator`: the pos_producer.py POS simulator settings.
#[derive(Debug, Clone, Default)]
pub struct SimulatorSettings {
    /// Input topics; `None` reads the topics `retailgen run` writes.
    pub foot_topic: Option<String>,
    pub shelf_topic: Option<String>,
    pub pos_topic: String,
    pub group_id_foot: String,
    pub group_id_shelf: String,
    pub force_checkout_if_empty: bool,
    pub max_session_age: Duration,
    /// How late a shelf event may come, in event time, and still count.
    pub lateness: Duration,
    /// Where both groups start when they have no committed offsets: earliest or latest.
    pub start: StartFrom,
    /// pos_producer.py's parquet files; without `store_parquet` prices come from Postgres (PG_DSN).
    pub store_parquet: Option<PathBuf>,
    pub discount_parquet: Option<PathBuf>,
    pub commit_interval: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartFrom {
    #[default]
    Earliest,
    Latest,
}

impl StartFrom {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "earliest" => Some(Self::Earliest),
            "latest" => Some(Self::Latest),
            _ => None,
        }
    }

    /// librdkafka's `auto.offset.reset`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Earliest => "earliest",
            Self::Latest => "latest",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct RegistrySettings {
    /// Base URL without credentials.
    pub url: String,
    pub username: String,
    pub password: Secret,
    pub timeout: Duration,
}

impl Settings {
    /// Every secret in these settings, for redacting error messages.
    pub fn secrets(&self) -> Vec<Secret> {
        let mut all = vec![
            self.kafka.sasl_password.clone(),
            self.registry.password.clone(),
            self.store.pg_dsn.clone(),
        ];
        if let Some(pw) = super::dsn::dsn_password(&self.store.pg_dsn) {
            all.push(pw);
        }
        all.extend(
            self.kafka
                .properties
                .iter()
                .filter(|(k, _)| is_secret_property(k))
                .map(|(_, v)| Secret::new(v.clone())),
        );
        all.retain(|s| !s.is_empty());
        all
    }
}
