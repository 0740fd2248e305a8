#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make memcheck: mod_ocsp_guard in one httpd process (-X) under valgrind's
# memcheck while it works hard: a mirror that refuses first (every fetch
# fails over), refreshes every few seconds (OCSPGuardRefreshWindow 95 on
# one-minute responses), handshakes throughout, a stretch of HTTP 500 from
# the responder, then recovery. Fails on any memcheck error, on memory
# definitely lost, or when handshakes were not stapled. On 127.0.0.1 in a
# private network namespace, as root (httpd drops to nobody).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/netns.sh
. "$top/bench/netns.sh"
in_private_netns "make memcheck" "$0" "$@"
work="$top/build/memcheck"
rm -rf "$work"; mkdir -p "$work"
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
make_pki
start_ocsp "-nmin 1"
start_fault
PORT[guard]=9450
contender_conf guard "LoadModule ocsp_guard_module $top/.libs/mod_ocsp_guard.so
OCSPGuardStateDir $work/guard/state
OCSPGuardMirror first http://127.0.0.1:18899/
OCSPGuardRefreshWindow 95
OCSPGuardRetry 1 2
OCSPGuardEventLog $work/guard/logs/events.json"
log="$work/guard/memcheck.log"
( cd "$work/guard" && exec timeout 600 runuser -u "$user" -- valgrind --tool=memcheck \
    --leak-check=full --log-file="$log" "$apache" -X -f "$work/guard/httpd.conf" ) &
vg=$!
wait_listening 9450 600 || { echo "memcheck: httpd did not start" >&2; exit 1; }
sleep 3
stapled=0 total=0
for i in $(seq 40); do
    out=$("$top/bench/tls_load" --port 9450 --sni faulty.test --count 5 --concurrency 2 --duration 20)
    total=$((total + 5))
    stapled=$((stapled + $(grep -o '"stapled_good":[0-9]*' <<< "$out" | cut -d: -f2)))
    [ "$i" = 15 ] && fault http500
    [ "$i" = 25 ] && fault relay
    sleep 0.5
done
kill -TERM "$vg"
wait "$vg" 2>/dev/null || true
failovers=$(grep -c '"event":"failover"' "$work/guard/logs/events.json" || true)
errors=$(awk '/ERROR SUMMARY/ { print $4; exit }' "$log")
lost=$(awk '/definitely lost:/ { gsub(",", "", $4); print $4; exit }' "$log")
echo "memcheck: ${errors:-?} errors, ${lost:-0} bytes definitely lost;" \
     "$stapled/$total handshakes stapled good; $failovers failovers (log: $log)"
[ "${errors:-1}" = 0 ] && [ "${lost:-0}" = 0 ] && [ "$stapled" = "$total" ] \
    && [ "$failovers" -gt 0 ]
