#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make test-asan: the whole Apache::Test suite (t/run-suite.sh) against the
# module and the ocsp-guard command built with AddressSanitizer and
# UndefinedBehaviorSanitizer (make asan, build/asan/). Debian's httpd is not
# instrumented, so it runs through t/bin/httpd-asan, which preloads the
# runtimes the module was linked with. Every sanitized process writes its
# reports to a file of its own under build/asan/reports/; after the run
# this script symbolizes them, also scans every error_log of the run for
# sanitizer output, and fails on any report at all (as well as on a failed
# test). See docs/sanitizers.md.
#   Arguments go to t/TEST.PL (e.g. t/stress_replace.t).
#   OG_STRESS_SECONDS  length of t/stress_replace.t's load (default here 60)
#   OG_ASAN_RUN_DIR    where the suite runs (default build/test-run-asan)
#   OG_ASAN_EXTRA      more ASAN_OPTIONS, appended (e.g. symbolize=1)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
asan=$top/build/asan
module=$asan/mod_ocsp_guard.so
tool=$asan/ocsp-guard
for f in "$module" "$tool"; do
    [ -f "$f" ] || { echo "test-asan: $f missing: run make asan" >&2; exit 2; }
done
# the runtimes the build was linked with (gcc's or clang's), in that order
runtimes=$(ldd "$tool" | awk '$1 ~ /^lib(asan|ubsan|clang_rt)/ && $3 ~ /^\// { print $3 }')
preload=$(printf '%s\n' "$runtimes" | grep asan || true)
preload="$preload $(printf '%s\n' "$runtimes" | grep -v asan || true)"
preload=$(echo $preload)   # one line, single spaces
[ -n "$preload" ] || { echo "test-asan: no sanitizer runtime linked into $tool" >&2; exit 2; }
symbolizer=$(command -v llvm-symbolizer || ls /usr/bin/llvm-symbolizer-* 2>/dev/null | head -n1 || true)

reports=$asan/reports
# copies of the stderr of httpd and ocsp-guard (t/bin/httpd-asan,
# t/bin/ocsp-guard-asan): with gcc's runtimes UBSan reports only go there
stderr_dir=$asan/stderr
run=${OG_ASAN_RUN_DIR:-$top/build/test-run-asan}
rm -rf "$reports" "$stderr_dir"
mkdir -p "$reports" "$stderr_dir"
chown "${OG_TEST_USER:-nobody}" "$reports" "$stderr_dir"

# Reports are written unsymbolized (symbolize=0): a report is then out in
# full at once, with no symbolizer process to start, even in a process
# that is killed a moment later (a child at httpd's stop, the fetcher the
# restart test kills); this script symbolizes the frames afterwards.
common="log_exe_name=1:symbolize=0:print_summary=1"
asan_common="log_path=$reports/asan:$common:halt_on_error=1:fast_unwind_on_malloc=0:detect_stack_use_after_return=1${OG_ASAN_EXTRA:+:$OG_ASAN_EXTRA}"
# ocsp-guard is ours from main() to exit(): its leaks are reported.
export ASAN_OPTIONS="$asan_common:detect_leaks=1"
# httpd is not: its parent detaches by exiting without freeing what it
# set up (mod_ssl's and httpd's own start-up allocations are then reported
# as leaks, and LeakSanitizer's exit code makes the start fail). The
# module's memory is checked for leaks by make memcheck (valgrind).
# httpd also installs its own SIGSEGV/SIGBUS/SIGABRT handler (it dumps
# core and re-raises): a crash in a child would then be a bare "exit signal
# Segmentation fault" in the error_log, with no report. ASan keeps its own
# (allow_user_segv_handler=0), so a crash comes with its stack.
export OG_HTTPD_ASAN_OPTIONS="$asan_common:detect_leaks=0:allow_user_segv_handler=0:handle_abort=1"
export UBSAN_OPTIONS="log_path=$reports/ubsan:$common:print_stacktrace=1:halt_on_error=1"
export OG_ASAN_PRELOAD=$preload
export OG_HTTPD=$top/t/bin/httpd-asan
export OG_MODULE=$module OG_TOOL=$top/t/bin/ocsp-guard-asan OG_ASAN_TOOL=$tool
export OG_RUN_DIR=$run OG_SAN_STDERR_DIR=$stderr_dir
export OG_RESILIENCE_MD=$asan/resilience.md
export OG_STRESS_SECONDS=${OG_STRESS_SECONDS:-60}

echo "test-asan: LD_PRELOAD for httpd: $preload"
echo "test-asan: ASAN_OPTIONS=$ASAN_OPTIONS"
echo "test-asan: ASAN_OPTIONS for httpd=$OG_HTTPD_ASAN_OPTIONS"
echo "test-asan: UBSAN_OPTIONS=$UBSAN_OPTIONS"
t0=$(date +%s)
status=0
bash "$top/t/run-suite.sh" "$@" || status=$?
echo "test-asan: the suite took $(( $(date +%s) - t0 )) s (exit $status)"
# the run really had the sanitized module (t/run-suite.sh copies OG_MODULE)
if [ -f "$run/t/mod_ocsp_guard.so" ] && ! cmp -s "$module" "$run/t/mod_ocsp_guard.so"; then
    echo "test-asan: FAILED: the run did not use $module" >&2
    exit 1
fi
[ -f "$run/t/logs/stress_replace.txt" ] && sed 's/^/test-asan: stress: /' "$run/t/logs/stress_replace.txt"

# --- every report, symbolized ----------------------------------------------
# A frame printed with symbolize=0 reads "#3 0x7f... (/path/lib.so+0x1a2b)".
symbolize() {   # report file -> the same with function and file:line added
    local line obj off
    while IFS= read -r line; do
        if [[ $line =~ ^(\ *#[0-9]+\ 0x[0-9a-f]+)\ +\((/[^+]+)\+(0x[0-9a-f]+)\) ]] && [ -n "$symbolizer" ]; then
            obj=${BASH_REMATCH[2]} off=${BASH_REMATCH[3]}
            printf '%s in %s (%s+%s)\n' "${BASH_REMATCH[1]}" \
                "$("$symbolizer" --obj="$obj" --no-inlines "$off" 2>/dev/null \
                   | head -n2 | paste -sd' ')" "$obj" "$off"
        else
            printf '%s\n' "$line"
        fi
    done < "$1"
}

found=0
shopt -s nullglob
for f in "$reports"/*; do
    case $f in *.sym) continue ;; esac
    found=$((found + 1))
    symbolize "$f" > "$f.sym"
    echo "==== sanitizer report: $f (symbolized: $f.sym)"
    head -n 60 "$f.sym" || true
done
# Sanitizer output that went to a stderr instead ends up in an error_log
# or in the stderr copies: UBSan's reports (gcc's runtimes send them to
# stderr whatever log_path says, when ASan is there too), a process that
# could not open its log file, a runtime message before the options were
# read. Look there too.
pattern='ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|SUMMARY: [A-Za-z]+Sanitizer|runtime error: |==[0-9]+==(ERROR|WARNING)|ASan runtime does not come first'
while IFS= read -r f; do
    if grep -Eq "$pattern" "$f"; then
        found=$((found + 1))
        echo "==== sanitizer output in $f:"
        grep -En -A20 "$pattern" "$f" | head -n 60 || true
    fi
done < <(find "$run/t/logs" "$run/t/own" -type f \( -name '*error_log*' -o -name '*.log' \) 2>/dev/null
          find "$stderr_dir" -type f)

if [ "$found" -gt 0 ]; then
    echo "test-asan: FAILED: $found sanitizer report(s); reports in $reports"
    exit 1
fi
echo "test-asan: no sanitizer report (checked $reports and the run's error logs)"
exit "$status"
