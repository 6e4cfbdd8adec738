# bench/lib.sh — shell functions shared by the benchmark scripts (sourced, not run):
# temp dir and pid bookkeeping with a cleanup trap, free ports and start-up with retry,
# per-process and per-core CPU ticks, the demo-portal upstream, nginx configs (plain proxy and
# auth_request), wrk runs. Used by bench/bench_sessions.sh (all of it) and bench/bench_proxy.sh
# (log, die, ports, start_retry, CPU ticks, nginx_worker; it keeps its own cleanup and nginx
# config).
#
# The sourcing script sets ROOT, BUILD, PROXY_CPU, LOAD_CPU and NGINX before calling these,
# and calls bench_init once (it creates $TMP and $RES and installs the EXIT trap).
# Everything started through bench_track / start_retry is stopped by pid, in reverse order.

log() { printf '[bench] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# bench_pkg_of TOOL — the Debian package that provides TOOL (the benchmarks' packages are
# listed in deploy/lib/common.sh: ONEGATE_BENCH_PKGS, ONEGATE_BUILD_PKGS).
bench_pkg_of() {
  case $1 in
    nginx) echo nginx-light ;;
    taskset) echo util-linux ;;
    redis-server | redis-cli) echo redis-server ;;
    perf) echo linux-perf ;;
    *) echo "$1" ;;
  esac
}

need_tools() { # TOOL... — fails unless each is on PATH, naming the install command
  local t missing=()
  for t in "$@"; do
    command -v "$t" >/dev/null || missing+=("$(bench_pkg_of "$t")")
  done
  ((${#missing[@]} == 0)) ||
    die "not installed: ${missing[*]} — apt-get install -y ${missing[*]} (every benchmark package: ONEGATE_BENCH_PKGS in deploy/lib/common.sh)"
}

PIDS=()            # everything we started, stopped in reverse order
BG_PIDS=()         # helpers (strace, perf, load generators) interrupted first

bench_track() { PIDS+=("$1"); }

bench_cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  local i
  for ((i = ${#BG_PIDS[@]} - 1; i >= 0; i--)); do
    kill -INT "${BG_PIDS[$i]}" 2>/dev/null || true
  done
  # Background jobs of a non-interactive shell may ignore SIGINT: TERM whatever is left.
  ((${#BG_PIDS[@]})) && sleep 0.5
  for ((i = ${#BG_PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${BG_PIDS[$i]}" 2>/dev/null || true
  done
  for ((i = ${#BG_PIDS[@]} - 1; i >= 0; i--)); do
    wait "${BG_PIDS[$i]}" 2>/dev/null || true
  done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[$i]}" 2>/dev/null || true
  done
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    wait "${PIDS[$i]}" 2>/dev/null || true
  done
  if [ -n "${KEEP_TMP:-}" ]; then log "raw results kept in $TMP"; else rm -rf "$TMP"; fi
  exit $rc
}

bench_init() { # PREFIX — creates $TMP (mode 700) and $RES, installs the cleanup trap
  TMP=$(mktemp -d "/tmp/$1.XXXXXX")
  RES="$TMP/results"
  mkdir -p "$RES"
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

# Other programs (parallel test suites) take free ports too: each server gets a free port just
# before it starts and is retried on another one if it could not bind it.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # PORT PID — 0 once PORT accepts; 1 if PID died; 2 after 10 s
  local port=$1 pid=$2 i
  for ((i = 0; i < 100; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 2
}

# start_retry NAME FUNCTION — calls FUNCTION PORT (which starts one process in the background
# and sets STARTED_PID) with fresh ports until the process listens; sets STARTED_PORT and
# tracks the pid.
start_retry() {
  local name=$1 fn=$2 attempt
  for attempt in 1 2 3 4 5; do
    STARTED_PORT=$(free_port)
    "$fn" "$STARTED_PORT"
    # Still alive a moment after the port opened: it is ours, not another program's.
    if wait_port "$STARTED_PORT" "$STARTED_PID" && sleep 0.3 && kill -0 "$STARTED_PID" 2>/dev/null
    then
      bench_track "$STARTED_PID"
      return 0
    fi
    kill -TERM "$STARTED_PID" 2>/dev/null || true
    wait "$STARTED_PID" 2>/dev/null || true
    log "$name did not start on port $STARTED_PORT (attempt $attempt)"
  done
  die "$name did not start (logs in $TMP)"
}

cpu_ticks() { # PID... — utime+stime of the whole processes (all threads), in clock ticks
  local p sum=0
  for p in "$@"; do
    sum=$((sum + $(sed 's/^.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
  done
  echo "$sum"
}

core_ticks() { # CPU — "busy total" clock ticks of one core from /proc/stat (all processes)
  awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat
}

# start_portal — the demo-portal upstream on LOAD_CPU (binds port 0 and reports it); sets
# UP_PORT and UP_PID.
start_portal() {
  local i
  # The log exists before the loop below reads it: the portal's shell opens it only once it
  # runs in the background, possibly after the first read.
  : >"$TMP/portal.log"
  taskset -c "$LOAD_CPU" "$BUILD/deploy/demo-portal/demo-portal" --listen 127.0.0.1:0 \
    --title "Bench portal" --quiet >"$TMP/portal.log" 2>&1 &
  UP_PID=$!
  bench_track "$UP_PID"
  UP_PORT=""
  for ((i = 0; i < 100; i++)); do
    UP_PORT=$(sed -n 's/^demo-portal listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$TMP/portal.log")
    [ -n "$UP_PORT" ] && return 0
    kill -0 "$UP_PID" 2>/dev/null || die "demo-portal exited: $(cat "$TMP/portal.log")"
    sleep 0.1
  done
  die "demo-portal did not report its port"
}

# nginx_conf DIR PORT UPSTREAM_PORT [AUTH_PORT AUTH_PATH] — writes DIR/nginx.conf: 1 worker,
# upstream keepalive pool of UPSTREAM_KEEPALIVE (default 32) idle connections, HTTP/1.1 upstream, no access log. With AUTH_PORT, every
# request first makes an auth_request subrequest to 127.0.0.1:AUTH_PORT AUTH_PATH (its own
# keepalive pool, the client's headers incl. Cookie passed on, no request body): 2xx lets the
# request through, 401/403 are returned to the client. The subrequest is sent as HEAD: nginx
# discards an auth response's body without reading it and then closes that upstream
# connection, so an auth service answering GET with a body gets a new connection per request;
# HEAD keeps the keepalive pool working (same check, no body).
nginx_conf() {
  local dir=$1 port=$2 up=$3 auth_port=${4:-} auth_path=${5:-} auth_up="" auth_loc="" auth_use=""
  if [ -n "$auth_port" ]; then
    auth_up="upstream authsvc {
    server 127.0.0.1:$auth_port;
    keepalive ${UPSTREAM_KEEPALIVE:-32};
  }"
    auth_loc="location = /_auth {
      internal;
      proxy_pass http://authsvc$auth_path;
      proxy_method HEAD;
      proxy_http_version 1.1;
      proxy_set_header Connection \"\";
      proxy_pass_request_body off;
      proxy_set_header Content-Length \"\";
      proxy_set_header X-Original-URI \$request_uri;
    }"
    auth_use="auth_request /_auth;"
  fi
  mkdir -p "$dir/logs"
  cat >"$dir/nginx.conf" <<EOF
# generated by bench/lib.sh nginx_conf
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $dir/body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_requests 1000000;
  upstream bench {
    server 127.0.0.1:$up;
    keepalive ${UPSTREAM_KEEPALIVE:-32};
  }
  $auth_up
  server {
    listen 127.0.0.1:$port;
    $auth_loc
    location / {
      $auth_use
      proxy_pass http://bench;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
}

# nginx_start DIR — nginx on PROXY_CPU with DIR/nginx.conf; sets STARTED_PID (the master).
nginx_start() {
  taskset -c "$PROXY_CPU" "$NGINX" -p "$1/" -c "$1/nginx.conf" -e "$1/logs/error.log" \
    >"$1/stdout.log" 2>&1 &
  STARTED_PID=$!
}

nginx_worker() { # MASTER_PID — the single worker's pid
  local i w
  for ((i = 0; i < 50; i++)); do
    w=$(cat "/proc/$1/task/$1/children" 2>/dev/null | awk '{print $1}')
    [ -n "$w" ] && { echo "$w"; return 0; }
    sleep 0.1
  done
  die "no nginx worker under $1"
}

# wrk_run URL SECONDS OUTFILE [wrk options...] — wrk -t1 on LOAD_CPU with CONNS connections
# unless the options say otherwise (later -c wins).
wrk_run() {
  local url=$1 secs=$2 out=$3
  shift 3
  taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${secs}s" --latency "$@" "$url" >"$out" 2>&1
}

wrk_rps() { grep -E '^Requests/sec' "$1" | awk '{print $2}'; }
