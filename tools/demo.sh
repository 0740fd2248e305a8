#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make demo: the same OCSP responder outage, twice, side by side.
#   left:  mod_ssl's own stapling (SSLUseStapling on, its defaults, and a
#          5 s SSLStaplingStandardCacheTimeout so that it refreshes within
#          the demo), httpd on 127.0.0.1:8443;
#   right: mod_ocsp_guard (loaded, nothing else), httpd on 127.0.0.1:9443.
# Both serve the same certificate, whose AIA points at a real `openssl ocsp`
# responder on 127.0.0.1:18880. The outage replaces the responder with a
# blackhole (accepts connections, never answers), the worst kind: it shows
# each side's handshake time, what each staples, what curl --cert-status
# makes of it and what each writes to its error log meanwhile; then the
# module's event log and status handler. About 30 seconds.
#
# As root it re-runs itself in a private network namespace (only `lo`), so
# nothing it starts is reachable from, or reaches, any other address.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" = 0 ] && [ -z "${OG_DEMO_IN_NETNS:-}" ]; then
    exec env OG_DEMO_IN_NETNS=1 unshare -n -- bash -c 'ip link set lo up && exec bash "$0"' "$0"
fi

work="$top/build/demo"
port_ocsp=18880          # the AIA URL of the certificate (t/pki/mkpki.sh)
port_modssl=8443
port_guard=9443
port_status=8080
apache=$(command -v apache2 || command -v httpd) || { echo "demo: no apache2/httpd: run make deps" >&2; exit 2; }
moddir=$(apxs -q LIBEXECDIR)
module="$top/.libs/mod_ocsp_guard.so"
[ -f "$module" ] || { echo "demo: build the module first: make" >&2; exit 2; }

rm -rf "$work"
mkdir -p "$work/logs" "$work/modssl/run" "$work/guard/run" "$work/htdocs"
echo "hello" > "$work/htdocs/index.html"

pids=()
cleanup() {
    for side in modssl guard; do
        [ -f "$work/$side/run/httpd.pid" ] && "$apache" -f "$work/$side/httpd.conf" -k stop 2>/dev/null || true
    done
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
listening() { ss -ltn "sport = :$1" | grep -q LISTEN; }
wait_listening() {   # port, 1 to wait for a listener, 0 for none
    for _ in $(seq 100); do
        if listening "$1"; then [ "$2" = 1 ] && return 0; else [ "$2" = 0 ] && return 0; fi
        sleep 0.05
    done
    return 1
}

# One handshake with status_request: its time goes to $hs_time, the OCSP
# part of `openssl s_client -status` to $hs_out.
handshake() {
    local s e
    s=$(date +%s.%N)
    hs_out=$(echo | timeout 30 openssl s_client -connect "127.0.0.1:$1" \
        -servername good.test -status 2>/dev/null | sed -n '/^OCSP response/,/^---/p') || true
    e=$(date +%s.%N)
    hs_time=$(awk -v a="$s" -v b="$e" 'BEGIN { printf "%.2f s", b - a }')
}
# What was stapled, in a few words, from $hs_out.
stapled() {
    local st cs nu
    st=$(sed -n 's/^ *OCSP Response Status: *//p' <<<"$hs_out" | head -n1)
    cs=$(sed -n 's/^ *Cert Status: *//p' <<<"$hs_out" | head -n1)
    nu=$(sed -n 's/^ *Next Update: *//p' <<<"$hs_out" | head -n1)
    nu=$(grep -oE '[0-9]{2}:[0-9]{2}:[0-9]{2}' <<<"$nu" || true)
    if grep -q 'no response sent' <<<"$hs_out"; then echo "nothing"
    elif [ -n "$cs" ]; then echo "$cs, valid until ${nu:-?}"
    elif grep -qi trylater <<<"$st"; then echo "$st, made up by mod_ssl"
    else echo "${st:-?}"; fi
}
curl_check() {
    local out
    if out=$(curl -sS --cert-status --cacert "$pki/root.crt" --max-time 30 \
            --resolve "good.test:$1:127.0.0.1" -o /dev/null -w 'HTTP %{http_code}' \
            "https://good.test:$1/index.html" 2>&1); then
        echo "staple verified, $out"
    else
        echo "fails: $(sed 's/^curl: ([0-9]*) //' <<<"$out" | head -n1)"
    fi
}
row() { printf '  %-20s %-50s %s\n' "$1" "$2" "$3"; }
log_size() { stat -c %s "$work/$1/error_log" 2>/dev/null || echo 0; }
log_since() {   # side, byte offset: the error_log lines written since
    tail -c "+$(($2 + 1))" "$work/$1/error_log" \
        | sed -E 's/^\[[^]]*\] //; s/\[pid [0-9]+(:tid [0-9]+)?\] //; s/\[(client|remote) [^]]*\] //' \
        | cut -c1-230 | awk '{ n[$0]++; if (n[$0] == 1) order[++k] = $0 }
            END { for (i = 1; i <= k && i <= 8; i++) print "    " order[i] (n[order[i]] > 1 ? "  (x" n[order[i]] ")" : "");
                  if (k > 8) print "    ... " k - 8 " more" }'
}

say "throwaway PKI and a real OCSP responder (openssl ocsp, 127.0.0.1:$port_ocsp, responses valid 2 min)"
pki="$work/pki"
bash "$top/t/pki/mkpki.sh" "$pki" >/dev/null 2>&1
( cd "$pki" && exec openssl ocsp -index index.txt -port "$port_ocsp" \
    -rsigner ocsp.crt -rkey ocsp.key -CA intermediate.crt -nmin 2 \
    >"$work/logs/ocsp.log" 2>&1 ) &
responder=$!
pids+=("$responder")
wait_listening "$port_ocsp" 1 || { echo "demo: openssl ocsp did not start" >&2; exit 1; }
echo "  leaf good.test, AIA http://127.0.0.1:$port_ocsp/"

user=$(id -un)
[ "$user" = root ] && user=nobody
group=$(id -gn "$user")
chmod -R a+rX "$work"
chown -R "$user" "$work/modssl" "$work/guard" "$work/logs"

conf_head() {   # side
    cat <<CONF
ServerRoot $moddir/..
ServerName localhost
PidFile $work/$1/run/httpd.pid
DefaultRuntimeDir $work/$1/run
Mutex file:$work/$1/run
ErrorLog $work/$1/error_log
User $user
Group $group
LoadModule mpm_event_module $moddir/mod_mpm_event.so
LoadModule authz_core_module $moddir/mod_authz_core.so
LoadModule authz_host_module $moddir/mod_authz_host.so
LoadModule socache_shmcb_module $moddir/mod_socache_shmcb.so
LoadModule ssl_module $moddir/mod_ssl.so
CONF
}
vhost() {   # port, extra lines
    cat <<CONF
Listen 127.0.0.1:$1
<VirtualHost 127.0.0.1:$1>
    ServerName good.test
    SSLEngine on
    SSLCertificateFile $pki/good.chain.pem
    SSLCertificateKeyFile $pki/good.key
    DocumentRoot $work/htdocs
$2
</VirtualHost>
CONF
}
{
    conf_head modssl
    echo "LogLevel warn"
    echo "SSLStaplingCache shmcb:$work/modssl/run/stapling(128000)"
    vhost "$port_modssl" "    SSLUseStapling on
    # mod_ssl's defaults otherwise: SSLStaplingResponderTimeout 10,
    # SSLStaplingFakeTryLater on, SSLStaplingErrorCacheTimeout 600
    SSLStaplingStandardCacheTimeout 5"
} > "$work/modssl/httpd.conf"
{
    conf_head guard
    cat <<CONF
LogLevel warn ocsp_guard:info
LoadModule ocsp_guard_module $module
# Only to see a refresh within the demo: refresh when 95% of the 2-minute
# validity is left (every few seconds), retry after 2 s, give up a fetch
# after 2 s. None of these can make a handshake wait.
OCSPGuardRefreshWindow 95
OCSPGuardRetry 2 4
OCSPGuardTimeout 2
OCSPGuardStateDir $work/guard/state
OCSPGuardEventLog $work/guard/events.json
Listen 127.0.0.1:$port_status
<VirtualHost 127.0.0.1:$port_status>
    <Location /ocsp-guard-status>
        SetHandler ocsp-guard-status
        Require ip 127.0.0.1
    </Location>
</VirtualHost>
CONF
    vhost "$port_guard" ""
} > "$work/guard/httpd.conf"

say "two httpd: mod_ssl stapling on :$port_modssl, mod_ocsp_guard on :$port_guard"
for side in modssl guard; do
    "$apache" -f "$work/$side/httpd.conf" -t 2>&1 | grep -v 'Syntax OK' || true
    "$apache" -f "$work/$side/httpd.conf" -k start
done
wait_listening "$port_modssl" 1 && wait_listening "$port_guard" 1 \
    || { echo "demo: httpd did not start; see $work/*/error_log" >&2; exit 1; }
# mod_ocsp_guard fetches in the background from start-up; mod_ssl fetches
# inside the first handshake that wants a staple.
for _ in $(seq 100); do
    handshake "$port_guard"
    grep -q 'Cert Status: good' <<<"$hs_out" && break
    sleep 0.1
done
handshake "$port_modssl"; ms_time=$hs_time; ms_staple=$(stapled)
handshake "$port_guard"; og_time=$hs_time; og_staple=$(stapled)
row "" "mod_ssl (SSLUseStapling on)" "mod_ocsp_guard"
row "handshake, healthy" "$ms_time" "$og_time"
row "stapled" "$ms_staple" "$og_staple"

say "outage: the responder is replaced by a blackhole (accepts, never answers)"
kill "$responder"; wait "$responder" 2>/dev/null || true
wait_listening "$port_ocsp" 0 || true
perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0],
                                  Listen => 64, ReuseAddr => 1) or die "blackhole: $!\n";
    my @held; while (my $c = $s->accept) { push @held, $c }' "$port_ocsp" &
pids+=($!)
wait_listening "$port_ocsp" 1 || { echo "demo: the blackhole did not start" >&2; exit 1; }
ms_off=$(log_size modssl); og_off=$(log_size guard)
echo "  waiting 6 s: mod_ssl's cached response (SSLStaplingStandardCacheTimeout 5) goes stale,"
echo "  mod_ocsp_guard's refresh comes due"
sleep 6
handshake "$port_guard"; og_time=$hs_time; og_staple=$(stapled)
echo "  a handshake to each (mod_ssl's can take its SSLStaplingResponderTimeout, 10 s) ..."
handshake "$port_modssl"; ms_time=$hs_time; ms_staple=$(stapled)
og_curl=$(curl_check "$port_guard")
ms_curl=$(curl_check "$port_modssl")
echo
row "" "mod_ssl (SSLUseStapling on)" "mod_ocsp_guard"
row "handshake, outage" "$ms_time" "$og_time"
row "stapled" "$ms_staple" "$og_staple"
row "curl --cert-status" "$ms_curl" "$og_curl"

say "error_log during the outage: mod_ssl"
log_since modssl "$ms_off"
say "error_log during the outage: mod_ocsp_guard"
log_since guard "$og_off"

say "what monitoring sees (mod_ocsp_guard)"
echo "  event log ($work/guard/events.json, JSON lines), the last event, main fields:"
tail -n 1 "$work/guard/events.json" | perl -MJSON::PP -ne '
    my $e = decode_json($_);
    print "    ", join(" ", map { "$_=" . ($e->{$_} // "-") }
        qw(event severity error_class ah count staple_state staple_expires_in_s)), "\n";'
echo "  status handler (http://127.0.0.1:$port_status/ocsp-guard-status), per certificate:"
curl -s "http://127.0.0.1:$port_status/ocsp-guard-status" | perl -MJSON::PP -0777 -ne '
    my $j = decode_json($_);
    for my $c (@{ $j->{certificates} }) {
        printf "    %s: %s, stapled by %s, %s, staple valid %s s more, %d failures in a row (%s), next attempt %s\n",
            $c->{subject}, $c->{state} // "-", $c->{stapled_by}, $c->{cert_status} // "-",
            $c->{staple_expires_in_s} // 0, $c->{consecutive_failures} // 0,
            $c->{last_error_class} // "-", $c->{next_attempt} // "-";
    }'
echo "  metrics (?format=prometheus):"
curl -s "http://127.0.0.1:$port_status/ocsp-guard-status?format=prometheus" | grep -v '^#' | head -n 5 \
    | sed -E 's/cert_id="([0-9a-f]{8})[0-9a-f]*",subject="[^"]*"/cert_id="\1..."/; s/^/    /'

say "done: stopping both httpd and the blackhole"
