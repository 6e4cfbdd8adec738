#!/usr/bin/env bash
# deploy/seed-demo.sh — seeds the quick start's demo people with onegatectl (idempotent: a
# person that exists already is left as it is, only its flags and roles are made right):
#   operator  — role operator, SSP access, caller   (can use both portals and file requests)
#   sspuser   — SSP access only, not a caller       (can browse the SSP, not file requests)
#   appmanager — role application_manager           (the admin API)
# and one API account (an integration, not a person):
#   demo-integration — scope incidents.read          (GET /api/... with a bearer token)
# Prints each login and password, the API account's client id (its secret stays in its
# file, mode 0600), and the curl
# commands that get a token and call the API at URL (default http://127.0.0.1:8080).
# Passwords come from the environment (SEED_PASSWORD_*) or are generated once; they and the
# API secret are kept in $SEED_STATE_DIR (default ./var/seed, mode 0700) so reruns print the
# same ones (a secret that was lost or no longer verifies is rotated).
# usage: deploy/seed-demo.sh -c CONFIG [--ctl PATH-TO-onegatectl] [--url URL]
set -euo pipefail
config= ctl= url=http://127.0.0.1:8080
while [ $# -gt 0 ]; do
  case $1 in
    -c|--config) config=$2; shift 2 ;;
    --ctl) ctl=$2; shift 2 ;;
    --url) url=$2; shift 2 ;;
    *) echo "usage: $0 -c CONFIG [--ctl onegatectl] [--url URL]" >&2; exit 2 ;;
  esac
done
[ -n "$config" ] || { echo "usage: $0 -c CONFIG [--ctl onegatectl] [--url URL]" >&2; exit 2; }
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

# api_account ID SCOPE... — creates the API account once; its secret is kept in $state/ID.secret.
api_account() {
  local id=$1; shift
  local f="$state/$id.secret" out= sc args=()
  for sc in "$@"; do args+=(--scope "$sc"); done
  if ! "$ctl" -c "$config" api-account get "$id" >/dev/null 2>&1; then
    out=$("$ctl" -c "$config" --json api-account create --client-id "$id" \
          --note "quick start demo integration" "${args[@]}")
  elif ! { [ -s "$f" ] && "$ctl" -c "$config" api-account verify "$id" <"$f" >/dev/null 2>&1; }; then
    out=$("$ctl" -c "$config" --json api-account rotate "$id")
  fi
  if [ -n "$out" ]; then
    (umask 077; printf '%s' "$out" |
       python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' >"$f")
  fi
  printf '  client_id: %-18s scopes: %-16s client_secret: in %s\n' "$id" "$*" "$f"
}

echo
echo "demo API account (OAuth2 client credentials):"
api_account demo-integration incidents.read
cat <<MSG
  get a token, then call the API with it:
    TOKEN=\$(curl -s -u "demo-integration:\$(cat $state/demo-integration.secret)" \\
            -d grant_type=client_credentials $url/oauth/token |
            python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -s -H "Authorization: Bearer \$TOKEN" $url/api/incidents
MSG
