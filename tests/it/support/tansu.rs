//! Starts a real tansu broker (in-memory storage) on a free loopback port; stops it on drop.

use std::fs::File;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, Producer};
use rdkafka::ClientConfig;

const READY_WITHIN: Duration = Duration::from_secs(60);

pub struct Tansu {
    pub bootstrap: String,
    child: Child,
    _logs: tempfile::TempDir,
}

/// `TANSU_BIN`, else `tansu` on PATH, else `~/.cargo/bin/tansu`. Missing: fail loudly.
fn binary() -> PathBuf {
    if let Ok(p) = std::env::var("TANSU_BIN") {
        return PathBuf::from(p);
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("tansu"))
                .find(|c| c.is_file())
        })
        .unwrap_or_default();
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/tansu"));
    on_path.or(home.filter(|p| p.is_file())).unwrap_or_else(|| {
        panic!(
            "the tansu broker is not installed: run scripts/test.sh, which installs it \
             (cargo install tansu --version 0.6.0 --features dynostore), or set TANSU_BIN"
        )
    })
}

impl Tansu {
    /// The broker's process id (for its CPU time in benchmarks).
    #[allow(dead_code)]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A broker keeping every record in memory.
    pub fn start() -> Self {
        Self::start_on("memory://tansu/")
    }

    /// A broker that acknowledges every record and keeps none (tansu's null storage: topics
    /// exist, reads find nothing): for runs longer than memory storage can hold (it keeps every
    /// record: about 24 GB after 10 minutes of an unthrottled run on a fast day).
    #[allow(dead_code)]
    pub fn start_discarding() -> Self {
        Self::start_on("null://discard/")
    }

    fn start_on(storage: &str) -> Self {
        let addr = super::free_addr();
        let url = format!("tcp://{addr}");
        let logs = tempfile::tempdir().unwrap();
        let log = File::create(logs.path().join("tansu.log")).unwrap();
        let child = Command::new(binary())
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", storage])
            .env_remove("SCHEMA_REGISTRY")
            .env_remove("STORAGE_ENGINE")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("tansu starts");
        let mut tansu = Self {
            bootstrap: addr,
            child,
            _logs: logs,
        };
        tansu.wait_ready();
        tansu
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        while TcpStream::connect(&self.bootstrap).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(self._logs.path().join("tansu.log"))
                    .unwrap_or_default();
                panic!("tansu exited with {status} before listening:\n{log}");
            }
            assert!(
                started.elapsed() < READY_WITHIN,
                "tansu did not listen on {} within {READY_WITHIN:?}",
                self.bootstrap
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let probe: BaseProducer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .create()
            .unwrap();
        probe
            .client()
            .fetch_metadata(None, READY_WITHIN)
            .unwrap_or_else(|e| panic!("tansu at {} answers no metadata: {e}", self.bootstrap));
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
