#!/usr/bin/env bash
# Checks that two retailgen binaries (say, before and after a performance commit) produce the
# same records: a simulated span with a fixed seed, every stream on (store world, faults), through
# the stdout sink (keys, headers, values as JSON) and the file sink (Avro container files, sync
# markers from the seed). Wire bytes follow: the encoder's tests check every stream's records
# byte for byte against apache-avro's encoding.
#
#   scripts/same-records.sh OLD_BIN NEW_BIN
set -euo pipefail
old=${1:?usage: same-records.sh OLD_BIN NEW_BIN}
new=${2:?usage: same-records.sh OLD_BIN NEW_BIN}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export WEIGHT_STORE=0.3 P_BAD_RECORD=0.01 P_DUPLICATE=0.01 RUST_LOG=warn
span=(--from 2024-07-01T08:00:00Z --to 2024-07-01T20:00:00Z --eps 20 --seed 42)
for side in old new; do
  bin=${!side}
  mkdir -p "$work/$side/files"
  "$bin" run --sink stdout "${span[@]}" >"$work/$side/records.jsonl" 2>/dev/null
  "$bin" run --sink file --out "$work/$side/files" "${span[@]}" 2>/dev/null
done
lines=$(wc -l <"$work/new/records.jsonl")
cmp "$work/old/records.jsonl" "$work/new/records.jsonl"
diff -r "$work/old/files" "$work/new/files"
echo "identical: $lines records on stdout, $(ls "$work/new/files" | wc -l) Avro files"
