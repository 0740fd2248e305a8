#!/usr/bin/env bash
# make demo: build the module, make a throwaway PKI, start a real `openssl
# ocsp` responder and an httpd with mod_ocsp_guard on loopback, show the
# stapled response, stop the responder, show the staple still served, then
# stop everything this script started.
#
# As root it re-runs itself in a private network namespace (only `lo`), so
# nothing it starts is reachable from, or reaches, any other address.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" = 0 ] && [ -z "${OG_DEMO_IN_NETNS:-}" ]; then
    exec env OG_DEMO_IN_NETNS=1 unshare -n -- bash -c 'ip link set lo up && exec bash "$0"' "$0"
fi

work="$top/build/demo"
rm -rf "$work"
mkdir -p "$work/logs" "$work/run"
port_https=8443
port_ocsp=18880
apache=$(command -v apache2 || command -v httpd)
moddir=$(apxs -q LIBEXECDIR)
module="$top/.libs/mod_ocsp_guard.so"

pids=()
cleanup() {
    [ -f "$work/run/httpd.pid" ] && "$apache" -f "$work/httpd.conf" -k stop 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

status_of() {   # the OCSP lines of `openssl s_client -status`
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$port_https" \
        -servername good.test -status 2>/dev/null \
        | sed -n '/^OCSP response/,/^---/p' \
        | grep -E 'OCSP response:|Response Status|Cert Status|This Update|Next Update|Responder Id' || true
}

listening() { ss -ltn "sport = :$1" | grep -q LISTEN; }

say "throwaway PKI (root, intermediate, OCSP signer, leaf good.test)"
bash "$top/t/pki/mkpki.sh" "$work/pki" >/dev/null
pki="$work/pki"
ls "$pki" | tr '\n' ' '; echo

say "real OCSP responder: openssl ocsp on 127.0.0.1:$port_ocsp (responses valid 2 minutes)"
( cd "$pki" && exec openssl ocsp -index index.txt -port "$port_ocsp" \
    -rsigner ocsp.crt -rkey ocsp.key -CA intermediate.crt -nmin 2 \
    >"$work/logs/ocsp.log" 2>&1 ) &
pids+=($!)
for _ in $(seq 50); do listening "$port_ocsp" && break; sleep 0.1; done

user=$(id -un)
[ "$user" = root ] && user=nobody
group=$(id -gn "$user")
chmod -R a+rX "$work"
chown "$user" "$work/logs" "$work/run"
cat > "$work/httpd.conf" <<CONF
ServerRoot $moddir/..
ServerName localhost
PidFile $work/run/httpd.pid
DefaultRuntimeDir $work/run
Mutex file:$work/run
ErrorLog $work/logs/error_log
LogLevel warn ocsp_guard:info
LoadModule mpm_event_module $moddir/mod_mpm_event.so
LoadModule authz_core_module $moddir/mod_authz_core.so
LoadModule socache_shmcb_module $moddir/mod_socache_shmcb.so
LoadModule ssl_module $moddir/mod_ssl.so
LoadModule ocsp_guard_module $module
User $user
Group $group
Listen 127.0.0.1:$port_https
# Refresh when 95% of the 2-minute validity is left: every few seconds, so
# the outage below is seen within the demo.
OCSPGuardRefreshWindow 95
OCSPGuardRetry 2 4
OCSPGuardTimeout 2
OCSPGuardStateDir $work/state
OCSPGuardEventLog $work/logs/events.json
LoadModule authz_host_module $moddir/mod_authz_host.so
Listen 127.0.0.1:8080
<VirtualHost 127.0.0.1:8080>
    <Location /ocsp-guard-status>
        SetHandler ocsp-guard-status
        Require ip 127.0.0.1
    </Location>
</VirtualHost>
<VirtualHost 127.0.0.1:$port_https>
    ServerName good.test
    SSLEngine on
    SSLCertificateFile $pki/good.chain.pem
    SSLCertificateKeyFile $pki/good.key
</VirtualHost>
CONF

say "httpd with mod_ocsp_guard (no SSLUseStapling, no SSLStaplingCache)"
"$apache" -f "$work/httpd.conf" -t
t0=$(date +%s.%N)
"$apache" -f "$work/httpd.conf" -k start
for _ in $(seq 100); do
    status_of | grep -q 'Cert Status: good' && break
    sleep 0.1
done
t1=$(date +%s.%N)
awk -v a="$t0" -v b="$t1" 'BEGIN { printf "first stapled handshake %.2f s after httpd start\n", b - a }'

say "openssl s_client -status: the stapled response"
status_of

say "stopping the OCSP responder (a CA outage)"
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
sleep 8
echo "error_log meanwhile:"
grep -E 'OG0020[34]' "$work/logs/error_log" | tail -3 | sed 's/^\[[^]]*\] //' | cut -c1-220

say "openssl s_client -status during the outage: still stapled"
status_of
s=$(date +%s.%N); status_of >/dev/null; e=$(date +%s.%N)
awk -v a="$s" -v b="$e" 'BEGIN { printf "handshake during the outage took %.3f s (no wait on the responder)\n", b - a }'

say "curl --cert-status during the outage"
curl -sS --cert-status --cacert "$pki/root.crt" --resolve "good.test:$port_https:127.0.0.1" \
    -o /dev/null -w 'curl: HTTP %{http_code}, certificate status verified\n' "https://good.test:$port_https/" \
    || echo "curl --cert-status failed"

say "the same outage, as an operator's monitoring sees it"
echo "event log ($work/logs/events.json), last events:"
tail -n 2 "$work/logs/events.json" | cut -c1-300
echo
echo "status handler (curl http://127.0.0.1:8080/ocsp-guard-status):"
curl -s http://127.0.0.1:8080/ocsp-guard-status | json_pp -json_opt pretty,canonical
echo
echo "metrics (?format=prometheus):"
curl -s 'http://127.0.0.1:8080/ocsp-guard-status?format=prometheus' | grep -v '^#' | head -n 6

say "done: stopping httpd"
