//! `retailgen pos-simulator` against the real broker: it checks out every store visit of a day
//! exactly as the store world did (lines = the net of the visit's shelf events, priced as in
//! effect from Postgres), loses nothing across two SIGKILLs (one between sending transactions
//! and their acknowledgement, one right after committing input while carts are open), and a
//! transaction sent again keeps its id and content. 001's JSON works with 001's parquet price
//! files; garbage is counted and skipped; a putback after checkout is late and makes no cart;
//! unusable parquet files exit 2 naming the file and the columns expected.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

use crate::support::cmd::{command, finish_or_kill, run, terminate};
use crate::support::decode::{decode, kafka_env, Row};
use crate::support::kafka::{consume_all, create_topics};
use crate::support::parquet::write_parquet;
use crate::support::pg::TestDb;
use crate::support::registry::Registry;
use crate::support::stock::SEED_ENV;
use crate::support::tansu::Tansu;
use crate::support::target::{good_once, Target};

const SIM_TOPIC: &str = "pos-transactions-simulated.v1";

/// The simulated transactions on the topic, decoded, once `enough` of them (distinct ids)
/// arrived; an error saying how many did after `within`.
fn simulated(
    broker: &Tansu,
    registry: &Registry,
    enough: usize,
    within: Duration,
) -> Result<Vec<Row>, String> {
    let started = Instant::now();
    loop {
        let rows = decode(
            registry,
            ("", ""),
            consume_all(&broker.bootstrap, &[SIM_TOPIC], Duration::from_secs(60)),
        );
        let ids: std::collections::HashSet<&str> =
            rows.iter().map(|r| r.str("transaction_id")).collect();
        if ids.len() >= enough {
            return Ok(rows);
        }
        if started.elapsed() > within {
            return Err(format!(
                "only {} of {enough} simulated transactions within {within:?}",
                ids.len()
            ));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn items(r: &Row) -> Vec<(String, i64, f64, f64, f64)> {
    let apache_avro::types::Value::Array(lines) = &r.fields["items"] else {
        panic!("items is an array")
    };
    let mut out: Vec<_> = lines
        .iter()
        .map(|l| {
            let apache_avro::types::Value::Record(f) = l else {
                panic!("a line is a record")
            };
            let get = |n: &str| {
                f.iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.clone())
                    .unwrap()
            };
            let num = |v: apache_avro::types::Value| match v {
                apache_avro::types::Value::Double(d) => d,
                apache_avro::types::Value::Int(i) => f64::from(i),
                other => panic!("{other:?}"),
            };
            let apache_avro::types::Value::String(item) = get("item_id") else {
                panic!("item_id")
            };
            (
                item,
                num(get("quantity")) as i64,
                num(get("unit_price")),
                num(get("discount")),
                num(get("total_price")),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn opt_str<'a>(r: &'a Row, name: &str) -> Option<&'a str> {
    match r.fields.get(name) {
        Some(apache_avro::types::Value::String(s)) => Some(s),
        _ => None,
    }
}

#[test]
fn the_simulator_checks_out_every_visit_as_the_store_world_did_and_loses_nothing_to_sigkill() {
    let target = Target::new(true);
    let day = [
        "run",
        "--from",
        "2024-07-01T00:00:00Z",
        "--to",
        "2024-07-02T00:00:00Z",
        "--eps",
        "0.4",
    ];
    // Batched as retailgen writes it: a restart's committed offset may lie inside a record batch.
    let generated = run(
        &day,
        &target.env(&[("WEIGHT_STORE", "3"), ("P_LATE_EVENT", "0")]),
    );
    assert_eq!(generated.code, Some(0), "{}", generated.stderr);
    let rows = target.rows();
    let good = good_once(&rows);
    // The net cart of every visit, from its shelf events.
    let mut carts: HashMap<&str, BTreeMap<String, i64>> = HashMap::new();
    for r in good.iter().filter(|r| r.kafka.topic == "shelf-events.v1") {
        let sign = if r.str("event_type") == "pickup" {
            1
        } else {
            -1
        };
        *carts
            .entry(r.str("visit_id"))
            .or_default()
            .entry(r.str("item_id").to_owned())
            .or_default() += sign * r.i64("quantity");
    }
    let visits: Vec<&str> = good
        .iter()
        .filter(|r| r.kafka.topic == "foot-traffic.v1")
        .map(|r| r.str("visit_id"))
        .collect();
    let non_empty: HashMap<&str, Vec<(String, i64)>> = visits
        .iter()
        .filter_map(|v| {
            let cart: Vec<(String, i64)> = carts
                .get(v)?
                .iter()
                .filter(|(_, q)| **q > 0)
                .map(|(i, q)| (i.clone(), *q))
                .collect();
            (!cart.is_empty()).then_some((*v, cart))
        })
        .collect();
    // The store world's own checkouts, by visit.
    let store: HashMap<&str, &Row> = good
        .iter()
        .filter(|r| r.kafka.topic == "pos-transactions.v1")
        .filter_map(|r| Some((opt_str(r, "visit_id")?, *r)))
        .collect();
    assert!(
        non_empty.len() > 200,
        "a day of visits: {}",
        non_empty.len()
    );

    let env: Vec<(&str, &str)> = target
        .env(&[("COMMIT_INTERVAL", "100ms"), ("RUST_LOG", "info")])
        .into_iter()
        .collect();
    // Killed by SIGKILL between handing transactions to the producer and their
    // acknowledgement, then right after its third commit of input, with carts open.
    for crash in ["sim_sent:60", "sim_committed:3"] {
        let mut crash_env = env.clone();
        crash_env.push(("RETAILGEN_TEST_CRASH_AT", crash));
        let killed = finish_or_kill(
            command(&["pos-simulator"], &crash_env).spawn().unwrap(),
            Duration::from_secs(60),
        );
        assert_eq!(killed.code, None, "SIGKILL at {crash}: {}", killed.stderr);
    }
    // Then to the end, and SIGTERM.
    let child = command(&["pos-simulator"], &env).spawn().unwrap();
    let sim = simulated(
        &target.broker,
        &target.registry,
        non_empty.len(),
        Duration::from_secs(120),
    );
    let stopped = terminate(child);
    let sim = sim.unwrap_or_else(|e| panic!("{e}: {}", stopped.stderr));
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains("pos-simulator: read"),
        "{}",
        stopped.stderr
    );
    assert!(
        stopped.stderr.contains("reading foot-traffic.v1") && !stopped.stderr.contains("@earliest"),
        "the last run starts from committed offsets: {}",
        stopped.stderr
    );

    let mut by_id: HashMap<&str, &Row> = HashMap::new();
    for r in &sim {
        assert_eq!(r.kafka.key, r.str("customer_id"), "keyed by customer");
        if let Some(first) = by_id.insert(r.str("transaction_id"), r) {
            assert_eq!(
                first.kafka.payload, r.kafka.payload,
                "a re-sent transaction is the same"
            );
        }
    }
    eprintln!(
        "visits {}, non-empty {}, simulated ids {}, copies {}",
        visits.len(),
        non_empty.len(),
        by_id.len(),
        sim.len()
    );
    let mut per_visit: HashMap<&str, Vec<&Row>> = HashMap::new();
    for r in by_id.values() {
        let visit = opt_str(r, "visit_id").expect("retailgen's sessions carry their visit");
        per_visit.entry(visit).or_default().push(r);
    }
    assert_eq!(per_visit.len(), by_id.len(), "one transaction id per visit");
    let (mut compared, mut moved_between) = (0, 0);
    let mut changes: HashMap<&str, Vec<i64>> = HashMap::new();
    for r in good.iter().filter(|r| r.kafka.topic == "price-changes.v1") {
        changes
            .entry(r.str("product_id"))
            .or_default()
            .push(r.i64("ts"));
    }
    for (visit, cart) in &non_empty {
        let got = per_visit
            .get(visit)
            .unwrap_or_else(|| panic!("visit {visit} with cart {cart:?} was not checked out"));
        let lines = items(got[0]);
        let quantities: Vec<(String, i64)> = lines.iter().map(|l| (l.0.clone(), l.1)).collect();
        if &quantities != cart {
            let customer = opt_str(got[0], "customer_id").unwrap_or_default();
            let told: Vec<String> = rows
                .iter()
                .filter(|r| {
                    matches!(
                        r.kafka.topic.as_str(),
                        "shelf-events.v1" | "foot-traffic.v1"
                    ) && opt_str(r, "customer_id") == Some(customer)
                })
                .map(|r| {
                    format!(
                        "{}/{}/{} dq={:?} {:?}",
                        r.kafka.topic,
                        r.kafka.partition,
                        r.kafka.offset,
                        r.header("dq"),
                        r.fields
                    )
                })
                .collect();
            panic!(
                "visit {visit}: lines {quantities:?} are not the net cart {cart:?}; the customer's records:\n{}\nthe last simulator:\n{}",
                told.join("\n"),
                stopped.stderr
            );
        }
        for l in &lines {
            // qty x unit x (1 - discount), rounded half up on the exact cents (floats are not).
            let (unit, pct) = ((l.2 * 100.0).round() as i64, (l.3 * 100.0).round() as i64);
            let cents = (l.1 * unit * (100 - pct) + 50).div_euclid(100);
            assert!(
                ((l.4 * 100.0).round() as i64 - cents) == 0,
                "visit {visit}: total to the cent: {l:?}"
            );
        }
        // Visits still inside at the end of the run were never checked out by the store world.
        let Some(own) = store.get(visit) else {
            continue;
        };
        let own_lines = items(own);
        let pairs = |ls: &[(String, i64, f64, f64, f64)]| {
            ls.iter().map(|l| (l.0.clone(), l.1)).collect::<Vec<_>>()
        };
        assert_eq!(
            pairs(&own_lines),
            quantities,
            "visit {visit}: the store world's basket is the same"
        );
        // The store world pays at its checkout, the simulator at the session's exit: their
        // prices agree unless the price changed in between.
        let (exit, paid) = (got[0].i64("timestamp"), own.i64("timestamp"));
        for (sim, own) in lines.iter().zip(&own_lines) {
            let moved = changes
                .get(sim.0.as_str())
                .is_some_and(|ts| ts.iter().any(|t| exit < *t && *t <= paid));
            if moved {
                moved_between += 1;
            } else {
                assert_eq!(
                    sim, own,
                    "visit {visit}: priced as the store world priced it"
                );
                compared += 1;
            }
        }
    }
    eprintln!("lines priced as the store world: {compared}; price changed between exit and payment: {moved_between}");
    assert!(
        compared > 2 * non_empty.len(),
        "{compared} lines compared with the store world"
    );
    assert_eq!(
        per_visit.len(),
        non_empty.len(),
        "no transaction for an empty cart"
    );
    assert!(
        store.values().any(|r| items(r).iter().any(|l| l.3 > 0.0)),
        "some lines were discounted"
    );
}

/// The simulator rides through an outage of its price source: on a day of the store world, its
/// database refuses connections (its sessions terminated) for 10 s from just after it read its
/// prices; the discounts query of its first checkouts is asked again until the database is
/// back, it says so, and every visit checks out.
#[test]
fn the_simulator_rides_through_an_outage_of_its_price_source() {
    let target = Target::new(false);
    let prices = TestDb::create();
    let seeded = run(
        &["seed", "--seed", "3"],
        &[SEED_ENV.as_slice(), &[("PG_DSN", prices.dsn.as_str())]].concat(),
    );
    assert_eq!(seeded.code, Some(0), "{}", seeded.stderr);
    let day = [
        "run",
        "--from",
        "2024-07-01T00:00:00Z",
        "--to",
        "2024-07-02T00:00:00Z",
        "--eps",
        "0.4",
    ];
    let generated = run(&day, &target.env(&[("WEIGHT_STORE", "3")]));
    assert_eq!(generated.code, Some(0), "{}", generated.stderr);
    let mut env = target.env(&[
        ("PG_DSN", prices.dsn.as_str()),
        ("COMMIT_INTERVAL", "200ms"),
    ]);
    env.retain(|(k, _)| *k != "STORE");
    let simulator = command(&["pos-simulator"], &env).spawn().unwrap();
    // Connected (its prices are read on that connection at once), then cut off.
    let started = Instant::now();
    while prices.other_sessions() == 0 && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    prices.admin(&format!(
        "ALTER DATABASE {0} ALLOW_CONNECTIONS false; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{0}'",
        prices.name
    ));
    std::thread::sleep(Duration::from_secs(10));
    prices.admin(&format!(
        "ALTER DATABASE {} ALLOW_CONNECTIONS true",
        prices.name
    ));
    let after = simulated(
        &target.broker,
        &target.registry,
        150,
        Duration::from_secs(90),
    );
    let stopped = terminate(simulator);
    after.unwrap_or_else(|e| panic!("{e}: {}", stopped.stderr));
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    assert!(
        stopped.stderr.contains("price source is away") && stopped.stderr.contains("is back after"),
        "{}",
        stopped.stderr
    );
}

fn send(bootstrap: &str, topic: &str, records: &[(&str, &[u8])]) {
    let p: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    for (key, value) in records {
        p.send(BaseRecord::to(topic).key(*key).payload(*value))
            .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();
}

#[test]
fn reference_001_json_works_with_its_parquet_prices_and_garbage_is_counted_and_skipped() {
    let broker = Tansu::start();
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("store_inventory_final.parquet");
    let discounts = dir.path().join("all_discounts.parquet");
    write_parquet(
        &prices,
        "message m { REQUIRED BYTE_ARRAY shelf_id (UTF8); REQUIRED DOUBLE item_price; }",
        &["SH-1", "SH-2"],
        &[2.5, 10.0],
        None,
    );
    // 2025-03-03 is in ISO week 2025-W10; a discount of another week must not apply.
    write_parquet(
        &discounts,
        "message m { REQUIRED BYTE_ARRAY shelf_id (UTF8); REQUIRED DOUBLE discount; REQUIRED BYTE_ARRAY week (UTF8); }",
        &["SH-2", "SH-1"],
        &[0.125, 0.5],
        Some(&["2025-W10", "2025-W11"]),
    );
    let session = |c: &str, entry: &str, exit: &str| {
        format!(
            r#"{{"event_type": "foot_traffic", "customer_id": "{c}", "entry_time": "2025-03-03T{entry}:00+00:00", "exit_time": "2025-03-03T{exit}:00+00:00", "trip_duration_minutes": 20, "weekday": "Monday", "time_slot": "10:00–13:59"}}"#
        )
    };
    let shelf = |kind: &str, c: &str, item: &str, q: i32, at: &str| {
        format!(
            r#"{{"event_type": "{kind}", "customer_id": "{c}", "item_id": "{item}", "weight": 1.0, "quantity": {q}, "timestamp": "2025-03-03T{at}:00+00:00"}}"#
        )
    };
    let foot = [
        session("alice", "10:00", "10:20"),
        session("bob", "10:05", "10:25"),
        session("carol", "10:10", "10:30"),
        session("dave", "11:00", "11:20"),
    ];
    let shelf_events = [
        shelf("pickup", "alice", "SH-1", 3, "10:01"),
        shelf("pickup", "alice", "SH-2", 1, "10:02"),
        shelf("putback", "alice", "SH-1", 1, "10:03"),
        shelf("pickup", "bob", "SH-9", 2, "10:06"),
        shelf("pickup", "carol", "SH-1", 1, "10:11"),
        shelf("putback", "carol", "SH-1", 1, "10:12"),
        r#"{"event_type": "weight_change", "customer_id": "carol", "item_id": "SH-1", "delta_weight": 1.0, "timestamp": "2025-03-03T10:12:00"}"#.to_owned(),
        shelf("pickup", "dave", "SH-2", 1, "11:05"),
    ];
    // Sent once alice has checked out (the watermark passed 10:20): late, and no cart again.
    let late_putback = shelf("putback", "alice", "SH-2", 1, "10:19");
    create_topics(&broker.bootstrap, &["foot_traffic", "shelf_events"]);
    let foot_records: Vec<(&str, &[u8])> = foot.iter().map(|s| ("k", s.as_bytes())).collect();
    send(&broker.bootstrap, "foot_traffic", &foot_records);
    let mut shelf_records: Vec<(&str, &[u8])> =
        shelf_events.iter().map(|s| ("k", s.as_bytes())).collect();
    shelf_records.insert(4, ("k", b"\x00\x00\x00\x00not avro at all".as_slice()));
    shelf_records.insert(1, ("k", b"}{ garbage".as_slice()));
    send(&broker.bootstrap, "shelf_events", &shelf_records);

    let mut env = kafka_env(&broker, &registry);
    let (p, d) = (
        prices.display().to_string(),
        discounts.display().to_string(),
    );
    env.extend([
        ("KAFKA_BROKER", broker.bootstrap.as_str()),
        ("FOOT_TOPIC", "foot_traffic"),
        ("SHELF_TOPIC", "shelf_events"),
        ("POS_TOPIC", SIM_TOPIC),
        ("STORE_PARQUET", p.as_str()),
        ("DISCOUNT_PARQUET_PATH", d.as_str()),
        ("WATERMARK_LATENESS", "1m"),
    ]);
    env.retain(|(k, _)| *k != "KAFKA_BOOTSTRAP");
    let metrics = crate::support::free_addr();
    env.push(("METRICS_ADDR", metrics.as_str()));
    let child = command(&["pos-simulator"], &env).spawn().unwrap();
    simulated(&broker, &registry, 2, Duration::from_secs(60)).unwrap();
    send(
        &broker.bootstrap,
        "shelf_events",
        &[("k", late_putback.as_bytes())],
    );
    let rows = simulated(&broker, &registry, 3, Duration::from_secs(60)).unwrap();
    // Its figures, as Prometheus scrapes them (refreshed every 2 s).
    let scraped = crate::ops::scrape_until(&metrics, Duration::from_secs(30), |t| {
        crate::ops::sample(t, "retailgen_simulator_transactions_total") == Some(3.0)
            && crate::ops::sample(t, "retailgen_simulator_late_input_total") == Some(1.0)
    });
    for (series, value) in [
        ("retailgen_simulator_unparseable_input_total", 2.0),
        ("retailgen_simulator_consumer_lag", 0.0),
        ("retailgen_simulator_open_carts", 0.0),
        ("retailgen_healthy", 1.0),
    ] {
        assert_eq!(
            crate::ops::sample(&scraped, series),
            Some(value),
            "{series}\n{scraped}"
        );
    }
    let out = terminate(child);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let by_customer: HashMap<&str, &Row> = rows.iter().map(|r| (r.str("customer_id"), r)).collect();
    assert_eq!(
        by_customer.len(),
        3,
        "carol's cart is empty: no transaction"
    );
    assert_eq!(
        items(by_customer["alice"]),
        [
            ("SH-1".into(), 2, 2.5, 0.0, 5.0),
            ("SH-2".into(), 1, 10.0, 0.125, 8.75)
        ],
        "net cart, 001's prices and that week's discount"
    );
    assert_eq!(
        items(by_customer["bob"]),
        [("SH-9".into(), 2, 5.0, 0.0, 10.0)],
        "unlisted: 001's 5.00"
    );
    assert_eq!(
        by_customer["alice"].i64("timestamp"),
        1_740_997_200_000,
        "at exit_time"
    );
    assert!(
        out.stderr.contains("late 1") && out.stderr.contains("unparseable 2"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("shelf_events/0/"),
        "names where: {}",
        out.stderr
    );
}

#[test]
fn unusable_parquet_files_exit_2_naming_the_file_and_the_columns_expected() {
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.parquet");
    write_parquet(
        &wrong,
        "message m { REQUIRED BYTE_ARRAY shelf_id (UTF8); REQUIRED DOUBLE price; }",
        &["SH-1"],
        &[1.0],
        None,
    );
    let text = dir.path().join("prices.parquet");
    std::fs::write(&text, "shelf_id,item_price\nSH-1,2.5\n").unwrap();
    let missing = dir.path().join("missing.parquet");
    for (path, says) in [
        (&wrong, "no column item_price"),
        (&text, "not a readable parquet file"),
        (&missing, "cannot open it"),
    ] {
        let p = path.display().to_string();
        let out = run(&["pos-simulator"], &[("STORE_PARQUET", p.as_str())]);
        assert_eq!(out.code, Some(2), "{}", out.stderr);
        assert!(
            out.stderr.contains(&format!("STORE_PARQUET={p}")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains(says), "{}", out.stderr);
        assert!(
            out.stderr.contains("shelf_id (string) and item_price"),
            "{}",
            out.stderr
        );
    }
    let out = run(&["pos-simulator"], &[("START_OFFSET", "middle")]);
    assert_eq!(out.code, Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("START_OFFSET") && out.stderr.contains("earliest or latest"),
        "{}",
        out.stderr
    );
}
