//! Reading fields of decoded Avro records by name, unions unwrapped.

use apache_avro::types::Value;

/// The field `name` of a record (a union's branch, if it is one); `None` if absent or null.
pub fn field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let Value::Record(fields) = v else {
        return None;
    };
    let found = fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)?;
    match found {
        Value::Union(_, inner) => match inner.as_ref() {
            Value::Null => None,
            other => Some(other),
        },
        Value::Null => None,
        other => Some(other),
    }
}

pub fn text<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    match field(v, name)? {
        Value::String(s) | Value::Enum(_, s) => Some(s),
        _ => None,
    }
}

pub fn int(v: &Value, name: &str) -> Option<i64> {
    match field(v, name)? {
        Value::Int(i) => Some(i64::from(*i)),
        Value::Long(l) | Value::TimestampMillis(l) | Value::TimestampMicros(l) => Some(*l),
        _ => None,
    }
}

pub fn number(v: &Value, name: &str) -> Option<f64> {
    match field(v, name)? {
        Value::Double(d) => Some(*d),
        Value::Float(f) => Some(f64::from(*f)),
        Value::Int(i) => Some(f64::from(*i)),
        Value::Long(l) => Some(*l as f64),
        _ => None,
    }
}

/// An amount in whole cents.
pub fn cents(v: &Value, name: &str) -> Option<i64> {
    number(v, name).map(|a| (a * 100.0).round() as i64)
}

pub fn items<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    match field(v, name) {
        Some(Value::Array(items)) => items,
        _ => &[],
    }
}
