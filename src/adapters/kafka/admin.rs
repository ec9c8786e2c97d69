//! Creates the topics that do not exist yet, with the configured partitions and replication.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

use super::client_config::client_config;
use super::KafkaError;
use crate::config::KafkaSettings;

const METADATA_TIMEOUT: Duration = Duration::from_secs(10);

fn admin(k: &KafkaSettings) -> Result<AdminClient<DefaultClientContext>, KafkaError> {
    client_config(k)
        .create()
        .map_err(|e| KafkaError::Client(e.to_string()))
}

/// The topics the cluster has now.
pub async fn existing_topics(k: &KafkaSettings) -> Result<Vec<String>, KafkaError> {
    let admin = admin(k)?;
    let metadata = admin
        .inner()
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
    let admin = admin(k)?;
    let existing = existing_topics(k).await?;
    let missing: Vec<&String> = topics.iter().filter(|t| !existing.contains(t)).collect();
    if missing.is_empty() {
        return Ok(vec![]);
    }
    let new: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|t| NewTopic::new(t, partitions, TopicReplication::Fixed(replication)))
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(METADATA_TIMEOUT));
    let results = admin
        .create_topics(&new, &opts)
        .await
        .map_err(|e| KafkaError::Unreachable {
            bootstrap: k.bootstrap.clone(),
            cause: e.to_string(),
        })?;
    let mut created = Vec::new();
    for result in results {
        match result {
            Ok(topic) => created.push(topic),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(KafkaError::CreateTopic {
                    topic,
                    partitions,
                    replication,
                    cause: code.to_string(),
                })
            }
        }
    }
    Ok(created)
}
