//! Whether a cluster offers Kafka transactions, asked of a bootstrap broker with one ApiVersions
//! request over plaintext (librdkafka keeps what it learns of a broker to itself, and a cluster
//! can start a transactional producer yet refuse to commit, as tansu 0.6 does).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// InitProducerId, AddPartitionsToTxn and EndTxn: what a transactional producer needs.
const TRANSACTION_APIS: [i16; 3] = [22, 24, 26];
const API_VERSIONS: i16 = 18;

/// The first broker of a `bootstrap.servers` list (`host:port`, maybe after `PLAINTEXT://`).
fn first_broker(bootstrap: &str) -> Option<&str> {
    let first = bootstrap.split(',').next()?.trim();
    let address = first.rsplit_once("://").map_or(first, |(_, a)| a);
    (!address.is_empty()).then_some(address)
}

/// An ApiVersions v0 request (header v1: key, version, correlation id, client id).
fn request() -> Vec<u8> {
    let client = b"retailgen";
    let mut body = Vec::new();
    body.extend(API_VERSIONS.to_be_bytes());
    body.extend(0i16.to_be_bytes());
    body.extend(1i32.to_be_bytes());
    body.extend((client.len() as i16).to_be_bytes());
    body.extend(client);
    let mut framed = (body.len() as i32).to_be_bytes().to_vec();
    framed.extend(body);
    framed
}

/// The API keys an ApiVersions v0 response (after its size) lists, or why it is not one.
fn api_keys(response: &[u8]) -> Result<Vec<i16>, String> {
    let i16_at = |at: usize| {
        response
            .get(at..at + 2)
            .map(|b| i16::from_be_bytes([b[0], b[1]]))
    };
    let short = || "a short ApiVersions response".to_owned();
    let error = i16_at(4).ok_or_else(short)?;
    if error != 0 {
        return Err(format!("ApiVersions answered error code {error}"));
    }
    let count = response
        .get(6..10)
        .map(|b| i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(short)?;
    (0..count.max(0) as usize)
        .map(|i| i16_at(10 + i * 6).ok_or_else(short))
        .collect()
}

/// Whether the broker at the head of `bootstrap` offers every API transactions need.
pub fn offers_transactions(bootstrap: &str, timeout: Duration) -> Result<bool, String> {
    let broker = first_broker(bootstrap).ok_or("no broker in KAFKA_BOOTSTRAP")?;
    let address = broker
        .to_socket_addrs()
        .map_err(|e| format!("{broker}: {e}"))?
        .next()
        .ok_or_else(|| format!("{broker}: no address"))?;
    let io = |e: std::io::Error| format!("asking {broker} for its API versions: {e}");
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(io)?;
    stream.set_read_timeout(Some(timeout)).map_err(io)?;
    stream.write_all(&request()).map_err(io)?;
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).map_err(io)?;
    let size = i32::from_be_bytes(size).clamp(0, 1 << 20) as usize;
    let mut response = vec![0u8; size];
    stream.read_exact(&mut response).map_err(io)?;
    let keys = api_keys(&response)?;
    Ok(TRANSACTION_APIS.iter().all(|k| keys.contains(k)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(error: i16, keys: &[i16]) -> Vec<u8> {
        let mut r = 1i32.to_be_bytes().to_vec();
        r.extend(error.to_be_bytes());
        r.extend((keys.len() as i32).to_be_bytes());
        for k in keys {
            r.extend(k.to_be_bytes());
            r.extend(0i16.to_be_bytes());
            r.extend(3i16.to_be_bytes());
        }
        r
    }

    #[test]
    fn a_response_lists_its_api_keys_and_errors_are_named() {
        assert_eq!(api_keys(&response(0, &[0, 22, 26])), Ok(vec![0, 22, 26]));
        assert!(api_keys(&response(35, &[])).unwrap_err().contains("35"));
        assert!(api_keys(&response(0, &[1, 2])[..12]).is_err());
    }

    #[test]
    fn the_request_is_framed_apiversions_v0() {
        let r = request();
        assert_eq!(
            i32::from_be_bytes([r[0], r[1], r[2], r[3]]) as usize,
            r.len() - 4
        );
        assert_eq!(&r[4..8], &[0, 18, 0, 0]);
    }

    #[test]
    fn the_first_broker_of_a_list() {
        assert_eq!(first_broker("a:9092,b:9092"), Some("a:9092"));
        assert_eq!(first_broker("PLAINTEXT://k:29092"), Some("k:29092"));
        assert_eq!(first_broker(""), None);
    }
}
