#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs each fuzz target given (one at a time, niced: the machine is shared)
# for FUZZ_SECONDS with its corpus, after its regression inputs, then
# prints one table: executions, exec/s, libFuzzer's coverage (cov: edges,
# ft: features) and the corpus size. Exits non-zero when any target found a
# crash, a leak, a timeout or an invariant broken, or a regression input
# fails. Called by `make fuzz` and `make fuzz-smoke`.
#
# The committed seeds (fuzz/corpus/<t>) are copied into build/fuzz/corpus-<t>,
# where libFuzzer adds what it finds, so the repository stays small.
# Crashing inputs land in build/fuzz/artifacts/; keep each one that found a
# bug in fuzz/regress/<t>/ once it is fixed.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-300}
out=build/fuzz
mkdir -p "$out/artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=0
rows=()

for t in "$@"; do
    bin=$out/fuzz_$t
    log=$out/$t.log
    corpus=$out/corpus-$t
    result=ok
    mkdir -p "$corpus"
    [ -d "fuzz/corpus/$t" ] && cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null
    : > "$log"
    # every regression input, each run once: they must all pass, always
    regress=(fuzz/regress/"$t"/*)
    if [ -e "${regress[0]}" ]; then
        if ! nice -n 10 "$bin" "${regress[@]}" >> "$log" 2>&1; then
            result="REGRESSION"
        fi
    fi
    if [ "$result" = ok ]; then
        nice -n 10 "$bin" -max_total_time="$seconds" -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 \
            -artifact_prefix="$out/artifacts/$t-" "$corpus" >> "$log" 2>&1
        rc=$?
        if [ $rc -ne 0 ]; then
            result="FAILED ($(grep -m1 -oE 'ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer): [a-z-]+|runtime error|invariant broken' "$log" || echo "exit $rc"))"
        fi
    fi
    [ "$result" = ok ] || failed=1
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+[[:space:]].*cov: ' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$last")
    files=$(find "$corpus" -type f | wc -l)
    rows+=("$(printf '%-16s %12s %9s %6s %7s %7s  %s' "$t" "${execs:--}" "${rate:--}" "${cov:--}" "${ft:--}" "$files" "$result")")
    echo "fuzz: $t: $result (log $log)"
done

{
    echo
    echo "fuzzing, ${seconds}s per target ($(date -u +%Y-%m-%dT%H:%MZ))"
    printf '%-16s %12s %9s %6s %7s %7s  %s\n' target executions exec/s cov ft corpus result
    printf '%s\n' "${rows[@]}"
} | tee "$out/summary-${seconds}s.txt"
exit $failed
