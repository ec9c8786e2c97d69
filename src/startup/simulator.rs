//! Wiring of `retailgen pos-simulator`: settings -> price source, registry, topics -> the
//! simulator's Kafka loop on a blocking thread, stopped by Ctrl+C or SIGTERM.

use std::process::ExitCode;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;

use super::waiting::{self, Needs};
use crate::adapters::avro::subject;
use crate::adapters::kafka::ensure_topics;
use crate::adapters::metrics::Role;
use crate::adapters::postgres;
use crate::adapters::registry::decoder::WireDecoder;
use crate::adapters::registry::RegistryClient;
use crate::adapters::simulator::output::{TransactionEncoder, SCHEMA_TEXT};
use crate::adapters::simulator::{
    ParquetError, ParquetPrices, PostgresPrices, RideThrough, SimReport, Simulator, SimulatorConfig,
};
use crate::config::Settings;
use crate::domain::ports::PriceBook;
use crate::engine::clock::SystemClock;
use crate::observe::RunStats;

/// Runs until a signal; prints what it did. Exit 2 on unusable price files, 1 on failures.
pub async fn run_until_stopped(settings: Settings) -> ExitCode {
    let stop = CancellationToken::new();
    tokio::spawn(super::cancel_on_signal(stop.clone()));
    let secrets = settings.secrets();
    let stats = RunStats::new(super::topic_names(&settings));
    if let Err(e) = super::serve_metrics(&settings, &stats, Role::Simulator) {
        eprintln!("retailgen: {e}");
        return ExitCode::from(2);
    }
    let outcome = run(settings, stop, stats.clone()).await;
    if let Err(e) = &outcome {
        stats.fail(&super::redacted(e, &secrets));
    }
    match outcome {
        Ok(report) => {
            eprintln!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("retailgen: {}", super::redacted(&e, &secrets));
            match e.downcast_ref::<ParquetError>() {
                Some(_) => ExitCode::from(2),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// The simulator's settings, with the input topics defaulting to the ones `run` writes.
pub fn simulator_config(s: &Settings) -> SimulatorConfig {
    let sim = &s.simulator;
    SimulatorConfig {
        foot_topic: sim
            .foot_topic
            .clone()
            .unwrap_or_else(|| s.topics.foot_traffic.clone()),
        shelf_topic: sim
            .shelf_topic
            .clone()
            .unwrap_or_else(|| s.topics.shelf_events.clone()),
        pos_topic: sim.pos_topic.clone(),
        group_foot: sim.group_id_foot.clone(),
        group_shelf: sim.group_id_shelf.clone(),
        start: sim.start,
        commit_interval: sim.commit_interval,
        lateness: sim.lateness,
        max_session_age: sim.max_session_age,
        force_if_empty: sim.force_checkout_if_empty,
    }
}

/// Runs the simulator until `stop`; `stats` is kept up to date meanwhile.
pub async fn run(
    s: Settings,
    stop: CancellationToken,
    stats: Arc<RunStats>,
) -> anyhow::Result<SimReport> {
    let cfg = simulator_config(&s);
    // Price files are checked before anything else: a bad one is the user's to fix (exit 2).
    let prices: Box<dyn PriceBook> = match &s.simulator.store_parquet {
        Some(path) => Box::new(ParquetPrices::load(
            path,
            s.simulator.discount_parquet.as_deref(),
        )?),
        None => {
            let postgres_only = Needs {
                postgres: true,
                kafka: false,
            };
            waiting::services(&s, postgres_only).await?;
            let pool = postgres::connect(&s.store.pg_dsn).await?;
            let runtime = Handle::current();
            let ride = RideThrough {
                timeout: s.store.pg_reconnect_timeout,
                stats: stats.clone(),
            };
            Box::new(
                tokio::task::spawn_blocking(move || PostgresPrices::load(pool, runtime, ride))
                    .await??,
            )
        }
    };
    let kafka = Needs {
        postgres: false,
        kafka: true,
    };
    waiting::services(&s, kafka).await?;
    let registry = RegistryClient::new(&s.registry)?;
    let id = registry
        .register(&subject(&cfg.pos_topic), SCHEMA_TEXT)
        .await?;
    ensure_topics(
        &s.kafka,
        &[
            cfg.foot_topic.clone(),
            cfg.shelf_topic.clone(),
            cfg.pos_topic.clone(),
        ],
        s.topics.partitions,
        s.topics.replication_factor,
    )
    .await?;
    let decoder = WireDecoder::new(registry, Handle::current(), s.registry.url.clone());
    let kafka = s.kafka.clone();
    let report = tokio::task::spawn_blocking(move || {
        let encoder = TransactionEncoder::new(id);
        let sim = Simulator::new(&kafka, cfg, decoder, prices, encoder, Box::new(SystemClock))?
            .observed_by(stats);
        sim.run(&stop)
    })
    .await??;
    Ok(report)
}
