//! One Avro Object Container File per topic in `--out DIR`, written as `.partial` and renamed when complete.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use apache_avro::Writer;

use super::TopicCounter;
use crate::adapters::avro::schema;
use crate::domain::ports::{EventPublisher, PublishError, TopicReport};
use crate::domain::record::Record;
use crate::domain::stream::{Stream, TopicNames};

struct TopicFile {
    writer: Option<Writer<'static, BufWriter<File>>>,
    partial: PathBuf,
    done: PathBuf,
}

pub struct FileSink {
    files: Vec<TopicFile>,
    counter: TopicCounter,
}

#[derive(Debug, thiserror::Error)]
pub enum FileSinkError {
    #[error("{0} already exists; retailgen never overwrites output: choose another --out (OUT_DIR) or move it away")]
    Exists(PathBuf),
    #[error("cannot create {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl FileSink {
    /// Creates `DIR/<topic>.avro.partial` for every topic; refuses to overwrite a finished file.
    /// The sync markers derive from `seed`, so the same seed and settings give identical files.
    pub fn create(dir: &Path, topics: TopicNames, seed: u64) -> Result<Self, FileSinkError> {
        fs::create_dir_all(dir).map_err(|source| FileSinkError::Create {
            path: dir.to_owned(),
            source,
        })?;
        let mut files = Vec::with_capacity(Stream::COUNT);
        for (stream, topic) in topics.iter() {
            let done = dir.join(format!("{topic}.avro"));
            if done.exists() {
                return Err(FileSinkError::Exists(done));
            }
            let partial = dir.join(format!("{topic}.avro.partial"));
            let file = File::create(&partial).map_err(|source| FileSinkError::Create {
                path: partial.clone(),
                source,
            })?;
            let writer = Writer::builder()
                .schema(schema(stream))
                .writer(BufWriter::new(file))
                .marker(sync_marker(seed, stream))
                .build()
                .map_err(|e| FileSinkError::Create {
                    path: partial.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?;
            files.push(TopicFile {
                writer: Some(writer),
                partial,
                done,
            });
        }
        Ok(Self {
            files,
            counter: TopicCounter::new(topics),
        })
    }

    /// Counts each written record in `stats` too.
    pub fn observed_by(mut self, stats: std::sync::Arc<crate::observe::RunStats>) -> Self {
        self.counter = self.counter.observed_by(stats);
        self
    }
}

fn sync_marker(seed: u64, stream: Stream) -> [u8; 16] {
    let mut ids = crate::domain::ids::IdGen::new(seed ^ stream.index() as u64);
    let text = ids.next("m") + &ids.next("m");
    let mut marker = [0u8; 16];
    marker.copy_from_slice(&text.as_bytes()[text.len() - 16..]);
    marker
}

fn sink_error(path: &Path, e: impl std::fmt::Display) -> PublishError {
    PublishError::Sink(format!("cannot write {}: {e}", path.display()))
}

impl EventPublisher for FileSink {
    fn publish(&mut self, record: &Record) -> Result<(), PublishError> {
        let stream = record.stream();
        let file = &mut self.files[stream.index()];
        let writer = file
            .writer
            .as_mut()
            .ok_or_else(|| sink_error(&file.done, "already closed"))?;
        writer
            .append_ser(&record.event)
            .map_err(|e| sink_error(&file.partial, e))?;
        self.counter.count(stream);
        Ok(())
    }

    /// Completes every file and renames it from `.partial` to `.avro`.
    fn flush(&mut self) -> Result<Vec<TopicReport>, PublishError> {
        for file in &mut self.files {
            let Some(writer) = file.writer.take() else {
                continue;
            };
            let buffered = writer
                .into_inner()
                .map_err(|e| sink_error(&file.partial, e))?;
            let handle = buffered
                .into_inner()
                .map_err(|e| sink_error(&file.partial, e.error()))?;
            handle
                .sync_all()
                .map_err(|e| sink_error(&file.partial, e))?;
            fs::rename(&file.partial, &file.done).map_err(|e| sink_error(&file.done, e))?;
        }
        Ok(self.counter.reports())
    }
}
