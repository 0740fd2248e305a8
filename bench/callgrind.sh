#!/usr/bin/env bash
# What the get_resp hook costs per handshake, in instructions: one httpd
# process (-X) with mod_ocsp_guard under valgrind's callgrind; after a
# warm-up (the staple fetched and copied into the process) the counters are
# zeroed, N full handshakes with status_request are made, and the profile
# is dumped. Sourced environment from run.sh: responders already running.
#   callgrind.sh WORKDIR RESULT.json
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1 result=$2
work=$(dirname "$dir")
HANDSHAKES=${HANDSHAKES:-300}
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
name=$(basename "$dir")
PORT[$name]=9450
rm -rf "$dir"
contender_conf "$name" "LoadModule ocsp_guard_module $top/.libs/mod_ocsp_guard.so
OCSPGuardStateDir $dir/state"
command -v valgrind >/dev/null || { echo "callgrind: valgrind is not installed" >&2; exit 1; }

cd "$dir"
# Count only inside connection processing (where the handshake runs, and
# our hook with it), so start-up and the fetcher thread stay out.
# as nobody from the start: the profile is written after httpd gives up root
timeout 600 runuser -u "$user" -- valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.out" \
    --toggle-collect=ap_run_process_connection --vgdb=no \
    "$apache" -X -f "$dir/httpd.conf" >"$dir/valgrind.log" 2>&1 &
vg=$!
trap 'kill -KILL $vg 2>/dev/null || true' EXIT
wait_listening 9450 600 || { echo "callgrind: httpd did not start" >&2; exit 1; }
# warm-up: the fetcher stores the response, this process copies it
warm=0
for _ in $(seq 120); do
    warm=$((warm + 1))
    timeout 60 "$top/bench/tls_load" --port 9450 --sni faulty.test --count 1 --concurrency 1 \
        --duration 30 | grep -q '"stapled_good":1' && break
    sleep 0.5
done
timeout 300 "$top/bench/tls_load" --port 9450 --sni faulty.test --count "$HANDSHAKES" \
    --concurrency 1 --duration 280 > "$dir/load.json"
kill -TERM "$vg"
for _ in $(seq 300); do kill -0 "$vg" 2>/dev/null || break; sleep 0.2; done

out="$dir/callgrind.out"
[ -s "$out" ] || { echo "callgrind: no profile written" >&2; exit 1; }
callgrind_annotate --inclusive=yes --threshold=100 "$out" > "$dir/inclusive.txt" 2>/dev/null
total=$(awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }' "$dir/inclusive.txt")
hook=$(awk '/:og_get_resp( |$)/ { gsub(",", "", $1); if ($1 + 0 > m) m = $1 + 0 } END { print m + 0 }' "$dir/inclusive.txt")
hs=$(perl -MJSON::PP -0ne 'print decode_json($_)->{handshakes}' "$dir/load.json")
stapled=$(perl -MJSON::PP -0ne 'print decode_json($_)->{stapled_good}' "$dir/load.json")
hs=$((hs + warm))
# the hook's callees, inclusively (mod_ssl's copy of the DER among them)
profile=$(callgrind_annotate --inclusive=yes --tree=both --threshold=100 "$out" 2>/dev/null \
    | awk '/\* .*og_get_resp/ {p=1} p && /^$/ {p=0} p && /[*>] /' | head -20 \
    | sed 's/^ *//; s/ \[[^]]*\]$//' | cut -c1-100 || true)
perl -MJSON::PP -e '
    my ($total, $hook, $hs, $stapled, $profile) = @ARGV;
    my $calls = $hs;   # every handshake asks for a staple: one hook call each (warm-up included)
    print JSON::PP->new->canonical->pretty->encode({
        handshakes => $hs + 0, stapled_good => $stapled + 0, hook_calls => $calls + 0,
        ir_total => $total + 0, ir_per_handshake => $hs ? $total / $hs : 0,
        hook_ir => $hook + 0, hook_ir_per_call => $calls ? $hook / $calls : 0,
        hook_share_pct => $total ? 100 * $hook / $total : 0,
        hook_profile => "$profile\n" });
' "${total:-0}" "${hook:-0}" "${hs:-0}" "${stapled:-0}" "$profile" > "$result"
cat "$result"
