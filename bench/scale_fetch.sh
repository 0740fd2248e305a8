#!/usr/bin/env bash
# Scale: CERTS (10,000) certificates through the fetch engine alone (the
# core in src/, driven by bench/fetch_scale), against one `openssl ocsp`
# responder on 127.0.0.1. Run at the engine's default parallelism (8, as
# the module fetches) and at 32; the responder's CPU per request (from
# /proc) gives its own ceiling, requests per second of responder CPU, to
# compare with.
#   scale_fetch.sh WORKDIR PKIDIR RESULT.json
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$1 pki=$2 result=$3
N=${CERTS:-10000}
PORT=18950
rm -rf "$dir"; mkdir -p "$dir"
listening() { ss -ltn "sport = :$1" | grep -q LISTEN; }

t0=$(date +%s.%N)
"$top/bench/fetch_scale" mint --count "$N" --ca-cert "$pki/intermediate.crt" \
    --ca-key "$pki/intermediate.key" --aia "http://127.0.0.1:$PORT/" --dir "$dir" >/dev/null
mint_s=$(awk -v a="$(date +%s.%N)" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')

# -multi 2: one responder process per core, as an operator would run it
( cd "$dir" && exec openssl ocsp -index index.txt -port $PORT -rsigner "$pki/ocsp.crt" \
    -rkey "$pki/ocsp.key" -CA "$pki/intermediate.crt" -ndays 1 -multi 2 >"$dir/ocsp.log" 2>&1 ) &
ocsp=$!
trap 'pkill -P $ocsp 2>/dev/null; kill $ocsp 2>/dev/null || true' EXIT
for _ in $(seq 100); do listening $PORT && break; sleep 0.1; done

# CPU ticks of the responder: the parent and its -multi children
responder_ticks() {
    local total=0 p
    for p in $ocsp $(pgrep -P $ocsp); do
        [ -r "/proc/$p/stat" ] || continue
        total=$((total + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13 + $14 + $15}')))
    done
    echo $total
}

runs=()
for parallel in 8 32; do
    before=$(responder_ticks)
    out=$("$top/bench/fetch_scale" fetch --certs "$dir/leaves.pem" --parallel $parallel) || true
    after=$(responder_ticks)
    runs+=("$out" "$((after - before))")
done
perl -MJSON::PP -e '
    my ($n, $mint_s, $tck, @r) = @ARGV;
    my @runs;
    while (my ($j, $ticks) = splice @r, 0, 2) {
        my $d = eval { decode_json($j) } || { error => "no result" };
        my $cpu = $ticks / $tck;
        $d->{responder_cpu_seconds} = $cpu;
        $d->{responder_cpu_ms_per_request} = $d->{certificates} ? 1000 * $cpu / $d->{certificates} : undef;
        # what the responder could serve with its 2 processes kept busy
        $d->{responder_ceiling_per_second} = $cpu ? 2 * $d->{certificates} / $cpu : undef;
        $d->{share_of_ceiling} = $d->{responder_ceiling_per_second}
            ? $d->{fetches_per_second} / $d->{responder_ceiling_per_second} : undef;
        push @runs, $d;
    }
    print JSON::PP->new->canonical->pretty->encode({
        certificates => $n + 0, mint_seconds => $mint_s + 0,
        within_60_s => (grep { ($_->{seconds} // 1e9) <= 60 && ($_->{good} // 0) == $n } @runs) ? JSON::PP::true : JSON::PP::false,
        runs => \@runs });
' "$N" "$mint_s" "$(getconf CLK_TCK)" "${runs[@]}" > "$result"
cat "$result"
