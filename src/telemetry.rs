//! Logging to stderr (stdout may carry records), filtered by `RUST_LOG` (default `info`), written
//! around the live progress line when one is drawn.

use tracing_subscriber::EnvFilter;

use crate::adapters::progress::write_stderr;

/// Stderr, one log event per write, without tearing the progress line.
struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_stderr(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| Stderr)
        .with_target(false)
        .try_init();
}
