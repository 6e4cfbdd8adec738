#!/usr/bin/env bash
# bench/bench_sessions.sh — what sessions and the role policy cost (issue 4), in one run
# against one demo-portal upstream on loopback:
#   (a) nginx: plain reverse proxy (1 worker, upstream keepalive pool, no logs);
#   (b) onegate: 1 worker, a valid session cookie, on a route whose rule requires the role
#       `operator` — every request checks the session and the current person card in Redis
#       (one HMGET of the session with its card copy — the touch script once per refresh
#       interval) and decides the policy;
#   (c) nginx with `auth_request`: every request first makes a subrequest to an auth service
#       that checks the cookie against Redis. The auth service is onegate's whoami endpoint
#       (`GET /-/session`, the same instance as (b)): the same C session check (same Lua
#       script, same Redis), so the comparison measures the architecture (a second hop per
#       request), not a slower language. It does not evaluate the role rule (whoami answers
#       any logged-in person), which if anything favours (c).
#   (d) onegate on a public route of the same instance (Host: public.bench): the proxy alone,
#       no session lookup — isolates what the session check + policy stage costs in (b).
# Measured: ROUNDS interleaved wrk rounds (order rotated each round): requests/s, p50, p99,
# CPU us per request of the proxy processes and of redis-server, Redis commands per request
# (INFO commandstats delta / requests: commands sent = round trips); system calls per request
# (strace -c, fixed run); then logins: logins/s with the default argon2id figures (JSON login
# endpoint, LOGIN_CLIENTS concurrent clients cycling through LOGIN_USERS seeded people), CPU
# per login, and the p50/p99 of (b) while logins run flat out vs idle, both under saturating
# load (wrk -c CONNS) and at a fixed moderate rate (wrk -c RATE_CONNS, RATE_DELAY_MS pause
# between a connection's requests).
#
# CPU pinning (2-core machine): the proxies under test — nginx (a), onegate (b, all its threads
# incl. the auth work pool), nginx + onegate for (c) — run on PROXY_CPU (default 0), so each
# variant has one core for the gateway function; wrk, the upstream, the login client and
# redis-server share LOAD_CPU (default 1; REDIS_CPU overrides Redis' core). Redis' CPU is
# reported separately per request. Logins: argon2id runs on the work-pool threads of the
# pinned onegate, so logins/s is per core; "logins per core-second" divides by onegate's CPU.
#
# Environment: ROUNDS (10), DURATION (5 s per wrk run), CONNS (50), WARMUP (2 s),
#   STRACE_DURATION (3 s; 0 skips), PROXY_CPU (0), LOAD_CPU (1), REDIS_CPU (=LOAD_CPU),
#   BENCH_PATH (/bench/status?code=200), LOGIN_USERS (24), LOGIN_CLIENTS (8),
#   LOGIN_DURATION (10 s), LOGIN_ROUNDS (3; 0 skips the login phase), RATE_CONNS (8),
#   RATE_DELAY_MS (1), WORK_THREADS (onegate auth.work_threads; default: onegate's default),
#   HOLD=1 (set everything up, print ports and pids, wait for ^C/SIGTERM),
#   WORK_NICE=N|idle (also measure "busynice": the same busy runs with onegate's work-pool
#   threads moved to SCHED_OTHER at nice N, or to SCHED_IDLE, and set back to what onegate
#   had set afterwards — to compare with onegate's auth.work_sched / work_nice; threads found
#   by their CPU during the logins-alone run), PERF=1 (perf record -g of onegate and redis-server during one (b) run: perf-*.txt),
#   ONEGATE_BUILD_DIR (build), KEEP_TMP=1 keeps the temp dir, SUMMARY_FILE=path.
# Everything started here is stopped by pid on exit. Not a test: run it on an idle machine.
set -eu -o pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
. bench/lib.sh
BUILD=${ONEGATE_BUILD_DIR:-build}
ROUNDS=${ROUNDS:-10}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
WARMUP=${WARMUP:-2}
STRACE_DURATION=${STRACE_DURATION:-3}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
REDIS_CPU=${REDIS_CPU:-$LOAD_CPU}
BENCH_PATH=${BENCH_PATH:-/bench/status?code=200}
LOGIN_USERS=${LOGIN_USERS:-24}
LOGIN_CLIENTS=${LOGIN_CLIENTS:-8}
LOGIN_DURATION=${LOGIN_DURATION:-10}
LOGIN_ROUNDS=${LOGIN_ROUNDS:-3}
RATE_CONNS=${RATE_CONNS:-8}
UPSTREAM_KEEPALIVE=${UPSTREAM_KEEPALIVE:-64}
RATE_DELAY_MS=${RATE_DELAY_MS:-1}
WORK_THREADS=${WORK_THREADS:-}
WORK_NICE=${WORK_NICE:-}
ONEGATE="$BUILD/gateway/onegate"
CTL="$BUILD/gateway/ctl/onegatectl"
NGINX=${NGINX:-/usr/sbin/nginx}

need_tools wrk strace taskset python3 curl redis-server redis-cli
[ -x "$NGINX" ] || die "nginx not found at $NGINX"
for b in "$BUILD/deploy/demo-portal/demo-portal" "$ONEGATE" "$CTL"; do
  [ -x "$b" ] || die "not built: $b (cmake --build $BUILD)"
done

bench_init onegate-bench-sessions

# ---- redis-server (own port and dir, AOF on as in production) ------------------------------
mkdir -p "$TMP/redis"
start_redis() {
  taskset -c "$REDIS_CPU" redis-server --port "$1" --bind 127.0.0.1 --dir "$TMP/redis" \
    --appendonly yes --save "" --daemonize no --logfile "$TMP/redis/redis.log" \
    >/dev/null 2>&1 &
  STARTED_PID=$!
}
start_retry redis-server start_redis
REDIS_PID=$STARTED_PID
REDIS_PORT=$STARTED_PORT
rcli() { taskset -c "$LOAD_CPU" redis-cli -p "$REDIS_PORT" "$@"; }

# ---- upstream ------------------------------------------------------------------------------
start_portal

# ---- onegate (b), also the auth service of (c) -------------------------------------------
mkdir -p "$TMP/onegate"
OG_CONF="$TMP/onegate/onegate.yaml"
write_onegate_conf() { # PORT
  cat >"$OG_CONF" <<EOF
# generated by bench/bench_sessions.sh (format: deploy/onegate.example.yaml)
workers: 1
listen:
  - 127.0.0.1:$1
limits:
  max_connections: 19000
  keepalive_timeout_ms: 75000
upstreams:
  bench:
    servers: [127.0.0.1:$UP_PORT]
    max_idle_per_server: $UPSTREAM_KEEPALIVE
roles: [operator]
routes:
  - host: public.bench
    path: /
    upstream: bench
    public: true
  - path: /
    upstream: bench
    access:
      - allow:
          - { kind: person, roles: [operator] }
redis:
  address: 127.0.0.1:$REDIS_PORT
sessions:
  insecure_dev_cookies: true
log:
  level: warn
  error_log: $TMP/onegate/error.log
  access_log: off
EOF
  if [ -n "$WORK_THREADS" ]; then
    printf 'auth:\n  work_threads: %s\n' "$WORK_THREADS" >>"$OG_CONF"
  fi
}
start_onegate() { # PORT
  write_onegate_conf "$1"
  "$ONEGATE" --check-config "$OG_CONF" >/dev/null ||
    die "onegate rejects the generated config $OG_CONF"
  taskset -c "$PROXY_CPU" "$ONEGATE" -c "$OG_CONF" >"$TMP/onegate/stdout.log" 2>&1 &
  STARTED_PID=$!
}
start_retry onegate start_onegate
OG_PID=$STARTED_PID
OG_PORT=$STARTED_PORT

# ---- people: one operator for the request benchmark, LOGIN_USERS for the logins ----------
PW_FILE="$TMP/password"
(umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(16))' >"$PW_FILE")
seed() { # LOGIN
  "$CTL" -c "$OG_CONF" person add --login "$1" --name "Bench $1" --role operator \
    --ssp on --password-stdin <"$PW_FILE" >/dev/null 2>>"$TMP/seed.log" ||
    die "onegatectl person add $1 failed: $(tail -3 "$TMP/seed.log")"
}
log "seeding 1 + $LOGIN_USERS people with onegatectl (default argon2id figures)"
seed benchop
: >"$TMP/users"
seeders=()     # two at a time (a bare `wait` would wait for the servers too)
for ((i = 1; i <= LOGIN_USERS; i++)); do
  u=$(printf 'login%03d' "$i")
  echo "$u" >>"$TMP/users"
  seed "$u" &
  seeders+=($!)
  if ((${#seeders[@]} == 2)); then
    for p in "${seeders[@]}"; do wait "$p" || die "seeding failed"; done
    seeders=()
  fi
done
for p in "${seeders[@]}"; do wait "$p" || die "seeding failed"; done

# A session for benchop through the JSON login endpoint.
COOKIE=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
  --data-binary "{\"username\":\"benchop\",\"password\":\"$(cat "$PW_FILE")\"}" \
  "http://127.0.0.1:$OG_PORT/-/login" |
  sed -n 's/^[Ss]et-[Cc]ookie: onegate_session=\([A-Za-z0-9_-]\{43\}\);.*/\1/p')
[ -n "$COOKIE" ] || die "JSON login of benchop failed (see $TMP/onegate/error.log)"
# The cookie is a secret of this throw-away instance; it is kept out of logs.
CK_HDR="Cookie: onegate_session=$COOKIE"

# ---- nginx (a) and nginx + auth_request (c) ----------------------------------------------
start_nginx_plain() { rm -rf "$TMP/nginx"; nginx_conf "$TMP/nginx" "$1" "$UP_PORT"; nginx_start "$TMP/nginx"; }
start_nginx_auth() {
  rm -rf "$TMP/nginx-auth"
  nginx_conf "$TMP/nginx-auth" "$1" "$UP_PORT" "$OG_PORT" /-/session
  nginx_start "$TMP/nginx-auth"
}
start_retry nginx start_nginx_plain
NGX_PORT=$STARTED_PORT
NGX_PID=$(nginx_worker "$STARTED_PID")
start_retry nginx-auth start_nginx_auth
NGA_PORT=$STARTED_PORT
NGA_PID=$(nginx_worker "$STARTED_PID")

VARIANTS="nginx onegate authreq public"
declare -A PORT_OF=([nginx]=$NGX_PORT [onegate]=$OG_PORT [authreq]=$NGA_PORT [public]=$OG_PORT)
declare -A PIDS_OF=([nginx]="$NGX_PID" [onegate]="$OG_PID" [authreq]="$NGA_PID $OG_PID"
                    [public]="$OG_PID")
declare -A HOST_OF=([nginx]=bench [onegate]=bench [authreq]=bench [public]=public.bench)
url_of() { echo "http://127.0.0.1:${PORT_OF[$1]}$BENCH_PATH"; }

# ---- sanity: same answer through all three; no cookie -> refused by (b) and (c) -----------
for t in $VARIANTS; do
  code=$(curl -s -H "$CK_HDR" -H "Host: ${HOST_OF[$t]}" -D "$TMP/sanity-$t.head" \
    -o "$TMP/sanity-$t.body" -w '%{http_code}' "$(url_of "$t")")
  [ "$code" = 200 ] || die "$t answered $code for $BENCH_PATH with the session cookie"
  grep -qi '^X-Demo-Portal: Bench portal' "$TMP/sanity-$t.head" ||
    die "$t did not answer from our upstream"
  cmp -s "$TMP/sanity-nginx.body" "$TMP/sanity-$t.body" || die "$t: different body than nginx"
done
for t in onegate authreq; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$(url_of "$t")")
  [ "$code" = 401 ] || die "$t answered $code without a session (expected 401)"
  code=$(curl -s -o /dev/null -w '%{http_code}' \
    -H "Cookie: onegate_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" "$(url_of "$t")")
  [ "$code" = 401 ] || die "$t answered $code with an unknown session (expected 401)"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: public.bench" "$(url_of public)")
[ "$code" = 200 ] || die "the public route answered $code without a session (expected 200)"
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
  echo "redis_cpu=$REDIS_CPU"
  echo "clk_tck=$(getconf CLK_TCK)"
  echo "login_users=$LOGIN_USERS"
  echo "login_clients=$LOGIN_CLIENTS"
  echo "login_duration=$LOGIN_DURATION"
  echo "rate_conns=$RATE_CONNS"
  echo "upstream_keepalive=$UPSTREAM_KEEPALIVE"
  echo "rate_delay_ms=$RATE_DELAY_MS"
  echo "work_threads=$(grep -o 'work_threads: [0-9]*' "$OG_CONF" | awk '{print $2}')"
  echo "work_nice=$WORK_NICE"
  echo "onegate_threads=$(ls "/proc/$OG_PID/task" | wc -l)"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "versions=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $("$ONEGATE" --version 2>&1 | head -1), $(redis-server --version | awk '{print "redis", $3}'), $(wrk --version 2>&1 | head -1 | awk '{print "wrk", $2}'), Linux $(uname -r), $(nproc) CPUs"
} >"$RES/meta.txt"
log "upstream :$UP_PORT  redis :$REDIS_PORT  nginx :$NGX_PORT  onegate :$OG_PORT  nginx+auth_request :$NGA_PORT"

if [ -n "${HOLD:-}" ]; then   # debugging/profiling by hand: keep everything up until ^C
  { echo "nginx=$NGX_PORT onegate=$OG_PORT authreq=$NGA_PORT redis=$REDIS_PORT upstream=$UP_PORT"
    echo "pids: nginx-worker=$NGX_PID onegate=$OG_PID authreq-worker=$NGA_PID redis=$REDIS_PID"
    echo "cookie header in $TMP/cookie.hdr"; } >&2
  (umask 077; echo "$CK_HDR" >"$TMP/cookie.hdr")
  sleep infinity &
  bench_track $!
  wait $!
fi

# ---- 1. interleaved rounds -------------------------------------------------------------------
# measure VARIANT LABEL TSV OUTFILE [wrk options] — one wrk run with CPU ticks and Redis
# commandstats; appends a line for LABEL to $RES/TSV (ROUND set by the caller).
measure() {
  local t=$1 label=$2 tsv=$3 out=$4
  shift 4
  local pb rb ub pab ptb lab ltb pa ra ua paa pta laa lta
  rcli CONFIG RESETSTAT >/dev/null
  pb=$(cpu_ticks ${PIDS_OF[$t]}); rb=$(cpu_ticks "$REDIS_PID"); ub=$(cpu_ticks "$UP_PID")
  read -r pab ptb < <(core_ticks "$PROXY_CPU")
  read -r lab ltb < <(core_ticks "$LOAD_CPU")
  wrk_run "$(url_of "$t")" "$DURATION" "$out" -H "$CK_HDR" -H "Host: ${HOST_OF[$t]}" "$@"
  pa=$(cpu_ticks ${PIDS_OF[$t]}); ra=$(cpu_ticks "$REDIS_PID"); ua=$(cpu_ticks "$UP_PID")
  read -r paa pta < <(core_ticks "$PROXY_CPU")
  read -r laa lta < <(core_ticks "$LOAD_CPU")
  rcli INFO commandstats >"$out.cmdstats"
  # round, variant, wrk file, proxy ticks, redis ticks, upstream ticks,
  # proxy core busy/total, load core busy/total
  printf '%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n' "$ROUND" "$label" "$out" $((pa - pb)) \
    $((ra - rb)) $((ua - ub)) $((paa - pab)) $((pta - ptb)) $((laa - lab)) $((lta - ltb)) \
    >>"$RES/$tsv"
}

for t in $VARIANTS; do
  log "warm-up $t ${WARMUP}s"
  wrk_run "$(url_of "$t")" "$WARMUP" "$RES/warmup-$t.wrk" -H "$CK_HDR" -H "Host: ${HOST_OF[$t]}"
done
: >"$RES/rounds.tsv"
for ((r = 1; r <= ROUNDS; r++)); do
  case $((r % 4)) in
    1) order="nginx onegate authreq public" ;;
    2) order="onegate authreq public nginx" ;;
    3) order="authreq public nginx onegate" ;;
    0) order="public nginx onegate authreq" ;;
  esac
  for t in $order; do
    ROUND=$r
    out="$RES/round$(printf %02d "$r")-$t.wrk"
    measure "$t" "$t" rounds.tsv "$out"
    log "round $r $t: $(wrk_rps "$out") req/s"
    sleep 1
  done
done

# ---- 2. system calls per request (strace -c over a fixed run) ------------------------------
if [ "$STRACE_DURATION" != 0 ]; then
  for t in $VARIANTS; do
    log "strace -c on $t during a ${STRACE_DURATION}s wrk run"
    sp=()
    n=0
    for p in ${PIDS_OF[$t]}; do
      n=$((n + 1))
      taskset -c "$LOAD_CPU" strace -c -f -o "$RES/strace-$t.$n.txt" -p "$p" \
        2>"$RES/strace-$t.$n.log" &
      sp+=($!)
      BG_PIDS+=($!)
    done
    for ((k = 1; k <= n; k++)); do
      for ((i = 0; i < 50; i++)); do
        grep -q attached "$RES/strace-$t.$k.log" 2>/dev/null && break
        sleep 0.1
      done
    done
    sleep 0.5
    wrk_run "$(url_of "$t")" "$STRACE_DURATION" "$RES/strace-$t.wrk" -H "$CK_HDR" \
      -H "Host: ${HOST_OF[$t]}"
    sleep 0.2
    for p in "${sp[@]}"; do kill -INT "$p" 2>/dev/null || true; done
    for p in "${sp[@]}"; do wait "$p" || true; done
    BG_PIDS=()
  done
fi

# ---- 3. optional profile of (b) ------------------------------------------------------------
if [ -n "${PERF:-}" ] && command -v perf >/dev/null; then
  log "perf record -g on onegate and redis-server during a ${DURATION}s (b) run"
  taskset -c "$LOAD_CPU" perf record -g -o "$RES/perf-onegate.data" -p "$OG_PID" \
    >"$RES/perf-onegate.log" 2>&1 &
  pp1=$!
  taskset -c "$LOAD_CPU" perf record -g -o "$RES/perf-redis.data" -p "$REDIS_PID" \
    >"$RES/perf-redis.log" 2>&1 &
  pp2=$!
  BG_PIDS+=("$pp1" "$pp2")
  sleep 1
  wrk_run "$(url_of onegate)" "$DURATION" "$RES/perf-onegate.wrk" -H "$CK_HDR" -H "Host: bench"
  kill -INT "$pp1" "$pp2" 2>/dev/null || true
  wait "$pp1" || true
  wait "$pp2" || true
  BG_PIDS=()
  for w in onegate redis; do
    perf report -i "$RES/perf-$w.data" --stdio --no-children --percent-limit 1 \
      --sort dso,symbol -g none >"$RES/perf-$w.txt" 2>/dev/null || true
  done
fi

# ---- 4. logins -----------------------------------------------------------------------------
thread_ticks() { # "TID ticks" of each onegate thread, sorted by TID (for join)
  local t
  for t in /proc/"$OG_PID"/task/*; do
    echo "${t##*/} $(sed 's/^.*) //' "$t/stat" | awk '{print $12 + $13}')"
  done | sort
}
NWORK=$(grep -o 'work_threads: [0-9]*' "$OG_CONF" | awk '{print $2}' || true)
NWORK=${NWORK:-2}
WORK_TIDS=""
login_load() { # SECONDS OUTFILE — in the foreground
  taskset -c "$LOAD_CPU" python3 bench/login_load.py --port "$OG_PORT" --users "$TMP/users" \
    --password-file "$PW_FILE" --clients "$LOGIN_CLIENTS" --duration "$1" >"$2" 2>&1
}
if [ "$LOGIN_ROUNDS" != 0 ]; then
  printf 'delay = function() return %s end\n' "$RATE_DELAY_MS" >"$TMP/delay.lua"
  : >"$RES/logins.tsv"
  : >"$RES/login-rounds.tsv"
  for ((r = 1; r <= LOGIN_ROUNDS; r++)); do
    ROUND=$r
    # logins alone: logins/s and onegate CPU per login
    out="$RES/logins$(printf %02d "$r").txt"
    b=$(cpu_ticks "$OG_PID")
    thread_ticks >"$TMP/threads.before"
    login_load "$LOGIN_DURATION" "$out"
    thread_ticks >"$TMP/threads.after"
    a=$(cpu_ticks "$OG_PID")
    if [ -n "$WORK_NICE" ] && [ -z "$WORK_TIDS" ]; then
      # The work-pool threads are the ones that burned CPU while only logins ran.
      WORK_TIDS=$(join "$TMP/threads.before" "$TMP/threads.after" |
        awk -v main="$OG_PID" '$1 != main {print $3 - $2, $1}' | sort -rn |
        head -n "$NWORK" | awk '{print $2}' | xargs)
      log "work-pool threads (by CPU during logins): $WORK_TIDS"
      echo "work_tids=$WORK_TIDS" >>"$RES/meta.txt"
    fi
    printf '%d\t%s\t%d\n' "$r" "$out" $((a - b)) >>"$RES/logins.tsv"
    log "round $r logins alone: $(cat "$out")"
    sleep 1
    # (b) idle vs while logins run flat out; saturating and at a fixed moderate rate
    if ((r % 2)); then order="idle busy"; else order="busy idle"; fi
    [ -n "$WORK_TIDS" ] && order="$order busynice"
    for mode in sat rate; do
      if [ "$mode" = rate ]; then opts=(-c"$RATE_CONNS" -s "$TMP/delay.lua"); else opts=(); fi
      for state in $order; do
        out="$RES/login$(printf %02d "$r")-$mode-$state.wrk"
        lp=""
        if [ "$state" = busynice ]; then
          sched_save=$(for t in $WORK_TIDS; do echo "$t $(chrt -p "$t" | sed -n 's/.*policy: SCHED_\([A-Z]*\).*/\1/p' | tr A-Z a-z) $(awk '{print $19}' "/proc/$OG_PID/task/$t/stat")"; done)
          for t in $WORK_TIDS; do
            if [ "$WORK_NICE" = idle ]; then chrt --idle -p 0 "$t"
            else chrt --other -p 0 "$t"; renice -n "$WORK_NICE" -p "$t" >/dev/null; fi
          done
        fi
        if [ "$state" != idle ]; then
          login_load $((DURATION + 3)) "$out.logins" &
          lp=$!
          BG_PIDS+=("$lp")
          sleep 2        # the work pool is saturated before wrk starts
        fi
        measure onegate "$mode-$state" login-rounds.tsv "$out" "${opts[@]}"
        if [ -n "$lp" ]; then wait "$lp" || true; BG_PIDS=(); fi
        if [ "$state" = busynice ]; then        # back to what onegate had set
          while read -r t pol ni; do
            if [ "$pol" = idle ]; then chrt --idle -p 0 "$t"; else chrt --other -p 0 "$t"; fi
            renice -n "$ni" -p "$t" >/dev/null
          done <<<"$sched_save"
        fi
        log "round $r (b) $mode $state: $(wrk_rps "$out") req/s"
        sleep 1
      done
    done
  done
fi

# ---- report --------------------------------------------------------------------------------
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RES/meta.txt"
if [ -n "${SUMMARY_FILE:-}" ]; then
  python3 bench/bench_sessions_summary.py "$RES" | tee "$SUMMARY_FILE"
else
  python3 bench/bench_sessions_summary.py "$RES"
fi
