//! Decodes values in Confluent wire format with the schema that wrote them, fetched by id from
//! the registry once and kept; an id the registry does not know is an error naming it.

use apache_avro::reader::datum::GenericDatumReader;
use apache_avro::types::Value;
use apache_avro::Schema;
use rustc_hash::FxHashMap;
use tokio::runtime::Handle;

use super::RegistryClient;

pub struct WireDecoder {
    client: RegistryClient,
    runtime: Handle,
    url: String,
    writers: FxHashMap<u32, Schema>,
}

/// The schema id and body of a value in Confluent wire format.
pub fn split_wire(value: &[u8]) -> Result<(u32, &[u8]), String> {
    match (value.first().copied(), value.get(1..5), value.get(5..)) {
        (Some(0), Some(id), Some(body)) => {
            Ok((u32::from_be_bytes([id[0], id[1], id[2], id[3]]), body))
        }
        _ => Err("an unlabelled record that is not in Confluent wire format".into()),
    }
}

/// A body read with the schema that wrote it; `body` is left at what the value did not use.
pub fn read_body(schema: &Schema, body: &mut &[u8]) -> Result<Value, apache_avro::Error> {
    GenericDatumReader::builder(schema)
        .build()
        .and_then(|r| r.read_value(body))
}

impl WireDecoder {
    pub fn new(client: RegistryClient, runtime: Handle, url: String) -> Self {
        Self {
            client,
            runtime,
            url,
            writers: FxHashMap::default(),
        }
    }

    /// The value decoded with its writer's schema. Call from outside the runtime (it may look
    /// a schema up).
    pub fn decode(&mut self, value: &[u8]) -> Result<Value, String> {
        let (id, body) = split_wire(value)?;
        self.decode_body(id, body)
    }

    /// A body written with schema `id`.
    pub fn decode_body(&mut self, id: u32, body: &[u8]) -> Result<Value, String> {
        let schema = self.writer(id)?;
        read_body(schema, &mut &body[..])
            .map_err(|e| format!("a value that does not decode with its schema (id {id}): {e}"))
    }

    fn writer(&mut self, id: u32) -> Result<&Schema, String> {
        if !self.writers.contains_key(&id) {
            let text = self
                .runtime
                .block_on(self.client.schema_by_id(id))
                .map_err(|e| e.to_string())?
                .ok_or_else(|| {
                    format!(
                        "schema id {id} is unknown to the schema registry at {} (SCHEMA_REGISTRY_URL): \
                         point retailgen at the registry that wrote the topic",
                        self.url
                    )
                })?;
            let schema = Schema::parse_str(&text).map_err(|e| format!("schema id {id}: {e}"))?;
            self.writers.insert(id, schema);
        }
        Ok(&self.writers[&id])
    }
}

/// Field `name` of a decoded record, unwrapped from a union.
pub fn field<'a>(record: &'a Value, name: &str) -> Option<&'a Value> {
    let Value::Record(fields) = record else {
        return None;
    };
    let v = fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)?;
    match v {
        Value::Union(_, inner) => Some(inner),
        v => Some(v),
    }
}

pub fn as_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) | Value::Enum(_, s) => Some(s.clone()),
        _ => None,
    }
}

pub fn as_long(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Long(n) | Value::TimestampMillis(n) => Some(*n),
        Value::Int(n) => Some(i64::from(*n)),
        _ => None,
    }
}

pub fn as_double(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Double(x) => Some(*x),
        Value::Float(x) => Some(f64::from(*x)),
        _ => None,
    }
}
