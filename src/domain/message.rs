//! A record as a broker message: topic, key, headers and encoded value, plus the outbox sequence
//! number that tracks it until the broker acknowledged it. Headers travel as one compact blob.

use super::record::Record;

/// An encoded record on its way to a broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Outbox sequence number: `Some` while a stored copy waits for the broker's acknowledgement.
    pub seq: Option<i64>,
    /// Index of the record's stream in this run's topic table (for per-topic counts), if any.
    pub stream: Option<usize>,
    pub topic: String,
    pub key: String,
    /// [`encode_headers`] of the record's headers.
    pub headers: Vec<u8>,
    pub value: Vec<u8>,
    /// Event time, also the broker timestamp.
    pub ts: i64,
}

/// The headers of `record` as `[name length: u8][name][value length: u16 BE][value]...`.
pub fn encode_headers(record: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for (name, value) in record.headers() {
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// The (name, value) pairs of an [`encode_headers`] blob; `None` if it is malformed.
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
}
