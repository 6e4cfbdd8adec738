#!/usr/bin/env bash
# deploy/seed-demo.sh — seeds the quick start's demo people with onegatectl (idempotent: a
# person that exists already is left as it is, only its flags and roles are made right):
#   operator  — role operator, SSP access, caller   (can use both portals and file requests)
#   sspuser   — SSP access only, not a caller       (can browse the SSP, not file requests)
#   appmanager — role application_manager           (the admin API)
# Prints each login and password. Passwords come from the environment (SEED_PASSWORD_*) or
# are generated once and kept in $SEED_STATE_DIR (default ./var/seed) so reruns print the
# same ones.
# usage: deploy/seed-demo.sh -c CONFIG [--ctl PATH-TO-onegatectl]
set -euo pipefail
config= ctl=
while [ $# -gt 0 ]; do
  case $1 in
    -c|--config) config=$2; shift 2 ;;
    --ctl) ctl=$2; shift 2 ;;
    *) echo "usage: $0 -c CONFIG [--ctl onegatectl]" >&2; exit 2 ;;
  esac
done
[ -n "$config" ] || { echo "usage: $0 -c CONFIG [--ctl onegatectl]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -z "$ctl" ]; then
  for p in "$root/build/gateway/ctl/onegatectl" "$(command -v onegatectl || true)"; do
    [ -n "$p" ] && [ -x "$p" ] && { ctl=$p; break; }
  done
fi
[ -x "${ctl:-}" ] || { echo "seed-demo: onegatectl not found (build first or pass --ctl)" >&2; exit 1; }
state=${SEED_STATE_DIR:-$root/var/seed}
mkdir -p "$state" && chmod 700 "$state"

# password LOGIN — from SEED_PASSWORD_<LOGIN>, else the stored one, else a new random one.
password() {
  local var="SEED_PASSWORD_$(echo "$1" | tr '[:lower:]' '[:upper:]')" f="$state/$1.password"
  if [ -n "${!var:-}" ]; then printf '%s' "${!var}"; return; fi
  if [ ! -s "$f" ]; then
    (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(12))' > "$f")
  fi
  cat "$f"
}

# seed LOGIN NAME SSP CALLER ROLE...
seed() {
  local login=$1 name=$2 ssp=$3 caller=$4; shift 4
  local pw; pw=$(password "$login")
  if "$ctl" -c "$config" person get "$login" >/dev/null 2>&1; then
    printf '%s' "$pw" | "$ctl" -c "$config" person update "$login" --password-stdin >/dev/null
  else
    local args=(person add --login "$login" --name "$name" --password-stdin)
    for r in "$@"; do args+=(--role "$r"); done
    printf '%s' "$pw" | "$ctl" -c "$config" "${args[@]}" >/dev/null
  fi
  "$ctl" -c "$config" person set-flags "$login" --ssp "$ssp" --caller "$caller" >/dev/null
  for r in "$@"; do "$ctl" -c "$config" person grant "$login" "$r" >/dev/null 2>&1 || true; done
  printf '  %-11s %-22s password: %s\n' "$login" "($name)" "$pw"
}

echo "demo people (log in at the login page, then switch portals):"
seed operator "Olga Operator" on on operator
seed sspuser "Sam SSP-User" on off
seed appmanager "Alex AppManager" off off application_manager
