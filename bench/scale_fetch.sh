#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Scale: CERTS (10,000) certificates through the fetch engine alone (the
# core in src/, driven by bench/fetch_scale), against one real `openssl
# ocsp` responder on 127.0.0.1. Two runs: at the engine's default
# parallelism (8, as the module fetches) and at 32, to see how much more
# the responder gives with more in flight. Around each run the responder's
# CPU seconds (its processes, from /proc) give its cost per request, and
# from that the rate its workers could sustain.
#   scale_fetch.sh WORKDIR PKIDIR RESULT.json
# PKIDIR is made by t/pki/mkpki.sh (intermediate.crt/.key, ocsp.crt/.key).
set -euo pipefail
if [ $# -ne 3 ]; then
    echo "usage: scale_fetch.sh WORKDIR PKIDIR RESULT.json" >&2
    exit 2
fi
top=$(cd "$(dirname "$0")/.." && pwd)

# openssl ocsp takes -port as a bare number (3.0: "Can't parse
# 127.0.0.1:PORT") and then listens on every address. Kept to loopback by
# a private network namespace with only lo, unless already in one (make
# bench runs everything in one).
if ip -o addr show | awk '$2 != "lo" { found = 1 } END { exit !found }'; then
    # shellcheck source=bench/netns.sh
    . "$top/bench/netns.sh"
    in_private_netns "scale_fetch.sh (openssl ocsp listens on every address)" "$0" "$@"
fi

dir=$(mkdir -p "$1" && cd "$1" && pwd)
pki=$(cd "$2" && pwd)
result=$3
N=${CERTS:-10000}
SCALE_PORT=18950
URL="http://127.0.0.1:$SCALE_PORT/"
bin="$top/bench/fetch_scale"
[ -x "$bin" ] || { echo "scale_fetch: build $bin first" >&2; exit 1; }
rm -rf "$dir/mint"; mkdir -p "$dir/mint"

load=$(cut -d' ' -f1 /proc/loadavg)   # the host's: others may be busy
work=$dir
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"                  # listening, proc_ticks

# --- the certificates
mint=$("$bin" mint --count "$N" --ca-cert "$pki/intermediate.crt" \
    --ca-key "$pki/intermediate.key" --aia "$URL" --dir "$dir/mint")

# --- the responder: -multi (3.0 and later) forks that many workers on the
# one listening socket; 2, one per core of this machine
multi=()
if openssl ocsp -help 2>&1 | grep -q -- '^ *-multi '; then
    multi=(-multi 2)
fi
listening $SCALE_PORT && { echo "scale_fetch: port $SCALE_PORT already in use" >&2; exit 1; }
( cd "$dir/mint" && exec openssl ocsp -index index.txt -port $SCALE_PORT \
    -rsigner "$pki/ocsp.crt" -rkey "$pki/ocsp.key" \
    -CA "$pki/intermediate.crt" -ndays 1 "${multi[@]}" \
    >"$dir/ocsp.log" 2>&1 ) &
ocsp=$!
# shellcheck disable=SC2317  # run by the trap
stop_responder() {
    # the workers by their ids too: the parent would end them on SIGTERM,
    # but not if it is already gone
    local kids
    kids=$(pgrep -P "$ocsp" 2>/dev/null || true)
    # shellcheck disable=SC2086
    kill "$ocsp" $kids 2>/dev/null || true
    wait "$ocsp" 2>/dev/null || true
}
trap stop_responder EXIT
# never a TCP probe: openssl ocsp spins on a connection that sends nothing
for ((i = 0; i < 100; i++)); do
    listening $SCALE_PORT && break
    kill -0 "$ocsp" 2>/dev/null || break
    sleep 0.1
done
if ! listening $SCALE_PORT; then
    echo "scale_fetch: openssl ocsp did not listen on $SCALE_PORT:" >&2
    cat "$dir/ocsp.log" >&2
    exit 1
fi
# the workers are forked after the bind: wait until they are all there
for ((i = 0; i < 50; i++)); do
    [ "$(pgrep -c -P "$ocsp" || true)" -ge "${multi[1]:-0}" ] && break
    sleep 0.1
done

responder_ticks() { proc_ticks "$ocsp"; }

runs=() rc=0
for parallel in 8 32; do
    if ! kill -0 "$ocsp" 2>/dev/null; then
        echo "scale_fetch: the responder died" >&2
        exit 1
    fi
    before=$(responder_ticks)
    out=$("$bin" fetch --certs "$dir/mint/leaves.pem" --url "$URL" \
        --parallel $parallel --timeout 10) || rc=1
    after=$(responder_ticks)
    [ -n "$out" ] || out='{}'
    runs+=("$out" "$((after - before))")
done

perl -MJSON::PP -e '
    my ($n, $mint, $tck, $procs, $cores, $load, @r) = @ARGV;
    my @runs;
    while (my ($json, $ticks) = splice @r, 0, 2) {
        my $d = eval { decode_json($json) } || {};
        my $cpu = $ticks / $tck;
        my $req = $d->{certificates} || 0;
        $d->{responder_cpu_seconds} = $cpu;
        $d->{responder_cpu_ms_per_request} = $req ? 1000 * $cpu / $req : undef;
        # what its workers could serve if each had a core of its own
        $d->{responder_cpu_bound_per_second} =
            $cpu > 0 ? int($procs * $req / $cpu) : undef;
        push @runs, $d;
    }
    my $good = !grep { ($_->{good} // -1) != $n } @runs;
    print JSON::PP->new->canonical->pretty->encode({
        certificates => $n + 0,
        mint_seconds => decode_json($mint)->{seconds},
        responder => {
            command => "openssl ocsp -ndays 1"
                       . ($procs > 1 ? " -multi $procs" : ""),
            processes => $procs + 0 },
        cores => $cores + 0,
        load_average_before => $load + 0,
        all_good => $good ? JSON::PP::true : JSON::PP::false,
        runs => \@runs });
' "$N" "$mint" "$(getconf CLK_TCK)" "${multi[1]:-1}" "$(nproc)" \
    "$load" "${runs[@]}" > "$result"
cat "$result"
exit $rc
