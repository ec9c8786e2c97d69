//! A schema-driven Avro binary writer: the schema is compiled once into a tree of nodes, and a
//! value's serde fields are written in the schema's field order without looking names up. Its
//! output is byte-identical to apache-avro's `GenericDatumWriter` (checked by tests on every stream).

use std::fmt;

use apache_avro::Schema;
use serde::ser::{self, Impossible, Serialize};

/// A compiled schema node: only what writing needs.
#[derive(Debug)]
enum Node {
    Null,
    Boolean,
    Int,
    Long,
    Float,
    Double,
    Bytes,
    String,
    Enum(Box<[String]>),
    /// `["null", T]` or `[T, "null"]`: the branch indexes of null and of `T`.
    Optional {
        null: u8,
        some: u8,
        value: Box<Node>,
    },
    Array(Box<Node>),
    Record(Box<[Field]>),
}

#[derive(Debug)]
struct Field {
    name: String,
    node: Node,
}

/// Writes serde values in Avro binary for one schema.
#[derive(Debug)]
pub struct AvroWriter {
    root: Node,
}

/// Why a value could not be written (a value that does not fit the schema). Boxed text, so
/// that every writing call's `Result` comes back in registers rather than through memory.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct WriteError(Box<str>);

impl WriteError {
    fn new(why: impl Into<Box<str>>) -> Self {
        Self(why.into())
    }
}

impl ser::Error for WriteError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        WriteError::new(msg.to_string())
    }
}

impl AvroWriter {
    /// Compiles `schema`; fails on a schema feature retailgen's schemas do not use
    /// (maps, fixed, decimals, named references, unions other than null and one type).
    pub fn new(schema: &Schema) -> Result<Self, WriteError> {
        Ok(Self {
            root: compile(schema)?,
        })
    }

    /// Appends `value` in Avro binary to `out`. On an error `out` may hold a partial value.
    pub fn write<T: Serialize + ?Sized>(
        &self,
        value: &T,
        out: &mut Vec<u8>,
    ) -> Result<(), WriteError> {
        value.serialize(NodeWriter {
            node: &self.root,
            out,
        })
    }
}

fn compile(schema: &Schema) -> Result<Node, WriteError> {
    Ok(match schema {
        Schema::Null => Node::Null,
        Schema::Boolean => Node::Boolean,
        Schema::Int | Schema::Date | Schema::TimeMillis => Node::Int,
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Node::Long,
        Schema::Float => Node::Float,
        Schema::Double => Node::Double,
        Schema::Bytes => Node::Bytes,
        Schema::String => Node::String,
        Schema::Enum(e) => Node::Enum(e.symbols.clone().into_boxed_slice()),
        Schema::Array(a) => Node::Array(Box::new(compile(&a.items)?)),
        Schema::Record(r) => Node::Record(
            r.fields
                .iter()
                .map(|f| {
                    Ok(Field {
                        name: f.name.clone(),
                        node: compile(&f.schema)?,
                    })
                })
                .collect::<Result<_, WriteError>>()?,
        ),
        Schema::Union(u) => match u.variants() {
            [Schema::Null, t] => Node::Optional {
                null: 0,
                some: 1,
                value: Box::new(compile(t)?),
            },
            [t, Schema::Null] => Node::Optional {
                null: 1,
                some: 0,
                value: Box::new(compile(t)?),
            },
            other => {
                return Err(WriteError::new(format!(
                    "unions other than null and one type are not supported: {} branches",
                    other.len()
                )))
            }
        },
        other => {
            return Err(WriteError::new(format!(
                "schema type {other} is not supported by the writer"
            )))
        }
    })
}

/// Avro's variable-length zig-zag encoding of a long (ints use the same).
#[inline]
fn zigzag(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

fn mismatch(node: &Node, got: &str) -> WriteError {
    WriteError::new(format!("a {got} cannot be written as {node:?}"))
}

struct NodeWriter<'a> {
    node: &'a Node,
    out: &'a mut Vec<u8>,
}

impl NodeWriter<'_> {
    #[inline]
    fn integer(self, v: i64) -> Result<(), WriteError> {
        match self.node {
            Node::Long => zigzag(self.out, v),
            Node::Int if i32::try_from(v).is_ok() => zigzag(self.out, v),
            node => return Err(mismatch(node, &format!("integer {v}"))),
        }
        Ok(())
    }

    fn symbol(self, name: &str, guess: usize) -> Result<(), WriteError> {
        let Node::Enum(symbols) = self.node else {
            return Err(mismatch(self.node, &format!("symbol {name}")));
        };
        let index = match symbols.get(guess) {
            Some(s) if s == name => guess,
            _ => symbols
                .iter()
                .position(|s| s == name)
                .ok_or_else(|| WriteError::new(format!("{name} is not one of {symbols:?}")))?,
        };
        zigzag(self.out, index as i64);
        Ok(())
    }
}

impl<'a> ser::Serializer for NodeWriter<'a> {
    type Ok = ();
    type Error = WriteError;
    type SerializeSeq = SeqWriter<'a>;
    type SerializeTuple = Impossible<(), WriteError>;
    type SerializeTupleStruct = Impossible<(), WriteError>;
    type SerializeTupleVariant = Impossible<(), WriteError>;
    type SerializeMap = Impossible<(), WriteError>;
    type SerializeStruct = RecordWriter<'a>;
    type SerializeStructVariant = Impossible<(), WriteError>;

    fn serialize_bool(self, v: bool) -> Result<(), WriteError> {
        match self.node {
            Node::Boolean => self.out.push(u8::from(v)),
            node => return Err(mismatch(node, "bool")),
        }
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), WriteError> {
        self.integer(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<(), WriteError> {
        self.integer(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<(), WriteError> {
        self.integer(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<(), WriteError> {
        self.integer(v)
    }

    fn serialize_u8(self, v: u8) -> Result<(), WriteError> {
        self.integer(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<(), WriteError> {
        self.integer(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<(), WriteError> {
        self.integer(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<(), WriteError> {
        let v = i64::try_from(v).map_err(|_| mismatch(self.node, &format!("integer {v}")))?;
        self.integer(v)
    }

    fn serialize_f32(self, v: f32) -> Result<(), WriteError> {
        match self.node {
            Node::Float => self.out.extend_from_slice(&v.to_le_bytes()),
            Node::Double => self.out.extend_from_slice(&f64::from(v).to_le_bytes()),
            node => return Err(mismatch(node, "f32")),
        }
        Ok(())
    }

    fn serialize_f64(self, v: f64) -> Result<(), WriteError> {
        match self.node {
            Node::Double => self.out.extend_from_slice(&v.to_le_bytes()),
            node => return Err(mismatch(node, "f64")),
        }
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), WriteError> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    #[inline]
    fn serialize_str(self, v: &str) -> Result<(), WriteError> {
        match self.node {
            Node::String | Node::Bytes => {
                zigzag(self.out, v.len() as i64);
                self.out.extend_from_slice(v.as_bytes());
                Ok(())
            }
            Node::Enum(_) => self.symbol(v, 0),
            node => Err(mismatch(node, "string")),
        }
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), WriteError> {
        match self.node {
            Node::Bytes => {
                zigzag(self.out, v.len() as i64);
                self.out.extend_from_slice(v);
                Ok(())
            }
            node => Err(mismatch(node, "bytes")),
        }
    }

    fn serialize_none(self) -> Result<(), WriteError> {
        match self.node {
            Node::Optional { null, .. } => zigzag(self.out, i64::from(*null)),
            Node::Null => {}
            node => return Err(mismatch(node, "None")),
        }
        Ok(())
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), WriteError> {
        match self.node {
            Node::Optional {
                some, value: node, ..
            } => {
                zigzag(self.out, i64::from(*some));
                value.serialize(NodeWriter {
                    node,
                    out: self.out,
                })
            }
            node => Err(mismatch(node, "Some")),
        }
    }

    fn serialize_unit(self) -> Result<(), WriteError> {
        match self.node {
            Node::Null => Ok(()),
            node => Err(mismatch(node, "unit")),
        }
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), WriteError> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<(), WriteError> {
        self.symbol(variant, index as usize)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _index: u32,
        variant: &'static str,
        _value: &T,
    ) -> Result<(), WriteError> {
        Err(mismatch(self.node, &format!("variant {name}::{variant}")))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<SeqWriter<'a>, WriteError> {
        let Node::Array(item) = self.node else {
            return Err(mismatch(self.node, "sequence"));
        };
        let len = len.ok_or_else(|| WriteError::new("a sequence of unknown length"))?;
        if len > 0 {
            zigzag(self.out, len as i64);
        }
        Ok(SeqWriter {
            item,
            out: self.out,
            left: len,
        })
    }

    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, WriteError> {
        Err(mismatch(self.node, "tuple"))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, WriteError> {
        Err(mismatch(self.node, &format!("tuple struct {name}")))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, WriteError> {
        Err(mismatch(self.node, &format!("tuple variant of {name}")))
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, WriteError> {
        Err(mismatch(self.node, "map"))
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<RecordWriter<'a>, WriteError> {
        match self.node {
            Node::Record(fields) if fields.len() == len => Ok(RecordWriter {
                fields: fields.iter(),
                out: self.out,
            }),
            node => Err(mismatch(node, &format!("struct {name} of {len} fields"))),
        }
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, WriteError> {
        Err(mismatch(self.node, &format!("struct variant of {name}")))
    }
}

/// Writes a struct's fields in the schema's order; serde hands them over in declaration order,
/// which must be the schema's (checked in debug builds, and by the byte-identity tests).
struct RecordWriter<'a> {
    fields: std::slice::Iter<'a, Field>,
    out: &'a mut Vec<u8>,
}

impl ser::SerializeStruct for RecordWriter<'_> {
    type Ok = ();
    type Error = WriteError;

    #[inline]
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), WriteError> {
        let field = self
            .fields
            .next()
            .ok_or_else(|| WriteError::new(format!("field {key} is not in the schema")))?;
        debug_assert_eq!(
            field.name, key,
            "struct fields must be in the schema's order"
        );
        if field.name.len() != key.len() {
            return Err(WriteError::new(format!(
                "field {key} comes where the schema has {}",
                field.name
            )));
        }
        value
            .serialize(NodeWriter {
                node: &field.node,
                out: self.out,
            })
            .map_err(|e| WriteError::new(format!("{key}: {}", e.0)))
    }

    fn end(self) -> Result<(), WriteError> {
        Ok(())
    }
}

struct SeqWriter<'a> {
    item: &'a Node,
    out: &'a mut Vec<u8>,
    left: usize,
}

impl ser::SerializeSeq for SeqWriter<'_> {
    type Ok = ();
    type Error = WriteError;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), WriteError> {
        self.left = self
            .left
            .checked_sub(1)
            .ok_or_else(|| WriteError::new("a sequence longer than it said"))?;
        value.serialize(NodeWriter {
            node: self.item,
            out: self.out,
        })
    }

    fn end(self) -> Result<(), WriteError> {
        if self.left != 0 {
            return Err(WriteError::new("a sequence shorter than it said"));
        }
        self.out.push(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::writer::datum::GenericDatumWriter;
    use serde::Serialize;

    fn reference<T: Serialize>(schema: &Schema, value: &T) -> Vec<u8> {
        let mut out = Vec::new();
        GenericDatumWriter::builder(schema)
            .build()
            .unwrap()
            .write_ser(&mut out, value)
            .unwrap();
        out
    }

    #[test]
    fn zigzag_matches_the_avro_specification() {
        let enc = |v| {
            let mut out = Vec::new();
            zigzag(&mut out, v);
            out
        };
        assert_eq!(enc(0), [0]);
        assert_eq!(enc(-1), [1]);
        assert_eq!(enc(1), [2]);
        assert_eq!(enc(-64), [0x7f]);
        assert_eq!(enc(64), [0x80, 0x01]);
        assert_eq!(enc(i64::MIN).len(), 10);
    }

    #[derive(Serialize)]
    enum Kind {
        #[serde(rename = "B")]
        B,
        #[serde(rename = "A")]
        A,
    }

    #[derive(Serialize)]
    struct Item {
        id: String,
        n: i32,
    }

    #[derive(Serialize)]
    struct Sample {
        s: String,
        i: i32,
        l: i64,
        d: f64,
        b: bool,
        k: Kind,
        o: Option<String>,
        items: Vec<Item>,
        tail: Option<f64>,
    }

    const SAMPLE: &str = r#"{"type":"record","name":"S","fields":[
        {"name":"s","type":"string"},{"name":"i","type":"int"},
        {"name":"l","type":{"type":"long","logicalType":"timestamp-millis"}},
        {"name":"d","type":"double"},{"name":"b","type":"boolean"},
        {"name":"k","type":{"type":"enum","name":"K","symbols":["A","B"]}},
        {"name":"o","type":["null","string"]},
        {"name":"items","type":{"type":"array","items":{"type":"record","name":"I","fields":[
            {"name":"id","type":"string"},{"name":"n","type":"int"}]}}},
        {"name":"tail","type":["double","null"]}]}"#;

    #[test]
    fn every_supported_type_is_written_as_apache_avro_writes_it() {
        let schema = Schema::parse_str(SAMPLE).unwrap();
        let writer = AvroWriter::new(&schema).unwrap();
        for (o, items, tail, k) in [
            (None, vec![], None, Kind::A),
            (
                Some("x".repeat(200)),
                vec![
                    Item {
                        id: "a".into(),
                        n: -5,
                    },
                    Item {
                        id: "ü".into(),
                        n: i32::MAX,
                    },
                ],
                Some(-0.5),
                Kind::B,
            ),
        ] {
            let value = Sample {
                s: "hello".into(),
                i: i32::MIN,
                l: 1_700_000_000_000,
                d: 12.34,
                b: true,
                k,
                o,
                items,
                tail,
            };
            let mut ours = vec![9];
            writer.write(&value, &mut ours).unwrap();
            assert_eq!(ours[0], 9, "appends");
            assert_eq!(ours[1..], reference(&schema, &value)[..]);
        }
    }

    #[test]
    fn a_value_that_does_not_fit_the_schema_is_an_error_naming_the_field() {
        #[derive(Serialize)]
        struct Wrong {
            s: i64,
        }
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"S","fields":[{"name":"s","type":"string"}]}"#,
        )
        .unwrap();
        let err = AvroWriter::new(&schema)
            .unwrap()
            .write(&Wrong { s: 1 }, &mut Vec::new())
            .unwrap_err();
        assert!(err.to_string().contains("s: a integer 1"), "{err}");
        #[derive(Serialize)]
        struct TooBig {
            i: i64,
        }
        let schema = Schema::parse_str(
            r#"{"type":"record","name":"S","fields":[{"name":"i","type":"int"}]}"#,
        )
        .unwrap();
        assert!(AvroWriter::new(&schema)
            .unwrap()
            .write(&TooBig { i: 1 << 40 }, &mut Vec::new())
            .is_err());
    }

    #[test]
    fn unsupported_schemas_are_refused_when_compiled() {
        let schema = Schema::parse_str(r#"{"type":"map","values":"long"}"#).unwrap();
        assert!(AvroWriter::new(&schema).is_err());
        let schema = Schema::parse_str(r#"["null","string","long"]"#).unwrap();
        assert!(AvroWriter::new(&schema).is_err());
    }
}
