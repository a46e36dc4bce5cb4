#!/usr/bin/env bash
# Run each libFuzzer harness of tests/fuzz for a bounded time, one after the other (one core).
#   tests/fuzz/run.sh SECONDS [HARNESS...]      (default: every harness)
# Builds build-fuzz (CC=clang, -DENT_FUZZ=ON) when needed. New coverage grows build-fuzz/corpus/<h>
# (seeded from tests/fuzz/corpus/<h> and regressions/<h>); a failing input is saved under
# build-fuzz/artifacts/<h>/ and the script exits 1: copy it to tests/fuzz/regressions/<h>/, fix the
# library, and the normal build's ctest replays it from then on. One summary line per harness:
# executions, coverage (libFuzzer's cov/ft) and the corpus size.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:?usage: tests/fuzz/run.sh SECONDS [HARNESS...]}
shift
harnesses=("$@")
B=${ENT_FUZZ_BUILD:-build-fuzz}

if [ ! -f "$B/CMakeCache.txt" ]; then
  CC=clang cmake -S . -B "$B" -DENT_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
fi
cmake --build "$B" -j"${ENT_FUZZ_JOBS:-2}" >/dev/null
if [ ${#harnesses[@]} -eq 0 ]; then
  harnesses=(schema entity_json record damaged keys load ops)
  [ -x "$B/tests/fuzz/fuzz_mirror" ] && harnesses+=(mirror) # built where libnats is found
  [ -x "$B/tests/fuzz/fuzz_http" ] && harnesses+=(http)     # built where libmicrohttpd is found
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
summary=()
for h in "${harnesses[@]}"; do
  corpus="$B/corpus/$h"
  art="$B/artifacts/$h"
  log="$B/logs/$h.log"
  mkdir -p "$corpus" "$art" "$B/logs"
  seeds=(tests/fuzz/corpus/"$h")
  [ -d tests/fuzz/regressions/"$h" ] && seeds+=(tests/fuzz/regressions/"$h")
  dict=()
  [ -f tests/fuzz/"$h".dict ] && dict=(-dict=tests/fuzz/"$h".dict)
  echo "== fuzz_$h for ${secs}s"
  rc=0
  "$B/tests/fuzz/fuzz_$h" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
  units=$(find "$corpus" -type f | wc -l)
  if [ "$rc" -ne 0 ]; then
    failed=1
    echo "   FAILED (exit $rc); the input is in $art/, the report at the end of $log:"
    grep -E 'ERROR|SUMMARY|property broken|runtime error|Test unit written' "$log" | head -8 | sed 's/^/   /'
  fi
  summary+=("$(printf '%-12s execs %-10s %-22s corpus %-5s %s' "$h" "${execs:-?}" "${cov:-cov: ?}" "$units" \
    "$([ "$rc" -eq 0 ] && echo ok || echo FAILED)")")
done
echo "== summary (${secs}s each)"
printf '%s\n' "${summary[@]}"
exit $failed
