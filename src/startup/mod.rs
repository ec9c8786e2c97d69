//! Wiring: settings -> store -> publisher (registry, topics) -> services -> engine, and the run's lifecycle.

mod publisher;
pub mod recovery;
pub mod simulator;
pub mod verify;
pub(crate) mod waiting;
mod world;

use std::num::NonZeroUsize;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::adapters::crash::{crash_if, crash_point};
use crate::adapters::kafka::Connecting;
use crate::adapters::manifest;
use crate::adapters::metrics::{self, Role};
use crate::adapters::postgres::canonical::Stage;
use crate::adapters::progress::{Bound, Progress};
use crate::config::{describe_dsn, redact, PacingKind, Secret, Settings, SinkKind, StoreKind};
use crate::domain::events::Millis;
use crate::domain::faults::FaultPolicy;
use crate::domain::ports::{Clock, EventPublisher};
use crate::domain::reference::catalog::Catalog;
use crate::domain::stream::{Stream, TopicNames};
use crate::domain::traffic::DiurnalCurve;
use crate::engine::clock::{EventClock, Spacing, Stamping, SystemClock};
use crate::engine::pacing::Pacer;
use crate::engine::{Engine, EngineConfig, Generators, RunReport, Stopper};
use crate::observe::RunStats;
use crate::services::interactions::InteractionService;
use crate::services::inventory::InventoryService;
use crate::services::orders::OrderService;
use crate::services::prices::PriceService;
use crate::services::restock::Restocker;
use crate::services::store::{StoreConfig, StoreService};
use crate::services::{Service, ServiceTable};
use crate::summary;
pub use world::{data_seed, migrate_only, postgres_canonical, seed_counts, seed_only};

/// Runs until a stop condition or a signal; prints the summary. Exit code 1 on any failure.
pub async fn run_until_stopped(settings: Settings) -> ExitCode {
    let cancel = CancellationToken::new();
    tokio::spawn(cancel_on_signal(cancel.clone()));
    let mut settings = settings;
    // Drawn here, so the manifest can name it whatever happens.
    let seed = *settings.run.seed.get_or_insert_with(rand::random);
    let secrets = settings.secrets();
    let stats = match settings.ops.manifest {
        Some(_) => RunStats::keeping_offsets(topic_names(&settings)),
        None => RunStats::new(topic_names(&settings)),
    };
    if let Err(e) = serve_metrics(&settings, &stats, Role::Generator) {
        eprintln!("retailgen: {e}");
        return ExitCode::from(2);
    }
    let progress = Progress::start(
        stats.clone(),
        bound(&settings),
        settings.ops.progress_interval,
    );
    let started_at = std::time::SystemTime::now();
    let outcome = run(settings.clone(), cancel, stats.clone()).await;
    progress.stop();
    let error = outcome.as_ref().err().map(|e| redacted(e, &secrets));
    if let Some(why) = &error {
        stats.fail(why);
    }
    if let Some(path) = &settings.ops.manifest {
        let ending = manifest::Ending {
            seed: Some(seed),
            run: stats.run_number(),
            started_at,
            stop_reason: outcome.as_ref().ok().map(|r| r.stop.to_string()),
            error: error.clone(),
        };
        let written = manifest::write(path, &manifest::build(&settings, &stats, ending));
        if let Err(e) = written {
            eprintln!("retailgen: {e}");
            return ExitCode::FAILURE;
        }
    }
    match outcome {
        Ok(report) => {
            eprint!("{}", summary::render(&report));
            let lost = summary::undelivered(&report);
            if lost > 0 {
                eprintln!("retailgen: {lost} records were not acknowledged by the sink");
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("retailgen: {}", error.unwrap_or_default());
            match e.downcast_ref::<recovery::Unrecoverable>() {
                Some(_) => ExitCode::from(2),
                None => ExitCode::FAILURE,
            }
        }
    }
}

/// Serves `/metrics` and `/healthz` at `METRICS_ADDR`, if set; a bad address or a port in use is
/// an error before anything runs.
pub(crate) fn serve_metrics(
    s: &Settings,
    stats: &Arc<RunStats>,
    role: Role,
) -> Result<(), metrics::BindError> {
    match s.ops.metrics_addr {
        Some(addr) => metrics::serve(metrics::bind(addr)?, stats.clone(), role),
        None => Ok(()),
    }
}

/// Where the run ends, for its progress: `--count`, else `--to`, else `--duration`.
fn bound(s: &Settings) -> Bound {
    match (s.run.count, s.run.from_ms, s.run.to_ms, s.run.duration) {
        (Some(n), ..) => Bound::Count(n),
        (None, Some(from_ms), Some(to_ms), _) => Bound::Span { from_ms, to_ms },
        (None, _, _, Some(d)) => Bound::Duration(d),
        _ => Bound::Unbounded,
    }
}

/// Prints a one-shot command's outcome (secrets redacted); exit code 1 on failure.
pub fn report(outcome: anyhow::Result<String>, settings: &Settings) -> ExitCode {
    match outcome {
        Ok(line) => {
            eprintln!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("retailgen: {}", redacted(&e, &settings.secrets()));
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn redacted(e: &anyhow::Error, secrets: &[Secret]) -> String {
    let refs: Vec<&Secret> = secrets.iter().collect();
    redact(&format!("{e:#}"), &refs)
}

/// Builds everything from `settings` and runs the engine on a blocking thread. Against a
/// durable target, what earlier runs left is recovered first (see `recovery`). `stats` is kept up
/// to date while it runs.
pub async fn run(
    settings: Settings,
    cancel: CancellationToken,
    stats: Arc<RunStats>,
) -> anyhow::Result<RunReport> {
    let s = &settings;
    let started = std::time::Instant::now();
    let phase = |what: &str| {
        tracing::debug!(
            "start-up: {what} after {:.3} s",
            started.elapsed().as_secs_f64()
        )
    };
    let seed = s.run.seed.unwrap_or_else(rand::random);
    let topics = topic_names(s);
    let kafka = s.run.sink == SinkKind::Kafka;
    let kafka_canonical = kafka && !postgres_canonical(s);
    waiting::services(s, waiting::Needs::of_run(s)).await?;
    let pool = match s.store.kind {
        StoreKind::Postgres => Some(world::prepare_postgres(s).await?),
        StoreKind::Memory => None,
    };
    phase("store prepared");
    let ids = match kafka {
        true => Some(recovery::register_schemas(s, &topics).await?),
        false => None,
    };
    phase("schemas registered");
    // Without a database: records go straight to a producer, which connects meanwhile, and held
    // late records wait on the pending topic.
    let direct_kafka = kafka && pool.is_none();
    let connecting = direct_kafka
        .then(|| Connecting::start(&s.kafka, stats.clone(), recovery::transactional_id(s)));
    let found = recovery::inspect(s, pool.as_ref(), kafka_canonical).await?;
    phase("earlier runs inspected");
    let pending = direct_kafka.then(|| recovery::pending_topic(s));
    if kafka {
        recovery::create_topics(s, &topics, &found, pending.as_ref()).await?;
    }
    phase("topics ready");
    if let Some(pending) = &pending {
        recovery::replay_pending(s, pending).await?;
    }
    if let (Some(pool), true) = (&pool, kafka) {
        recovery::replay_outbox(s, pool, &topics).await?;
    }
    let run = recovery::number_run(s, pool.as_ref(), &found, seed).await?;
    stats.numbered(run);
    phase("run numbered");
    crash_if(&crash_point(), "run_recorded", 1);
    let since = refund_window_start(s);
    let mut read = world::ReadBack::default();
    if let (true, Some(ids)) = (kafka_canonical, ids) {
        let id = |stream: Stream| ids[stream.index()];
        let (warehouses, stores) = (Stream::InventoryChanges, Stream::StoreInventoryChanges);
        // The topics are read at once: each read waits mostly on the broker.
        let sales = async {
            match s.weights.store > 0.0 {
                true => recovery::read_sales(s, &topics, since).await.map(Some),
                false => Ok(None),
            }
        };
        let prices = async {
            match s.store.kind == StoreKind::Memory {
                true => recovery::read_prices(s, &topics).await.map(Some),
                false => Ok(None),
            }
        };
        let (mut stock, store_stock, sales, prices) = tokio::try_join!(
            recovery::read_stock(s, topics.of(warehouses), id(warehouses)),
            recovery::read_stock(s, topics.of(stores), id(stores)),
            sales,
            prices,
        )?;
        // Keys never collide: warehouse and store ids differ.
        stock.changes += store_stock.changes;
        stock.last.extend(store_stock.last);
        stock.next_offsets.extend(store_stock.next_offsets);
        (read.stock, read.sales, read.prices) = (Some(stock), sales, prices);
    }
    phase("topics read back");
    let stage = Stage::default();
    let built = world::build_world(s, pool.as_ref(), &stage, read, since).await?;
    phase("world built");
    let publisher = publisher::build_publisher(
        s,
        &topics,
        seed,
        ids,
        pool.as_ref(),
        stage,
        connecting,
        &stats,
    )
    .await?;
    phase("publisher ready");
    eprintln!("{}", banner(s, seed, run));
    let mut engine = engine(s, seed, run, built, publisher).observed_by(stats);
    if s.ops.manifest.is_some() {
        engine = engine.with_totals();
    }
    let stopper = Stopper::new(cancel, s.run.duration);
    let report = tokio::task::spawn_blocking(move || engine.run(&stopper))
        .await
        .context("the generator thread panicked")??;
    Ok(report)
}

/// Refunds draw on transactions paid within the refund window before the run's start.
fn refund_window_start(s: &Settings) -> Millis {
    let start_ms = s.run.from_ms.unwrap_or_else(|| SystemClock.now_ms());
    start_ms - s.stores.refund_delay_max.as_millis() as i64
}

/// The engine of run number `run`: services, pacing and faults as the settings say, acting on
/// `built` and publishing to `publisher`.
fn engine(
    s: &Settings,
    seed: u64,
    run: u32,
    built: world::Built,
    publisher: Box<dyn EventPublisher>,
) -> Engine {
    let shard = s.shard.shard();
    crate::domain::record::label_shard(shard.index, shard.count);
    let config = EngineConfig {
        seed,
        run,
        max_pending: s.run.max_pending,
        count: s.run.count,
        end_ms: s.run.to_ms,
        faults: faults(s),
        shard: s.shard.shard().index,
    };
    let (clock, pacer) = timing(s);
    let generators = Generators {
        services: services(s, &built.world.catalog),
        background: background(s),
        world: built.world,
        initial: built.initial,
        restocker: Restocker {
            lead_ms: s.stores.replenish_lead_time.as_millis() as i64,
        },
    };
    Engine::new(config, generators, publisher, clock, pacer)
}

/// An engine over the in-memory world the settings describe (as `run` builds it for
/// `STORE=memory` on a fresh target), publishing to `publisher`: for tests and benchmarks.
pub async fn memory_engine(
    s: &Settings,
    seed: u64,
    publisher: Box<dyn EventPublisher>,
) -> anyhow::Result<Engine> {
    let read = world::ReadBack::default();
    let built =
        world::build_world(s, None, &Stage::default(), read, refund_window_start(s)).await?;
    Ok(engine(s, seed, 0, built, publisher))
}

pub fn topic_names(s: &Settings) -> TopicNames {
    TopicNames(Stream::ALL.map(|stream| {
        match stream {
            Stream::Orders => &s.topics.orders,
            Stream::Payments => &s.topics.payments,
            Stream::Shipments => &s.topics.shipments,
            Stream::CustomerInteractions => &s.topics.customer_interactions,
            Stream::InventoryChanges => &s.topics.inventory_changes,
            Stream::PriceChanges => &s.topics.price_changes,
            Stream::PosEvents => &s.topics.pos_events,
            Stream::PosTransactions => &s.topics.pos_transactions,
            Stream::Refunds => &s.topics.refunds,
            Stream::StoreInventoryChanges => &s.topics.store_inventory_changes,
            Stream::RestockAlerts => &s.topics.restock_alerts,
            Stream::FootTraffic => &s.topics.foot_traffic,
            Stream::ShelfEvents => &s.topics.shelf_events,
        }
        .clone()
    }))
}

/// The service table: one line per weighted service.
pub fn services(s: &Settings, catalog: &Catalog) -> ServiceTable {
    let sessions =
        NonZeroUsize::new(s.interactions.session_cache_size).unwrap_or(NonZeroUsize::MIN);
    ServiceTable::new(vec![
        (
            s.weights.orders,
            Box::new(OrderService {
                p_payment: s.orders.p_order_has_payment,
                p_shipment: s.orders.p_order_has_shipment,
            }),
        ),
        (
            s.weights.interactions,
            Box::new(InteractionService::new(
                s.interactions.p_new_session,
                sessions,
            )),
        ),
        (s.weights.inventory, Box::new(InventoryService::new())),
        (
            s.weights.store,
            Box::new(StoreService::new(store_config(s), catalog)),
        ),
    ])
}

/// How the store world draws baskets, customers and refunds.
pub fn store_config(s: &Settings) -> StoreConfig {
    let w = &s.stores;
    StoreConfig {
        lines_min: w.basket_lines_min,
        lines_max: w.basket_lines_max,
        p_identified: w.p_identified_customer,
        refund_probability: w.refund_probability,
        refund_delay_ms: (
            w.refund_delay_min.as_millis() as i64,
            w.refund_delay_max.as_millis() as i64,
        ),
        curve: curve(s),
        visits_per_minute: store_visits_per_minute(s),
        // A visit is about 16 records: a `--count` run spends at most half of it on them.
        max_warm_visitors: s.run.count.map_or(usize::MAX, |c| (c / 32) as usize),
    }
}

/// Records a step of each service emits, about (an order chain with its sale, payment and
/// shipment; an interaction; a stock change; a store step, mostly a visit with its shelf events
/// and checkout): with the weights and the target rate, how often visits start.
const RECORDS_PER_STEP: [f64; 4] = [3.5, 1.0, 1.5, 16.0];
/// Share of store steps that start a visit (the rest are logins and shelf changes).
const VISIT_SHARE_OF_STORE_STEPS: f64 = 0.95;
/// Logical records per second of an unthrottled run (see the engine's clock).
const UNTHROTTLED_EPS: f64 = 1_000.0;

/// Visits starting per minute, over all open stores, at the target rate and diurnal multiplier 1.
pub fn store_visits_per_minute(s: &Settings) -> f64 {
    let w = &s.weights;
    let weights = [w.orders, w.interactions, w.inventory, w.store];
    let per_step: f64 = weights
        .iter()
        .zip(RECORDS_PER_STEP)
        .map(|(w, r)| w * r)
        .sum();
    let eps = match s.run.pacing {
        PacingKind::Rate if s.run.target_eps > 0.0 => s.run.target_eps,
        PacingKind::Rate => UNTHROTTLED_EPS,
        PacingKind::Gaps => 2.0 / (s.run.min_delta_secs + s.run.max_delta_secs).max(1e-3),
    };
    if per_step <= 0.0 {
        return 0.0;
    }
    eps * 60.0 * w.store * VISIT_SHARE_OF_STORE_STEPS / per_step
}

/// Background mutations, each with its chance per generated record.
pub fn background(s: &Settings) -> Vec<(f64, Box<dyn Service>)> {
    vec![
        (
            s.mutations.p_update_inventory,
            Box::new(InventoryService::background()),
        ),
        (s.mutations.p_update_price, Box::new(PriceService)),
    ]
}

/// The traffic shape of the day.
pub fn curve(s: &Settings) -> DiurnalCurve {
    DiurnalCurve {
        min: s.diurnal.min,
        max: s.diurnal.max,
        peak_hour: s.diurnal.peak_hour,
        tz: s.diurnal.timezone,
        weekdays: s.diurnal.weekdays,
    }
}

/// Event time and pacing: simulated from `--from` as fast as the sink allows, or real time.
pub fn timing(s: &Settings) -> (EventClock, Pacer) {
    let curve = curve(s);
    let spacing = match s.run.pacing {
        PacingKind::Rate => Spacing::Rate {
            eps: s.run.target_eps,
        },
        PacingKind::Gaps => Spacing::Gaps {
            min_ms: s.run.min_delta_secs * 1e3,
            max_ms: s.run.max_delta_secs * 1e3,
        },
    };
    if let Some(from) = s.run.from_ms {
        return (
            EventClock::new(Stamping::Simulated, spacing, curve, from),
            Pacer::Free,
        );
    }
    let pacer = match s.run.pacing {
        PacingKind::Rate => {
            let burst = s
                .run
                .burst
                .unwrap_or(s.run.target_eps.ceil().max(1.0) as u32);
            Pacer::rate(s.run.target_eps, burst, curve.peak(), curve.trough())
        }
        PacingKind::Gaps => Pacer::gaps(),
    };
    let now = SystemClock.now_ms();
    (
        EventClock::new(Stamping::Wall(Box::new(SystemClock)), spacing, curve, now),
        pacer,
    )
}

/// Labelled faults; none for the file sink, whose container files cannot carry labels.
pub fn faults(s: &Settings) -> FaultPolicy {
    if s.run.sink == SinkKind::File {
        return FaultPolicy::none();
    }
    FaultPolicy {
        p_late: s.faults.p_late_event,
        max_late_ms: i64::from(s.faults.max_late_minutes) * 60_000,
        late_mode: s.faults.late_mode,
        max_held: s.faults.max_held_late,
        p_bad: s.faults.p_bad_record,
        wire_share: s.faults.bad_wire_share,
        p_duplicate: s.faults.p_duplicate,
    }
}

fn banner(s: &Settings, seed: u64, run: u32) -> String {
    let sink = match s.run.sink {
        SinkKind::Stdout => "stdout (JSON lines)".to_owned(),
        SinkKind::Null => "null (encode and discard)".to_owned(),
        SinkKind::File => format!("file (Avro container files in {})", s.run.out_dir.display()),
        SinkKind::Kafka => format!(
            "kafka at {} with schema registry {}",
            s.kafka.bootstrap, s.registry.url
        ),
    };
    let rate = match (s.run.pacing, s.run.target_eps > 0.0) {
        (PacingKind::Gaps, _) => format!(
            "one record every {}-{} s",
            s.run.min_delta_secs, s.run.max_delta_secs
        ),
        (PacingKind::Rate, true) => format!(
            "{} records/s x diurnal {}-{} (peak {}:00 {})",
            s.run.target_eps, s.diurnal.min, s.diurnal.max, s.diurnal.peak_hour, s.diurnal.timezone
        ),
        (PacingKind::Rate, false) => "unthrottled".to_owned(),
    };
    let rate = match s.run.from_ms {
        Some(_) => format!("{rate} in simulated event time (--from), as fast as the sink allows"),
        None => rate,
    };
    let store = match s.store.kind {
        StoreKind::Memory => format!(
            "memory ({} users, {} products)",
            s.store.seed_users, s.store.seed_products
        ),
        StoreKind::Postgres => format!(
            "{} (inventory canonical in {})",
            describe_dsn(&s.store.pg_dsn),
            if postgres_canonical(s) {
                "postgres"
            } else {
                "kafka"
            }
        ),
    };
    let repeat = match run {
        0 => format!("--seed {seed} on a fresh target reproduces this run"),
        n => format!("run {n} of this target: its ids continue, none is reused"),
    };
    format!(
        "retailgen: sink={sink}; store={store}; rate={rate}; seed={seed} ({repeat})\n\
         retailgen: switch with --sink stdout|kafka|file|null (kafka needs KAFKA_BOOTSTRAP and SCHEMA_REGISTRY_URL), --store memory|postgres (postgres needs PG_DSN); stop with Ctrl+C, --count N or --duration 10s"
    )
}

/// Cancels `token` on Ctrl+C or SIGTERM, so the engine stops and flushes.
pub(crate) async fn cancel_on_signal(token: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("cannot listen for SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
                token.cancel();
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("stop requested: finishing and flushing");
    token.cancel();
}
