//! Command-line interface: subcommands and flags, each flag mapped onto a setting.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::CliOverride;

#[derive(Debug, Parser)]
#[command(
    name = "retailgen",
    version,
    about = "Streaming retail test data: Avro records to Kafka, data that adds up"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Generate records until --count, --duration, Ctrl+C or SIGTERM (embedded defaults: JSON lines on stdout).
    Run(Box<RunArgs>),
    /// Create or update the Postgres tables (PG_DSN); touches no data.
    Migrate(StoreArgs),
    /// Migrate, then seed the reference tables deterministically from --seed (default 0); safe to repeat.
    Seed(StoreArgs),
    /// A POS simulator compatible with pos_producer.py: read foot traffic and shelf events from Kafka, write one
    /// transaction per visit with a non-empty cart (POS_TOPIC), until Ctrl+C or SIGTERM.
    PosSimulator(SimulatorArgs),
    /// Ask a running retailgen's /healthz (at METRICS_ADDR, or --addr): exit 0 when healthy,
    /// 1 when not or unreachable (for container health checks; the image has no curl).
    Healthcheck(HealthcheckArgs),
    /// Read the topics back (KAFKA_BOOTSTRAP, SCHEMA_REGISTRY_URL) and check the rules of the
    /// data; with --manifest also the run's counts and totals. Exit 0: all hold, 1: a violation,
    /// 2: bad input (unreachable broker or registry, unknown topic, unreadable manifest).
    Verify(VerifyArgs),
}

/// What to verify against.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A TOML file layered over the defaults (also RETAILGEN_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A run manifest (`run --manifest`): also compare its counts and totals with the topics.
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// The report: text (lines for people) or json (one document on stdout, for CI).
    #[arg(long, value_name = "FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
    /// Only read and decode every record, checking no rule: how fast the topics can be read,
    /// the figure verify's own speed compares with.
    #[arg(long, conflicts_with = "follow")]
    pub read_only: bool,
    /// Keep reading as records arrive (a live run, a compose stack), checking them as they come:
    /// a summary on stderr every --interval, the figures on METRICS_ADDR (records checked,
    /// violations per rule, lag behind the topics' ends); SIGTERM ends it with the report.
    /// The Postgres tables are not compared (they change under a live run).
    #[arg(long)]
    pub follow: bool,
    /// How often --follow reads what came and reports, e.g. 10s, 1m.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = interval, requires = "follow")]
    pub interval: std::time::Duration,
    /// With --follow: once no topic has had a new record for this long (the run stopped or
    /// paused), everything read is checked at once instead of a window behind the topics'
    /// latest time (nothing it may name is still coming), e.g. 1m, 5s.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = interval, requires = "follow")]
    pub quiet_after: std::time::Duration,
}

/// A `--interval`: a duration above zero.
fn interval(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("must be above zero; valid: a duration such as 10s or 1m".into()),
        Err(e) => Err(format!("{e}; valid: a duration such as 10s or 1m")),
    }
}

/// Where the running instance serves `/healthz`.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// A TOML file layered over the defaults (also RETAILGEN_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The instance's METRICS_ADDR, e.g. 127.0.0.1:9400 (0.0.0.0 means this machine).
    #[arg(long, value_name = "ADDR")]
    pub addr: Option<String>,
}

/// Settings for the POS simulator (all from the environment or a config file).
#[derive(Debug, Args)]
pub struct SimulatorArgs {
    /// A TOML file layered over the defaults (also RETAILGEN_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Settings for the Postgres commands.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// A TOML file layered over the defaults (also RETAILGEN_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Seed of the reference data (RANDOM_SEED; default 0).
    #[arg(long, value_name = "N")]
    pub seed: Option<String>,
}

impl StoreArgs {
    pub fn overrides(&self) -> Vec<CliOverride> {
        let store = ("--store", "store.kind", "postgres".to_owned());
        let seed = self.seed.clone().map(|v| ("--seed", "run.seed", v));
        std::iter::once(store).chain(seed).collect()
    }
}

impl Command {
    /// The command's flags as settings, and its config file (`--config`, else `RETAILGEN_CONFIG`).
    pub fn settings_input(
        &self,
        env: &BTreeMap<String, String>,
    ) -> (Option<PathBuf>, Vec<CliOverride>) {
        let (file, overrides) = match self {
            Command::Run(a) => (a.config.clone(), a.overrides()),
            Command::Migrate(a) | Command::Seed(a) => (a.config.clone(), a.overrides()),
            Command::PosSimulator(a) => (a.config.clone(), Vec::new()),
            Command::Verify(a) => (a.config.clone(), Vec::new()),
            Command::Healthcheck(a) => (
                a.config.clone(),
                a.addr
                    .iter()
                    .map(|v| ("--addr", "ops.metrics_addr", v.clone()))
                    .collect(),
            ),
        };
        (
            file.or_else(|| env.get("RETAILGEN_CONFIG").map(PathBuf::from)),
            overrides,
        )
    }
}

/// Flags override the environment, which overrides config files. Values are checked like settings.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A TOML file layered over the defaults (also RETAILGEN_CONFIG).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// stdout, kafka, file or null (SINK).
    #[arg(long)]
    pub sink: Option<String>,
    /// Stop after this many records (RECORD_COUNT).
    #[arg(long, value_name = "N")]
    pub count: Option<String>,
    /// Stop after 10s, 5m, 2h, ... (RUN_DURATION).
    #[arg(long)]
    pub duration: Option<String>,
    /// Seed for reproducible records (RANDOM_SEED).
    #[arg(long, value_name = "N")]
    pub seed: Option<String>,
    /// Records per second, 0 = unthrottled (TARGET_EPS).
    #[arg(long, value_name = "RATE")]
    pub eps: Option<String>,
    /// Output directory of the file sink (OUT_DIR).
    #[arg(long, value_name = "DIR")]
    pub out: Option<String>,
    /// Reference data store: memory or postgres (STORE).
    #[arg(long)]
    pub store: Option<String>,
    /// Partitions of topics retailgen creates (TOPIC_PARTITIONS).
    #[arg(long, value_name = "N")]
    pub partitions: Option<String>,
    /// rate or gaps (PACING).
    #[arg(long)]
    pub pacing: Option<String>,
    /// Smallest gap in seconds with --pacing gaps (MIN_DELTA).
    #[arg(long, value_name = "SECONDS")]
    pub min_delta: Option<String>,
    /// Largest gap in seconds with --pacing gaps (MAX_DELTA).
    #[arg(long, value_name = "SECONDS")]
    pub max_delta: Option<String>,
    /// Simulated clock: generate event time from here, as fast as the sink allows (SIM_FROM).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// Simulated clock: stop before this event time (SIM_TO).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Write the run manifest (JSON) here at the end of the run (MANIFEST_PATH).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<String>,
}

impl RunArgs {
    pub fn overrides(&self) -> Vec<CliOverride> {
        let flags: [(&'static str, &'static str, &Option<String>); 14] = [
            ("--sink", "run.sink", &self.sink),
            ("--count", "run.count", &self.count),
            ("--duration", "run.duration", &self.duration),
            ("--seed", "run.seed", &self.seed),
            ("--eps", "run.target_eps", &self.eps),
            ("--out", "run.out_dir", &self.out),
            ("--store", "store.kind", &self.store),
            ("--partitions", "topics.partitions", &self.partitions),
            ("--pacing", "run.pacing", &self.pacing),
            ("--min-delta", "run.min_delta", &self.min_delta),
            ("--max-delta", "run.max_delta", &self.max_delta),
            ("--from", "run.from", &self.from),
            ("--to", "run.to", &self.to),
            ("--manifest", "ops.manifest", &self.manifest),
        ];
        flags
            .into_iter()
            .filter_map(|(flag, key, v)| v.clone().map(|v| (flag, key, v)))
            .collect()
    }
}

/// The process environment (variables that are not valid UTF-8 are skipped).
pub fn environment() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}
