//! The run manifest: what a run sent, as JSON written at its end (also after SIGTERM or a
//! failure, then saying so), atomically (a temporary file renamed over the target), so a
//! pipeline's results can be checked against it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::config::{is_secret_property, redact, Secret, Settings};
use crate::domain::totals::{OrderDay, StoreDay};
use crate::observe::RunStats;

#[derive(Debug, Serialize)]
pub struct PartitionRange {
    pub first_offset: i64,
    pub last_offset: i64,
}

#[derive(Debug, Serialize)]
pub struct TopicFigures {
    pub produced: u64,
    pub acknowledged: u64,
    pub failed: u64,
    /// Offsets this run wrote, per partition, from the delivery reports (Kafka only).
    pub partitions: BTreeMap<i32, PartitionRange>,
}

#[derive(Debug, Serialize)]
pub struct Business {
    /// By UTC day, then currency.
    pub orders: BTreeMap<String, BTreeMap<String, OrderDay>>,
    /// By store id, then the store's local day.
    pub stores: BTreeMap<String, BTreeMap<String, StoreDay>>,
    /// Units on hand per location (warehouse or store id) when the run ended.
    pub stock_at_end: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub retailgen_version: &'static str,
    /// `completed` (a stop condition or a signal) or `failed`.
    pub outcome: &'static str,
    pub error: Option<String>,
    pub seed: Option<u64>,
    /// The run's number on its target (0 on a fresh one).
    pub run: Option<u32>,
    /// Every setting as given, by TOML key; secrets redacted.
    pub settings: BTreeMap<String, String>,
    pub started_at: String,
    pub ended_at: String,
    pub stop_reason: Option<String>,
    pub topics: BTreeMap<String, TopicFigures>,
    /// Labelled faults (`dq` header) per topic and kind.
    pub faults: BTreeMap<String, BTreeMap<String, u64>>,
    /// `None` if the run failed before it generated anything.
    pub business: Option<Business>,
}

/// How a run ended, as the manifest tells it.
pub struct Ending {
    pub seed: Option<u64>,
    pub run: Option<u32>,
    pub started_at: SystemTime,
    pub stop_reason: Option<String>,
    /// The failure, secrets already redacted.
    pub error: Option<String>,
}

fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The settings as given, with secrets hidden (and any secret a value carries redacted).
fn shown_settings(s: &Settings) -> BTreeMap<String, String> {
    let secrets = s.secrets();
    let refs: Vec<&Secret> = secrets.iter().collect();
    let mut shown: BTreeMap<String, String> = s
        .given
        .iter()
        .map(|(k, v)| (k.to_string(), redact(v, &refs)))
        .collect();
    for (name, value) in &s.kafka.properties {
        let value = match is_secret_property(name) {
            true => "(secret)".to_owned(),
            false => redact(value, &refs),
        };
        shown.insert(format!("kafka.properties.{name}"), value);
    }
    shown
}

pub fn build(s: &Settings, stats: &RunStats, ending: Ending) -> Manifest {
    let offsets = stats.offsets();
    let topics = stats
        .topics()
        .iter()
        .map(|(stream, topic)| {
            let partitions = offsets
                .iter()
                .filter(|((s, _), _)| *s == stream)
                .map(|((_, p), r)| {
                    let range = PartitionRange {
                        first_offset: r.first,
                        last_offset: r.last,
                    };
                    (*p, range)
                })
                .collect();
            let figures = TopicFigures {
                produced: stats.produced_of(stream),
                acknowledged: stats.acknowledged_of(stream),
                failed: stats.failed_of(stream),
                partitions,
            };
            (topic.to_owned(), figures)
        })
        .collect();
    let mut faults: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for ((stream, kind), n) in stats.faults() {
        let topic = stats.topics().of(stream).to_owned();
        faults.entry(topic).or_default().insert(kind, n);
    }
    let business = stats.closing().map(|c| Business {
        orders: c.totals.orders,
        stores: c.totals.stores,
        stock_at_end: c.stock,
    });
    Manifest {
        retailgen_version: env!("CARGO_PKG_VERSION"),
        outcome: match ending.error {
            Some(_) => "failed",
            None => "completed",
        },
        error: ending.error,
        seed: ending.seed,
        run: ending.run,
        settings: shown_settings(s),
        started_at: rfc3339(ending.started_at),
        ended_at: rfc3339(SystemTime::now()),
        stop_reason: ending.stop_reason,
        topics,
        faults,
        business,
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot write the run manifest {path} (MANIFEST_PATH): {cause}")]
pub struct WriteError {
    pub path: PathBuf,
    pub cause: std::io::Error,
}

/// Writes `manifest` to `path` atomically: a reader sees the old file or the whole new one.
pub fn write(path: &Path, manifest: &Manifest) -> Result<(), WriteError> {
    let failed = |cause| WriteError {
        path: path.to_owned(),
        cause,
    };
    let name = path
        .file_name()
        .map_or_else(|| "manifest".into(), |n| n.to_string_lossy().into_owned());
    let temporary = path.with_file_name(format!(".{name}.{}.partial", std::process::id()));
    let json = serde_json::to_vec_pretty(manifest).map_err(|e| failed(e.into()))?;
    let written = (|| {
        let mut file = std::fs::File::create(&temporary)?;
        file.write_all(&json)?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::stream::Stream;

    #[test]
    fn the_manifest_names_offsets_per_partition_and_hides_secrets() {
        let env = [
            (
                "PG_DSN".to_owned(),
                "host=db user=u password=hunter2".to_owned(),
            ),
            ("KAFKA_SASL_PASSWORD".to_owned(), "s3cret".to_owned()),
            (
                "KAFKA_PROPERTY_SSL_KEY_PASSWORD".to_owned(),
                "k3y".to_owned(),
            ),
        ]
        .into();
        let settings = crate::config::load(None, &env, &[]).unwrap();
        let stats = RunStats::keeping_offsets(crate::startup::topic_names(&settings));
        stats.produced(Stream::Orders);
        stats.delivered(Stream::Orders, Some((2, 17)));
        stats.fault(Stream::Orders, "late".into());
        let ending = Ending {
            seed: Some(7),
            run: Some(0),
            started_at: SystemTime::now(),
            stop_reason: Some("count".into()),
            error: None,
        };
        let manifest = build(&settings, &stats, ending);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.json");
        write(&path, &manifest).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        for secret in ["hunter2", "s3cret", "k3y"] {
            assert!(!text.contains(secret), "{secret} leaked: {text}");
        }
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["outcome"], "completed");
        assert_eq!(
            json["topics"]["orders.v1"]["partitions"]["2"],
            serde_json::json!({"first_offset": 17, "last_offset": 17})
        );
        assert_eq!(json["faults"]["orders.v1"]["late"], 1);
        assert_eq!(json["settings"]["store.pg_dsn"], "(secret)");
        assert_eq!(json["settings"]["run.sink"], "stdout");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file is left");
    }
}
