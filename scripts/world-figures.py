#!/usr/bin/env python3
"""Who is where, when: figures of a run's JSON lines (retailgen run --sink stdout) as a user
would look at them. Prints visits per customer-day, stores per customer-day, overlapping visits,
unlabelled lateness, the first store transaction's delay, and shelf events outside their visit."""
import json, sys, collections, datetime

visits = collections.defaultdict(list)  # customer -> [(entry, exit, store)]
first_ts = None
first_txn = None
latest = None
behind = []  # unlabelled records published behind the latest event time (ms)
span = {}
outside = 0
stores_of_day = collections.defaultdict(set)
order_ts, settled_ts = {}, {}
payments, shipments = [], []
for line in sys.stdin:
    r = json.loads(line)
    v = r["value"]
    dq = r["headers"].get("dq")
    ts = v.get("ts") or v.get("timestamp") or v.get("entry_time") or v.get("event_time")
    if isinstance(ts, str):
        continue
    if ts is not None:
        if first_ts is None:
            first_ts = ts
        if dq is None and latest is not None and ts < latest:
            behind.append(latest - ts)
        if dq is None:
            latest = ts if latest is None else max(latest, ts)
    t = r["topic"]
    if dq is None or dq == "late":
        if t.startswith("orders"):
            order_ts[v["order_id"]] = v["ts"]
        elif t.startswith("payments"):
            payments.append((v["order_id"], v["ts"]))
            if v["status"] == "SETTLED":
                settled_ts[v["order_id"]] = v["ts"]
        elif t.startswith("shipments"):
            shipments.append((v["order_id"], v["ts"]))
    if t.startswith("foot-traffic"):
        span[v["visit_id"]] = (v["entry_time"], v["exit_time"])
        if not v["customer_id"].startswith("anon") and dq is None:
            visits[v["customer_id"]].append((v["entry_time"], v["exit_time"], v["store_id"]))
            day = datetime.datetime.utcfromtimestamp(v["entry_time"] / 1000).date()
            stores_of_day[(v["customer_id"], day)].add(v["store_id"])
    elif t.startswith("shelf-events") and dq is None:
        e, x = span.get(v["visit_id"], (None, None))
        if e is not None and not (e <= v["timestamp"] <= x):
            outside += 1
    elif t.startswith("pos-transactions") and first_txn is None:
        first_txn = v["timestamp"]

overlaps = 0
for c, vs in visits.items():
    vs.sort()
    for a, b in zip(vs, vs[1:]):
        if b[0] < a[1]:
            overlaps += 1
days = len(stores_of_day)
multi = sum(1 for s in stores_of_day.values() if len(s) >= 4)
n_visits = sum(len(v) for v in visits.values())
print(f"identified customers {len(visits)}, visits {n_visits}, per customer {n_visits / max(1, len(visits)):.2f}")
print(f"customer-days {days}, with 4+ stores {multi} ({100 * multi / max(1, days):.1f}%)")
print(f"overlapping visits of one customer {overlaps}")
print(f"unlabelled records behind the stream: {len(behind)}, > 2 min: {sum(1 for b in behind if b > 120_000)}, max {max(behind, default=0) / 1000:.1f} s")
print(f"unlabelled shelf events outside their visit {outside}")
early_pay = sum(1 for o, ts in payments if o in order_ts and ts < order_ts[o])
early_ship = sum(1 for o, ts in shipments if o in settled_ts and ts < settled_ts[o])
print(f"payments before their order {early_pay}, shipments before their settled payment {early_ship} (event time)")
if first_txn is not None and first_ts is not None:
    print(f"first store transaction {(first_txn - first_ts) / 1000:.1f} s after the first record")
else:
    print("no store transaction")
