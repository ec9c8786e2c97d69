//! Start-up waits for the services a run needs (`STARTUP_WAIT`): a container started before its
//! database, broker or registry logs what it waits for instead of failing at once.

use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::adapters::kafka::existing_topics;
use crate::adapters::postgres;
use crate::adapters::registry::RegistryClient;
use crate::config::{describe_dsn, Settings, SinkKind, StoreKind};

/// How often a service that does not answer is asked again.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// How often the wait is logged.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// The services a command talks to.
pub struct Needs {
    pub postgres: bool,
    /// Kafka and the Schema Registry.
    pub kafka: bool,
}

impl Needs {
    /// What `retailgen run` talks to: its store and its sink.
    pub fn of_run(s: &Settings) -> Self {
        Self {
            postgres: s.store.kind == StoreKind::Postgres,
            kafka: s.run.sink == SinkKind::Kafka,
        }
    }
}

/// Waits until every service in `needs` answers, for up to `STARTUP_WAIT` in all; a refusal
/// that waiting does not cure (a wrong password) fails at once.
pub async fn services(s: &Settings, needs: Needs) -> anyhow::Result<()> {
    let wait = s.ops.startup_wait;
    if wait.is_zero() {
        return Ok(());
    }
    let deadline = Instant::now() + wait;
    if needs.postgres {
        let dsn = &s.store.pg_dsn;
        let target = format!("{} (PG_DSN)", describe_dsn(dsn));
        until_up(&target, deadline, wait, || async {
            postgres::probe(dsn).await.map_err(anyhow::Error::from)
        })
        .await?;
    }
    if needs.kafka {
        let target = format!("Kafka at {} (KAFKA_BOOTSTRAP)", s.kafka.bootstrap);
        until_up(&target, deadline, wait, || async {
            Ok(existing_topics(&s.kafka).await.err().map(|e| e.to_string()))
        })
        .await?;
        let registry = RegistryClient::new(&s.registry)?;
        let target = format!(
            "the Schema Registry at {} (SCHEMA_REGISTRY_URL)",
            s.registry.url
        );
        until_up(&target, deadline, wait, || async {
            registry.probe().await.map_err(anyhow::Error::from)
        })
        .await?;
    }
    Ok(())
}

/// Asks `probe` until it answers (`Ok(None)`), fails for good, or `deadline` passes.
async fn until_up<F, P>(
    target: &str,
    deadline: Instant,
    wait: Duration,
    mut probe: P,
) -> anyhow::Result<()>
where
    P: FnMut() -> F,
    F: Future<Output = anyhow::Result<Option<String>>>,
{
    let mut logged: Option<Instant> = None;
    loop {
        let cause = match probe()
            .await
            .with_context(|| format!("checking {target}"))?
        {
            None => {
                if logged.is_some() {
                    tracing::info!("{target} answers; starting");
                }
                return Ok(());
            }
            Some(cause) => cause,
        };
        let now = Instant::now();
        if now >= deadline {
            anyhow::bail!(
                "{target} did not answer within STARTUP_WAIT={}: {cause}",
                humantime::format_duration(wait)
            );
        }
        if logged.is_none_or(|at| now.duration_since(at) >= LOG_EVERY) {
            tracing::warn!(
                "waiting for {target} ({cause}); {} s left of STARTUP_WAIT",
                deadline.duration_since(now).as_secs()
            );
            logged = Some(now);
        }
        tokio::time::sleep(RETRY_EVERY.min(deadline.duration_since(now))).await;
    }
}
