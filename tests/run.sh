#!/usr/bin/env bash
# tests/run.sh — the whole test suite, from a clean clone on a fresh Debian 12 machine:
# installs what is missing, builds twice (normal, ASan+UBSan), runs ctest on both, runs each
# libFuzzer target for a short bounded time, and prints one summary line.
#
# Environment: ONEGATE_SKIP_ASAN=1 skips the sanitizer build; FUZZ_SECONDS (default 20) per
# fuzz target; CTEST_ARGS passed to ctest (e.g. "-R e2e/test_proxy").
set -u -o pipefail
ONEGATE_ROOT=$(cd "$(dirname "$0")/.." && pwd)
export ONEGATE_ROOT
. "$ONEGATE_ROOT/deploy/lib/common.sh"
cd "$ONEGATE_ROOT"

og_install_missing $ONEGATE_BUILD_PKGS $ONEGATE_TEST_PKGS || exit 1
# Chromium drives tests/e2e/test_browser.py; that test skips with a message when it is absent.
og_install_missing chromium || og_log "chromium could not be installed: the browser test will skip"

passed=0 failed=0
declare -a failures=()

# run_ctest BUILD_DIR LABEL — runs ctest, adds its counts to the totals.
run_ctest() {
  local dir=$1 label=$2 log="$1/ctest.log"
  og_log "ctest ($label)"
  (cd "$dir" && ctest --output-on-failure -j 2 ${CTEST_ARGS:-}) 2>&1 | tee "$log"
  local p f
  p=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* Passed' "$log")
  f=$(grep -cE '^ *[0-9]+/[0-9]+ Test +#[0-9]+: .*(\*\*\*|Failed|Not Run|Timeout)' "$log")
  passed=$((passed + p)); failed=$((failed + f))
  [ "$f" -eq 0 ] || failures+=("$label: $(grep -E '^\s+[0-9]+ - ' "$log" | tr -s ' ' | tr '\n' ';')")
}

og_log "build (normal)"
og_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo || exit 1
run_ctest build normal

if [ -z "${ONEGATE_SKIP_ASAN:-}" ]; then
  og_log "build (ASan+UBSan)"
  og_build build-asan -DCMAKE_BUILD_TYPE=Debug -DONEGATE_ASAN=ON -DONEGATE_UBSAN=ON || exit 1
  ONEGATE_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 run_ctest build-asan asan+ubsan
fi

if command -v clang >/dev/null 2>&1; then
  og_log "build (libFuzzer, clang)"
  if CC=clang og_build build-fuzz -DCMAKE_BUILD_TYPE=Debug -DONEGATE_FUZZ=ON -DONEGATE_TESTS=ON; then
    for fz in build-fuzz/tests/fuzz_*; do
      [ -x "$fz" ] || continue
      name=$(basename "$fz")
      corpus="build-fuzz/corpus-$name"; mkdir -p "$corpus"
      seeds="tests/fuzz/corpus/${name#fuzz_}"
      og_log "fuzz $name for ${FUZZ_SECONDS:-20}s"
      if "$fz" -max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048 \
           "$corpus" $( [ -d "$seeds" ] && echo "$seeds" ) >"build-fuzz/$name.log" 2>&1; then
        passed=$((passed + 1))
      else
        failed=$((failed + 1)); failures+=("fuzz: $name (see build-fuzz/$name.log)")
        tail -30 "build-fuzz/$name.log"
      fi
    done
  else
    failed=$((failed + 1)); failures+=("fuzz build failed")
  fi
fi

for f in "${failures[@]}"; do og_log "FAILED $f"; done
echo "onegate: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
