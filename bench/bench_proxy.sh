#!/usr/bin/env bash
# bench/bench_proxy.sh — onegate against nginx as a reverse proxy, same upstream, same load.
#
# Starts one demo-portal upstream, nginx (Debian package: 1 worker, upstream keepalive pool of
# 32, HTTP/1.1 to the upstream, no access log) and onegate (1 worker, access log off) in front
# of it on loopback, then:
#   1. memory per idle client connection (bench/idle_conns.py: IDLE_CONNS keep-alive
#      connections, VmRSS before/after), on freshly started proxies;
#   2. ROUNDS interleaved wrk rounds (nginx first in odd rounds, onegate first in even ones):
#      requests/s, p50, p99, and CPU microseconds per request from /proc/PID/stat
#      utime+stime over the round divided by the requests wrk completed;
#   3. system calls per request: strace -c -f attached to each proxy during a wrk run of
#      STRACE_DURATION seconds, total calls divided by the requests wrk completed;
# and prints per-round figures, medians, ratios onegate/nginx and a summary block for
# docs/PERFORMANCE.md (bench/bench_summary.py).
#
# CPU pinning (2-core machine): the proxy under test runs alone on PROXY_CPU (default 0);
# wrk and the upstream share LOAD_CPU (default 1). The proxy is the only thing measured, so it
# gets a core to itself; the "CPU%" column shows whether it was the bottleneck (near 100%).
#
# Environment: ROUNDS (10), DURATION (5 s per wrk run), CONNS (50), WARMUP (2 s),
#   IDLE_CONNS (2000), STRACE_DURATION (5 s), PROXY_CPU (0), LOAD_CPU (1),
#   BENCH_PATH (/bench/status?code=200: identical small response through both proxies),
#   ONEGATE_BUILD_DIR (build), KEEP_TMP=1 keeps the temp dir with raw results,
#   SUMMARY_FILE=path also writes the final report there,
#   BENCH_DRY_RUN=1 runs a second nginx in onegate's place (to test this script).
# Everything started here is stopped by pid on exit. Not a test: run it on an idle machine.
set -eu -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
BUILD=${ONEGATE_BUILD_DIR:-build}
ROUNDS=${ROUNDS:-10}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
WARMUP=${WARMUP:-2}
IDLE_CONNS=${IDLE_CONNS:-2000}
STRACE_DURATION=${STRACE_DURATION:-5}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
BENCH_PATH=${BENCH_PATH:-/bench/status?code=200}
PORTAL="$BUILD/deploy/demo-portal/demo-portal"
ONEGATE="$BUILD/gateway/onegate"
NGINX=${NGINX:-/usr/sbin/nginx}

# log, die, free_port, wait_port, start_retry, cpu_ticks, core_ticks, nginx_worker
. bench/lib.sh

for tool in wrk strace taskset python3 curl; do
  command -v "$tool" >/dev/null || die "$tool not installed"
done
[ -x "$NGINX" ] || die "nginx not found at $NGINX (apt-get install nginx-light or nginx)"
[ -x "$PORTAL" ] || die "demo-portal not built: $PORTAL (cmake --build $BUILD)"
if [ -n "${BENCH_DRY_RUN:-}" ]; then
  ONEGATE_LABEL="nginx#2"
else
  [ -x "$ONEGATE" ] || die "onegate not built: $ONEGATE (or BENCH_DRY_RUN=1 to test the script)"
  ONEGATE_LABEL="onegate"
fi

TMP=$(mktemp -d /tmp/onegate-bench.XXXXXX)
RES="$TMP/results"
mkdir -p "$RES"
PIDS=()        # everything we started, stopped in reverse order
STRACE_PID=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$STRACE_PID" ]; then kill -INT "$STRACE_PID" 2>/dev/null || true; fi
  local i
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[$i]}" 2>/dev/null || true
  done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    wait "${PIDS[$i]}" 2>/dev/null || true
  done
  if [ -n "${KEEP_TMP:-}" ]; then log "raw results kept in $TMP"; else rm -rf "$TMP"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Other programs (parallel test suites) take free ports too: the upstream binds port 0 and
# reports its port; the proxies get a free port each just before they start, and are retried
# on another port if they could not bind it.
# (free_port, wait_port, start_retry, cpu_ticks and core_ticks come from bench/lib.sh.)

# ---- upstream ----------------------------------------------------------------------------
: >"$TMP/portal.log"
taskset -c "$LOAD_CPU" "$PORTAL" --listen 127.0.0.1:0 --title "Bench portal" --quiet \
  >"$TMP/portal.log" 2>&1 &
UP_PID=$!
PIDS+=("$UP_PID")
UP_PORT=""
for ((i = 0; i < 100; i++)); do
  UP_PORT=$(sed -n 's/^demo-portal listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/portal.log" || true)
  [ -n "$UP_PORT" ] && break
  kill -0 "$UP_PID" 2>/dev/null || die "demo-portal exited: $(cat "$TMP/portal.log")"
  sleep 0.1
done
[ -n "$UP_PORT" ] || die "demo-portal did not report its port"

# ---- nginx -------------------------------------------------------------------------------
start_nginx() { # NAME PORT — sets STARTED_PID to the master pid (worker: nginx_worker)
  local dir="$TMP/$1"
  rm -rf "$dir"
  UPSTREAM_KEEPALIVE=32 nginx_conf "$dir" "$2" "$UP_PORT"
  nginx_start "$dir"
}
start_nginx1() { start_nginx nginx "$1"; }
start_nginx2() { start_nginx nginx2 "$1"; }
start_retry nginx start_nginx1
NGX_MASTER=$STARTED_PID
NGX_PORT=$STARTED_PORT
NGX_PID=$(nginx_worker "$NGX_MASTER")
[ -n "$NGX_PID" ] || die "no nginx worker"

# ---- onegate -----------------------------------------------------------------------------
if [ -n "${BENCH_DRY_RUN:-}" ]; then
  start_retry "nginx#2" start_nginx2
  OG_MASTER=$STARTED_PID
  OG_PORT=$STARTED_PORT
  OG_PID=$(nginx_worker "$OG_MASTER")
  [ -n "$OG_PID" ] || die "no nginx#2 worker"
else
  start_onegate() { # PORT
    mkdir -p "$TMP/onegate"
    cat >"$TMP/onegate/onegate.yaml" <<EOF
# generated by bench/bench_proxy.sh (format: deploy/onegate.example.yaml)
workers: 1
listen:
  - 127.0.0.1:$1
limits:
  max_connections: 19000
  keepalive_timeout_ms: 75000
upstreams:
  bench:
    servers: [127.0.0.1:$UP_PORT]
    max_idle_per_server: 32
routes:
  - path: /
    upstream: bench
    public: true                # pure proxying: no identity, no policy decision
log:
  level: warn
  error_log: $TMP/onegate/error.log
  access_log: off
EOF
    "$ONEGATE" --check-config "$TMP/onegate/onegate.yaml" >/dev/null ||
      die "onegate rejects the generated config $TMP/onegate/onegate.yaml"
    taskset -c "$PROXY_CPU" "$ONEGATE" -c "$TMP/onegate/onegate.yaml" \
      >"$TMP/onegate/stdout.log" 2>&1 &
    STARTED_PID=$!
  }
  start_retry onegate start_onegate
  OG_PID=$STARTED_PID
  OG_PORT=$STARTED_PORT
fi

declare -A PORT_OF=([nginx]=$NGX_PORT [onegate]=$OG_PORT)
declare -A PID_OF=([nginx]=$NGX_PID [onegate]=$OG_PID)

# ---- sanity: the same answer through both --------------------------------------------------
for t in nginx onegate; do
  code=$(curl -s -D "$TMP/sanity-$t.head" -o "$TMP/sanity-$t.body" -w '%{http_code}' \
    "http://127.0.0.1:${PORT_OF[$t]}$BENCH_PATH")
  [ "$code" = 200 ] || die "$t answered $code for $BENCH_PATH"
  grep -qi '^X-Demo-Portal: Bench portal' "$TMP/sanity-$t.head" ||
    die "$t did not answer from our upstream"
done
cmp -s "$TMP/sanity-nginx.body" "$TMP/sanity-onegate.body" || die "different bodies via nginx and onegate"
BODY_BYTES=$(wc -c <"$TMP/sanity-nginx.body")

{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "rounds=$ROUNDS"
  echo "duration=$DURATION"
  echo "conns=$CONNS"
  echo "path=$BENCH_PATH"
  echo "body_bytes=$BODY_BYTES"
  echo "proxy_cpu=$PROXY_CPU"
  echo "load_cpu=$LOAD_CPU"
  echo "clk_tck=$(getconf CLK_TCK)"
  echo "onegate_label=$ONEGATE_LABEL"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  og_version=$([ -n "${BENCH_DRY_RUN:-}" ] && echo "dry run" || "$ONEGATE" --version 2>&1 | head -1)
  echo "versions=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), ${og_version}, $(wrk --version 2>&1 | head -1 | awk '{print "wrk", $2}'), Linux $(uname -r), $(nproc) CPUs"
} >"$RES/meta.txt"
log "upstream :$UP_PORT  nginx :$NGX_PORT (worker $NGX_PID)  $ONEGATE_LABEL :$OG_PORT (pid $OG_PID)"

# ---- 1. memory per idle connection (fresh processes) --------------------------------------
for t in nginx onegate; do
  log "idle connections: $IDLE_CONNS to $t"
  taskset -c "$LOAD_CPU" python3 bench/idle_conns.py --port "${PORT_OF[$t]}" --pid "${PID_OF[$t]}" \
    --count "$IDLE_CONNS" --path "$BENCH_PATH" >"$RES/mem-$t.txt" ||
    log "idle connection test failed for $t"
  sleep 1
done

# ---- 2. interleaved wrk rounds -------------------------------------------------------------
run_wrk() { # TARGET SECONDS OUTFILE
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$2s" --latency \
    "http://127.0.0.1:${PORT_OF[$1]}$BENCH_PATH" >"$3" 2>&1
}
for t in nginx onegate; do
  log "warm-up $t ${WARMUP}s"
  run_wrk "$t" "$WARMUP" "$RES/warmup-$t.wrk"
done
: >"$RES/rounds.tsv"
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then order="nginx onegate"; else order="onegate nginx"; fi
  for t in $order; do
    out="$RES/round$(printf %02d "$r")-$t.wrk"
    before=$(cpu_ticks "${PID_OF[$t]}")
    up_before=$(cpu_ticks "$UP_PID")
    read -r pb_busy pb_total < <(core_ticks "$PROXY_CPU")
    read -r lb_busy lb_total < <(core_ticks "$LOAD_CPU")
    run_wrk "$t" "$DURATION" "$out"
    after=$(cpu_ticks "${PID_OF[$t]}")
    up_after=$(cpu_ticks "$UP_PID")
    read -r pa_busy pa_total < <(core_ticks "$PROXY_CPU")
    read -r la_busy la_total < <(core_ticks "$LOAD_CPU")
    # round, target, proxy ticks, wrk output, upstream ticks, proxy core busy/total ticks,
    # load core busy/total ticks (the cores' figures include every process on them)
    printf '%d\t%s\t%d\t%s\t%d\t%d\t%d\t%d\t%d\n' "$r" "$t" $((after - before)) "$out" \
      $((up_after - up_before)) $((pa_busy - pb_busy)) $((pa_total - pb_total)) \
      $((la_busy - lb_busy)) $((la_total - lb_total)) >>"$RES/rounds.tsv"
    log "round $r $t: $(grep -E '^Requests/sec' "$out" | awk '{print $2}') req/s"
    sleep 1
  done
done

# ---- 3. system calls per request -----------------------------------------------------------
for t in nginx onegate; do
  log "strace -c on $t during a ${STRACE_DURATION}s wrk run"
  taskset -c "$LOAD_CPU" strace -c -f -o "$RES/strace-$t.txt" -p "${PID_OF[$t]}" \
    2>"$RES/strace-$t.log" &
  STRACE_PID=$!
  for ((i = 0; i < 50; i++)); do
    grep -q attached "$RES/strace-$t.log" 2>/dev/null && break
    sleep 0.1
  done
  sleep 0.5
  run_wrk "$t" "$STRACE_DURATION" "$RES/strace-$t.wrk"
  sleep 0.2
  kill -INT "$STRACE_PID"
  wait "$STRACE_PID" || true
  STRACE_PID=""
done

# ---- report --------------------------------------------------------------------------------
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RES/meta.txt"
if [ -n "${SUMMARY_FILE:-}" ]; then
  python3 bench/bench_summary.py "$RES" | tee "$SUMMARY_FILE"
else
  python3 bench/bench_summary.py "$RES"
fi
