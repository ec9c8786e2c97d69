//! The `retailgen` binary: parse the command line, load settings, hand over to `startup`.

use std::process::ExitCode;

use clap::Parser;
use retailgen::cli::{Cli, Command};
use retailgen::{config, startup, telemetry};

fn main() -> ExitCode {
    let Command::Run(args) = Cli::parse().command;
    let env = retailgen::cli::environment();
    let settings = match config::load(args.config_file(&env).as_deref(), &env, &args.overrides()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("retailgen: {e}");
            return ExitCode::from(2);
        }
    };
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
    runtime.block_on(startup::run_until_stopped(settings))
}
