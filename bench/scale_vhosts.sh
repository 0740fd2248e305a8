#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Scale: one httpd with VHOSTS (1,000) name-based TLS vhosts on one port,
# each with its own certificate, against one `openssl ocsp` responder
# (behind the fault responder, which logs every request it sees). Reports
# seconds from start until every certificate is stapled, responder
# requests per refresh round (must equal the certificates: one fetch per
# certificate for the whole server, never per child), a sample of vhosts
# checked from outside, and memory per certificate across all httpd
# processes (PSS with the module minus PSS without it).
#   scale_vhosts.sh WORKDIR RESULT.json     (run.sh has made WORKDIR/../pki)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1 result=$2
work=$(dirname "$dir")
N=${VHOSTS:-1000}
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
OCSP2=18960 FAULT2=18961 HTTPS=9460 STATUS=9461
rm -rf "$dir"; mkdir -p "$dir/certs"
pki="$work/pki"

# --- the certificates: one key, N certificates (distinct serials and names),
# minted in-process by bench/fetch_scale
mint_vhost_certs "$dir/certs" "$N" "http://127.0.0.1:$FAULT2/"

# --- responder: openssl ocsp for these certificates, the fault responder
# (relay) in front of it to count requests, responses valid one minute so
# a second round comes inside the run
( cd "$dir/certs/mint" && exec openssl ocsp -index index.txt -port $OCSP2 -rsigner "$pki/ocsp.crt" \
    -rkey "$pki/ocsp.key" -CA "$pki/intermediate.crt" -nmin 1 -multi 2 >"$dir/ocsp.log" 2>&1 ) &
ocsp2=$!
echo relay > "$dir/fault.mode"
perl "$top/t/bin/fault_responder.pl" --port $FAULT2 --mode-file "$dir/fault.mode" \
    --upstream $OCSP2 --dir "$dir" > "$dir/requests.log" 2>&1 &
fault2=$!
trap 'kill $ocsp2 $fault2 2>/dev/null || true; "$apache" -f "$dir/httpd.conf" -k stop 2>/dev/null || true' EXIT
wait_listening $OCSP2; wait_listening $FAULT2

conf() {   # with-module(0|1)
    {
        httpd_head "$dir" "$HTTPS" "$STATUS"
        if [ "$1" = 1 ]; then
            echo "LoadModule ocsp_guard_module $top/.libs/mod_ocsp_guard.so"
            echo "OCSPGuardStateDir $dir/state"
            echo "LogLevel warn ocsp_guard:info"
        fi
        echo "<VirtualHost 127.0.0.1:$STATUS>"
        [ "$1" = 1 ] && echo "    <Location /s>
        SetHandler ocsp-guard-status
    </Location>"
        echo "</VirtualHost>"
        vhosts_conf "$HTTPS" "$dir/certs" "$N"
    } > "$dir/httpd.conf"
    rm -rf "$dir/run" "$dir/logs" "$dir/state"
    mkdir -p "$dir/run" "$dir/logs" "$dir/state"
    chown -R "$user" "$dir"
}

# PSS (KB) of each process, parent first
pss_list() {
    local pid p
    pid=$(cat "$dir/run/httpd.pid")
    for p in $pid $(pgrep -P "$pid"); do
        awk '/^Pss:/ { printf "%s ", $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || true
    done
}
pss_kb() {
    local kb total=0
    for kb in $(pss_list); do total=$((total + kb)); done
    echo "$total"
}
processes() { echo $(( 1 + $(pgrep -c -P "$(cat "$dir/run/httpd.pid")") )); }
stop_httpd() {
    local pid
    pid=$(cat "$dir/run/httpd.pid" 2>/dev/null) || return 0
    "$apache" -f "$dir/httpd.conf" -k stop
    for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}
# Progress from the error log (OG00201: a response fetched, validated and
# stored), so that no child serves a large status page during the run and
# skews the memory figures; the status handler is read once at the end.
fetched() { grep -c 'OG00201' "$dir/logs/error_log" || true; }
status_dump() { curl -s "http://127.0.0.1:$STATUS/s" > "$dir/status.json" || true; }
count_fresh() {
    perl -MJSON::PP -0ne 'my $d = eval { decode_json($_) } or do { print 0; exit };
        print scalar grep { ($_->{state} // "") eq "fresh" } @{ $d->{certificates} }' "$dir/status.json"
}
requests() { grep -c ' relay ' "$dir/requests.log" || true; }

# --- without the module: the memory baseline
conf 0
"$apache" -f "$dir/httpd.conf" -k start
wait_httpd_ready "$dir/logs/error_log" "$dir/run/httpd.pid"
sleep 5
pss_without=$(pss_kb)
list_without=$(pss_list)
procs_without=$(processes)
stop_httpd

# --- with the module
conf 1
: > "$dir/requests.log"
t0=$(date +%s.%N)
"$apache" -f "$dir/httpd.conf" -k start
all_stapled=""
while :; do
    now=$(date +%s.%N)
    if [ "$(fetched)" -ge "$N" ]; then
        all_stapled=$(awk -v a="$now" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
        break
    fi
    awk -v a="$now" -v b="$t0" 'BEGIN { exit !(a - b > 120) }' && break
    sleep 0.25
done
round1=$(requests)
sleep 2
pss_with=$(pss_kb)
list_with=$(pss_list)
procs_with=$(processes)

# a sample of vhosts from outside: a real handshake each
sample=50 stapled=0
for i in $(shuf -i 1-"$N" -n $sample); do
    "$top/bench/tls_load" --port $HTTPS --sni "v$i.scale.test" --count 1 --concurrency 1 \
        --duration 5 | grep -q '"stapled_good":1' && stapled=$((stapled + 1))
done

# the second round: wait until every certificate was refreshed once
round2="" pss_after2=0 list_after2=""
if [ -n "$all_stapled" ]; then
    for _ in $(seq 480); do
        if [ "$(fetched)" -ge $((2 * N)) ]; then
            round2=$(( $(requests) - round1 ))
            sleep 2
            pss_after2=$(pss_kb)
            list_after2=$(pss_list)
            break
        fi
        sleep 0.25
    done
fi
status_dump
fresh=$(count_fresh)
stop_httpd

perl -MJSON::PP -e '
    my %r = (certificates => $ARGV[0] + 0,
             seconds_to_all_stapled => $ARGV[1] eq "" ? undef : $ARGV[1] + 0,
             requests_round1 => $ARGV[2] + 0,
             requests_round2 => $ARGV[3] eq "" ? undef : $ARGV[3] + 0,
             sample_size => $ARGV[4] + 0, sample_stapled => $ARGV[5] + 0,
             pss_kb_with => $ARGV[6] + 0, pss_kb_without => $ARGV[7] + 0,
             pss_kb_per_cert => ($ARGV[6] - $ARGV[7]) / $ARGV[0],
             fresh_in_status => $ARGV[12] + 0,
             pss_kb_after_round2 => $ARGV[13] + 0,
             pss_kb_per_cert_after_round2 => $ARGV[13] ? ($ARGV[13] - $ARGV[7]) / $ARGV[0] : undef,
             pss_kb_by_process_after_round2 => [split " ", $ARGV[14]],
             processes => $ARGV[8] + 0, processes_without => $ARGV[9] + 0,
             pss_kb_by_process_with => [split " ", $ARGV[10]],
             pss_kb_by_process_without => [split " ", $ARGV[11]]);
    print JSON::PP->new->canonical->pretty->encode(\%r);
' "$N" "$all_stapled" "$round1" "$round2" "$sample" "$stapled" "$pss_with" "$pss_without" \
    "$procs_with" "$procs_without" "$list_with" "$list_without" "$fresh" "$pss_after2" "$list_after2" > "$result"
cat "$result"
