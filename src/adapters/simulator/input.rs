//! What the simulator reads: foot-traffic sessions and shelf events in retailgen's Avro
//! (Confluent wire format, the writer's schema fetched by id) or in the pos_producer.py POS simulator's JSON,
//! recognised per record.

use apache_avro::types::Value;
use chrono::{DateTime, NaiveDateTime};
use serde::Deserialize;

use crate::adapters::registry::decoder::{as_long, as_text, field, WireDecoder};
use crate::domain::events::Millis;
use crate::domain::store::simulator::{SessionIn, ShelfIn};

/// A record read: something for the carts, or a record of a kind the simulator has no use for
/// (pos_producer.py's `entry`/`exit` and `weight_change` events).
#[derive(Debug, PartialEq, Eq)]
pub enum Read<T> {
    Use(T),
    Skip(&'static str),
}

/// A session from a foot-traffic record.
pub fn session(value: &[u8], avro: &mut WireDecoder) -> Result<Read<SessionIn>, String> {
    match value.first() {
        Some(0) => session_from_avro(&avro.decode(value)?),
        _ => session_from_json(value),
    }
}

/// A pickup or putback from a shelf record.
pub fn shelf(value: &[u8], avro: &mut WireDecoder) -> Result<Read<ShelfIn>, String> {
    match value.first() {
        Some(0) => shelf_from_avro(&avro.decode(value)?),
        _ => shelf_from_json(value),
    }
}

fn required<T>(v: Option<T>, name: &str) -> Result<T, String> {
    v.ok_or_else(|| format!("no usable field {name}"))
}

fn session_from_avro(r: &Value) -> Result<Read<SessionIn>, String> {
    let kind = as_text(field(r, "event_type")).unwrap_or_else(|| "foot_traffic".into());
    if kind != "foot_traffic" {
        return Ok(Read::Skip("a foot event that is not a session"));
    }
    let optional = |name| as_text(field(r, name)).filter(|s| !s.is_empty());
    checked_session(SessionIn {
        customer_id: required(as_text(field(r, "customer_id")), "customer_id")?,
        store_id: optional("store_id"),
        entry: required(as_long(field(r, "entry_time")), "entry_time")?,
        exit: required(as_long(field(r, "exit_time")), "exit_time")?,
        visit_id: optional("visit_id"),
    })
}

fn shelf_from_avro(r: &Value) -> Result<Read<ShelfIn>, String> {
    let kind = required(as_text(field(r, "event_type")), "event_type")?;
    checked_shelf(
        &kind,
        ShelfIn {
            customer_id: required(as_text(field(r, "customer_id")), "customer_id")?,
            item_id: required(as_text(field(r, "item_id")), "item_id")?,
            quantity: required(as_long(field(r, "quantity")), "quantity")?
                .try_into()
                .map_err(|_| "a quantity beyond 32 bits".to_owned())?,
            pickup: kind == "pickup",
            at: required(as_long(field(r, "timestamp")), "timestamp")?,
        },
    )
}

fn checked_session(s: SessionIn) -> Result<Read<SessionIn>, String> {
    if s.customer_id.is_empty() {
        return Err("an empty customer_id".into());
    }
    if s.exit < s.entry {
        return Err(format!(
            "exit_time {} before entry_time {}",
            s.exit, s.entry
        ));
    }
    Ok(Read::Use(s))
}

fn checked_shelf(kind: &str, e: ShelfIn) -> Result<Read<ShelfIn>, String> {
    match kind {
        "pickup" | "putback" => {}
        "weight_change" => return Ok(Read::Skip("a weight_change event")),
        other => {
            return Err(format!(
                "event_type {other:?}; valid: pickup, putback (weight_change is skipped)"
            ))
        }
    }
    if e.customer_id.is_empty() || e.item_id.is_empty() {
        return Err("an empty customer_id or item_id".into());
    }
    if e.quantity <= 0 {
        return Err(format!("quantity {}; valid: >= 1", e.quantity));
    }
    Ok(Read::Use(e))
}

/// 001 writes times as ISO strings (`2025-03-01T10:00:00+00:00`, or without an offset, meaning
/// UTC); epoch milliseconds are taken too.
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonTime {
    Millis(i64),
    Text(String),
}

impl JsonTime {
    fn millis(&self, name: &str) -> Result<Millis, String> {
        match self {
            JsonTime::Millis(ms) => Ok(*ms),
            JsonTime::Text(t) => DateTime::parse_from_rfc3339(t)
                .map(|d| d.timestamp_millis())
                .or_else(|_| {
                    NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
                        .map(|d| d.and_utc().timestamp_millis())
                })
                .map_err(|_| format!("{name} {t:?} is not an ISO 8601 time")),
        }
    }
}

#[derive(Deserialize)]
struct JsonFoot {
    event_type: Option<String>,
    customer_id: Option<String>,
    store_id: Option<String>,
    visit_id: Option<String>,
    entry_time: Option<JsonTime>,
    exit_time: Option<JsonTime>,
}

#[derive(Deserialize)]
struct JsonShelf {
    event_type: Option<String>,
    customer_id: Option<String>,
    item_id: Option<serde_json::Value>,
    quantity: Option<i64>,
    timestamp: Option<JsonTime>,
}

fn json<'a, T: Deserialize<'a>>(value: &'a [u8]) -> Result<T, String> {
    serde_json::from_slice(value)
        .map_err(|e| format!("neither Confluent wire format (magic byte 0) nor a JSON object: {e}"))
}

fn session_from_json(value: &[u8]) -> Result<Read<SessionIn>, String> {
    let f: JsonFoot = json(value)?;
    match f.event_type.as_deref() {
        None | Some("foot_traffic") => {}
        Some("entry" | "exit") => return Ok(Read::Skip("pos_producer.py's entry/exit event")),
        Some(other) => return Err(format!("event_type {other:?}; valid: foot_traffic")),
    }
    checked_session(SessionIn {
        customer_id: required(f.customer_id, "customer_id")?,
        store_id: f.store_id.filter(|s| !s.is_empty()),
        entry: required(f.entry_time, "entry_time")?.millis("entry_time")?,
        exit: required(f.exit_time, "exit_time")?.millis("exit_time")?,
        visit_id: f.visit_id.filter(|s| !s.is_empty()),
    })
}

fn shelf_from_json(value: &[u8]) -> Result<Read<ShelfIn>, String> {
    let e: JsonShelf = json(value)?;
    let kind = required(e.event_type, "event_type")?;
    if kind == "weight_change" {
        return Ok(Read::Skip("a weight_change event"));
    }
    // pos_producer.py's item_id is the shelf id, a string; a number is taken as its text.
    let item_id = match required(e.item_id, "item_id")? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        _ => return Err("item_id is neither a string nor a number".into()),
    };
    checked_shelf(
        &kind,
        ShelfIn {
            customer_id: required(e.customer_id, "customer_id")?,
            item_id,
            quantity: required(e.quantity, "quantity")?
                .try_into()
                .map_err(|_| "a quantity beyond 32 bits".to_owned())?,
            pickup: kind == "pickup",
            at: required(e.timestamp, "timestamp")?.millis("timestamp")?,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_001_json_is_read_as_it_writes_it() {
        let foot = br#"{"event_type": "foot_traffic", "customer_id": "c-1", "entry_time": "2025-03-03T10:00:00+00:00", "exit_time": "2025-03-03T10:25:00+00:00", "trip_duration_minutes": 25, "weekday": "Monday", "time_slot": "10:00\u201313:59"}"#;
        let Read::Use(s) = session_from_json(foot).unwrap() else {
            panic!("a session")
        };
        assert_eq!(s.customer_id, "c-1");
        assert_eq!(s.exit - s.entry, 25 * 60_000);
        assert_eq!(s.entry, 1_740_996_000_000);
        let pick = br#"{"event_type": "pickup", "customer_id": "c-1", "item_id": "SHELF-7", "weight": 0.5, "quantity": 2, "timestamp": "2025-03-03T10:05:00.250000"}"#;
        let Read::Use(e) = shelf_from_json(pick).unwrap() else {
            panic!("a pickup")
        };
        assert_eq!(
            (e.item_id.as_str(), e.quantity, e.pickup),
            ("SHELF-7", 2, true)
        );
        assert_eq!(e.at, 1_740_996_300_250);
        let weight = br#"{"event_type": "weight_change", "customer_id": "c", "item_id": "S", "delta_weight": -1.0, "timestamp": "2025-03-03T10:05:00"}"#;
        assert!(matches!(shelf_from_json(weight), Ok(Read::Skip(_))));
        let entry =
            br#"{"event_type": "entry", "time": "2025-03-03T10:05:00", "weekday": "Monday"}"#;
        assert!(matches!(session_from_json(entry), Ok(Read::Skip(_))));
    }

    #[test]
    fn garbage_is_an_error_that_says_what_was_wrong() {
        let e = shelf_from_json(b"\x01\x02not json").unwrap_err();
        assert!(e.contains("neither Confluent wire format"), "{e}");
        let e = shelf_from_json(br#"{"event_type": "pickup", "customer_id": "c", "item_id": "S", "quantity": 0, "timestamp": 1}"#).unwrap_err();
        assert!(e.contains("quantity 0"), "{e}");
        let e = session_from_json(
            br#"{"customer_id": "c", "entry_time": "yesterday", "exit_time": 5}"#,
        )
        .unwrap_err();
        assert!(e.contains("entry_time \"yesterday\""), "{e}");
        let e = session_from_json(br#"{"customer_id": "c", "entry_time": 10, "exit_time": 5}"#)
            .unwrap_err();
        assert!(e.contains("before entry_time"), "{e}");
    }
}
