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
    /// Per schema id met so far: a reader of its writer's schema (built once: building one
    /// resolves the schema's names), or `None` if the registry does not know the id.
    readers: FxHashMap<u32, Option<GenericDatumReader<'static>>>,
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

impl WireDecoder {
    pub fn new(client: RegistryClient, runtime: Handle, url: String) -> Self {
        Self {
            client,
            runtime,
            url,
            readers: FxHashMap::default(),
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
        match self.reader(id)? {
            Some(reader) => reader.read_value(&mut &body[..]).map_err(|e| {
                format!("a value that does not decode with its schema (id {id}): {e}")
            }),
            None => Err(format!(
                "schema id {id} is unknown to the schema registry at {} (SCHEMA_REGISTRY_URL): \
                 point retailgen at the registry that wrote the topic",
                self.url
            )),
        }
    }

    /// The reader of schema `id`, looked up in the registry the first time; `Ok(None)` if the
    /// registry does not know the id, `Err` if it cannot be asked or its schema does not parse.
    /// Call from outside the runtime.
    pub fn reader(&mut self, id: u32) -> Result<Option<&GenericDatumReader<'static>>, String> {
        if !self.readers.contains_key(&id) {
            let text = self
                .runtime
                .block_on(self.client.schema_by_id(id))
                .map_err(|e| e.to_string())?;
            let reader = match text {
                None => None,
                Some(text) => {
                    let schema =
                        Schema::parse_str(&text).map_err(|e| format!("schema id {id}: {e}"))?;
                    // Kept for the process (a reader borrows its schema): one per schema id a
                    // decoder meets, a handful per run.
                    let schema: &'static Schema = Box::leak(Box::new(schema));
                    let reader = GenericDatumReader::builder(schema)
                        .build()
                        .map_err(|e| format!("schema id {id}: {e}"))?;
                    Some(reader)
                }
            };
            self.readers.insert(id, reader);
        }
        Ok(self.readers[&id].as_ref())
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
