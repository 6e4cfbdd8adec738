#!/usr/bin/env bash
# bench/bench_directory.sh — directory benchmark against a private redis-server (AOF on, as in
# the quick start): import rate for a generated 100,000-record legacy export, then lookups
# by id / login / email per second with latency percentiles (one blocking client = one
# work-pool thread). Usage: bench/bench_directory.sh [BUILD_DIR] [RECORDS] [SECONDS]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build}
RECORDS=${2:-100000}
SECS=${3:-5}
TMP=$(mktemp -d)
PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
cleanup() { [ -f "$TMP/redis.pid" ] && kill "$(cat "$TMP/redis.pid")" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
redis-server --port "$PORT" --bind 127.0.0.1 --dir "$TMP" --appendonly yes --save '' \
  --daemonize yes --pidfile "$TMP/redis.pid" --logfile "$TMP/redis.log"
for _ in $(seq 50); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.1; done

cc -O2 -std=c17 -D_GNU_SOURCE -I"$SRC" "$SRC/bench/bench_directory.c" \
  "$BUILD/auth/libonegate_auth.a" $(pkg-config --libs hiredis libsodium jansson libevent) \
  -lpthread -lcrypto -o "$TMP/bench_directory"

python3 "$SRC/tests/data/gen_legacy_export.py" --records "$RECORDS" -o "$TMP/export.json"
N=$(python3 -c "import json;d=json.load(open('$TMP/export.json'));print(sum(len(v) for v in d.values() if isinstance(v,list)))")
echo "export: $N records"
CTL="$BUILD/gateway/ctl/onegatectl --redis 127.0.0.1:$PORT"
t0=$(date +%s.%N); $CTL import "$TMP/export.json" --dry-run > "$TMP/dry.txt"; t1=$(date +%s.%N)
python3 -c "print('import --dry-run: %.1f s, %.0f records/s' % ($t1-$t0, $N/($t1-$t0)))"
t0=$(date +%s.%N); $CTL import "$TMP/export.json" > "$TMP/import.txt"; t1=$(date +%s.%N)
python3 -c "print('import (real):    %.1f s, %.0f records/s' % ($t1-$t0, $N/($t1-$t0)))"
tail -1 "$TMP/import.txt"
t0=$(date +%s.%N); $CTL import "$TMP/export.json" > "$TMP/rerun.txt"; t1=$(date +%s.%N)
python3 -c "print('import (re-run):  %.1f s, %.0f records/s' % ($t1-$t0, $N/($t1-$t0)))"
echo "redis used_memory: $(redis-cli -p "$PORT" info memory | grep '^used_memory_human' | cut -d: -f2 | tr -d '\r')"
"$TMP/bench_directory" 127.0.0.1 "$PORT" "$SECS"
