//! Unit tests of configuration loading and its error messages.

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn err(pairs: &[(&str, &str)]) -> String {
    load(None, &env(pairs), &[]).unwrap_err().to_string()
}

#[test]
fn the_embedded_defaults_load_and_set_every_setting() {
    let table: toml::Table = DEFAULT_TOML.parse().unwrap();
    for f in FIELDS {
        let (section, name) = f.key.split_once('.').unwrap();
        assert!(
            table.get(section).and_then(|t| t.get(name)).is_some(),
            "config/default.toml does not set {}",
            f.key
        );
        assert!(
            DEFAULT_TOML.contains(f.env),
            "config/default.toml does not name {}",
            f.env
        );
    }
    let s = load(None, &BTreeMap::new(), &[]).unwrap();
    assert_eq!(s.run.sink, SinkKind::Stdout);
    assert_eq!(s.topics.orders, "orders.v1");
    assert_eq!(s.registry.url, "http://localhost:8081");
}

#[test]
fn a_non_numeric_rate_names_the_variable_and_the_valid_range() {
    let e = err(&[("TARGET_EPS", "fast")]);
    assert!(e.contains("TARGET_EPS"), "{e}");
    assert!(e.contains("\"fast\""), "{e}");
    assert!(e.contains("a number >= 0"), "{e}");
}

#[test]
fn a_probability_above_one_is_rejected_with_its_range() {
    let e = err(&[("P_ORDER_HAS_PAYMENT", "1.5")]);
    assert!(e.contains("P_ORDER_HAS_PAYMENT"), "{e}");
    assert!(e.contains("from 0 to 1"), "{e}");
    let e = err(&[("P_ORDER_HAS_SHIPMENT", "-0.1")]);
    assert!(e.contains("P_ORDER_HAS_SHIPMENT"), "{e}");
}

#[test]
fn all_weights_zero_is_rejected_naming_the_weights() {
    let e = err(&[
        ("WEIGHT_ORDERS", "0"),
        ("WEIGHT_INTERACTIONS", "0"),
        ("WEIGHT_INVENTORY_CHG", "0"),
        ("WEIGHT_STORE", "0"),
    ]);
    assert!(
        e.contains("WEIGHT_ORDERS") && e.contains("WEIGHT_STORE"),
        "{e}"
    );
}

#[test]
fn store_world_nonsense_is_rejected_naming_the_setting() {
    for (pairs, name) in [
        (vec![("SEED_STORES", "-1")], "SEED_STORES"),
        (vec![("SEED_STORES", "0")], "SEED_STORES"),
        (vec![("TERMINALS_PER_STORE", "0")], "TERMINALS_PER_STORE"),
        (vec![("REFUND_PROBABILITY", "1.5")], "REFUND_PROBABILITY"),
        (
            vec![("P_IDENTIFIED_CUSTOMER", "-0.1")],
            "P_IDENTIFIED_CUSTOMER",
        ),
        (
            vec![("BASKET_LINES_MIN", "5"), ("BASKET_LINES_MAX", "3")],
            "BASKET_LINES_MIN",
        ),
        (
            vec![("REFUND_DELAY_MIN", "2d"), ("REFUND_DELAY_MAX", "1h")],
            "REFUND_DELAY_MIN",
        ),
        (vec![("WEIGHT_STORE", "-1")], "WEIGHT_STORE"),
        (
            vec![("STORE_TIMEZONES", "Europe/Berlin,Mars/Olympus_Mons")],
            "Mars/Olympus_Mons",
        ),
        (
            vec![("STORE_HOURS", "21:00-08:00")],
            "opening is not before",
        ),
        (vec![("STORE_HOURS", "9-17")], "STORE_HOURS"),
        (vec![("STORE_HOURS", "09:00-24:30")], "STORE_HOURS"),
    ] {
        let e = err(&pairs);
        assert!(e.contains(name), "{pairs:?}: {e}");
    }
}

#[test]
fn store_zones_and_hours_are_read() {
    let pairs = [
        ("STORE_TIMEZONES", " Asia/Tokyo , America/Sao_Paulo"),
        ("STORE_HOURS", "08:30-20:00"),
    ];
    let s = load(None, &env(&pairs), &[]).unwrap();
    assert_eq!(
        s.stores.timezones,
        [chrono_tz::Asia::Tokyo, chrono_tz::America::Sao_Paulo]
    );
    assert_eq!(s.stores.hours, Some((510, 1200)));
    let d = load(None, &env(&[]), &[]).unwrap();
    assert!(d.stores.timezones.is_empty() && d.stores.hours.is_none());
}

#[test]
fn an_unknown_sink_lists_the_valid_sinks() {
    let e = err(&[("SINK", "s3")]);
    assert!(
        e.contains("SINK") && e.contains("stdout, kafka, file or null"),
        "{e}"
    );
}

#[test]
fn cli_flags_override_the_environment() {
    let cli = vec![("--eps", "run.target_eps", "5".to_string())];
    let s = load(None, &env(&[("TARGET_EPS", "100")]), &cli).unwrap();
    assert_eq!(s.run.target_eps, 5.0);
    let cli = vec![("--count", "run.count", "0".to_string())];
    let e = load(None, &BTreeMap::new(), &cli).unwrap_err().to_string();
    assert!(e.contains("--count") && e.contains(">= 1"), "{e}");
}

#[test]
fn durations_accept_human_units() {
    let s = load(None, &env(&[("RUN_DURATION", "5m")]), &[]).unwrap();
    assert_eq!(s.run.duration, Some(std::time::Duration::from_secs(300)));
    let e = err(&[("RUN_DURATION", "5 parsecs")]);
    assert!(
        e.contains("RUN_DURATION") && e.contains("10s, 5m or 2h"),
        "{e}"
    );
}

#[test]
fn registry_credentials_never_appear_in_errors_or_debug_output() {
    let s = load(
        None,
        &env(&[
            (
                "SCHEMA_REGISTRY_URL",
                "https://alice:s3cr3t@registry.example:8081/",
            ),
            ("KAFKA_SASL_PASSWORD", "kafkapw"),
            ("KAFKA_PROPERTY_SSL_KEY_PASSWORD", "keypw"),
            ("KAFKA_SECURITY_PROTOCOL", "sasl_ssl"),
            ("KAFKA_SASL_MECHANISM", "plain"),
        ]),
        &[],
    )
    .unwrap();
    assert_eq!(s.registry.url, "https://registry.example:8081");
    assert_eq!(s.registry.username, "alice");
    assert_eq!(s.registry.password.expose(), "s3cr3t");
    assert_eq!(s.kafka.properties["ssl.key.password"], "keypw");
    let shown = format!("{s:?}");
    for secret in ["s3cr3t", "kafkapw", "keypw"] {
        assert!(!shown.contains(secret), "{secret} printed in {shown}");
    }
    let e = err(&[("SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", "nocolonpw")]);
    assert!(
        !e.contains("nocolonpw") && e.contains("user:password"),
        "{e}"
    );
}

#[test]
fn sasl_without_a_mechanism_is_rejected() {
    let e = err(&[("KAFKA_SECURITY_PROTOCOL", "sasl_ssl")]);
    assert!(e.contains("KAFKA_SASL_MECHANISM"), "{e}");
}

#[test]
fn two_streams_on_one_topic_are_rejected() {
    let e = err(&[("TOPIC_PAYMENTS", "orders.v1")]);
    assert!(
        e.contains("TOPIC_ORDERS") && e.contains("TOPIC_PAYMENTS"),
        "{e}"
    );
}

#[test]
fn a_config_file_with_an_unknown_key_names_it_and_the_valid_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "[weights]\norderz = 1\n").unwrap();
    let e = load(Some(&path), &BTreeMap::new(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("weights.orderz") && e.contains("weights.orders"),
        "{e}"
    );
    std::fs::write(&path, "[weights]\norders = \"many\"\n").unwrap();
    let e = load(Some(&path), &BTreeMap::new(), &[])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("weights.orders") && e.contains("bad.toml"),
        "{e}"
    );
}

#[test]
fn a_target_is_its_topic_set() {
    let defaults = load(None, &env(&[]), &[]).unwrap();
    assert_eq!(target_id(&defaults), default_target_id());
    assert_eq!(target_id(&defaults).len(), 16);
    let other = load(None, &env(&[("TOPIC_ORDERS", "team-b.orders")]), &[]).unwrap();
    assert_ne!(target_id(&other), target_id(&defaults), "another topic set");
    // The run register itself is not part of the target: runs of a topic set may move to
    // another register and stay one target.
    let register = load(None, &env(&[("TOPIC_RUNS", "shared-runs")]), &[]).unwrap();
    assert_eq!(target_id(&register), target_id(&defaults));
    // Names are separated: moving a character from one topic to the next is another set.
    let a = load(
        None,
        &env(&[("TOPIC_ORDERS", "o"), ("TOPIC_PAYMENTS", "xp")]),
        &[],
    )
    .unwrap();
    let b = load(
        None,
        &env(&[("TOPIC_ORDERS", "ox"), ("TOPIC_PAYMENTS", "p")]),
        &[],
    )
    .unwrap();
    assert_ne!(target_id(&a), target_id(&b));
}
