//! A record as a broker message: topic, key, headers and encoded value, plus the outbox sequence
//! number that tracks it until the broker acknowledged it. Headers travel as one compact blob;
//! a batch of messages lives in one [`Packed`] buffer (no allocation per message).

use std::ops::Range;

use super::record::Record;

/// A stored message read back (an outbox row): counted under no stream of this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Outbox sequence number: `Some` while a stored copy waits for the broker's acknowledgement.
    pub seq: Option<i64>,
    pub topic: String,
    pub key: String,
    /// The record's headers as a blob (see [`decode_headers`]).
    pub headers: Vec<u8>,
    pub value: Vec<u8>,
    /// Event time, also the broker timestamp.
    pub ts: i64,
}

impl Message {
    pub fn as_ref(&self) -> MessageRef<'_> {
        MessageRef {
            seq: self.seq,
            stream: None,
            topic: &self.topic,
            key: &self.key,
            headers: &self.headers,
            value: &self.value,
            ts: self.ts,
        }
    }
}

/// A message borrowed from where it is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageRef<'a> {
    pub seq: Option<i64>,
    /// Index of the record's stream in this run's topic table (for per-topic counts), if any.
    pub stream: Option<usize>,
    pub topic: &'a str,
    pub key: &'a str,
    pub headers: &'a [u8],
    pub value: &'a [u8],
    pub ts: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Meta {
    seq: Option<i64>,
    stream: Option<usize>,
    ts: i64,
    /// topic, key, headers, value: consecutive ranges of the buffer.
    topic: Range<usize>,
    key: Range<usize>,
    headers: Range<usize>,
    value: Range<usize>,
}

/// Messages stored back to back in one buffer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Packed {
    bytes: Vec<u8>,
    metas: Vec<Meta>,
}

impl Packed {
    pub fn len(&self) -> usize {
        self.metas.len()
    }

    pub fn is_empty(&self) -> bool {
        self.metas.is_empty()
    }

    /// Appends a message whose value `encode` writes (the buffer is left as it was on error).
    pub fn push<E>(
        &mut self,
        seq: Option<i64>,
        stream: usize,
        topic: &str,
        record: &Record,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<(), E> {
        let start = self.bytes.len();
        let span = |bytes: &mut Vec<u8>, add: &[u8]| {
            let at = bytes.len();
            bytes.extend_from_slice(add);
            at..bytes.len()
        };
        let topic = span(&mut self.bytes, topic.as_bytes());
        let key = span(&mut self.bytes, record.key.as_bytes());
        let headers_at = self.bytes.len();
        write_headers(record, &mut self.bytes);
        let headers = headers_at..self.bytes.len();
        let value_at = self.bytes.len();
        if let Err(e) = encode(&mut self.bytes) {
            self.bytes.truncate(start);
            return Err(e);
        }
        self.metas.push(Meta {
            seq,
            stream: Some(stream),
            ts: record.event.ts(),
            topic,
            key,
            headers,
            value: value_at..self.bytes.len(),
        });
        Ok(())
    }

    /// Moves `other`'s messages to the end of this one; `other` keeps its capacity.
    pub fn append(&mut self, other: &mut Packed) {
        let offset = self.bytes.len();
        let shift = |r: &Range<usize>| r.start + offset..r.end + offset;
        self.bytes.extend_from_slice(&other.bytes);
        self.metas.extend(other.metas.iter().map(|m| Meta {
            topic: shift(&m.topic),
            key: shift(&m.key),
            headers: shift(&m.headers),
            value: shift(&m.value),
            ..m.clone()
        }));
        other.bytes.clear();
        other.metas.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = MessageRef<'_>> {
        let text = |r: &Range<usize>| std::str::from_utf8(&self.bytes[r.clone()]).unwrap_or("");
        self.metas.iter().map(move |m| MessageRef {
            seq: m.seq,
            stream: m.stream,
            topic: text(&m.topic),
            key: text(&m.key),
            headers: &self.bytes[m.headers.clone()],
            value: &self.bytes[m.value.clone()],
            ts: m.ts,
        })
    }
}

/// Appends the headers of `record` as `[name length: u8][name][value length: u16 BE][value]...`.
fn write_headers(record: &Record, out: &mut Vec<u8>) {
    for (name, value) in record.headers() {
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
}

/// The (name, value) pairs of a headers blob; `None` if it is malformed.
pub fn decode_headers(mut blob: &[u8]) -> Option<Vec<(&str, &[u8])>> {
    let mut out = Vec::with_capacity(5);
    while let Some((&n, rest)) = blob.split_first() {
        let (name, rest) = rest.split_at_checked(usize::from(n))?;
        let (len, rest) = rest.split_at_checked(2)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let (value, rest) = rest.split_at_checked(len)?;
        out.push((std::str::from_utf8(name).ok()?, value));
        blob = rest;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::events::{Event, Payment, PaymentMethod, PaymentStatus};
    use crate::domain::faults::Fault;

    fn encode_headers(record: &Record) -> Vec<u8> {
        let mut out = Vec::new();
        write_headers(record, &mut out);
        out
    }

    #[test]
    fn headers_survive_the_blob_in_order() {
        let mut record = Record::new(
            "ord_1".into(),
            Some("tr_1".into()),
            Event::Payment(Payment {
                payment_id: "pay_1".into(),
                order_id: "ord_1".into(),
                method: PaymentMethod::Card,
                status: PaymentStatus::Settled,
                ts: 1,
                amount: None,
            }),
        );
        record.fault = Some(Fault::Late { delay_ms: 1234 });
        let blob = encode_headers(&record);
        let decoded = decode_headers(&blob).unwrap();
        let expected: Vec<(String, String)> = record
            .headers()
            .map(|(k, v)| (k.to_owned(), v.into_owned()))
            .collect();
        let got: Vec<(String, String)> = decoded
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8(v.to_vec()).unwrap()))
            .collect();
        assert_eq!(got, expected);
        assert!(got.contains(&("dq_delay_ms".into(), "1234".into())));
        assert_eq!(decode_headers(&blob[..blob.len() - 1]), None);
    }

    #[test]
    fn packed_messages_keep_their_parts_apart_across_appends() {
        let record = |key: &str| {
            Record::new(
                key.into(),
                None,
                Event::Payment(Payment {
                    payment_id: "pay_1".into(),
                    order_id: key.into(),
                    method: PaymentMethod::Card,
                    status: PaymentStatus::Settled,
                    ts: 7,
                    amount: None,
                }),
            )
        };
        let (mut a, mut b) = (Packed::default(), Packed::default());
        let ok = |v: &'static [u8]| {
            move |out: &mut Vec<u8>| -> Result<(), ()> {
                out.extend_from_slice(v);
                Ok(())
            }
        };
        a.push(Some(1), 1, "payments.v1", &record("ord_a"), ok(b"AAA"))
            .unwrap();
        b.push(None, 1, "payments.v1", &record("ord_b"), ok(b"BB"))
            .unwrap();
        assert_eq!(
            b.push(None, 1, "x", &record("ord_c"), |out: &mut Vec<u8>| {
                out.push(9);
                Err("refused")
            }),
            Err("refused")
        );
        a.append(&mut b);
        assert!(b.is_empty());
        let all: Vec<_> = a
            .iter()
            .map(|m| (m.seq, m.key, m.value, m.topic, m.ts))
            .collect();
        assert_eq!(
            all,
            vec![
                (Some(1), "ord_a", &b"AAA"[..], "payments.v1", 7),
                (None, "ord_b", &b"BB"[..], "payments.v1", 7)
            ]
        );
        let headers = a.iter().nth(1).unwrap().headers.to_vec();
        assert_eq!(headers, encode_headers(&record("ord_b")));
    }
}
