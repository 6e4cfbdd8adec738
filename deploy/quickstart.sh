#!/usr/bin/env bash
# deploy/quickstart.sh — onegate's main job on one machine, from a clean clone:
# installs what is missing, builds, starts a private Redis (AOF on, data in var/redis), the two
# demo portals and onegate on loopback, and prints the URLs. Runs in the foreground; Ctrl-C
# stops everything it started (by pid). `--detach` leaves them running; `--stop` stops them.
# Tokens are on: a JWT signing key is made once in var/keys (certs/gen-keys.sh, ES256), the
# config (var/onegate.yaml, rendered from deploy/onegate.quickstart.yaml) forwards a person
# JWT to each portal, and the portals verify it against onegate's JWKS and show its claims.
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

# The JWT signing key, made once (private key mode 0600; var/ is never committed).
if [ ! -s "$VAR/keys/onegate-jwt.key" ]; then
  og_log "generating the JWT signing key (ES256) in var/keys"
  mkdir -p "$VAR/keys" && chmod 700 "$VAR/keys"
  certs/gen-keys.sh -a ES256 -o "$VAR/keys" -n onegate-jwt >/dev/null || exit 1
fi

# The config: the template with its @NAME@ placeholders filled in.
CONF="$VAR/onegate.yaml"
render() {
  local t
  t=$(<"$1")
  t=${t//@ONEGATE_PORT@/$ONEGATE_PORT}
  t=${t//@OPERATOR_PORT@/$OPERATOR_PORT}
  t=${t//@SSP_PORT@/$SSP_PORT}
  t=${t//@REDIS_PORT@/$REDIS_PORT}
  t=${t//@VAR@/$VAR}
  printf '%s\n' "$t"
}
render deploy/onegate.quickstart.yaml >"$CONF"
build/gateway/onegate --check-config "$CONF" || exit 1

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

# The portals verify the token onegate forwards (their audiences are in the config); they
# fetch the JWKS as soon as onegate answers.
ISSUER="http://127.0.0.1:$ONEGATE_PORT"
JWKS="$ISSUER/.well-known/jwks.json"
start operator-portal build/deploy/demo-portal/demo-portal --listen "127.0.0.1:$OPERATOR_PORT" \
  --title "Operator portal" --other-url "$ISSUER/ssp/" \
  --jwks-url "$JWKS" --audience operator-portal --issuer "$ISSUER"
start ssp-portal build/deploy/demo-portal/demo-portal --listen "127.0.0.1:$SSP_PORT" \
  --title "Self-Service Portal" --other-url "$ISSUER/operator/" \
  --jwks-url "$JWKS" --audience ssp --issuer "$ISSUER"
wait_port "$OPERATOR_PORT" operator-portal
wait_port "$SSP_PORT" ssp-portal

start onegate build/gateway/onegate -c "$CONF"
wait_port "$ONEGATE_PORT" onegate
SEED=$(deploy/seed-demo.sh -c "$CONF" --ctl build/gateway/ctl/onegatectl --url "$ISSUER") || { stop_all; exit 1; }

cat <<MSG

onegate is running.
  Operator portal      http://127.0.0.1:$ONEGATE_PORT/operator/
  Self-Service Portal  http://127.0.0.1:$ONEGATE_PORT/ssp/
  Health / metrics     http://127.0.0.1:$ONEGATE_PORT/-/ready   http://127.0.0.1:$ONEGATE_PORT/-/metrics
  Redis (AOF)          127.0.0.1:$REDIS_PORT, data in var/redis
  Config               $CONF   (edit, then: kill -HUP \$(cat var/run/onegate.pid))
  Logs                 var/log/
  Login page           http://127.0.0.1:$ONEGATE_PORT/-/login   (logout: /-/logout, who am I: /-/session)

Tokens: keys at $ISSUER/.well-known/jwks.json; each portal page shows the verified claims
of the JWT onegate forwarded to it (var/keys holds the signing key).

Demo accounts (plain HTTP on loopback only: the config allows non-Secure cookies here):
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
