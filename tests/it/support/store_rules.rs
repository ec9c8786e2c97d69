//! The store world's rules (DESIGN.md 1-5 and 8), checked on records read back as JSON values
//! in topic order: terminal sequences, arithmetic to the cent, transactions equal to their
//! events at the price in effect and that week's discount, refunds within their line and window
//! (restockable ones returned to the shelf), stores silent while closed, store and warehouse
//! stock chains, and exactly one alert per crossing with replenishments following.

use std::collections::HashMap;

use retailgen::domain::reference::catalog::WAREHOUSE_REORDER;
use retailgen::domain::reference::stores::{discount_pct, iso_week, Store};
use retailgen::domain::reference::{ReferenceData, SeedCounts};
use serde_json::Value;

use super::decode::Row;

/// What a basket's events said: subtotal, tax and amount in cents, and (item, quantity, cents) per line.
type Said = (i64, i64, i64, Vec<(String, i64, i64)>);
/// A transaction and its (quantity, cents) per item.
type Paid<'a> = (&'a Value, HashMap<String, (i64, i64)>);

/// How long after closing a store may still serve the queue it closed on.
const CLOSING_QUEUE_MS: i64 = 30 * 60_000;

fn cents(v: &Value) -> i64 {
    (v.as_f64().unwrap() * 100.0).round() as i64
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

fn ms(v: &Value) -> i64 {
    v.as_i64().unwrap()
}

/// The stores and the seeded store stock: (level, reorder point) by (store, product).
pub struct Seeded {
    /// The reference-data seed (weekly discounts derive from it).
    pub seed: u64,
    pub stores: HashMap<String, Store>,
    pub levels: HashMap<(String, String), (i64, i64)>,
    /// Seeded warehouse stock by (warehouse, product).
    pub warehouse_levels: HashMap<(String, String), i64>,
    /// Seeded price of each product, in cents.
    pub prices: HashMap<String, i64>,
}

pub fn seeded(counts: SeedCounts, seed: u64) -> Seeded {
    let data = ReferenceData::generate(counts, seed);
    Seeded {
        seed,
        warehouse_levels: data
            .stock
            .iter()
            .map(|r| {
                (
                    (r.warehouse_id.clone(), r.product_id.clone()),
                    i64::from(r.qty),
                )
            })
            .collect(),
        stores: data
            .stores
            .iter()
            .map(|st| (st.store_id.clone(), st.clone()))
            .collect(),
        levels: data
            .store_stock
            .iter()
            .map(|r| {
                (
                    (r.store_id.clone(), r.product_id.clone()),
                    (i64::from(r.qty), i64::from(r.reorder_point)),
                )
            })
            .collect(),
        prices: data
            .products
            .iter()
            .map(|p| (p.product_id.clone(), p.price_cents))
            .collect(),
    }
}

/// The prices a line sold at `t` may carry: the one in effect then (the last change before `t`,
/// or the seeded price), or either side of a change at `t` itself.
fn prices_at(seeded: &Seeded, changes: &[(i64, i64, i64)], product: &str, t: i64) -> Vec<i64> {
    let before = changes.partition_point(|c| c.0 < t);
    let mut ok = vec![match before {
        0 => seeded.prices[product],
        n => changes[n - 1].2,
    }];
    ok.extend(
        changes[before..]
            .iter()
            .take_while(|c| c.0 == t)
            .flat_map(|c| [c.1, c.2]),
    );
    ok
}

/// A decoded Avro record as the JSON a stdout run prints.
pub fn json(row: &Row) -> (String, Value) {
    let fields = row
        .fields
        .iter()
        .map(|(k, v)| (k.clone(), Value::try_from(v.clone()).unwrap()))
        .collect();
    (row.kafka.topic.clone(), Value::Object(fields))
}

/// Figures of a checked stream, for statistical checks.
#[derive(Debug, Default)]
pub struct Figures {
    pub transactions: usize,
    pub refunds: usize,
    /// Units and cents refunded per (transaction, product).
    pub refunded: HashMap<(String, String), (i64, i64)>,
    /// Refunds made in a later run than their transaction.
    pub refunds_across_runs: usize,
    pub identified_share: f64,
    pub mean_basket: f64,
    pub max_basket: usize,
    pub store_crossings: usize,
    pub warehouse_crossings: usize,
    /// Lines sold at a weekly discount.
    pub discounted_lines: usize,
    pub replenishments: usize,
    /// Terminals still logged in at the end of each run (index into `runs`): none after a
    /// clean stop.
    pub left_logged_in: Vec<usize>,
    pub visits: usize,
    pub shelf_events: usize,
    pub putbacks: usize,
    /// Transactions that check a visit out.
    pub checkouts: usize,
    /// Planned exits of visits with a non-empty cart and no checkout (a run ended first).
    pub unchecked_exits: Vec<i64>,
}

/// Checks every rule; `runs` are the runs' start times (event time, ascending; every terminal
/// starts a run logged out), `refund_delay` the (min, max) ms from a sale to its refunds.
pub fn check(
    records: &[(String, Value)],
    seeded: &Seeded,
    runs: &[i64],
    refund_delay: (i64, i64),
) -> Figures {
    let of = |topic: &str| -> Vec<&Value> {
        records
            .iter()
            .filter(|(t, _)| t == topic)
            .map(|(_, v)| v)
            .collect()
    };
    let run_of = |t: i64| runs.partition_point(|start| *start <= t);
    let stores = &seeded.stores;

    // Stores are silent while closed: every record naming a store happened while it was open
    // (a logout may fall on the closing minute itself), but for the checkouts of the queue a
    // store closes on (its visitors reached the tills before closing), within half an hour.
    for topic in [
        "pos-events.v1",
        "pos-transactions.v1",
        "refunds.v1",
        "store-inventory-changes.v1",
    ] {
        for e in of(topic) {
            let st = &stores[s(&e["store_id"])];
            let t = ms(&e["timestamp"]);
            let serving_the_queue = topic != "refunds.v1" && st.is_open(t - CLOSING_QUEUE_MS);
            let open = st.is_open(t) || st.is_open(t - 1) || serving_the_queue;
            assert!(open, "{topic} {e} at {t} while {} is closed", st.store_id);
        }
    }

    // Sequences per terminal and run: login, baskets (no two open, no foreign basket ids), logout.
    let mut by_terminal: HashMap<(&str, usize), Vec<&Value>> = HashMap::new();
    for e in of("pos-events.v1") {
        let key = (s(&e["terminal_id"]), run_of(ms(&e["timestamp"])));
        by_terminal.entry(key).or_default().push(e);
    }
    let mut said: HashMap<String, Said> = HashMap::new();
    let mut left_logged_in = vec![0; runs.len()];
    for ((terminal, run), evs) in &by_terminal {
        let ts: Vec<i64> = evs.iter().map(|e| ms(&e["timestamp"])).collect();
        assert!(
            ts.windows(2).all(|w| w[0] <= w[1]),
            "{terminal}: events in time order on the key"
        );
        let (mut logged_in, mut basket): (bool, Option<String>) = (false, None);
        let mut lines_total = 0;
        for e in evs {
            let kind = s(&e["event_type"]);
            let b = s(&e["basket_id"]).to_owned();
            match kind {
                "employee_login" => {
                    assert!(
                        !logged_in && basket.is_none(),
                        "{terminal}: login while open"
                    );
                    logged_in = true;
                }
                "employee_logout" => {
                    assert!(
                        logged_in && basket.is_none(),
                        "{terminal}: logout with a basket open"
                    );
                    logged_in = false;
                }
                "basket_started" => {
                    assert!(
                        logged_in && basket.is_none(),
                        "{terminal}: two baskets open"
                    );
                    basket = Some(b.clone());
                    lines_total = 0;
                    said.insert(b, (0, 0, 0, vec![]));
                }
                _ => {
                    assert_eq!(
                        basket.as_deref(),
                        Some(b.as_str()),
                        "{terminal}: {kind} of its own basket"
                    );
                    let entry = said.get_mut(&b).unwrap();
                    match kind {
                        "item_added" => {
                            let (q, p, d) = (
                                e["quantity"].as_i64().unwrap(),
                                cents(&e["price"]),
                                (e["discount"].as_f64().unwrap() * 100.0).round() as i64,
                            );
                            let exact = q * p * (100 - d);
                            assert!(
                                (cents(&e["line_total"]) * 100 - exact).abs() <= 50,
                                "line total to the cent: {e}"
                            );
                            lines_total += cents(&e["line_total"]);
                            entry
                                .3
                                .push((s(&e["item_id"]).to_owned(), q, cents(&e["line_total"])));
                        }
                        "subtotal_calculated" => {
                            assert_eq!(
                                cents(&e["subtotal"]),
                                lines_total,
                                "subtotal = sum of lines"
                            );
                            entry.0 = cents(&e["subtotal"]);
                            entry.1 = cents(&e["tax"]);
                        }
                        "payment_completed" => {
                            assert_eq!(
                                cents(&e["amount"]),
                                entry.0 + entry.1,
                                "payment = subtotal + tax"
                            );
                            entry.2 = cents(&e["amount"]);
                            basket = None;
                        }
                        "customer_identified" => {}
                        other => panic!("unknown event type {other}"),
                    }
                }
            }
        }
        assert!(basket.is_none(), "{terminal}: a basket left open");
        if logged_in {
            left_logged_in[run - 1] += 1;
        }
    }

    // Price changes per product: (ts, old, new) in cents, in time order.
    let mut changes: HashMap<&str, Vec<(i64, i64, i64)>> = HashMap::new();
    for c in of("price-changes.v1") {
        let change = (ms(&c["ts"]), cents(&c["old_price"]), cents(&c["new_price"]));
        changes.entry(s(&c["product_id"])).or_default().push(change);
    }
    changes.values_mut().for_each(|c| c.sort());

    // Each transaction equals its basket's events; tax is the store's rate; lines carry the
    // price in effect at the payment.
    let transactions = of("pos-transactions.v1");
    let mut paid: HashMap<&str, Paid> = HashMap::new();
    let mut discounted = 0;
    for t in &transactions {
        let (subtotal, tax, amount, lines) = &said[s(&t["basket_id"])];
        let items: Vec<(String, i64, i64)> = t["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    s(&i["item_id"]).to_owned(),
                    i["quantity"].as_i64().unwrap(),
                    cents(&i["total_price"]),
                )
            })
            .collect();
        assert_eq!(&items, lines, "transaction lines = item_added events");
        for i in t["items"].as_array().unwrap() {
            let product = s(&i["item_id"]);
            let history = changes.get(product).map_or(&[][..], Vec::as_slice);
            let allowed = prices_at(seeded, history, product, ms(&t["timestamp"]));
            assert!(
                allowed.contains(&cents(&i["unit_price"])),
                "a line at the price in effect ({allowed:?}): {t}"
            );
            let week = iso_week(ms(&t["timestamp"]));
            let discount = discount_pct(seeded.seed, s(&t["store_id"]), product, &week);
            assert_eq!(
                (i["discount"].as_f64().unwrap() * 100.0).round() as i64,
                discount.unwrap_or(0),
                "a line at that week's discount ({week}): {t}"
            );
            discounted += usize::from(discount.is_some());
        }
        assert_eq!(
            (cents(&t["subtotal"]), cents(&t["tax"]), cents(&t["amount"])),
            (*subtotal, *tax, *amount)
        );
        let rate = stores[s(&t["store_id"])].tax_rate_bp;
        assert_eq!(
            *tax,
            (subtotal * rate + 5_000).div_euclid(10_000),
            "tax = rate x subtotal"
        );
        let per_item = items.into_iter().map(|(i, q, c)| (i, (q, c))).collect();
        paid.insert(s(&t["transaction_id"]), (t, per_item));
    }

    // Refunds name a transaction line of their store, fall in the window after it, and never
    // exceed what was paid for the line.
    let refunds = of("refunds.v1");
    let mut refunded: HashMap<(String, String), (i64, i64)> = HashMap::new();
    let mut across = 0;
    for r in &refunds {
        let (t, items) = &paid[s(&r["original_transaction_id"])];
        assert_eq!(t["store_id"], r["store_id"]);
        let (sold_at, at) = (ms(&t["timestamp"]), ms(&r["timestamp"]));
        let delay = at - sold_at;
        assert!(
            (refund_delay.0..=refund_delay.1).contains(&delay),
            "a refund {delay} ms after its sale, outside REFUND_DELAY_MIN..MAX: {r}"
        );
        across += usize::from(run_of(sold_at) < run_of(at));
        let (q, c) = items[s(&r["product_id"])];
        let sum = refunded
            .entry((
                s(&r["original_transaction_id"]).to_owned(),
                s(&r["product_id"]).to_owned(),
            ))
            .or_default();
        sum.0 += r["quantity"].as_i64().unwrap();
        sum.1 += cents(&r["refund_amount"]);
        assert!(sum.0 <= q && sum.1 <= c, "refund within the line: {r}");
    }

    // Restockable refunds go back on the shelf: one RETURN of their units, naming them; the
    // others never do.
    let mut returns: HashMap<&str, Vec<&Value>> = HashMap::new();
    for c in of("store-inventory-changes.v1") {
        if s(&c["change_type"]) == "RETURN" {
            returns.entry(s(&c["refund_id"])).or_default().push(c);
        }
    }
    for r in &refunds {
        let back = returns.remove(s(&r["refund_id"])).unwrap_or_default();
        let restockable = matches!(
            s(&r["reason"]),
            "changed_mind" | "wrong_item" | "not_as_described"
        );
        match restockable {
            true => {
                assert_eq!(back.len(), 1, "one RETURN of a restockable refund: {r}");
                let c = back[0];
                assert_eq!(
                    (&c["store_id"], &c["product_id"]),
                    (&r["store_id"], &r["product_id"])
                );
                assert_eq!(c["quantity_delta"], r["quantity"], "{r} {c}");
            }
            false => assert!(
                back.is_empty(),
                "no RETURN of a {} refund: {r}",
                r["reason"]
            ),
        }
    }
    assert!(returns.is_empty(), "RETURNs of no refund: {returns:?}");

    // Warehouse stock chains, and one alert per crossing below the warehouses' reorder point.
    let mut stock = seeded.warehouse_levels.clone();
    let mut warehouse_crossings = 0;
    for c in of("inventory-changes.v1") {
        let key = (
            s(&c["warehouse_id"]).to_owned(),
            s(&c["product_id"]).to_owned(),
        );
        let qty = stock[&key];
        assert_eq!(c["previous_qty"].as_i64().unwrap(), qty, "chain of {key:?}");
        let new = c["new_qty"].as_i64().unwrap();
        let point = i64::from(WAREHOUSE_REORDER.point);
        warehouse_crossings += usize::from(qty >= point && new < point);
        stock.insert(key, new);
    }
    let warehouse_alerts = of("restock-alerts.v1")
        .iter()
        .filter(|a| !a["warehouse_id"].is_null())
        .count();
    assert_eq!(
        warehouse_alerts, warehouse_crossings,
        "one alert per warehouse crossing"
    );

    // Store stock chains; every crossing below a reorder point has exactly one alert, and a
    // replenishment of that key follows it.
    let mut level = seeded.levels.clone();
    let (mut crossings, mut replenishments) = (0, 0);
    for c in of("store-inventory-changes.v1") {
        let key = (s(&c["store_id"]).to_owned(), s(&c["product_id"]).to_owned());
        let (qty, point) = level[&key];
        assert_eq!(c["previous_qty"].as_i64().unwrap(), qty, "chain of {key:?}");
        let new = c["new_qty"].as_i64().unwrap();
        assert_eq!(new, qty + c["quantity_delta"].as_i64().unwrap());
        assert!(new >= 0);
        if qty >= point && new < point {
            crossings += 1;
        }
        if matches!(s(&c["change_type"]), "TRANSFER_IN" | "RESTOCK") {
            replenishments += 1;
        }
        level.insert(key, (new, point));
    }
    let alerts = of("restock-alerts.v1")
        .iter()
        .filter(|a| !a["store_id"].is_null())
        .count();
    assert_eq!(alerts, crossings, "one alert per store crossing, no more");

    let visits = check_visits(&of, &transactions, stores, &run_of);
    let n = transactions.len().max(1) as f64;
    Figures {
        visits: visits.visits,
        shelf_events: visits.shelf_events,
        putbacks: visits.putbacks,
        checkouts: visits.checkouts,
        unchecked_exits: visits.unchecked_exits,
        transactions: transactions.len(),
        refunds: refunds.len(),
        refunded,
        refunds_across_runs: across,
        identified_share: transactions
            .iter()
            .filter(|t| !t["customer_id"].is_null())
            .count() as f64
            / n,
        mean_basket: transactions
            .iter()
            .map(|t| t["items"].as_array().unwrap().len())
            .sum::<usize>() as f64
            / n,
        max_basket: transactions
            .iter()
            .map(|t| t["items"].as_array().unwrap().len())
            .max()
            .unwrap_or(0),
        store_crossings: crossings,
        warehouse_crossings,
        discounted_lines: discounted,
        replenishments,
        left_logged_in,
    }
}

#[derive(Default)]
struct VisitFigures {
    visits: usize,
    shelf_events: usize,
    putbacks: usize,
    checkouts: usize,
    unchecked_exits: Vec<i64>,
}

/// Store visits (rule 8): every shelf event falls inside its visit, names its customer and
/// store, and puts back only what was picked and not yet put back; a visit's checkout (the
/// transaction naming it) is paid at or after its exit, at its store, and its lines are the net
/// of its shelf events; a visit whose net cart is not empty is checked out, unless a run ended.
fn check_visits<'a>(
    of: &dyn Fn(&str) -> Vec<&'a Value>,
    transactions: &[&'a Value],
    stores: &HashMap<String, Store>,
    run_of: &dyn Fn(i64) -> usize,
) -> VisitFigures {
    let mut f = VisitFigures::default();
    let mut visits: HashMap<&str, &Value> = HashMap::new();
    for v in of("foot-traffic.v1") {
        let (entry, exit) = (ms(&v["entry_time"]), ms(&v["exit_time"]));
        assert!(entry < exit, "a visit ends after it starts: {v}");
        assert_eq!(
            v["trip_duration_minutes"].as_i64().unwrap(),
            (exit - entry) / 60_000
        );
        let st = &stores[s(&v["store_id"])];
        assert!(
            st.is_open(entry) && st.is_open(exit),
            "a visit while its store is open: {v}"
        );
        visits.insert(s(&v["visit_id"]), v);
    }
    f.visits = visits.len();
    // A customer is in one store at a time: their visits in a run follow each other (a run
    // that stops leaves its visitors' planned exits behind; the next run knows nothing of them).
    let mut by_customer: HashMap<(&str, usize), Vec<(i64, i64)>> = HashMap::new();
    for v in visits.values() {
        let span = (ms(&v["entry_time"]), ms(&v["exit_time"]));
        by_customer
            .entry((s(&v["customer_id"]), run_of(span.0)))
            .or_default()
            .push(span);
    }
    for (customer, spans) in &mut by_customer {
        spans.sort_unstable();
        for w in spans.windows(2) {
            assert!(
                w[1].0 >= w[0].1,
                "{customer:?} in two stores at once in one run: {w:?}"
            );
        }
    }
    let mut net: HashMap<&str, HashMap<String, i64>> = HashMap::new();
    for e in of("shelf-events.v1") {
        let v = visits[s(&e["visit_id"])];
        let t = ms(&e["timestamp"]);
        assert!(
            (ms(&v["entry_time"])..=ms(&v["exit_time"])).contains(&t),
            "a shelf event inside its visit: {e} {v}"
        );
        assert_eq!(
            (&e["customer_id"], &e["store_id"]),
            (&v["customer_id"], &v["store_id"])
        );
        let held = net
            .entry(s(&e["visit_id"]))
            .or_default()
            .entry(s(&e["item_id"]).to_owned())
            .or_default();
        let q = e["quantity"].as_i64().unwrap();
        match s(&e["event_type"]) {
            "pickup" => *held += q,
            "putback" => {
                assert!(*held >= q, "a putback of what is not held: {e}");
                *held -= q;
                f.putbacks += 1;
            }
            other => panic!("unknown shelf event type {other}"),
        }
        f.shelf_events += 1;
    }
    let mut checked: HashMap<&str, usize> = HashMap::new();
    for t in transactions {
        let Some(visit_id) = t["visit_id"].as_str() else {
            continue;
        };
        let v = visits[visit_id];
        assert!(
            ms(&t["timestamp"]) >= ms(&v["exit_time"]),
            "checked out at or after the exit: {t}"
        );
        assert_eq!(t["store_id"], v["store_id"]);
        let mut lines: Vec<(String, i64)> = t["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (s(&i["item_id"]).to_owned(), i["quantity"].as_i64().unwrap()))
            .collect();
        lines.sort();
        let mut cart: Vec<(String, i64)> = net
            .get(visit_id)
            .map(|n| {
                n.iter()
                    .filter(|(_, q)| **q > 0)
                    .map(|(i, q)| (i.clone(), *q))
                    .collect()
            })
            .unwrap_or_default();
        cart.sort();
        assert_eq!(
            lines, cart,
            "the basket of visit {visit_id} is the net of its shelf events"
        );
        *checked.entry(visit_id).or_default() += 1;
        f.checkouts += 1;
    }
    assert!(checked.values().all(|n| *n == 1), "one checkout per visit");
    for (id, v) in &visits {
        let bought = net.get(id).is_some_and(|n| n.values().any(|q| *q > 0));
        if bought && !checked.contains_key(id) {
            f.unchecked_exits.push(ms(&v["exit_time"]));
        }
    }
    f
}
