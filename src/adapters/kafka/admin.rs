//! Creates the topics that do not exist yet, with the configured partitions and replication.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::types::RDKafkaErrorCode;

use super::client_config::{client_config, dispose};
use super::KafkaError;
use crate::config::KafkaSettings;

const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

fn admin(k: &KafkaSettings) -> Result<AdminClient<DefaultClientContext>, KafkaError> {
    client_config(k)
        .create()
        .map_err(|e| KafkaError::Client(e.to_string()))
}

/// The topics the cluster has now. Asked by a plain client: an admin client's polling thread
/// takes 0.1 s to stop when it is dropped.
pub async fn existing_topics(k: &KafkaSettings) -> Result<Vec<String>, KafkaError> {
    let client: BaseConsumer = client_config(k)
        .create()
        .map_err(|e| KafkaError::Client(e.to_string()))?;
    let metadata =
        client
            .fetch_metadata(None, METADATA_TIMEOUT)
            .map_err(|e| KafkaError::Unreachable {
                bootstrap: k.bootstrap.clone(),
                cause: e.to_string(),
            })?;
    Ok(metadata
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| t.name().to_owned())
        .collect())
}

/// Ensures every topic in `topics` exists; existing topics are left as they are.
/// Returns the topics it created.
pub async fn ensure_topics(
    k: &KafkaSettings,
    topics: &[String],
    partitions: i32,
    replication: i32,
) -> Result<Vec<String>, KafkaError> {
    let existing = existing_topics(k).await?;
    let wanted: Vec<(&str, i32, Cleanup)> = topics
        .iter()
        .map(|t| (t.as_str(), partitions, Cleanup::Delete))
        .collect();
    create_missing(k, &wanted, &existing, replication).await
}

/// How a created topic's log is cleaned: by age (the broker's default), or compacted to the last
/// record of each key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cleanup {
    Delete,
    Compact,
}

/// Creates, in one request, each of `wanted` (name, partitions, cleanup) that is not among `existing`
/// (the cluster's topics, as [`existing_topics`] found them). Returns the topics it created.
pub async fn create_missing(
    k: &KafkaSettings,
    wanted: &[(&str, i32, Cleanup)],
    existing: &[String],
    replication: i32,
) -> Result<Vec<String>, KafkaError> {
    let missing: Vec<NewTopic<'_>> = wanted
        .iter()
        .filter(|(t, ..)| !existing.iter().any(|e| e == t))
        .map(|&(t, partitions, cleanup)| {
            let topic = NewTopic::new(t, partitions, TopicReplication::Fixed(replication));
            match cleanup {
                Cleanup::Delete => topic,
                Cleanup::Compact => topic.set("cleanup.policy", "compact"),
            }
        })
        .collect();
    if missing.is_empty() {
        return Ok(vec![]);
    }
    let admin = admin(k)?;
    let opts = AdminOptions::new().operation_timeout(Some(METADATA_TIMEOUT));
    let results =
        admin
            .create_topics(&missing, &opts)
            .await
            .map_err(|e| KafkaError::Unreachable {
                bootstrap: k.bootstrap.clone(),
                cause: e.to_string(),
            })?;
    dispose(admin);
    let mut created = Vec::new();
    for result in results {
        match result {
            Ok(topic) => created.push(topic),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                let partitions = wanted
                    .iter()
                    .find(|(t, ..)| *t == topic)
                    .map_or(0, |&(_, p, _)| p);
                return Err(KafkaError::CreateTopic {
                    topic,
                    partitions,
                    replication,
                    cause: code.to_string(),
                });
            }
        }
    }
    Ok(created)
}
