#!/usr/bin/env bash
# bench/bench_tokens.sh — what JWTs cost on the request path (issue 5), in one run against one
# demo-portal upstream on loopback:
#   (a) nginx        plain reverse proxy (1 worker, upstream keepalive pool, no logs);
#   (b) haproxy      HAProxy 2.6 (Debian package), 1 thread, verifying the ES256 signature of
#                    the bearer token on every request (`jwt_verify("ES256", <public key PEM>)`,
#                    key from certs/gen-keys.sh; signature only: no exp/iss/aud checks);
#   (c) bearer       onegate, API-account access token on an API route (verified once, then
#                    served from the per-worker verified-token cache);
#   (d) session      onegate, session cookie on a route with an `audience`: the person JWT is
#                    minted once and reused (forwarded as `Authorization: Bearer`);
#   baselines on the same onegate: `public` (public route, no identity; a padding header as long
#   as the bearer one) and `sessnoaud` (same session, route without audience: no token).
# (a), (b), (c) and public send the same ~500-byte header, so the proxies parse and forward
# the same bytes. Then:
#   2. system calls per request (strace -c -f): onegate variants over a window inside a
#      running wrk load, divided by onegate's own request counter (no connection set-up);
#      nginx/haproxy over a whole short wrk run (for context);
#   3. perf record (DWARF call graphs) of onegate during (c) and (d): share of samples under
#      the token entry points (gw_bearer_applies/start_bearer/gw_bearer_verify up to the
#      on_bearer callback; gw_person_jwt_header) x CPU us/request = token CPU per request;
#   4. client-credentials grants: GRANT_CONNS concurrent wrk connections POSTing /oauth/token
#      (HTTP Basic), grants/s, onegate CPU per grant, grants per onegate core-second and per
#      work-pool thread, Redis CPU per grant;
#   5. rejected tokens: wrk cycling through REJECT_TOKENS distinct well-formed tokens with bad
#      signatures (bench/token_tools.py bad), (i) against `onegate-nb` (a second instance with
#      no budget at all: per-address budget never runs out, jwt.max_signature_checks_per_s 0;
#      every token costs a signature check) -> CPU us per rejected token; (ii) against onegate
#      with the defaults (jwt.bad_token_burst 20, bad_token_per_s 10) -> CPU us per throttled
#      (429) request; (iii) against `onegate-cap` (no per-address budget, the per-worker cap on
#      signature checks at its default, 1000/s) -> CPU us per request, mostly 429s of the cap;
#   6. flood: ordinary bearer traffic at a moderate rate (wrk -c RATE_CONNS, RATE_DELAY_MS
#      pause per request), p50/p99 idle and while bench/token_tools.py flood sends FLOOD_RATE
#      requests/s of distinct bad-signature tokens: from one other address (127.0.0.2), from
#      FLOOD_SOURCES addresses (distributed: each address has its own budget; the default cap
#      applies too), against onegate-cap (`cap`: no per-address budget, only the default cap on
#      signature checks — the distributed flood the cap is for) and against onegate-nb (`nb`:
#      no budget and no cap, the worst case); `ctl` sends the valid token at the same rate from
#      the same client (the cost of any extra traffic). Target: p99 <= 2x idle.
#
# CPU pinning (2-core machine): the proxy under test (nginx's worker, haproxy, onegate with
# all its threads incl. the auth work pool) runs on PROXY_CPU (0); wrk, the upstream, the
# flood client and redis-server share LOAD_CPU (1).
#
# Environment: ROUNDS (10), DURATION (5 s per wrk run), CONNS (50), WARMUP (2 s),
#   VARIANTS ("nginx haproxy bearer session public sessnoaud"), STRACE_DURATION (5 s; 0 skips),
#   PERF (1; 0 skips), GRANT_CONNS (16), GRANT_ROUNDS (3), WORK_THREADS (2),
#   REJECT_ROUNDS (3), REJECT_TOKENS (20000), FLOOD_ROUNDS (3), FLOOD_DURATION (5 s),
#   FLOOD_CONNS (16), FLOOD_SOURCES (200), FLOOD_RATE (3000/s), RATE_CONNS (8),
#   RATE_DELAY_MS (1), PROXY_CPU (0), LOAD_CPU (1), UPSTREAM_KEEPALIVE (64: idle upstream
#   connections kept by nginx and onegate, more than CONNS, so neither reconnects),
#   ONEGATE_BUILD_DIR (build), KEEP_TMP=1, SUMMARY_FILE=path, HOLD=1 (set up, then wait),
#   HAPROXY (/usr/sbin/haproxy; `apt-get install haproxy`), NGINX (/usr/sbin/nginx).
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
VARIANTS=${VARIANTS:-nginx haproxy bearer session public sessnoaud}
STRACE_DURATION=${STRACE_DURATION:-5}
PERF=${PERF:-1}
GRANT_CONNS=${GRANT_CONNS:-16}
GRANT_ROUNDS=${GRANT_ROUNDS:-3}
WORK_THREADS=${WORK_THREADS:-2}
REJECT_ROUNDS=${REJECT_ROUNDS:-3}
REJECT_TOKENS=${REJECT_TOKENS:-20000}
FLOOD_ROUNDS=${FLOOD_ROUNDS:-3}
FLOOD_DURATION=${FLOOD_DURATION:-5}
FLOOD_CONNS=${FLOOD_CONNS:-16}
FLOOD_SOURCES=${FLOOD_SOURCES:-200}
FLOOD_RATE=${FLOOD_RATE:-3000}
RATE_CONNS=${RATE_CONNS:-8}
RATE_DELAY_MS=${RATE_DELAY_MS:-1}
PROXY_CPU=${PROXY_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
UPSTREAM_KEEPALIVE=${UPSTREAM_KEEPALIVE:-64}
ONEGATE="$BUILD/gateway/onegate"
CTL="$BUILD/gateway/ctl/onegatectl"
NGINX=${NGINX:-/usr/sbin/nginx}
HAPROXY=${HAPROXY:-/usr/sbin/haproxy}
ISSUER="https://login.bench"

need_tools wrk strace taskset python3 curl redis-server redis-cli openssl
[ -x "$NGINX" ] || die "nginx not found at $NGINX"
[ -x "$HAPROXY" ] || die "haproxy not found at $HAPROXY (apt-get install haproxy)"
for b in "$BUILD/deploy/demo-portal/demo-portal" "$ONEGATE" "$CTL"; do
  [ -x "$b" ] || die "not built: $b (cmake --build $BUILD)"
done
if [ "$PERF" != 0 ] && ! command -v perf >/dev/null; then
  log "perf not installed: profile skipped"
  PERF=0
fi

bench_init onegate-bench-tokens

# ---- redis-server (own port and dir, AOF on as in production) ------------------------------
mkdir -p "$TMP/redis"
start_redis() {
  taskset -c "$LOAD_CPU" redis-server --port "$1" --bind 127.0.0.1 --dir "$TMP/redis" \
    --appendonly yes --save "" --daemonize no --logfile "$TMP/redis/redis.log" \
    >/dev/null 2>&1 &
  STARTED_PID=$!
}
start_retry redis-server start_redis
REDIS_PID=$STARTED_PID
REDIS_PORT=$STARTED_PORT

# ---- upstream ------------------------------------------------------------------------------
start_portal

# ---- signing key (certs/gen-keys.sh: ES256, P-256) ----------------------------------------
mkdir -p "$TMP/keys"
sh certs/gen-keys.sh -o "$TMP/keys" -n jwt -f >/dev/null || die "certs/gen-keys.sh failed"
KEY="$TMP/keys/jwt.key"
PUB="$TMP/keys/jwt.pub"

# ---- onegate: `onegate` (defaults), `onegate-nb` (no per-address budget, no cap on signature
# checks) and `onegate-cap` (no per-address budget, the cap at its default) --------------------
# write_onegate_conf FILE PORT DIR BURST PER_S SIG_CAP (empty: the defaults)
write_onegate_conf() {
  local budget=""
  [ -n "$4" ] && budget="  bad_token_burst: $4
  bad_token_per_s: $5"
  [ -n "$6" ] && budget="$budget
  max_signature_checks_per_s: $6"
  cat >"$1" <<EOF
# generated by bench/bench_tokens.sh (format: deploy/onegate.example.yaml)
workers: 1
listen:
  - 127.0.0.1:$2
limits:
  max_connections: 19000
  keepalive_timeout_ms: 75000
upstreams:
  bench:
    servers: [127.0.0.1:$UP_PORT]
    max_idle_per_server: $UPSTREAM_KEEPALIVE
roles: [operator]
scopes: [bench.read]
routes:
  - path: /pub/
    upstream: bench
    public: true
  - path: /api/
    upstream: bench
    access:
      - allow:
          - { kind: api_account, scopes: [bench.read] }
  - path: /app/
    upstream: bench
    audience: bench-portal
    access:
      - allow:
          - { kind: person, roles: [operator] }
  - path: /sess/
    upstream: bench
    access:
      - allow:
          - { kind: person, roles: [operator] }
jwt:
  issuer: $ISSUER
  signing_key: $KEY
$budget
oauth:
  token_lifetime_ms: 7200000
redis:
  address: 127.0.0.1:$REDIS_PORT
sessions:
  insecure_dev_cookies: true
auth:
  work_threads: $WORK_THREADS
log:
  level: warn
  error_log: $3/error.log
  access_log: off
EOF
}
start_onegate_in() { # NAME PORT [BURST PER_S [SIG_CAP]]
  local dir="$TMP/$1"
  mkdir -p "$dir"
  write_onegate_conf "$dir/onegate.yaml" "$2" "$dir" "${3:-}" "${4:-}" "${5:-}"
  "$ONEGATE" --check-config "$dir/onegate.yaml" >/dev/null ||
    die "onegate rejects the generated config $dir/onegate.yaml"
  taskset -c "$PROXY_CPU" "$ONEGATE" -c "$dir/onegate.yaml" >"$dir/stdout.log" 2>&1 &
  STARTED_PID=$!
}
start_og() { start_onegate_in onegate "$1"; }
start_og_nb() { start_onegate_in onegate-nb "$1" 1000000 1000000 0; }
start_og_cap() { start_onegate_in onegate-cap "$1" 1000000 1000000; }
start_retry onegate start_og
OG_PID=$STARTED_PID
OG_PORT=$STARTED_PORT
OG_CONF="$TMP/onegate/onegate.yaml"
start_retry onegate-nb start_og_nb
OGNB_PID=$STARTED_PID
OGNB_PORT=$STARTED_PORT
start_retry onegate-cap start_og_cap
OGCAP_PID=$STARTED_PID
OGCAP_PORT=$STARTED_PORT

# ---- identities: an API account and its access token; an operator and a session ----------
(umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(16))' >"$TMP/password")
"$CTL" -c "$OG_CONF" person add --login benchop --name "Bench operator" --role operator \
  --password-stdin <"$TMP/password" >/dev/null 2>"$TMP/seed.log" ||
  die "onegatectl person add failed: $(tail -3 "$TMP/seed.log")"
"$CTL" -c "$OG_CONF" --json api-account create --client-id bench-client --scope bench.read \
  >"$TMP/account.json" 2>>"$TMP/seed.log" ||
  die "onegatectl api-account create failed: $(tail -3 "$TMP/seed.log")"
read -r CLIENT_ID CLIENT_SECRET < <(python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))
print(a["client_id"], a["client_secret"])' "$TMP/account.json") ||
  die "no client_id/client_secret in the api-account create answer"
(umask 077; printf '%s:%s' "$CLIENT_ID" "$CLIENT_SECRET" >"$TMP/basic")
BASIC=$(base64 -w0 <"$TMP/basic")
curl -s -H "Authorization: Basic $BASIC" -d grant_type=client_credentials \
  "http://127.0.0.1:$OG_PORT/oauth/token" >"$TMP/grant.json"
TOKEN=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["access_token"])' \
  "$TMP/grant.json") || die "client-credentials grant failed: $(head -c 300 "$TMP/grant.json")"
(umask 077; echo "$TOKEN" >"$TMP/token")
BEARER_HDR="Authorization: Bearer $TOKEN"
# same length as the bearer header, for the public baseline: same bytes to parse and forward
PAD_HDR="X-Bench-Pad: $(printf '%*s' $((${#BEARER_HDR} - 13)) '' | tr ' ' x)"
COOKIE=$(curl -s -D - -o /dev/null -H 'Content-Type: application/json' \
  --data-binary "{\"username\":\"benchop\",\"password\":\"$(cat "$TMP/password")\"}" \
  "http://127.0.0.1:$OG_PORT/-/login" |
  sed -n 's/^[Ss]et-[Cc]ookie: onegate_session=\([A-Za-z0-9_-]*\);.*/\1/p')
[ -n "$COOKIE" ] || die "JSON login of benchop failed (see $TMP/onegate/error.log)"
CK_HDR="Cookie: onegate_session=$COOKIE"
# bad-signature tokens (distinct, well-formed) for the rejection and flood phases
python3 bench/token_tools.py bad --token-file "$TMP/token" --count "$REJECT_TOKENS" \
  --out "$TMP/bad-tokens"

# ---- nginx (a) -----------------------------------------------------------------------------
start_nginx_plain() { rm -rf "$TMP/nginx"; nginx_conf "$TMP/nginx" "$1" "$UP_PORT"; nginx_start "$TMP/nginx"; }
start_retry nginx start_nginx_plain
NGX_PORT=$STARTED_PORT
NGX_PID=$(nginx_worker "$STARTED_PID")

# ---- haproxy (b): ES256 signature of the bearer token checked per request ------------------
start_haproxy() { # PORT
  local dir="$TMP/haproxy"
  mkdir -p "$dir"
  cat >"$dir/haproxy.cfg" <<EOF
# generated by bench/bench_tokens.sh
global
  nbthread 1
  maxconn 9000
defaults
  mode http
  timeout connect 5s
  timeout client 75s
  timeout server 30s
  timeout http-keep-alive 75s
  option http-keep-alive
  http-reuse always
frontend bench
  bind 127.0.0.1:$1
  http-request set-var(txn.bearer) http_auth_bearer
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_header_query('\$.alg') -m str ES256 }
  http-request deny deny_status 401 unless { var(txn.bearer),jwt_verify("ES256","$PUB") -m int 1 }
  default_backend up
backend up
  server up 127.0.0.1:$UP_PORT
EOF
  "$HAPROXY" -c -q -f "$dir/haproxy.cfg" >"$dir/check.log" 2>&1 ||
    die "haproxy rejects $dir/haproxy.cfg: $(cat "$dir/check.log")"
  taskset -c "$PROXY_CPU" "$HAPROXY" -db -f "$dir/haproxy.cfg" >"$dir/stdout.log" 2>&1 &
  STARTED_PID=$!
}
start_retry haproxy start_haproxy
HAP_PORT=$STARTED_PORT
HAP_PID=$STARTED_PID

declare -A PORT_OF=([nginx]=$NGX_PORT [haproxy]=$HAP_PORT [bearer]=$OG_PORT [session]=$OG_PORT
                    [public]=$OG_PORT [sessnoaud]=$OG_PORT)
declare -A PID_OF=([nginx]=$NGX_PID [haproxy]=$HAP_PID [bearer]=$OG_PID [session]=$OG_PID
                   [public]=$OG_PID [sessnoaud]=$OG_PID)
declare -A PATH_OF=([nginx]=/api/ [haproxy]=/api/ [bearer]=/api/ [session]=/app/ [public]=/pub/
                    [sessnoaud]=/sess/)
declare -A HDR_OF=([nginx]=$BEARER_HDR [haproxy]=$BEARER_HDR [bearer]=$BEARER_HDR
                   [session]=$CK_HDR [public]=$PAD_HDR [sessnoaud]=$CK_HDR)
url_of() { echo "http://127.0.0.1:${PORT_OF[$1]}${PATH_OF[$1]}status?code=200"; }

# ---- sanity --------------------------------------------------------------------------------
for t in $VARIANTS; do
  code=$(curl -s -H "${HDR_OF[$t]}" -D "$TMP/sanity-$t.head" -o "$TMP/sanity-$t.body" \
    -w '%{http_code}' "$(url_of "$t")")
  [ "$code" = 200 ] || die "$t answered $code"
  grep -qi '^X-Demo-Portal: Bench portal' "$TMP/sanity-$t.head" ||
    die "$t did not answer from our upstream"
  cmp -s "$TMP/sanity-$(set -- $VARIANTS; echo "$1").body" "$TMP/sanity-$t.body" ||
    die "$t: a different body"
done
BAD1=$(head -1 "$TMP/bad-tokens")
for t in haproxy bearer; do   # a bad signature and no token are refused
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BAD1" "$(url_of "$t")")
  [ "$code" = 401 ] || die "$t answered $code to a token with a bad signature (expected 401)"
  code=$(curl -s -o /dev/null -w '%{http_code}' "$(url_of "$t")")
  [ "$code" = 401 ] || die "$t answered $code without a token (expected 401)"
done
for t in session sessnoaud; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$(url_of "$t")")
  [ "$code" = 401 ] || die "$t answered $code without a session (expected 401)"
done
# (d) forwards a person JWT to the upstream; sessnoaud does not
jwt_fwd() { # PATH — the upstream's view of Authorization (demo-portal echo)
  curl -s -H "$CK_HDR" "http://127.0.0.1:$OG_PORT$1echo" | python3 -c '
import json, sys
h = {k.lower(): v for k, v in json.load(sys.stdin)["headers"]}
a = h.get("authorization", "")
print("jwt" if a.startswith("Bearer ey") else "none")'
}
[ "$(jwt_fwd /app/)" = jwt ] || die "the audience route did not forward a person JWT"
[ "$(jwt_fwd /sess/)" = none ] || die "the route without audience forwarded a token"
BODY_BYTES=$(wc -c <"$TMP/sanity-bearer.body" 2>/dev/null || echo 0)

{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "rounds=$ROUNDS"
  echo "duration=$DURATION"
  echo "conns=$CONNS"
  echo "variants=$VARIANTS"
  echo "body_bytes=$BODY_BYTES"
  echo "bearer_header_bytes=${#BEARER_HDR}"
  echo "proxy_cpu=$PROXY_CPU"
  echo "load_cpu=$LOAD_CPU"
  echo "clk_tck=$(getconf CLK_TCK)"
  echo "work_threads=$WORK_THREADS"
  echo "grant_conns=$GRANT_CONNS"
  echo "flood_conns=$FLOOD_CONNS"
  echo "flood_sources=$FLOOD_SOURCES"
  echo "flood_duration=$FLOOD_DURATION"
  echo "flood_rate=$FLOOD_RATE"
  echo "sig_cap=$(sed -n 's/^ *cfg->jwt\.max_signature_checks_per_s = \([0-9]*\);.*$/\1/p' gateway/config.c)"   # the default
  echo "rate_conns=$RATE_CONNS"
  echo "rate_delay_ms=$RATE_DELAY_MS"
  echo "onegate_threads=$(ls "/proc/$OG_PID/task" | wc -l)"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
  echo "versions=$("$NGINX" -v 2>&1 | sed 's/^nginx version: //'), $("$HAPROXY" -v | head -1 | awk '{print "HAProxy", $3}'), $("$ONEGATE" --version 2>&1 | head -1), $(redis-server --version | awk '{print "redis", $3}'), $(wrk --version 2>&1 | head -1 | awk '{print "wrk", $2}'), $(openssl version | awk '{print "OpenSSL", $2}'), Linux $(uname -r), $(nproc) CPUs"
} >"$RES/meta.txt"
log "upstream :$UP_PORT redis :$REDIS_PORT nginx :$NGX_PORT haproxy :$HAP_PORT onegate :$OG_PORT onegate-nb :$OGNB_PORT onegate-cap :$OGCAP_PORT"

if [ -n "${HOLD:-}" ]; then   # profiling by hand: keep everything up until ^C
  (umask 077; printf '%s\n%s\n' "$BEARER_HDR" "$CK_HDR" >"$TMP/headers")
  log "HOLD: headers in $TMP/headers; pids onegate=$OG_PID haproxy=$HAP_PID nginx=$NGX_PID"
  sleep infinity &
  bench_track $!
  wait $!
fi

# ---- 1. interleaved rounds -----------------------------------------------------------------
# measure TSV LABEL OUTFILE PIDS URL [wrk options] — one wrk run with CPU ticks of PIDS (one
# word), redis and the upstream, the proxy core and the load core; a line in $RES/TSV.
measure() {
  local tsv=$1 label=$2 out=$3 pids=$4 url=$5
  shift 5
  local pb rb ub pab ptb lab ltb pa ra ua paa pta laa lta
  pb=$(cpu_ticks $pids); rb=$(cpu_ticks "$REDIS_PID"); ub=$(cpu_ticks "$UP_PID")
  read -r pab ptb < <(core_ticks "$PROXY_CPU")
  read -r lab ltb < <(core_ticks "$LOAD_CPU")
  wrk_run "$url" "$DURATION" "$out" "$@"
  pa=$(cpu_ticks $pids); ra=$(cpu_ticks "$REDIS_PID"); ua=$(cpu_ticks "$UP_PID")
  read -r paa pta < <(core_ticks "$PROXY_CPU")
  read -r laa lta < <(core_ticks "$LOAD_CPU")
  # round, label, wrk file, proxy ticks, redis ticks, upstream ticks,
  # proxy core busy/total, load core busy/total
  printf '%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\n' "$ROUND" "$label" "$out" $((pa - pb)) \
    $((ra - rb)) $((ua - ub)) $((paa - pab)) $((pta - ptb)) $((laa - lab)) $((lta - ltb)) \
    >>"$RES/$tsv"
}

for t in $VARIANTS; do
  log "warm-up $t ${WARMUP}s"
  wrk_run "$(url_of "$t")" "$WARMUP" "$RES/warmup-$t.wrk" -H "${HDR_OF[$t]}"
done
read -r -a VLIST <<<"$VARIANTS"
NV=${#VLIST[@]}
: >"$RES/rounds.tsv"
for ((r = 1; r <= ROUNDS; r++)); do
  ROUND=$r
  for ((k = 0; k < NV; k++)); do      # order rotated by one each round
    t=${VLIST[$(((k + r - 1) % NV))]}
    out="$RES/round$(printf %02d "$r")-$t.wrk"
    measure rounds.tsv "$t" "$out" "${PID_OF[$t]}" "$(url_of "$t")" -H "${HDR_OF[$t]}"
    log "round $r $t: $(wrk_rps "$out") req/s"
    sleep 1
  done
done

# ---- 2. system calls per request (strace -c) ----------------------------------------------
# onegate variants: wrk runs STRACE_DURATION + 3 s; after 1 s (connections established),
# strace -c -f attaches to every thread, and the requests answered in the traced window are
# read from onegate's own counters (/-/metrics, onegate_requests_total) — so connection set-up
# (accept4, setsockopt, close) does not count and the count is exact. nginx and haproxy have
# no such counter here: traced over a whole STRACE_DURATION wrk run, divided by wrk's count.
og_requests() {
  taskset -c "$LOAD_CPU" curl -s "http://127.0.0.1:$OG_PORT/-/metrics" |
    awk '/^onegate_requests_total/ { s += $NF } END { printf "%d\n", s }'
}
strace_attach() { # VARIANT SETTLE — starts strace -c on the variant's process; sets SP
  taskset -c "$LOAD_CPU" strace -c -f -o "$RES/strace-$1.txt" -p "${PID_OF[$1]}" \
    2>"$RES/strace-$1.log" &
  SP=$!
  BG_PIDS+=("$SP")
  local i
  for ((i = 0; i < 100; i++)); do
    grep -q attached "$RES/strace-$1.log" 2>/dev/null && break
    sleep 0.05
  done
  sleep "$2"
}
if [ "$STRACE_DURATION" != 0 ]; then
  for t in $VARIANTS; do
    log "strace -c on $t"
    case $t in
      nginx | haproxy)
        strace_attach "$t" 0.5
        wrk_run "$(url_of "$t")" "$STRACE_DURATION" "$RES/strace-$t.wrk" -H "${HDR_OF[$t]}"
        sleep 0.2
        kill -INT "$SP" 2>/dev/null || true
        wait "$SP" || true ;;
      *)
        wrk_run "$(url_of "$t")" $((STRACE_DURATION + 3)) "$RES/strace-$t.wrk" -H "${HDR_OF[$t]}" &
        wp=$!
        BG_PIDS+=("$wp")
        sleep 1
        strace_attach "$t" 0     # the counter is read at once: traced calls and counted
        n0=$(og_requests)        # requests cover the same window (to a few ms at each end)
        sleep "$STRACE_DURATION"
        n1=$(og_requests)
        kill -INT "$SP" 2>/dev/null || true
        wait "$SP" || true
        wait "$wp" || true
        echo "requests=$((n1 - n0 - 1))" >"$RES/strace-$t.count" ;;
    esac
    BG_PIDS=()
  done
fi

# ---- 3. profile of the cached token paths ----------------------------------------------------
# perf record with DWARF call graphs (inlined frames resolved); token_tools.py perfshare counts
# the samples under the token entry points, stopping at the callback that continues with
# proxying (so the proxying that follows a verified token is not counted as token work).
declare -A PERF_ENTRY=([bearer]=gw_bearer_applies,start_bearer,gw_bearer_verify,deliver_ok,deliver_hit,auth_jwt_cache_find,auth_jwt_cache_lookup
                       [session]=gw_person_jwt_header,gw_person_jwt_get)
declare -A PERF_STOP=([bearer]=on_bearer [session]=)
if [ "$PERF" != 0 ]; then
  for t in bearer session; do
    log "perf record (DWARF call graphs) of onegate during a 4 s $t run"
    taskset -c "$LOAD_CPU" perf record -F 1999 --call-graph dwarf,8192 -o "$TMP/perf-$t.data" \
      -p "$OG_PID" >"$RES/perf-$t.log" 2>&1 &
    pp=$!
    BG_PIDS+=("$pp")
    sleep 1
    wrk_run "$(url_of "$t")" 4 "$RES/perf-$t.wrk" -H "${HDR_OF[$t]}"
    kill -INT "$pp" 2>/dev/null || true
    wait "$pp" || true
    BG_PIDS=()
    perf script -i "$TMP/perf-$t.data" -F ip,sym >"$TMP/perf-$t.script" 2>/dev/null || true
    python3 bench/token_tools.py perfshare --script "$TMP/perf-$t.script" \
      --entry "${PERF_ENTRY[$t]}" --stop "${PERF_STOP[$t]}" >"$RES/perf-$t.share" ||
      log "perfshare failed for $t"
    perf report -i "$TMP/perf-$t.data" --stdio --no-children --percent-limit 0.7 \
      --sort dso,symbol -g none >"$RES/perf-$t.self.txt" 2>/dev/null || true
    rm -f "$TMP/perf-$t.data" "$TMP/perf-$t.script"
  done
fi

# ---- 4. client-credentials grants ----------------------------------------------------------
cat >"$TMP/grant.lua" <<'EOF'
wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
EOF
: >"$RES/grants.tsv"
for ((r = 1; r <= GRANT_ROUNDS; r++)); do
  ROUND=$r
  out="$RES/grants$(printf %02d "$r").wrk"
  measure grants.tsv grant "$out" "$OG_PID" "http://127.0.0.1:$OG_PORT/oauth/token" \
    -c"$GRANT_CONNS" -s "$TMP/grant.lua" -H "Authorization: Basic $BASIC"
  log "grants round $r: $(wrk_rps "$out") grants/s"
  sleep 1
done

# ---- 5. rejected tokens: signature check (onegate-nb) and throttled (onegate) -------------
cat >"$TMP/badtok.lua" <<'EOF'
-- cycles through distinct bad-signature tokens, one per request
local toks, i = {}, 0
function init(args)
  for line in io.lines(os.getenv("BENCH_BAD_TOKENS")) do toks[#toks + 1] = line end
  i = math.random(#toks)
end
function request()
  i = i % #toks + 1
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. toks[i] })
end
EOF
: >"$RES/reject.tsv"
export BENCH_BAD_TOKENS="$TMP/bad-tokens"
for ((r = 1; r <= REJECT_ROUNDS; r++)); do
  ROUND=$r
  for kind in nb throttled cap; do
    case $kind in
      nb) port=$OGNB_PORT pid=$OGNB_PID ;;
      cap) port=$OGCAP_PORT pid=$OGCAP_PID ;;
      *) port=$OG_PORT pid=$OG_PID ;;
    esac
    out="$RES/reject$(printf %02d "$r")-$kind.wrk"
    measure reject.tsv "$kind" "$out" "$pid" "http://127.0.0.1:$port/api/status?code=200" \
      -s "$TMP/badtok.lua"
    log "rejected tokens round $r $kind: $(wrk_rps "$out") req/s"
    sleep 1
  done
done

if [ "$PERF" != 0 ]; then
  log "perf record of onegate-nb during a 3 s run of rejected tokens"
  taskset -c "$LOAD_CPU" perf record -F 1999 -o "$TMP/perf-reject.data" -p "$OGNB_PID" \
    >"$RES/perf-reject.log" 2>&1 &
  pp=$!
  BG_PIDS+=("$pp")
  sleep 1
  wrk_run "http://127.0.0.1:$OGNB_PORT/api/status?code=200" 3 "$RES/perf-reject.wrk" \
    -s "$TMP/badtok.lua"
  kill -INT "$pp" 2>/dev/null || true
  wait "$pp" || true
  BG_PIDS=()
  perf report -i "$TMP/perf-reject.data" --stdio --no-children --percent-limit 1 \
    --sort dso,symbol >"$RES/perf-reject.self.txt" 2>/dev/null || true
  perf report -i "$TMP/perf-reject.data" --stdio --no-children --percent-limit 1 \
    --sort dso >"$RES/perf-reject.dso.txt" 2>/dev/null || true
  rm -f "$TMP/perf-reject.data"
fi

# ---- 6. ordinary bearer traffic, idle and under a bad-token flood ----------------------------
# Every flood sends FLOOD_RATE requests/s in all (paced) from FLOOD_CONNS connections of one
# python client on the load core. `ctl` is the control: the same client at the same rate
# with the valid (cached) token instead — what any extra traffic of that rate costs, incl.
# the flood client's own CPU on the load core; the bad-token modes are compared with it too.
printf 'function delay() return %s end\n' "$RATE_DELAY_MS" >"$TMP/delay.lua"
(umask 077; cp "$TMP/token" "$TMP/good-token")
: >"$RES/flood.tsv"
flood_case() { # MODE — one measurement (ordinary traffic + the flood of MODE, if any)
  local mode=$1 port=$OG_PORT pid=$OG_PID fp="" srcs=1 toks="$TMP/bad-tokens"
  case $mode in
    ctl) toks="$TMP/good-token" ;;
    many) srcs=$FLOOD_SOURCES ;;
    idle-nb | nb) port=$OGNB_PORT pid=$OGNB_PID ;;
    idle-cap | cap) port=$OGCAP_PORT pid=$OGCAP_PID ;;
  esac
  local out="$RES/flood$(printf %02d "$ROUND")-$mode.wrk"
  case $mode in
    ctl | one | many | nb | cap)
      taskset -c "$LOAD_CPU" python3 bench/token_tools.py flood --port "$port" \
        --tokens "$toks" --seconds $((FLOOD_DURATION + 3)) --conns "$FLOOD_CONNS" \
        --sources "$srcs" --rate "$FLOOD_RATE" >"$out.flood" 2>&1 &
      fp=$!
      BG_PIDS+=("$fp")
      sleep 1.5 ;;   # the flood is running (and any budget spent) before wrk starts
  esac
  local save=$DURATION
  DURATION=$FLOOD_DURATION
  measure flood.tsv "$mode" "$out" "$pid" "http://127.0.0.1:$port/api/status?code=200" \
    -c"$RATE_CONNS" -s "$TMP/delay.lua" -H "$BEARER_HDR"
  DURATION=$save
  if [ -n "$fp" ]; then
    wait "$fp" || log "flood client failed: $(tail -2 "$out.flood")"
    BG_PIDS=()
  fi
  log "flood round $ROUND $mode: $(wrk_rps "$out") req/s ordinary; flood: $(cat "$out.flood" 2>/dev/null || echo none)"
  sleep 1
}
FLOOD_MODES="idle ctl one many idle-cap cap idle-nb nb"
for ((r = 1; r <= FLOOD_ROUNDS; r++)); do
  ROUND=$r
  if ((r % 2)); then order=$FLOOD_MODES; else order=$(echo $FLOOD_MODES | tr ' ' '\n' | tac | tr '\n' ' '); fi
  for mode in $order; do flood_case "$mode"; done
done

# ---- report --------------------------------------------------------------------------------
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$RES/meta.txt"
for d in onegate onegate-nb onegate-cap; do
  # refused tokens are logged (fingerprint only) at info; at warn nothing should be written
  echo "errorlog_bytes_$d=$(wc -c <"$TMP/$d/error.log" 2>/dev/null || echo 0)" >>"$RES/meta.txt"
done
if [ -n "${SUMMARY_FILE:-}" ]; then
  python3 bench/bench_tokens_summary.py "$RES" | tee "$SUMMARY_FILE"
else
  python3 bench/bench_tokens_summary.py "$RES"
fi
