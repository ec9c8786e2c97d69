//! Parsers of setting values: each returns the reason a value is invalid, never the value itself.

use std::time::Duration;

use super::model::Settings;
use super::secret::Secret;

pub(super) fn number(v: &str) -> Result<f64, String> {
    let n: f64 = v.trim().parse().map_err(|_| "not a number".to_owned())?;
    if n.is_finite() {
        Ok(n)
    } else {
        Err("not a finite number".into())
    }
}

pub(super) fn non_negative(v: &str) -> Result<f64, String> {
    let n = number(v)?;
    if n < 0.0 {
        return Err("negative".into());
    }
    Ok(n)
}

pub(super) fn boolean(v: &str) -> Result<bool, String> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" | "" => Ok(false),
        _ => Err("not true or false".into()),
    }
}

pub(super) fn dsn(v: &str) -> Result<Secret, String> {
    v.trim()
        .parse::<tokio_postgres::Config>()
        .map_err(|_| "not a Postgres connection string".to_owned())?;
    Ok(Secret::new(v.trim()))
}

pub(super) fn positive_number(v: &str) -> Result<f64, String> {
    match number(v)? {
        n if n > 0.0 => Ok(n),
        _ => Err("not above 0".into()),
    }
}

pub(super) fn hour(v: &str) -> Result<f64, String> {
    match number(v)? {
        h if (0.0..24.0).contains(&h) => Ok(h),
        _ => Err("not an hour of the day".into()),
    }
}

pub(super) fn weekdays(v: &str) -> Result<Option<[f64; 7]>, String> {
    if v.trim().is_empty() {
        return Ok(None);
    }
    let parts: Vec<f64> = v
        .split(',')
        .map(positive_number)
        .collect::<Result<_, _>>()?;
    let days: [f64; 7] = parts
        .try_into()
        .map_err(|p: Vec<f64>| format!("{} numbers, not 7", p.len()))?;
    Ok(Some(days))
}

/// RFC 3339 (`2024-01-01T00:00:00Z`) or a date (midnight UTC), as ms since the epoch.
pub(super) fn instant(v: &str) -> Result<i64, String> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(v) {
        return Ok(t.timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .map(|d| {
            d.and_time(chrono::NaiveTime::MIN)
                .and_utc()
                .timestamp_millis()
        })
        .map_err(|_| "not an RFC 3339 time or a YYYY-MM-DD date".into())
}

pub(super) fn probability(v: &str) -> Result<f64, String> {
    let n = number(v)?;
    if !(0.0..=1.0).contains(&n) {
        return Err("outside 0..1".into());
    }
    Ok(n)
}

pub(super) fn unsigned(v: &str) -> Result<u64, String> {
    v.trim()
        .parse()
        .map_err(|_| "not a whole number >= 0".to_owned())
}

pub(super) fn positive(v: &str) -> Result<u64, String> {
    match unsigned(v)? {
        0 => Err("zero".into()),
        n => Ok(n),
    }
}

pub(super) fn bounded(v: &str, min: i32, max: i32) -> Result<i32, String> {
    let n: i64 = v
        .trim()
        .parse()
        .map_err(|_| "not a whole number".to_owned())?;
    if n < i64::from(min) || n > i64::from(max) {
        return Err("out of range".into());
    }
    Ok(n as i32)
}

pub(super) fn duration(v: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(v.trim()).map_err(|e| e.to_string())?;
    if d.is_zero() {
        return Err("zero".into());
    }
    Ok(d)
}

/// A duration that may be zero (a wait that may be off).
pub(super) fn duration_or_zero(v: &str) -> Result<Duration, String> {
    humantime::parse_duration(v.trim()).map_err(|e| e.to_string())
}

pub(super) fn socket_addr(v: &str) -> Result<std::net::SocketAddr, String> {
    v.parse()
        .map_err(|_| "not an IP address and port (a host name is not accepted here)".to_owned())
}

/// `word` (or an empty value) means "not set"; anything else must parse.
pub(super) fn optional<T>(
    v: &str,
    word: &str,
    parse: fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    let t = v.trim();
    if t.is_empty() || t.eq_ignore_ascii_case(word) {
        Ok(None)
    } else {
        parse(t).map(Some)
    }
}

pub(super) fn non_empty(v: &str) -> Result<String, String> {
    match v.trim() {
        "" => Err("empty".into()),
        t => Ok(t.to_owned()),
    }
}

pub(super) fn one_of(v: &str, allowed: &[&str]) -> Result<String, String> {
    let t = v.trim().to_ascii_lowercase();
    if allowed.contains(&t.as_str()) {
        Ok(t)
    } else {
        Err("not one of the allowed values".into())
    }
}

pub(super) fn sasl_mechanism(v: &str) -> Result<String, String> {
    let t = v.trim().to_ascii_uppercase();
    match t.as_str() {
        "" | "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512" | "OAUTHBEARER" => Ok(t),
        _ => Err("unknown SASL mechanism".into()),
    }
}

/// Kafka topic names: 1-249 characters of `[a-zA-Z0-9._-]`.
pub(super) fn topic(v: &str) -> Result<String, String> {
    let t = v.trim();
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if t.is_empty() || t.len() > 249 || !t.chars().all(legal) || t == "." || t == ".." {
        return Err("not a legal topic name (1-249 of a-z A-Z 0-9 . _ -)".into());
    }
    Ok(t.to_owned())
}

pub(super) fn bootstrap(v: &str) -> Result<String, String> {
    let t = v.trim();
    let ok = !t.is_empty()
        && t.split(',').all(|hp| {
            let hp = hp.trim();
            let hp = hp.rsplit_once("://").map_or(hp, |(_, rest)| rest);
            matches!(hp.rsplit_once(':'), Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok())
        });
    if ok {
        Ok(t.to_owned())
    } else {
        Err("not a list of host:port".into())
    }
}

/// Credentials in the URL (`http://user:pw@host`) move to basic auth, so the URL can be shown.
pub(super) fn registry_url(s: &mut Settings, v: &str) -> Result<(), String> {
    let mut url = url::Url::parse(v.trim()).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("not an http(s) URL with a host".into());
    }
    if !url.username().is_empty() {
        s.registry.username = url.username().to_owned();
        s.registry.password = Secret::new(url.password().unwrap_or_default());
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    s.registry.url = url.as_str().trim_end_matches('/').to_owned();
    Ok(())
}

pub(super) fn user_info(s: &mut Settings, v: &str) -> Result<(), String> {
    if v.is_empty() {
        return Ok(());
    }
    let (user, password) = v
        .split_once(':')
        .ok_or("missing ':' between user and password")?;
    if user.is_empty() {
        return Err("empty user".into());
    }
    s.registry.username = user.to_owned();
    s.registry.password = Secret::new(password);
    Ok(())
}

/// Comma-separated IANA time zones (leaked: settings live as long as the process).
pub(super) fn time_zones(v: &str) -> Result<&'static [chrono_tz::Tz], String> {
    let zones = v
        .split(',')
        .map(str::trim)
        .filter(|z| !z.is_empty())
        .map(|z| {
            z.parse()
                .map_err(|_| format!("'{z}' is not an IANA time zone"))
        })
        .collect::<Result<Vec<chrono_tz::Tz>, String>>()?;
    Ok(Box::leak(zones.into_boxed_slice()))
}

/// `HH:MM-HH:MM` local opening and closing time (opening first), or `varied`.
pub(super) fn opening_hours(v: &str) -> Result<Option<(u32, u32)>, String> {
    let t = v.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("varied") {
        return Ok(None);
    }
    let minute = |hm: &str| -> Result<u32, String> {
        let (h, m) = hm.trim().split_once(':').ok_or("not HH:MM")?;
        let (h, m): (u32, u32) = (
            h.parse().map_err(|_| "not HH:MM")?,
            m.parse().map_err(|_| "not HH:MM")?,
        );
        match h < 24 && m < 60 {
            true => Ok(h * 60 + m),
            false => Err(format!("{hm} is not a time of day")),
        }
    };
    let (open, close) = t.split_once('-').ok_or("not HH:MM-HH:MM")?;
    let (open, close) = (minute(open)?, minute(close)?);
    if open >= close {
        return Err("opening is not before closing".into());
    }
    Ok(Some((open, close)))
}
