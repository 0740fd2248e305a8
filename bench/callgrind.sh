#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The server's cost per handshake in instructions, which machine noise does
# not move: each contender in one httpd process (-X) under valgrind's
# callgrind, counting only inside connection processing (where the TLS
# handshake runs, and the stapling hooks with it; start-up and background
# fetchers stay out). After a warm-up until a handshake is stapled, N full
# handshakes with status_request. For mod_ocsp_guard, also what its
# get_resp hook costs per call. The responders of run.sh must be running.
#   callgrind.sh WORKDIR RESULT.json
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
base=$1 result=$2
HANDSHAKES=${HANDSHAKES:-300}
command -v valgrind >/dev/null || { echo "callgrind: valgrind is not installed" >&2; exit 1; }
mkdir -p "$base"
work=$base
pki=$(dirname "$base")/pki
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"

# one contender: writes $base/NAME/{load.json,inclusive.txt,profile.txt,warm}
profile() {   # name
    local c=$1 dir="$base/$1" vg warm=0 stapled='"stapled_good":1'
    PORT[$c]=9450
    rm -rf "$dir"
    contender_conf "$c" "$(contender_extra "$c")"
    [ "$c" = nostaple ] && stapled='"handshakes":1'
    # as nobody from the start: the profile is written after httpd gives up root
    ( cd "$dir" && exec timeout 600 runuser -u "$user" -- valgrind --tool=callgrind \
        --callgrind-out-file="$dir/callgrind.out" \
        --toggle-collect=ap_run_process_connection --vgdb=no \
        "$apache" -X -f "$dir/httpd.conf" >"$dir/valgrind.log" 2>&1 ) &
    vg=$!
    wait_listening 9450 600 || { echo "callgrind: $c did not start" >&2; kill $vg; return 1; }
    for _ in $(seq 60); do
        warm=$((warm + 1))
        timeout 60 "$top/bench/tls_load" --port 9450 --sni faulty.test --count 1 \
            --concurrency 1 --duration 30 | grep -q "$stapled" && break
        sleep 0.5
    done
    echo "$warm" > "$dir/warm"
    timeout 300 "$top/bench/tls_load" --port 9450 --sni faulty.test --count "$HANDSHAKES" \
        --concurrency 1 --duration 280 > "$dir/load.json"
    kill -TERM $vg    # timeout passes it on; httpd exits, callgrind writes
    wait $vg 2>/dev/null || true
    [ -s "$dir/callgrind.out" ] || { echo "callgrind: no profile for $c" >&2; return 1; }
    callgrind_annotate --inclusive=yes --threshold=100 "$dir/callgrind.out" \
        > "$dir/inclusive.txt" 2>/dev/null
    # our hook and what it calls (mod_ssl's copy of the DER among them)
    callgrind_annotate --inclusive=yes --tree=both --threshold=100 "$dir/callgrind.out" 2>/dev/null \
        | awk '/\* .*og_get_resp/ {p=1} p && /^$/ {p=0} p && /[*>] /' | head -20 \
        | sed 's/^ *//; s/ \[[^]]*\]$//' | cut -c1-100 > "$dir/profile.txt" || true
}

for c in nostaple modssl md guard; do
    profile "$c" || true
done

perl -MJSON::PP -e '
    my ($base) = @ARGV;
    sub slurp { open my $fh, "<", $_[0] or return ""; local $/; <$fh> }
    my %out;
    for my $c (qw(nostaple modssl md guard)) {
        my $inc = slurp("$base/$c/inclusive.txt") or next;
        my ($total) = $inc =~ /^\s*([\d,]+) \S+\s+PROGRAM TOTALS/m;
        my $hook = 0;
        while ($inc =~ /^\s*([\d,]+) .*:og_get_resp(?: |$)/mg) {
            (my $n = $1) =~ tr/,//d;
            $hook = $n if $n > $hook;
        }
        $total =~ tr/,//d if defined $total;
        my $load = eval { decode_json(slurp("$base/$c/load.json")) } || {};
        my $hs = ($load->{handshakes} // 0) + (slurp("$base/$c/warm") || 0);
        $out{$c} = { handshakes => $hs, stapled_good => $load->{stapled_good} // 0,
                     measured => $load->{handshakes} // 0,
                     ir_total => ($total // 0) + 0,
                     ir_per_handshake => $hs ? ($total // 0) / $hs : 0 };
        if ($c eq "guard") {
            # every handshake asks for a staple: one hook call each
            $out{$c}{hook_ir} = $hook;
            $out{$c}{hook_ir_per_call} = $hs ? $hook / $hs : 0;
            $out{$c}{hook_share_pct} = $total ? 100 * $hook / $total : 0;
            $out{$c}{hook_profile} = slurp("$base/$c/profile.txt");
        }
    }
    print JSON::PP->new->canonical->pretty->encode(\%out);
' "$base" > "$result"
cat "$result"
