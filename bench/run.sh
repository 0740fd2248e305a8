#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make bench: mod_ocsp_guard side by side with mod_ssl's own stapling
# (SSLUseStapling), mod_md (MDStapling + MDStapleOthers) and no stapling,
# one httpd per contender with identical TLS settings, all in one run so
# that only ratios are reported. Everything on 127.0.0.1 in a private
# network namespace (only lo): a throwaway PKI, a real `openssl ocsp`
# responder, and the test suite's fault responder in front of it.
#
# Scenarios
#   healthy   warm caches, each contender loaded alone in turn, ROUNDS
#             rounds, alternating; handshakes/s and the server's CPU per
#             handshake (the targets are judged on callgrind's instruction
#             counts, below: CPU time is noisy on a shared machine)
#   blackhole / refused / http500 / trylater (blackhole10: ten certificates)
#             all four under load at once; the fault starts at FAULT_AT s
#             and lasts to the end; responses are valid 60 s, so every
#             stapling contender has to refresh inside the outage (mod_ssl
#             with SSLStaplingStandardCacheTimeout 20, as its default hour
#             would not come round in a run)
#   restart   full restart of every contender with the responder down
#   cold      first start with the responder down and nothing saved
# then the handshake path under callgrind, 1,000 vhosts, shared-hosting
# scale (bench/scale.sh: start-up, time to all stapled, graceful restart,
# memory, a dead AIA responder with a mirror), and 10,000 certificates
# through the fetch engine.
# Results: bench/results/*.json, docs/benchmarks.md, docs/bench-*.png.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/netns.sh
. "$top/bench/netns.sh"
in_private_netns "make bench" "$0" "$@"
DURATION=${DURATION:-5}          # healthy: seconds per contender and round
ROUNDS=${ROUNDS:-3}              # healthy: rounds, alternating contenders
OUTAGE=${OUTAGE:-45}             # outage scenarios: seconds of load
FAULT_AT=${FAULT_AT:-10}         # ... the fault starts here
CONC=${CONC:-8}                  # healthy: connections at once
ONLY=${ONLY:-}                   # e.g. ONLY="healthy blackhole" for a part
work="$top/build/bench"
results="$top/bench/results"
rm -rf "$work"; mkdir -p "$work" "$results"
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
want() { [ -z "$ONLY" ] || [[ " $ONLY " == *" $1 "* ]]; }
log() { printf '\n== %s (%s)\n' "$*" "$(date +%T)"; }
trap 'for c in $CONTENDERS; do stop_contender $c; done' EXIT

make_pki
# ten more certificates, answered by the same responders (blackhole10)
mint_vhost_certs "$work/many" 10 "http://127.0.0.1:$FAULT_PORT/"
cat "$work/many/mint/index.txt" >> "$pki/index.txt"
start_ocsp "-nmin 1"
start_fault

start_all() {   # [outage]
    local c
    for c in $CONTENDERS; do
        rm -rf "${work:?}/$c"
        contender_conf "$c" "$(contender_extra "$c" "${1:-}")"
        start_contender "$c"
    done
    for c in modssl md guard; do wait_stapled "$c" 30; done
}
stop_all() { local c; for c in $CONTENDERS; do stop_contender "$c"; done; }

# --- healthy, warm -------------------------------------------------------
if want healthy; then
    log "healthy responder, warm caches: each contender alone, ${DURATION} s x $ROUNDS"
    start_all
    for ((round = 1; round <= ROUNDS; round++)); do
        for c in $CONTENDERS; do
            before=$(cpu_ticks "$c")
            "$top/bench/tls_load" --port "${PORT[$c]}" --sni "$SNI" \
                --concurrency "$CONC" --duration "$DURATION" > "$work/healthy-$c-$round.json"
            after=$(cpu_ticks "$c")
            echo "$((after - before))" > "$work/healthy-$c-$round.ticks"
        done
    done
    stop_all
    perl "$top/bench/report.pl" healthy "$work" "$(getconf CLK_TCK)" > "$results/healthy.json"
fi

# --- outages under load ----------------------------------------------------
outage() {   # scenario
    local s=$1 c pids=()
    log "$s from second $FAULT_AT of $OUTAGE, all contenders under load at once${MANY_CERTS:+, ${MANY_CERTS##*:} certificates each}"
    start_all outage
    for c in $CONTENDERS; do
        "$top/bench/tls_load" --port "${PORT[$c]}" --sni "$SNI" --concurrency 2 \
            --duration "$OUTAGE" --phase-at "$FAULT_AT" > "$work/$s-$c.json" &
        pids+=($!)
    done
    sleep "$FAULT_AT"
    case $s in
        refused) stop_fault ;;
        *) fault "${s%%[0-9]*}" ;;
    esac
    wait "${pids[@]}"
    stop_all
    [ "$s" = refused ] && start_fault
    fault relay
    perl "$top/bench/report.pl" outage "$work" "$s" > "$results/$s.json"
}
for s in blackhole refused http500 trylater; do
    want "$s" && outage "$s"
done
# mod_ssl with ten certificates: each comes due in turn and blocks
if want blackhole10; then
    MANY_CERTS="$work/many:10"
    SNI=$(seq -f 'v%g.scale.test' -s, 1 10)
    outage blackhole10
    unset MANY_CERTS
    SNI=faulty.test
fi

# --- starting with the responder down -------------------------------------
# First handshakes, one contender at a time with nothing else running (so
# that only the start-up is measured): FIRST_PROBES single handshakes each,
# mod_ssl last (its first one waits for the responder). Then all four under
# load at once for 15 s.
#   restart: a full restart; what each keeps on disk is kept (mod_md's
#            store, our state dir); a shmcb cache does not survive it
#   cold:    the same with nothing kept: a first start with the CA down
FIRST_PROBES=${FIRST_PROBES:-5}
start_down() {   # scenario
    local s=$1 c k pids=()
    log "$s with the responder down"
    start_all
    stop_all
    if [ "$s" = cold ]; then
        for c in $CONTENDERS; do rm -rf "${work:?}/$c/state/"* "${work:?}/$c/md/"*; done
    fi
    fault blackhole
    for c in $CONTENDERS; do start_contender "$c"; done
    sleep 1
    for c in nostaple md guard modssl; do
        for ((k = 1; k <= FIRST_PROBES; k++)); do
            "$top/bench/tls_load" --port "${PORT[$c]}" --sni "$SNI" --count 1 \
                --concurrency 1 --duration 30
        done > "$work/$s-$c.first"
    done
    for c in $CONTENDERS; do
        "$top/bench/tls_load" --port "${PORT[$c]}" --sni "$SNI" --concurrency 2 \
            --duration 15 > "$work/$s-$c.json" &
        pids+=($!)
    done
    wait "${pids[@]}"
    stop_all
    fault relay
    perl "$top/bench/report.pl" outage "$work" "$s" > "$results/$s.json"
}
want restart && start_down restart
want cold && start_down cold

if want callgrind; then
    log "the handshake path under callgrind"
    bash "$top/bench/callgrind.sh" "$work/callgrind" "$results/callgrind.json" || true
fi
if want vhosts; then
    log "1,000 vhosts, each with its own certificate"
    bash "$top/bench/scale_vhosts.sh" "$work/vhosts" "$results/vhosts.json" || true
fi
# shared-hosting scale: 100 and 1,000 vhosts (SCALE_10K=1: 10,000 too),
# with and without the module, and the dead-AIA + mirror scenario
if want scale; then
    log "shared-hosting scale: ${SCALE_VHOSTS:-100 1000${SCALE_10K:+ 10000}} vhosts"
    bash "$top/bench/scale.sh" "$work/scale" "$results/scale.json" || true
fi
if want fetch; then
    log "10,000 certificates through the fetch engine"
    bash "$top/bench/scale_fetch.sh" "$work/fetch" "$work/pki" "$results/fetch.json" || true
fi

kill "$fault_pid" "$ocsp_pid" 2>/dev/null || true
perl "$top/bench/report.pl" doc "$results" "$top/docs"
if [ -f "$results/scale.json" ]; then
    perl "$top/bench/scale_report.pl" "$results/scale.json" "$top/docs" \
        ${SCALE_BEFORE:+"$SCALE_BEFORE"}
fi
echo
cat "$top/docs/benchmarks.md"
