//! Wiring of `retailgen verify`: read every topic back from the beginning, decode through the
//! registry, check the rules (and a manifest's figures), print one line per rule. Exit 0 when
//! all hold, 1 on a violation, 2 on bad input (broker or registry unreachable, unknown topic,
//! unreadable manifest).

use std::collections::HashMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use apache_avro::types::Value;
use apache_avro::Schema;

use crate::adapters::kafka::replay::{read_raw, Raw, ReplayError};
use crate::adapters::kafka::KafkaError;
use crate::adapters::postgres;
use crate::adapters::registry::decoder::{read_body, split_wire};
use crate::adapters::registry::RegistryClient;
use crate::config::{describe_dsn, Settings, StoreKind};
use crate::domain::faults::LateMode;
use crate::verify::manifest::AgainstManifest;
use crate::verify::tables::Tables;
use crate::verify::{event_time, in_event_time, render, At, Seen, Verifier, ORDER};

/// Input the user must fix: exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadInput(String);

pub async fn run_until_done(settings: Settings, manifest: Option<&Path>, json: bool) -> ExitCode {
    let secrets = settings.secrets();
    match verify(&settings, manifest, json).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("retailgen verify: {}", super::redacted(&e, &secrets));
            ExitCode::from(2)
        }
    }
}

/// The writers' schemas of every id the records name, from the registry; an id it does not know
/// maps to `None` (those records do not decode).
async fn schemas(
    registry: &RegistryClient,
    topics: &[Vec<Raw>],
) -> anyhow::Result<HashMap<u32, Option<Schema>>> {
    let mut out = HashMap::new();
    for raw in topics.iter().flatten() {
        let Ok((id, _)) = split_wire(&raw.value) else {
            continue;
        };
        if out.contains_key(&id) {
            continue;
        }
        let text = registry
            .schema_by_id(id)
            .await
            .map_err(|e| BadInput(format!("the schema registry: {e}")))?;
        let schema = text
            .map(|t| Schema::parse_str(&t))
            .transpose()
            .map_err(|e| BadInput(format!("the registry's schema {id} does not parse: {e}")))?;
        out.insert(id, schema);
    }
    Ok(out)
}

fn decode(schemas: &HashMap<u32, Option<Schema>>, value: &[u8]) -> Option<Value> {
    let (id, body) = split_wire(value).ok()?;
    let schema = schemas.get(&id)?.as_ref()?;
    let mut body = body;
    let value = read_body(schema, &mut body).ok()?;
    // A value must use its body whole (a truncated one fails above, a padded one here).
    body.is_empty().then_some(value)
}

/// What the Postgres tables hold (with `STORE=postgres`).
async fn tables(s: &Settings) -> anyhow::Result<Tables> {
    let target = describe_dsn(&s.store.pg_dsn);
    let unreachable =
        |e: postgres::PgError| BadInput(format!("the tables at {target} (PG_DSN): {e}"));
    let pool = postgres::connect(&s.store.pg_dsn)
        .await
        .map_err(unreachable)?;
    let client = postgres::client(&pool, "reading the tables")
        .await
        .map_err(unreachable)?;
    let read = |e: tokio_postgres::Error| BadInput(format!("reading the tables at {target}: {e}"));
    let ids = |rows: Vec<tokio_postgres::Row>| rows.iter().map(|r| r.get::<_, String>(0)).collect();
    let mut t = Tables {
        canonical: super::postgres_canonical(s),
        ..Tables::default()
    };
    t.users = ids(client
        .query("SELECT user_id FROM users", &[])
        .await
        .map_err(read)?);
    t.products = ids(client
        .query("SELECT product_id FROM products", &[])
        .await
        .map_err(read)?);
    let stores = client
        .query(
            "SELECT store_id, round(tax_rate * 10000)::bigint FROM stores",
            &[],
        )
        .await
        .map_err(read)?;
    t.stores = stores.iter().map(|r| (r.get(0), r.get(1))).collect();
    let stock = client
        .query(
            "SELECT warehouse_id || ':' || product_id, qty::bigint FROM warehouse_inventory \
             UNION ALL SELECT store_id || ':' || product_id, qty::bigint FROM store_inventory",
            &[],
        )
        .await
        .map_err(read)?;
    t.stock = stock.iter().map(|r| (r.get(0), r.get(1))).collect();
    Ok(t)
}

async fn verify(s: &Settings, manifest: Option<&Path>, json: bool) -> anyhow::Result<bool> {
    let against = match manifest {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                BadInput(format!("cannot read the manifest {}: {e}", path.display()))
            })?;
            let json = serde_json::from_str(&text).map_err(|e| {
                BadInput(format!("the manifest {} is not JSON: {e}", path.display()))
            })?;
            Some(AgainstManifest::new(json))
        }
        None => None,
    };
    let tables = match s.store.kind {
        StoreKind::Postgres => Some(tables(s).await?),
        StoreKind::Memory => None,
    };
    let names = super::topic_names(s);
    let started = Instant::now();
    let k = s.kafka.clone();
    let wanted: Vec<String> = ORDER.iter().map(|st| names.of(*st).to_owned()).collect();
    let topics = tokio::task::spawn_blocking(move || {
        wanted
            .iter()
            .map(|t| match read_raw(&k, t) {
                Ok(Some(records)) => Ok(records),
                Ok(None) => Err(BadInput(format!(
                    "topic {t} does not exist at {} (KAFKA_BOOTSTRAP); valid: the topics a run wrote (TOPIC_*)",
                    k.bootstrap
                ))),
                Err(ReplayError::Kafka(e @ KafkaError::Unreachable { .. })) => {
                    Err(BadInput(e.to_string()))
                }
                Err(e) => Err(BadInput(e.to_string())),
            })
            .collect::<Result<Vec<_>, _>>()
    })
    .await??;
    let read = started.elapsed();
    let per_topic: Vec<(String, usize)> = ORDER
        .iter()
        .zip(&topics)
        .map(|(st, raws)| (names.of(*st).to_owned(), raws.len()))
        .collect();
    let registry = RegistryClient::new(&s.registry).map_err(|e| BadInput(e.to_string()))?;
    let schemas = schemas(&registry, &topics).await?;
    let late_mode = s.faults.late_mode;
    let (tallies, records) = tokio::task::spawn_blocking(move || {
        let mut verifier = Verifier::new();
        if let Some(tables) = tables {
            verifier = verifier.with_tables(tables);
        }
        let mut against = against;
        let mut records = 0u64;
        for (stream, raws) in ORDER.iter().zip(&topics) {
            let topic = names.of(*stream);
            let mut values: Vec<Option<Value>> = raws
                .iter()
                .map(|raw| decode(&schemas, &raw.value))
                .collect();
            for (raw, value) in raws.iter().zip(&values) {
                verifier.published(&Seen {
                    at: At {
                        topic,
                        partition: raw.partition,
                        offset: raw.offset,
                    },
                    stream: *stream,
                    key: &raw.key,
                    dq: raw.dq.as_deref(),
                    shard: raw.shard.as_deref(),
                    value: value.as_ref(),
                    bytes: &raw.value,
                    late_mode,
                });
            }
            let mut order: Vec<usize> = (0..raws.len()).collect();
            if late_mode == LateMode::Delay && in_event_time(*stream) {
                // Delayed late records in their place in time (stable: ties keep their order).
                order.sort_by_key(|&i| values[i].as_ref().and_then(|v| event_time(*stream, v)));
            }
            for i in order {
                let raw = &raws[i];
                records += 1;
                let value = values[i].take();
                let at = At {
                    topic,
                    partition: raw.partition,
                    offset: raw.offset,
                };
                let dq = raw.dq.as_deref();
                if let Some(m) = against.as_mut().filter(|m| m.holds(at)) {
                    m.see(at, *stream, dq, value.as_ref());
                }
                verifier.see(&Seen {
                    at,
                    stream: *stream,
                    key: &raw.key,
                    dq,
                    shard: raw.shard.as_deref(),
                    value: value.as_ref(),
                    bytes: &raw.value,
                    late_mode,
                });
            }
        }
        let mut tallies = verifier.finish();
        tallies.extend(against.map(AgainstManifest::finish));
        (tallies, records)
    })
    .await?;
    let violations: u64 = tallies.iter().map(|t| t.violations).sum();
    let secs = started.elapsed().as_secs_f64();
    if json {
        let topics: serde_json::Map<String, serde_json::Value> = per_topic
            .into_iter()
            .map(|(t, n)| (t, serde_json::json!({ "records": n })))
            .collect();
        let report = serde_json::json!({
            "ok": violations == 0,
            "records": records,
            "violations": violations,
            "elapsed_s": secs,
            "reading_s": read.as_secs_f64(),
            "manifest": manifest.map(|p| p.display().to_string()),
            "topics": topics,
            "rules": crate::verify::rules_json(&tallies),
        });
        println!("{report}");
        return Ok(violations == 0);
    }
    print!("{}", render(&tallies));
    println!(
        "verify: {records} records in {secs:.2} s ({:.0} records/s; reading {:.2} s); {}",
        records as f64 / secs,
        read.as_secs_f64(),
        match violations {
            0 => "every rule holds".to_owned(),
            n => format!("{n} violations"),
        }
    );
    Ok(violations == 0)
}
