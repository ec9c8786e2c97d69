//! Reading back what retailgen produced: Confluent-decoded rows, `dq` labels, the env to reach Kafka.

use std::collections::HashMap;

use apache_avro::types::Value;
use schema_registry_converter::async_impl::avro::AvroDecoder;
use schema_registry_converter::async_impl::schema_registry::SrSettings;

use super::kafka::Consumed;
use super::registry::Registry;
use super::tansu::Tansu;

/// A decoded record: its fields by name, unions unwrapped.
pub struct Row {
    pub kafka: Consumed,
    pub fields: HashMap<String, Value>,
}

impl Row {
    pub fn str(&self, name: &str) -> &str {
        match &self.fields[name] {
            Value::String(s) | Value::Enum(_, s) => s,
            other => panic!("{name} is not a string: {other:?}"),
        }
    }
    pub fn f64(&self, name: &str) -> f64 {
        match &self.fields[name] {
            Value::Double(d) => *d,
            other => panic!("{name} is not a double: {other:?}"),
        }
    }
    pub fn i64(&self, name: &str) -> i64 {
        match &self.fields[name] {
            Value::Int(i) => i64::from(*i),
            Value::Long(l) | Value::TimestampMillis(l) => *l,
            other => panic!("{name} is not an integer: {other:?}"),
        }
    }
    pub fn header(&self, name: &str) -> &str {
        self.kafka.headers.get(name).map_or("", String::as_str)
    }
}

pub fn unwrap_union(v: Value) -> Value {
    match v {
        Value::Union(_, inner) => *inner,
        other => other,
    }
}

pub const POISON: [&str; 3] = [
    "bad:bad_magic_byte",
    "bad:unknown_schema_id",
    "bad:truncated_body",
];

pub fn dq(c: &Consumed) -> &str {
    c.headers.get("dq").map_or("", String::as_str)
}

pub fn decoder(registry: &Registry, auth: (&str, &str)) -> AvroDecoder {
    let settings = SrSettings::new_builder(registry.url.clone())
        .set_basic_authorization(auth.0, Some(auth.1))
        .build()
        .unwrap();
    AvroDecoder::new(settings)
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Decodes every record that is not a labelled wire-level poison pill.
pub fn decode(registry: &Registry, auth: (&str, &str), records: Vec<Consumed>) -> Vec<Row> {
    let decoder = decoder(registry, auth);
    let rt = runtime();
    records
        .into_iter()
        .filter(|c| !POISON.contains(&dq(c)))
        .map(|kafka| {
            assert_eq!(kafka.payload[0], 0, "magic byte");
            let id = u32::from_be_bytes(kafka.payload[1..5].try_into().unwrap());
            assert_eq!(
                Some(id),
                registry.latest_id(&format!("{}-value", kafka.topic)),
                "schema id of {}",
                kafka.topic
            );
            let decoded = rt
                .block_on(decoder.decode(Some(&kafka.payload)))
                .expect("a Confluent decoder reads it");
            let Value::Record(fields) = decoded.value else {
                panic!("a record")
            };
            let fields = fields
                .into_iter()
                .map(|(k, v)| (k, unwrap_union(v)))
                .collect();
            Row { kafka, fields }
        })
        .collect()
}

pub fn kafka_env<'a>(broker: &'a Tansu, registry: &'a Registry) -> Vec<(&'a str, &'a str)> {
    vec![
        ("KAFKA_BOOTSTRAP", broker.bootstrap.as_str()),
        ("SCHEMA_REGISTRY_URL", registry.url.as_str()),
    ]
}
