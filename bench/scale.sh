#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Shared-hosting scale: one httpd with N name-based TLS vhosts on one port,
# a certificate each from one CA, for N in SCALE_VHOSTS. Per N:
#   stapled    a first start with nothing saved, the responder behind a
#              relay that answers after SCALE_RTT ms: seconds from ready to
#              every certificate fetched, responder requests in the first
#              and the second round, memory per certificate after each,
#              SCALE_SAMPLE vhosts checked from outside (a handshake each)
#   ready      SCALE_ROUNDS starts without and with the module, alternated
#              (with: the state dir full of saved responses, as at any
#              restart; LogLevel warn for both): seconds from `httpd -k
#              start` to ready, then a graceful restart to ready again;
#              medians and ratios
#   mirror     (N = SCALE_MIRROR_N, 1,000) the certificates' own responder
#              blackholed, a working OCSPGuardMirror server-wide: seconds
#              from ready to every certificate fetched; then the responder
#              answers again: seconds until it is used again
# Ready means the error log's AH00489 ("resuming normal operations") of the
# final configuration pass: httpd listens during the first pass already.
# Runs alone as root (a private network namespace: bench/netns.sh) or from
# make bench (bench/run.sh).
#   scale.sh [WORKDIR [RESULT.json]]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/netns.sh
. "$top/bench/netns.sh"
in_private_netns "bench/scale.sh" "$0" "$@"
work=${1:-$top/build/bench/scale}
result=${2:-$top/bench/results/scale.json}
SCALE_VHOSTS=${SCALE_VHOSTS:-100 1000${SCALE_10K:+ 10000}}
SCALE_ROUNDS=${SCALE_ROUNDS:-3}
SCALE_RTT=${SCALE_RTT:-50}
SCALE_SAMPLE=${SCALE_SAMPLE:-100}
SCALE_MIRROR_N=${SCALE_MIRROR_N:-1000}     # 0: no mirror scenario
SCALE_RECOVERY_MAX=${SCALE_RECOVERY_MAX:-720}
SCALE_PHASES=${SCALE_PHASES:-stapled mirror ready}
phase() { [[ " $SCALE_PHASES " == *" $1 "* ]]; }
MODULE=${MODULE:-$top/.libs/mod_ocsp_guard.so}
mkdir -p "$work" "$(dirname "$result")"
work=$(cd "$work" && pwd)
pki=${pki:-$work/pki}
# shellcheck source=bench/lib.sh
. "$top/bench/lib.sh"
OCSP=18970 AIA=18971 MIRROR=18972 HTTPS=9470 STATUS=9471
[ -f "$pki/ocsp.crt" ] || make_pki
log() { printf '== scale: %s (%s)\n' "$*" "$(date +%T)" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.2f", a - b }'; }

# --- responders: openssl ocsp for the certificates of the current N, the
# fault responder (its AIA) in front of it, a second one as the mirror
ocsp_pid="" aia_pid="" mirror_pid=""
start_responders() {   # certdir validity-option
    stop_responders
    ( cd "$1/mint" && exec openssl ocsp -index index.txt -port $OCSP -rsigner "$pki/ocsp.crt" \
        -rkey "$pki/ocsp.key" -CA "$pki/intermediate.crt" $2 -multi 2 >"$work/ocsp.log" 2>&1 ) &
    ocsp_pid=$!
    perl "$top/t/bin/fault_responder.pl" --port $AIA --mode-file "$work/aia.mode" \
        --upstream $OCSP --dir "$work" --keep-alive >> "$work/aia.log" 2>&1 &
    aia_pid=$!
    perl "$top/t/bin/fault_responder.pl" --port $MIRROR --mode-file "$work/mirror.mode" \
        --upstream $OCSP --dir "$work" --keep-alive >> "$work/mirror.log" 2>&1 &
    mirror_pid=$!
    wait_listening $OCSP; wait_listening $AIA; wait_listening $MIRROR
}
stop_responders() {
    local p
    for p in $ocsp_pid $aia_pid $mirror_pid; do
        pkill -P "$p" 2>/dev/null || true     # openssl ocsp -multi: its workers
        kill "$p" 2>/dev/null || true
    done
    for p in $ocsp_pid $aia_pid $mirror_pid; do wait "$p" 2>/dev/null || true; done
    ocsp_pid="" aia_pid="" mirror_pid=""
    for _ in $(seq 50); do
        listening $OCSP || listening $AIA || listening $MIRROR || break
        sleep 0.1
    done
}

# --- one httpd: DIR/httpd.conf, DIR/logs, DIR/run, DIR/state
d=""
conf() {   # with-module(0|1) [extra server-wide line]
    {
        httpd_head "$d" "$HTTPS" "$STATUS"
        if [ "$1" = 1 ]; then
            echo "LoadModule ocsp_guard_module $MODULE"
            echo "OCSPGuardStateDir $d/state"
            echo "LogLevel ${loglevel:-warn ocsp_guard:info}"
            [ -n "${2:-}" ] && echo "$2"
        fi
        echo "<VirtualHost 127.0.0.1:$STATUS>"
        [ "$1" = 1 ] && echo "    <Location /s>
        SetHandler ocsp-guard-status
    </Location>"
        echo "</VirtualHost>"
        vhosts_conf "$HTTPS" "$d/certs" "$N"
    } > "$d/httpd.conf"
    rm -rf "$d/run" "$d/logs"
    mkdir -p "$d/run" "$d/logs" "$d/state"
    chown -R "$user" "$d/run" "$d/logs" "$d/state"
}
wait_ready() {   # count t0: seconds from t0 to the count-th AH00489
    wait_httpd_ready "$d/logs/error_log" "$d/run/httpd.pid" "$1" || return 1
    since "$2"
}
start_httpd() { "$apache" -f "$d/httpd.conf" -k start; }
stop_httpd() {
    local pid
    pid=$(cat "$d/run/httpd.pid" 2>/dev/null) || return 0
    "$apache" -f "$d/httpd.conf" -k stop 2>/dev/null || true
    for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    rm -f "$d/run/httpd.pid"
}
pss_kb() {   # all httpd processes, parent first
    local pid p total=0 kb
    pid=$(cat "$d/run/httpd.pid")
    for p in $pid $(pgrep -P "$pid"); do
        kb=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}
fetched() { grep -c 'OG00201' "$d/logs/error_log" 2>/dev/null || true; }
# certificates fetched per 5 s from the first fetch on (the error log's
# timestamps), to see the rate
fetch_progress() {
    grep 'OG00201' "$d/logs/error_log" 2>/dev/null | sed 's/^\[[A-Za-z]* [A-Za-z]* *[0-9]* \([0-9:]*\).*/\1/' \
        | awk -F: '{ t = $1 * 3600 + $2 * 60 + $3; if (!s) s = t; n[int((t - s) / 5)]++ }
                   END { for (i = 0; i in n; i++) printf "%d ", n[i] }'
}
fetched_from() { grep 'OG00201' "$d/logs/error_log" 2>/dev/null | grep -c "from $1" || true; }
requests() { grep -c ' relay' "$work/aia.log" 2>/dev/null || true; }
wait_fetched() {   # count t0 max-seconds: seconds from t0, or "" on time-out
    while :; do
        if [ "$(fetched)" -ge "$1" ]; then since "$2"; return 0; fi
        awk -v a="$(now)" -v b="$2" -v m="$3" 'BEGIN { exit !(a - b > m) }' && return 0
        sleep 0.2
    done
}
sample() {   # vhosts checked from outside, stapled good: "good/checked"
    local k=$SCALE_SAMPLE good=0 i
    [ "$k" -gt "$N" ] && k=$N
    for i in $(shuf -i 1-"$N" -n "$k"); do
        "$top/bench/tls_load" --port $HTTPS --sni "v$i.scale.test" --count 1 \
            --concurrency 1 --duration 10 | grep -q '"stapled_good":1' && good=$((good + 1))
    done
    echo "$good/$k"
}

declare -A R   # results, "N.key" => value
trap 'stop_httpd; stop_responders' EXIT

for N in $SCALE_VHOSTS; do
    d="$work/n$N"
    rm -rf "$d"; mkdir -p "$d/certs"
    log "$N vhosts: minting"
    mint_vhost_certs "$d/certs" "$N" "http://127.0.0.1:$AIA/"
    echo "relay:$SCALE_RTT" > "$work/aia.mode"
    echo "relay:$SCALE_RTT" > "$work/mirror.mode"
    : > "$work/aia.log"

    # --- stapled: a first start, nothing saved; responses valid a minute
    # so that the second round comes inside the run
    start_responders "$d/certs" "-nmin 1"
    if phase stapled; then
    log "$N vhosts: first start, nothing saved, responder ${SCALE_RTT} ms away"
    conf 1; rm -rf "${d:?}/state/"*
    t0=$(now); start_httpd
    R[$N.ready_cold]=$(wait_ready 1 "$t0")
    t1=$(now)
    R[$N.stapled_after_ready]=$(wait_fetched "$N" "$t1" 300)
    R[$N.requests_round1]=$(requests)
    sleep 2
    R[$N.pss_with]=$(pss_kb)
    R[$N.sample]=$(sample)
    round2=""
    if [ -n "${R[$N.stapled_after_ready]}" ]; then
        round2=$(wait_fetched $((2 * N)) "$t1" 300)
        [ -n "$round2" ] && R[$N.requests_round2]=$(( $(requests) - ${R[$N.requests_round1]} ))
        sleep 2
        R[$N.pss_with_round2]=$(pss_kb)
    fi
    R[$N.fetch_progress]=$(fetch_progress)
    stop_httpd
    fi

    # --- mirror: the AIA responder blackholed, a mirror server-wide
    if [ "$N" = "$SCALE_MIRROR_N" ] && phase mirror; then
        log "$N vhosts: AIA responder blackholed, OCSPGuardMirror answering"
        echo blackhole > "$work/aia.mode"
        : > "$work/mirror.log"
        conf 1 "OCSPGuardMirror http://127.0.0.1:$MIRROR/"; rm -rf "${d:?}/state/"*
        t0=$(now); start_httpd
        wait_ready 1 "$t0" > /dev/null
        t1=$(now)
        R[mirror.stapled_after_ready]=$(wait_fetched "$N" "$t1" 120)
        R[mirror.fetched]=$(fetched)
        R[mirror.via_mirror]=$(fetched_from "http://127.0.0.1:$MIRROR/")
        R[mirror.sample]=$(sample)
        # the AIA responder comes back
        sleep 5
        echo "relay:$SCALE_RTT" > "$work/aia.mode"
        t2=$(now) before=$(fetched_from "http://127.0.0.1:$AIA/")
        R[mirror.aia_down_for]=$(since "$t1")
        while :; do
            if [ "$(fetched_from "http://127.0.0.1:$AIA/")" -gt "$before" ]; then
                R[mirror.aia_used_again_after]=$(since "$t2"); break
            fi
            awk -v a="$(now)" -v b="$t2" -v m="$SCALE_RECOVERY_MAX" 'BEGIN { exit !(a - b > m) }' && break
            sleep 0.5
        done
        R[mirror.answers_again_logged]=$(grep -c 'OG00211' "$d/logs/error_log" || true)
        stop_httpd
        echo "relay:$SCALE_RTT" > "$work/aia.mode"
    fi

    # --- ready: saved responses valid a day, then starts alternated
    phase ready || { stop_responders; continue; }
    start_responders "$d/certs" "-ndays 1"
    echo relay > "$work/aia.mode"
    log "$N vhosts: filling the state dir"
    conf 1; rm -rf "${d:?}/state/"*
    t0=$(now); start_httpd
    wait_ready 1 "$t0" > /dev/null
    wait_fetched "$N" "$(now)" 300 > /dev/null
    stop_httpd
    # timed at the default LogLevel (warn) for both: at info the module
    # says one line per certificate
    for ((r = 1; r <= SCALE_ROUNDS; r++)); do
        for m in 0 1; do
            log "$N vhosts: round $r, module $m"
            loglevel=warn conf "$m"
            t0=$(now); start_httpd
            R[$N.ready.$m]+="$(wait_ready 1 "$t0") "
            if [ "$r" = 1 ] && [ "$m" = 0 ]; then
                sleep 3
                R[$N.pss_without]=$(pss_kb)
            fi
            t0=$(now); "$apache" -f "$d/httpd.conf" -k graceful
            R[$N.graceful.$m]+="$(wait_ready 2 "$t0") "
            stop_httpd
        done
    done
    # untimed: how many saved responses a start takes (OG00125, at info)
    conf 1
    t0=$(now); start_httpd
    wait_ready 1 "$t0" > /dev/null
    R[$N.saved_loaded]=$(grep -o 'OG00125: [0-9]*' "$d/logs/error_log" | tail -1 | awk '{ print $2 }')
    stop_httpd
    stop_responders
done

# --- the result
{
    for k in "${!R[@]}"; do printf '%s\t%s\n' "$k" "${R[$k]}"; done
} > "$work/raw.tsv"
perl -MJSON::PP -e '
    my (%r, %out);
    open my $fh, "<", $ARGV[0] or die;
    while (<$fh>) { chomp; my ($k, $v) = split /\t/, $_, 2; $r{$k} = $v }
    sub med { my @v = sort { $a <=> $b } grep { length } split " ", shift // "";
              return undef unless @v;
              @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2 }
    sub num { my $v = shift; defined $v && length $v ? $v + 0 : undef }
    my ($rtt, $rounds) = @ARGV[1, 2];
    for my $n (sort { $a <=> $b } map { /^(\d+)\.ready_cold$/ ? $1 : () } keys %r) {
        my %x = (vhosts => $n + 0);
        $x{ready_s_without} = [map { $_ + 0 } split " ", $r{"$n.ready.0"} // ""];
        $x{ready_s_with} = [map { $_ + 0 } split " ", $r{"$n.ready.1"} // ""];
        $x{graceful_s_without} = [map { $_ + 0 } split " ", $r{"$n.graceful.0"} // ""];
        $x{graceful_s_with} = [map { $_ + 0 } split " ", $r{"$n.graceful.1"} // ""];
        $x{ready_median_without} = med($r{"$n.ready.0"});
        $x{ready_median_with} = med($r{"$n.ready.1"});
        $x{graceful_median_without} = med($r{"$n.graceful.0"});
        $x{graceful_median_with} = med($r{"$n.graceful.1"});
        for my $w (qw(ready graceful)) {
            my @a = split " ", $r{"$n.$w.0"} // ""; my @b = split " ", $r{"$n.$w.1"} // "";
            my @q = map { $a[$_] > 0 ? $b[$_] / $a[$_] : () } 0 .. ($#a < $#b ? $#a : $#b);
            $x{"${w}_ratios"} = [map { sprintf("%.3f", $_) + 0 } @q];
            $x{"${w}_ratio_median"} = med(join " ", @q);
            $x{"${w}_ratio_of_medians"} = $x{"${w}_median_without"}
                ? $x{"${w}_median_with"} / $x{"${w}_median_without"} : undef;
        }
        $x{ready_cold_s} = num($r{"$n.ready_cold"});
        $x{stapled_after_ready_s} = num($r{"$n.stapled_after_ready"});
        $x{requests_round1} = num($r{"$n.requests_round1"});
        $x{requests_round2} = num($r{"$n.requests_round2"});
        $x{sample} = $r{"$n.sample"};
        $x{fetched_per_5s} = [map { $_ + 0 } split " ", $r{"$n.fetch_progress"} // ""];
        $x{saved_responses_loaded} = num($r{"$n.saved_loaded"});
        $x{pss_kb_without} = num($r{"$n.pss_without"});
        $x{pss_kb_with_round1} = num($r{"$n.pss_with"});
        $x{pss_kb_with_round2} = num($r{"$n.pss_with_round2"});
        for my $k (qw(round1 round2)) {
            my $w = $x{"pss_kb_with_$k"};
            $x{"kb_per_cert_$k"} = defined $w && $x{pss_kb_without}
                ? sprintf("%.2f", ($w - $x{pss_kb_without}) / $n) + 0 : undef;
        }
        push @{ $out{sizes} }, \%x;
    }
    if (exists $r{"mirror.fetched"}) {
        $out{mirror} = { map { my $v = $r{"mirror.$_"}; ($_ => ($v // "") =~ /^[\d.]+$/ ? $v + 0 : $v) }
                         qw(stapled_after_ready fetched via_mirror sample aia_down_for
                            aia_used_again_after answers_again_logged) };
        $out{mirror}{vhosts} = $ARGV[3] + 0;
    }
    $out{rtt_ms} = $rtt + 0; $out{rounds} = $rounds + 0;
    $out{cores} = $ARGV[4] + 0; $out{date} = scalar gmtime;
    $out{module} = $ARGV[5];
    print JSON::PP->new->canonical->pretty->encode(\%out);
' "$work/raw.tsv" "$SCALE_RTT" "$SCALE_ROUNDS" "$SCALE_MIRROR_N" "$(nproc)" "$MODULE" > "$result"
cat "$result"
