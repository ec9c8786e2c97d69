//! The Kafka sink against a real tansu broker and the in-process registry: wire format, keys,
//! headers, referential integrity, and refusing to produce when the registry says no.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use apache_avro::types::Value;
use retailgen::domain::reference::catalog::Catalog;
use retailgen::domain::reference::{ReferenceData, SeedCounts, StoreLayout};

use crate::support::cmd::{assert_count, run};
use crate::support::decode::{decode, decoder, dq, kafka_env, runtime, Row, POISON};
use crate::support::kafka::{consume, partitions};
use crate::support::registry::Registry;
use crate::support::tansu::Tansu;
use crate::support::TOPICS;

#[test]
fn ecommerce_records_reach_kafka_in_wire_format_and_obey_the_data_rules() {
    let broker = Tansu::start();
    let registry = Registry::start_with_auth(Some(("svc", "pa55word")));
    let mut env = kafka_env(&broker, &registry);
    env.push(("SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", "svc:pa55word"));
    // Sign-ups live only in memory here; the Postgres tests check them against the table.
    env.push(("P_NEW_CUSTOMER", "0"));
    let out = run(
        &[
            "run",
            "--sink",
            "kafka",
            "--count",
            "20000",
            "--eps",
            "0",
            "--seed",
            "11",
            "--partitions",
            "2",
        ],
        &env,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(
        !out.stderr.contains("pa55word"),
        "the password is never printed: {}",
        out.stderr
    );

    let mut subjects: Vec<String> = TOPICS.iter().map(|t| format!("{t}-value")).collect();
    subjects.sort();
    assert_eq!(registry.subjects(), subjects);
    let parts = partitions(&broker.bootstrap);
    assert!(
        TOPICS.iter().all(|t| parts.get(*t) == Some(&2)),
        "{parts:?}"
    );

    let produced = assert_count(&out.stderr, 20_000);
    let consumed = consume(
        &broker.bootstrap,
        &TOPICS,
        produced,
        Duration::from_secs(120),
    );
    assert_eq!(
        consumed.len(),
        produced,
        "every record reached the topics, and no more"
    );
    let rows = decode(&registry, ("svc", "pa55word"), consumed);
    // The run's reference data: the defaults (users live where the ten stores are).
    let counts = SeedCounts {
        users: 20_000,
        products: 200,
        warehouses: 5,
        suppliers: 20,
        stores: 10,
        terminals_per_store: 4,
        employees_per_store: 8,
        layout: StoreLayout::VARIED,
    };
    check_rules(
        &rows,
        &Catalog::from_reference(&ReferenceData::generate(counts, 11)).0,
    );
}

/// A producer queue of a few records: retailgen waits for room, serving the delivery reports
/// that free it, rather than failing or dropping records, and every record arrives.
#[test]
fn a_full_producer_queue_holds_records_back_until_there_is_room() {
    let broker = Tansu::start();
    let registry = Registry::start();
    let mut env = kafka_env(&broker, &registry);
    env.extend([
        ("KAFKA_PROPERTY_QUEUE_BUFFERING_MAX_MESSAGES", "8"),
        ("KAFKA_PROPERTY_LINGER_MS", "0"),
    ]);
    let out = run(
        &[
            "run", "--sink", "kafka", "--count", "2000", "--eps", "0", "--seed", "5",
        ],
        &env,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let produced = assert_count(&out.stderr, 2000);
    let consumed = consume(
        &broker.bootstrap,
        &TOPICS,
        produced,
        Duration::from_secs(60),
    );
    assert_eq!(consumed.len(), produced, "every record reached the topics");
}

fn check_rules(rows: &[Row], catalog: &Catalog) {
    let users: HashMap<String, &str> = (0..catalog.users.len())
        .map(|i| (catalog.users.user_id(i).into(), catalog.users.country(i)))
        .collect();
    // Every price a product had: its catalog price and each price change's new price.
    let mut prices: HashMap<&str, Vec<f64>> = catalog
        .products
        .iter()
        .map(|p| (p.product_id.as_str(), vec![p.price_usd()]))
        .collect();
    for c in rows
        .iter()
        .filter(|r| r.kafka.topic == "price-changes.v1" && !r.header("dq").starts_with("bad:"))
    {
        prices
            .get_mut(c.str("product_id"))
            .expect("a known product")
            .push(c.f64("new_price"));
    }
    // What a consumer does: set labelled bad records aside; late ones are valid but out of order.
    let by_topic = |t: &'static str| {
        rows.iter()
            .filter(move |r| r.kafka.topic == t && !r.header("dq").starts_with("bad:"))
    };
    let on_time = |r: &Row| r.header("dq") != "late";
    for r in rows {
        assert_eq!(r.header("source"), "retailgen");
        // Event time: `ts` (reference 003), `entry_time` (a visit), else `timestamp`.
        let ts = ["ts", "entry_time", "timestamp"]
            .into_iter()
            .find(|f| r.fields.contains_key(*f))
            .map(|f| r.i64(f))
            .unwrap();
        assert_eq!(
            r.kafka.timestamp,
            Some(ts),
            "Kafka timestamp is the event time"
        );
    }
    let mut orders: BTreeMap<&str, &Row> = BTreeMap::new();
    for o in by_topic("orders.v1") {
        assert_eq!(o.kafka.key, o.str("order_id"));
        assert_eq!(o.header("entity"), "order");
        assert!(o.header("trace_id").starts_with("tr_"));
        assert!(
            users.contains_key(o.str("user_id")),
            "order of an unknown user"
        );
        let price = o.f64("unit_price");
        assert!(
            prices[o.str("product_id")].contains(&price),
            "priced at the catalog price or a later price change"
        );
        assert!(
            (o.f64("amount") - o.i64("quantity") as f64 * price).abs() < 1e-6,
            "amount = quantity x price"
        );
        orders.insert(o.str("order_id"), o);
    }
    let mut settled = HashMap::new();
    for p in by_topic("payments.v1") {
        let order = orders
            .get(p.str("order_id"))
            .unwrap_or_else(|| panic!("payment of an unknown order"));
        assert_eq!(p.kafka.key, p.str("order_id"));
        assert_eq!(
            p.kafka.partition, order.kafka.partition,
            "co-partitioned with its order"
        );
        assert_eq!(p.header("trace_id"), order.header("trace_id"));
        assert_eq!(p.f64("amount"), order.f64("amount"));
        if on_time(p) && on_time(order) {
            assert!(p.i64("ts") >= order.i64("ts"));
        }
        if p.str("status") == "SETTLED" {
            settled.insert(p.str("order_id"), p);
        }
    }
    let mut shipments = 0;
    for s in by_topic("shipments.v1") {
        let paid = settled
            .get(s.str("order_id"))
            .unwrap_or_else(|| panic!("shipment without a settled payment"));
        assert_eq!(s.kafka.key, s.str("order_id"));
        if on_time(s) && on_time(paid) {
            assert!(s.i64("ts") >= paid.i64("ts"));
        }
        shipments += 1;
    }
    for i in by_topic("customer-interactions.v1") {
        assert_eq!(i.kafka.key, i.str("session_id"));
        assert_eq!(i.header("entity"), "customer_interaction");
        assert_eq!(
            users.get(i.str("user_id")),
            Some(&i.str("country")),
            "the user's own country"
        );
        if let Some(Value::String(p)) = i.fields.get("product_id") {
            assert!(prices.contains_key(p.as_str()));
        }
    }
    assert!(
        orders.len() > 500 && !settled.is_empty() && shipments > 0,
        "{} orders, {shipments} shipments",
        orders.len()
    );
}

#[test]
fn an_incompatible_schema_in_the_registry_stops_the_run_before_anything_is_produced() {
    let broker = Tansu::start();
    let registry = Registry::start();
    registry.preload(
        "orders.v1-value",
        r#"{"type":"record","name":"Order","namespace":"demo","fields":[{"name":"order_id","type":"int"}]}"#,
    );
    let out = run(
        &["run", "--sink", "kafka", "--count", "100"],
        &kafka_env(&broker, &registry),
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains("orders.v1-value"),
        "names the subject: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("409") && out.stderr.contains("incompatible"),
        "gives the registry's answer: {}",
        out.stderr
    );
    let parts = partitions(&broker.bootstrap);
    assert!(
        TOPICS.iter().all(|t| !parts.contains_key(*t)),
        "no topic was created or written: {parts:?}"
    );
}

#[test]
fn an_unreachable_registry_fails_naming_its_url() {
    let closed = crate::support::free_addr();
    let url = format!("http://{closed}");
    let out = run(
        &["run", "--sink", "kafka", "--count", "10"],
        &[
            ("SCHEMA_REGISTRY_URL", &url),
            ("SCHEMA_REGISTRY_TIMEOUT", "3s"),
        ],
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains(&url) && out.stderr.contains("orders.v1-value"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_wrong_registry_password_is_refused_and_never_printed() {
    let registry = Registry::start_with_auth(Some(("svc", "right")));
    let out = run(
        &["run", "--sink", "kafka", "--count", "10"],
        &[
            ("SCHEMA_REGISTRY_URL", &registry.url),
            ("SCHEMA_REGISTRY_BASIC_AUTH_USER_INFO", "svc:wr0ngpass"),
        ],
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("401"), "{}", out.stderr);
    assert!(!out.stderr.contains("wr0ngpass") && !out.stdout.contains("wr0ngpass"));
}

#[test]
fn an_unreachable_broker_fails_naming_the_bootstrap_servers() {
    let registry = Registry::start();
    let closed = crate::support::free_addr();
    let out = run(
        &["run", "--sink", "kafka", "--count", "10"],
        &[
            ("KAFKA_BOOTSTRAP", &closed),
            ("SCHEMA_REGISTRY_URL", &registry.url),
        ],
    );
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(
        out.stderr.contains(&closed) && out.stderr.contains("KAFKA_BOOTSTRAP"),
        "{}",
        out.stderr
    );
}

#[test]
fn labelled_faults_reach_kafka_and_poison_pills_fail_to_decode() {
    let broker = Tansu::start();
    let registry = Registry::start();
    let mut env = kafka_env(&broker, &registry);
    env.extend([
        ("P_BAD_RECORD", "0.1"),
        ("BAD_RECORD_WIRE_SHARE", "0.5"),
        ("P_LATE_EVENT", "0.1"),
        ("P_DUPLICATE", "0.03"),
        ("MAX_LATE_MINUTES", "5"),
    ]);
    let out = run(
        &[
            "run", "--sink", "kafka", "--count", "5000", "--eps", "0", "--seed", "5",
        ],
        &env,
    );
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let produced = assert_count(&out.stderr, 5_000);
    let consumed = consume(
        &broker.bootstrap,
        &TOPICS,
        produced,
        Duration::from_secs(120),
    );
    let decoder = decoder(&registry, ("", ""));
    let rt = runtime();
    let mut labels: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut seen: Vec<(&str, &[u8])> = Vec::new();
    for c in &consumed {
        let label = dq(c);
        let decoded = rt.block_on(decoder.decode(Some(&c.payload)));
        match label {
            "bad:bad_magic_byte" => assert_ne!(c.payload[0], 0),
            "bad:unknown_schema_id" | "bad:truncated_body" => assert_eq!(c.payload[0], 0),
            _ => {}
        }
        assert_eq!(
            decoded.is_err(),
            POISON.contains(&label),
            "{label}: {decoded:?}"
        );
        if label == "late" {
            let delay: i64 = c.headers["dq_delay_ms"].parse().unwrap();
            assert!((1..=5 * 60_000).contains(&delay));
        }
        if label == "duplicate" {
            assert!(
                seen.contains(&(c.key.as_str(), c.payload.as_slice())),
                "a duplicate repeats an earlier record"
            );
        }
        seen.push((&c.key, &c.payload));
        if !label.is_empty() {
            *labels
                .entry((c.topic.clone(), label.to_owned()))
                .or_default() += 1;
        }
    }
    for kind in [
        "late",
        "duplicate",
        "bad:bad_magic_byte",
        "bad:unknown_schema_id",
        "bad:truncated_body",
        "bad:dangling_reference",
    ] {
        assert!(
            labels.keys().any(|(_, l)| l == kind),
            "no {kind} among {labels:?}"
        );
    }
    for ((topic, label), n) in &labels {
        let row = format!("{topic} {label} {n}");
        let squeezed: Vec<String> = out
            .stderr
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect();
        assert!(
            squeezed.contains(&row),
            "the summary reports {row}: {}",
            out.stderr
        );
    }
}

/// tansu 0.6 starts a transactional producer but has no EndTxn: `auto` (the default) says so and
/// uses the barrier, `on` refuses to run, naming the setting and what is valid.
#[test]
fn kafka_transactions_are_used_only_where_the_cluster_offers_them() {
    let broker = Tansu::start();
    let registry = Registry::start();
    let mut env = kafka_env(&broker, &registry);
    env.push(("RUST_LOG", "info"));
    let args = ["run", "--sink", "kafka", "--count", "200", "--eps", "0"];
    let auto = run(&args, &env);
    assert_eq!(auto.code, Some(0), "{}", auto.stderr);
    assert!(
        auto.stderr.contains("no Kafka transactions")
            && auto
                .stderr
                .contains("waits until what it names is acknowledged"),
        "{}",
        auto.stderr
    );
    env.push(("KAFKA_TRANSACTIONS", "on"));
    let on = run(&args, &env);
    assert_eq!(on.code, Some(1), "{}", on.stderr);
    assert!(
        on.stderr.contains("KAFKA_TRANSACTIONS=on") && on.stderr.contains("EndTxn"),
        "{}",
        on.stderr
    );
}
