#!/usr/bin/env bash
# deploy/quickstart.sh — onegate's main job on one machine, from a clean clone:
# installs what is missing, builds, starts a private Redis (AOF on, data in var/redis), the two
# demo portals and onegate on loopback, and prints the URLs. Runs in the foreground; Ctrl-C
# stops everything it started (by pid). `--detach` leaves them running; `--stop` stops them.
#
# Ports (override by env): ONEGATE_PORT=8080 REDIS_PORT=6390 OPERATOR_PORT=9101 SSP_PORT=9102
set -u -o pipefail
ONEGATE_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export ONEGATE_ROOT
. "$ONEGATE_ROOT/deploy/lib/common.sh"
cd "$ONEGATE_ROOT"

VAR="$ONEGATE_ROOT/var"
RUN="$VAR/run"
ONEGATE_PORT=${ONEGATE_PORT:-8080}
REDIS_PORT=${REDIS_PORT:-6390}
OPERATOR_PORT=${OPERATOR_PORT:-9101}
SSP_PORT=${SSP_PORT:-9102}
mode=${1:-foreground}

stop_all() {
  local f pid
  for f in "$RUN"/*.pid; do
    [ -e "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null; fi
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    rm -f "$f"
  done
}

case "$mode" in
  --stop) stop_all; og_log "stopped"; exit 0 ;;
  foreground|--detach) ;;
  *) echo "usage: $0 [--detach|--stop]" >&2; exit 2 ;;
esac

og_install_missing $ONEGATE_BUILD_PKGS || exit 1
og_log "building (build/)"
og_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONEGATE_TESTS=OFF || exit 1

stop_all
mkdir -p "$RUN" "$VAR/redis" "$VAR/log"

# start NAME CMD... — starts a process in the background, remembers its pid.
start() {
  local name=$1; shift
  "$@" >"$VAR/log/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
}

# wait_port PORT NAME — waits until something accepts on 127.0.0.1:PORT.
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  og_log "$2 did not come up on port $1; see $VAR/log/$2.log"; tail -20 "$VAR/log/$2.log" >&2
  stop_all; exit 1
}

start redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$VAR/redis" \
  --appendonly yes --save "" --daemonize no --protected-mode yes
wait_port "$REDIS_PORT" redis

start operator-portal build/deploy/demo-portal/demo-portal --listen "127.0.0.1:$OPERATOR_PORT" \
  --title "Operator portal" --other-url "http://127.0.0.1:$ONEGATE_PORT/ssp/"
start ssp-portal build/deploy/demo-portal/demo-portal --listen "127.0.0.1:$SSP_PORT" \
  --title "Self-Service Portal" --other-url "http://127.0.0.1:$ONEGATE_PORT/operator/"
wait_port "$OPERATOR_PORT" operator-portal
wait_port "$SSP_PORT" ssp-portal

CONF="$VAR/onegate.yaml"
sed -e "s/127.0.0.1:8080/127.0.0.1:$ONEGATE_PORT/" \
    -e "s/127.0.0.1:9101/127.0.0.1:$OPERATOR_PORT/" \
    -e "s/127.0.0.1:9102/127.0.0.1:$SSP_PORT/" \
    -e "s/127.0.0.1:6379/127.0.0.1:$REDIS_PORT/" \
    -e "s#^\(  access_log:\).*#\1 $VAR/log/access.log#" \
    -e "s#^\(  insecure_dev_cookies:\) false#\1 true #" \
    deploy/onegate.example.yaml >"$CONF"
build/gateway/onegate --check-config "$CONF" || { stop_all; exit 1; }
start onegate build/gateway/onegate -c "$CONF"
wait_port "$ONEGATE_PORT" onegate
SEED=$(deploy/seed-demo.sh -c "$CONF" --ctl build/gateway/ctl/onegatectl) || { stop_all; exit 1; }

cat <<MSG

onegate is running.
  Operator portal      http://127.0.0.1:$ONEGATE_PORT/operator/
  Self-Service Portal  http://127.0.0.1:$ONEGATE_PORT/ssp/
  Health / metrics     http://127.0.0.1:$ONEGATE_PORT/-/ready   http://127.0.0.1:$ONEGATE_PORT/-/metrics
  Redis (AOF)          127.0.0.1:$REDIS_PORT, data in var/redis
  Config               $CONF   (edit, then: kill -HUP \$(cat var/run/onegate.pid))
  Logs                 var/log/
  Login page           http://127.0.0.1:$ONEGATE_PORT/-/login   (logout: /-/logout, who am I: /-/session)

Demo people (plain HTTP on loopback only: the config allows non-Secure cookies here):
$SEED

MSG

if [ "$mode" = --detach ]; then
  og_log "left running; stop with: $0 --stop"
  exit 0
fi
trap 'echo; og_log "stopping"; stop_all; exit 0' INT TERM
og_log "press Ctrl-C to stop"
wait "$(cat "$RUN/onegate.pid")"
rc=$?
og_log "onegate exited ($rc); stopping the rest"
stop_all
exit "$rc"
