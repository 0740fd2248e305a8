#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The fleet, measured: N httpd servers (1, 3 and 5) sharing one cache, a
# real memcached and then a real Redis, all on 127.0.0.1 in a private
# network namespace; three certificates whose responses live 60 s and are
# refreshed when 95% of that is left; one real `openssl ocsp` responder
# behind t/bin/fault_responder.pl, which answers 50 ms late and logs each
# request. For each backend and N: the cache starts empty, the servers
# start and staple, then the responder's requests are counted for
# DURATION seconds (45), with the fleet's own counters from the status
# handler. Prints a Markdown table (docs/fleet.md has one).
#   bench/fleet.sh [DURATION]      as root
# MODULE=path/to/mod_ocsp_guard.so measures another build (an older one).
# BACKENDS="memcached redis" and COUNTS="1 3 5" choose what runs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/netns.sh
. "$top/bench/netns.sh"
in_private_netns "bench/fleet.sh" "$0" "$@"

DURATION=${1:-45}
MODULE=${MODULE:-$top/.libs/mod_ocsp_guard.so}
BACKENDS=${BACKENDS:-memcached redis}
COUNTS=${COUNTS:-1 3 5}
[ -f "$MODULE" ] || { echo "bench/fleet.sh: build the module first (make)" >&2; exit 1; }
[ -x "$top/bench/tls_load" ] || { echo "bench/fleet.sh: make bench/tls_load first" >&2; exit 1; }
work=$(mktemp -d /tmp/og-fleet.XXXXXX)
chmod 755 "$work"
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
CACHE_PORT=11411
NAMES=faulty.test,renewed.test,good.test

cache_pid=
start_cache() {   # backend
    if [ "$1" = memcached ]; then
        memcached -u nobody -l 127.0.0.1 -p $CACHE_PORT -U 0 -m 16 >/dev/null 2>&1 &
    else
        redis-server --bind 127.0.0.1 --port $CACHE_PORT --save '' --appendonly no \
            --dir "$work" >/dev/null 2>&1 &
    fi
    cache_pid=$!
    wait_listening $CACHE_PORT
}
stop_cache() {
    kill "$cache_pid" 2>/dev/null || true
    wait "$cache_pid" 2>/dev/null || true
    for _ in $(seq 50); do listening $CACHE_PORT || break; sleep 0.1; done
}

server_conf() {   # i provider
    local i=$1 dir="$work/s$1" port=$((9450 + $1)) sport=$((9470 + $1))
    rm -rf "$dir"
    mkdir -p "$dir/logs" "$dir/run" "$dir/state"
    chown -R "$user" "$dir"
    {
        httpd_head "$dir" "$port" "$sport"
        cat <<CONF
LogLevel warn ocsp_guard:info
LoadModule ocsp_guard_module $MODULE
LoadModule socache_$2_module $moddir/mod_socache_$2.so
OCSPGuardCache $2:127.0.0.1:$CACHE_PORT
OCSPGuardStateDir $dir/state
OCSPGuardRefreshWindow 95
<VirtualHost 127.0.0.1:$sport>
    <Location /s>
        SetHandler ocsp-guard-status
    </Location>
</VirtualHost>
CONF
        for leaf in faulty renewed good; do
            echo "<VirtualHost 127.0.0.1:$port>"
            echo "    ServerName $leaf.test"
            echo "    SSLEngine on"
            echo "    SSLCertificateFile $pki/$leaf.chain.pem"
            echo "    SSLCertificateKeyFile $pki/$leaf.key"
            # good.test's AIA is another responder: the relay first
            [ $leaf = good ] && echo "    OCSPGuardMirror first http://127.0.0.1:$FAULT_PORT/"
            echo "</VirtualHost>"
        done
    } > "$dir/httpd.conf"
}

all_stapled() {   # i
    local t
    for ((t = 0; t < 120; t++)); do
        "$top/bench/tls_load" --port $((9450 + $1)) --sni "$NAMES" --count 3 \
            --concurrency 1 --duration 60 | grep -q '"stapled_good":3,' && return 0
        sleep 0.25
    done
    echo "bench/fleet.sh: server $1 did not staple" >&2
    return 1
}

metric() {   # name n: the sum over servers 1..n
    local i sum=0 v
    for ((i = 1; i <= $2; i++)); do
        v=$(curl -s "http://127.0.0.1:$((9470 + i))/s?format=prometheus" \
            | sed -n "s/^ocsp_guard_shared_cache_$1{[^}]*} //p")
        sum=$((sum + ${v:-0}))
    done
    echo $sum
}

requests() { grep -c ' relay' "$work/fault.log" 2>/dev/null || echo 0; }

make_pki
start_ocsp "-nmin 1"
start_fault
fault relay:50
echo "| backend | servers | responder requests in ${DURATION} s | vs one server | leases won | leases lost | fetches saved |"
echo "|---|---|---|---|---|---|---|"
for backend in $BACKENDS; do
    provider=$([ "$backend" = memcached ] && echo memcache || echo redis)
    one=
    for n in $COUNTS; do
        start_cache "$backend"
        for ((i = 1; i <= n; i++)); do
            server_conf "$i" "$provider"
            "$apache" -f "$work/s$i/httpd.conf" -k start
        done
        for ((i = 1; i <= n; i++)); do all_stapled "$i"; done
        sleep 3   # past the start-up round
        won0=$(metric leases_won_total "$n"); lost0=$(metric leases_lost_total "$n")
        saved0=$(metric fetches_saved_total "$n")
        before=$(requests)
        sleep "$DURATION"
        count=$(( $(requests) - before ))
        won=$(( $(metric leases_won_total "$n") - won0 ))
        lost=$(( $(metric leases_lost_total "$n") - lost0 ))
        saved=$(( $(metric fetches_saved_total "$n") - saved0 ))
        one=${one:-$count}
        ratio=$(awk -v a="$count" -v b="$one" 'BEGIN { printf "%.2fx", b ? a / b : 0 }')
        echo "| $backend | $n | $count | $ratio | $won | $lost | $saved |"
        for ((i = 1; i <= n; i++)); do
            "$apache" -f "$work/s$i/httpd.conf" -k stop 2>/dev/null || true
        done
        for ((i = 1; i <= n; i++)); do
            for _ in $(seq 100); do listening $((9450 + i)) || break; sleep 0.1; done
        done
        stop_cache
    done
done
echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); logs in $work"
stop_fault
kill "$ocsp_pid" 2>/dev/null || true
