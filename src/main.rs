//! The `retailgen` binary: parse the command line, load settings, hand over to `startup`.

use std::process::ExitCode;

use clap::Parser;
use retailgen::cli::{Cli, Command};
use retailgen::{config, startup, telemetry};

/// mimalloc: the generator allocates and frees small strings per record, where glibc's malloc
/// cost about a quarter of its time; it also stands behind `malloc` (feature `override`), so
/// librdkafka's messages no longer fragment glibc's per-thread arenas (see README, Benchmarks).
#[global_allocator]
static ALLOCATOR: retailgen::allocator::MiMalloc = retailgen::allocator::MiMalloc;

/// `retailgen healthcheck`: 0 when the instance at METRICS_ADDR answers 200 on /healthz.
fn healthcheck(settings: &config::Settings) -> ExitCode {
    let Some(addr) = settings.ops.metrics_addr else {
        eprintln!(
            "retailgen: healthcheck needs the instance's address: set METRICS_ADDR or pass --addr, e.g. 127.0.0.1:9400"
        );
        return ExitCode::from(2);
    };
    match retailgen::adapters::metrics::check_health(addr, std::time::Duration::from_secs(3)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("retailgen: {why}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let command = Cli::parse().command;
    let env = retailgen::cli::environment();
    let (file, overrides) = command.settings_input(&env);
    let settings = match config::load(file.as_deref(), &env, &overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("retailgen: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Healthcheck(_) = command {
        return healthcheck(&settings);
    }
    telemetry::init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("retailgen: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        match command {
            Command::Run(_) => startup::run_until_stopped(settings).await,
            Command::Migrate(_) => {
                startup::report(startup::migrate_only(&settings).await, &settings)
            }
            Command::Seed(_) => startup::report(startup::seed_only(&settings).await, &settings),
            Command::PosSimulator(_) => startup::simulator::run_until_stopped(settings).await,
            Command::Verify(a) => {
                let json = a.format == "json";
                let mode = match a.read_only {
                    true => startup::verify::Mode::ReadOnly,
                    false => startup::verify::Mode::Check,
                };
                let follow = a.follow.then_some((a.interval, a.quiet_after));
                startup::verify::run_until_done(settings, a.manifest.as_deref(), json, mode, follow)
                    .await
            }
            Command::Healthcheck(_) => unreachable!("answered before the runtime starts"),
        }
    })
}
