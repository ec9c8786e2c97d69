#!/usr/bin/env bash
# Instructions and cache misses of the generator under cachegrind, for one or more retailgen
# binaries (say, before and after a change): counts that do not move with the machine's load,
# unlike records/s on a shared machine. A null-sink run of N records (300,000) with a fixed seed;
# the run's start-up (a run of 1 record) is subtracted, so the figures are per record.
#
#   scripts/instructions.sh BIN [BIN ...]      N=300000 by default
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: instructions.sh BIN [BIN ...]" >&2; exit 2; }
command -v valgrind >/dev/null || {
  echo "instructions.sh needs valgrind (cachegrind): apt-get install valgrind" >&2
  exit 2
}
n=${N:-300000}
counts() { # BIN RECORDS -> "instructions D1-misses LL-misses"
  valgrind --tool=cachegrind --cache-sim=yes --cachegrind-out-file=/dev/null \
    "$1" run --sink null --count "$2" --eps 0 --seed 1 2>&1 >/dev/null |
    awk '/I *refs:/ {gsub(",", "", $4); i=$4} /D1  misses:/ {gsub(",", "", $4); d=$4}
         /LL misses:/ {gsub(",", "", $4); l=$4} END {print i, d, l}'
}
printf '%-50s %14s %14s %14s\n' "binary ($n records, per record)" instructions "D1 misses" "LL misses"
for bin in "$@"; do
  read -r i1 d1 l1 < <(counts "$bin" 1)
  read -r i d l < <(counts "$bin" "$n")
  awk -v b="$bin" -v n="$n" -v i="$((i - i1))" -v d="$((d - d1))" -v l="$((l - l1))" \
    'BEGIN {printf "%-50s %14.0f %14.2f %14.3f\n", b, i / n, d / n, l / n}'
done
