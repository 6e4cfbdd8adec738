# deploy/lib/common.sh — shared by deploy/quickstart.sh, tests/run.sh and bench/*.sh:
# installing Debian packages that are missing and building onegate.
# Sourced, not run. Expects $ONEGATE_ROOT to point at the source tree.

# Packages needed to build and run onegate.
ONEGATE_BUILD_PKGS="build-essential cmake pkg-config libevent-dev libssl-dev libjwt-dev
  libhiredis-dev libhttp-parser-dev libjansson-dev libyaml-dev libsodium-dev redis-server
  python3 curl ca-certificates"
# Extra packages for the test suite (unit tests, fuzzing, interop, browser test).
ONEGATE_TEST_PKGS="check libsubunit-dev clang libclang-rt-14-dev python3-jwt
  python3-cryptography procps"
# Extra packages for the benchmarks.
ONEGATE_BENCH_PKGS="nginx-light wrk strace util-linux haproxy"

og_log() { printf '[onegate] %s\n' "$*" >&2; }

# og_install_missing PKG... — installs the packages dpkg does not report as installed.
# Runs `apt-get update` at most once per invocation, and only when something is missing.
og_install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    og_log "missing packages: ${missing[*]} — run as root or install them with apt-get"
    return 1
  fi
  og_log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [ -z "${OG_APT_UPDATED:-}" ]; then
    apt-get update -qq || return 1
    OG_APT_UPDATED=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
}

# og_build DIR [cmake args...] — configures (once) and builds onegate into DIR.
og_build() {
  local dir=$1; shift
  cmake -S "$ONEGATE_ROOT" -B "$dir" "$@" >/dev/null || return 1
  cmake --build "$dir" -j "$(nproc)" >"$dir/build.log" 2>&1 || { tail -50 "$dir/build.log"; return 1; }
}

# og_free_port — prints a TCP port on 127.0.0.1 that nothing listens on right now.
og_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
