#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make test-deb: the Debian package, tested in this machine's own Debian
# apache2 (CI runs it as root on a throwaway Debian 12 machine):
#   1. build the .deb (tools/build-deb.sh) and install it with apt-get;
#      check the module is enabled and every file is where it should be;
#   2. a throwaway PKI (t/pki/mkpki.sh), a TLS vhost in
#      /etc/apache2/sites-available (a2enmod ssl, a2ensite);
#   3. in a private network namespace (only lo, so everything is
#      loopback-only) and PID namespace: a real `openssl ocsp` responder on
#      127.0.0.1:18880 (where the certificates' AIA points), then
#      `apache2ctl start`, a good staple seen by `curl --cert-status` and
#      `openssl s_client -status`, the saved response and the event log,
#      then `apache2ctl stop`;
#   4. purge the package: `apache2ctl configtest` still passes and every
#      file it made is gone;
#   5. put the machine back as it was (a2dissite, vhost removed, ssl and
#      socache_shmcb disabled again if they were, apache2's logs cut back to
#      their length) and check /etc/apache2, /var/lib/apache2 and
#      /var/log/apache2 are as they were before the test.
# Step 5 also runs on failure (trap). Safe to run twice in a row. Refuses to
# run when the package is already installed or apache2 is running.
set -euo pipefail

pkg=libapache2-mod-ocsp-guard
site=ocsp-guard-test
port_ocsp=18880          # the AIA URL of t/pki/mkpki.sh's certificates
port_https=443           # Debian's ports.conf listens there with mod_ssl
statedir=/var/lib/apache2/ocsp-guard
eventlog=/var/log/apache2/ocsp-guard-events.json

say() { printf '\n== test-deb: %s\n' "$*"; }
ok() { printf '   ok  %s\n' "$*"; }
fail() { printf '   FAIL %s\n' "$*" >&2; exit 1; }

listening() { ss -ltn "sport = :$1" | grep -q LISTEN; }

s_client() {     # the OCSP part of a handshake to good.test
    echo | timeout 10 openssl s_client -connect "127.0.0.1:$port_https" \
        -servername good.test -status -CAfile "$1/root.crt" \
        -verify_return_error 2>&1 || true
}

# --- step 3, inside the namespaces -----------------------------------------
if [ "${1:-}" = --inside ]; then
    work=$2
    pki=$work/pki
    ip link set lo up
    responder=
    stop_all() {
        if [ -f /run/apache2/apache2.pid ]; then
            apache2ctl stop >/dev/null 2>&1 || true
            for _ in $(seq 100); do [ -f /run/apache2/apache2.pid ] || break; sleep 0.1; done
        fi
        [ -z "$responder" ] || kill "$responder" 2>/dev/null || true
    }
    trap stop_all EXIT

    ( cd "$pki" && exec openssl ocsp -index index.txt -port "$port_ocsp" \
        -rsigner ocsp.crt -rkey ocsp.key -CA intermediate.crt -nmin 10 \
        >"$work/ocsp.log" 2>&1 ) &
    responder=$!
    for _ in $(seq 50); do listening "$port_ocsp" && break; sleep 0.1; done
    listening "$port_ocsp" || fail "openssl ocsp did not start (see $work/ocsp.log)"
    ok "openssl ocsp responder on 127.0.0.1:$port_ocsp (private network namespace)"

    apache2ctl start 2>&1 | grep -v AH00558 || true
    for _ in $(seq 100); do listening "$port_https" && break; sleep 0.1; done
    listening "$port_https" || fail "apache2 does not listen on $port_https (see /var/log/apache2/error.log)"
    ok "apache2ctl start: Debian's apache2 with the packaged module"

    out=
    for _ in $(seq 150); do
        out=$(s_client "$pki")
        grep -q 'Cert Status: good' <<<"$out" && break
        sleep 0.1
    done
    grep -q 'OCSP Response Status: successful' <<<"$out" \
        || { echo "$out" | sed -n '/OCSP/,/^---/p' >&2; fail "no OCSP response stapled within 15 s"; }
    grep -q 'Cert Status: good' <<<"$out" || fail "stapled response is not 'good'"
    grep -q 'Verify return code: 0 (ok)' <<<"$out" || fail "certificate chain not verified"
    ok "openssl s_client -status: $(grep -m1 'Cert Status' <<<"$out" | sed 's/^ *//'), $(grep -m1 'Next Update' <<<"$out" | sed 's/^ *//')"

    code=$(curl -sS --cert-status --cacert "$pki/root.crt" \
        --resolve "good.test:$port_https:127.0.0.1" -o /dev/null -w '%{http_code}' \
        "https://good.test:$port_https/") || fail "curl --cert-status failed"
    ok "curl --cert-status: staple verified (HTTP $code)"

    apache2ctl -M 2>/dev/null | grep -q ocsp_guard_module || fail "apache2ctl -M does not list ocsp_guard_module"
    if grep -rqiE '^[[:space:]]*SSLUseStapling[[:space:]]+on' /etc/apache2/; then
        ok "staple seen (SSLUseStapling is on somewhere in /etc/apache2, so mod_ssl may have made it)"
    else
        ok "staple made by mod_ocsp_guard (loaded; SSLUseStapling is off everywhere)"
    fi
    [ -n "$(ls -A "$statedir")" ] || fail "no response saved in $statedir"
    ok "response saved in $statedir"
    grep -q '"event":"fetch_ok"' "$eventlog" 2>/dev/null || fail "no fetch_ok event in $eventlog"
    ok "event log $eventlog: fetch_ok"

    stop_all
    trap - EXIT
    [ ! -f /run/apache2/apache2.pid ] || fail "apache2ctl stop did not stop apache2"
    ok "apache2ctl stop"
    exit 0
fi

# --- outside -----------------------------------------------------------------
[ "$(id -u)" = 0 ] || { echo "test-deb: needs root: it installs the package into this machine's apache2. Run: sudo make test-deb" >&2; exit 2; }
for c in apache2ctl a2enmod a2ensite dpkg-query apt-get unshare openssl curl ss; do
    command -v "$c" >/dev/null || { echo "test-deb: $c not found: run 'make deps deps-deb' (Debian, as root)" >&2; exit 2; }
done
top=$(cd "$(dirname "$0")/.." && pwd)
work=$top/build/test-deb

state_of() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || echo not-installed; }
st=$(state_of "$pkg")
if [ "$st" != not-installed ]; then
    echo "test-deb: $pkg is already on this machine ($st); this test installs and purges it." >&2
    echo "test-deb: remove it first: apt-get purge $pkg" >&2
    exit 2
fi
if [ -e "/etc/apache2/sites-available/$site.conf" ]; then
    echo "test-deb: /etc/apache2/sites-available/$site.conf exists (a test interrupted without cleanup?)." >&2
    echo "test-deb: remove it: a2dissite $site; rm /etc/apache2/sites-available/$site.conf" >&2
    exit 2
fi
if [ -f /run/apache2/apache2.pid ] && kill -0 "$(cat /run/apache2/apache2.pid)" 2>/dev/null; then
    echo "test-deb: apache2 is running; this test starts it itself. Stop it first." >&2
    exit 2
fi

rm -rf "$work"
mkdir -p "$work"

# What the test must leave as it found it.
snapshot() {
    {
        find /etc/apache2 /var/lib/apache2 \( -type f -o -type l -o -type d \) \
            -printf '%y %m %u:%g %p -> %l\n' | sort
        find /etc/apache2 -type f -exec md5sum {} + | sort -k2
        find /var/log/apache2 -type f -printf '%p %s\n' | sort
        find /etc/logrotate.d /usr/bin /usr/lib/apache2/modules -name '*ocsp*' | sort
    } > "$1"
}
snapshot "$work/before.txt"
declare -A logsize=()
while read -r f s; do logsize[$f]=$s; done < <(find /var/log/apache2 -type f -printf '%p %s\n')
mods_before=$(a2query -m 2>/dev/null | awk '{print $1}' | sort)
vardirs_before=$(find /var/lib/apache2 -type d | sort)
enabled_before() { grep -qx "$1" <<<"$mods_before"; }

# Installing and purging must not start or restart the machine's apache2
# outside the namespace: as in CI, a policy-rc.d forbids it meanwhile.
made_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\n# made by mod_ocsp_guard tools/test-deb.sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod 755 /usr/sbin/policy-rc.d
    made_policy=1
fi

restore() {
    local rc=$?
    set +e
    trap - EXIT
    say "restoring the machine"
    if [ "$(state_of "$pkg")" != not-installed ]; then
        apt-get purge -y -q "$pkg" >"$work/purge-on-exit.log" 2>&1
        echo "   purged $pkg"
    fi
    if [ -e "/etc/apache2/sites-enabled/$site.conf" ] || [ -e "/etc/apache2/sites-available/$site.conf" ]; then
        a2dissite -q -p "$site" >/dev/null 2>&1
        rm -f "/etc/apache2/sites-available/$site.conf"
        echo "   a2dissite $site, vhost removed"
    fi
    for m in ssl socache_shmcb; do
        if ! enabled_before "$m" && [ -e "/etc/apache2/mods-enabled/$m.load" ]; then
            a2dismod -q -p "$m" >/dev/null 2>&1 && echo "   a2dismod $m (it was not enabled)"
        fi
    done
    # a2enmod's state markers: directories it made and are empty again
    comm -13 <(echo "$vardirs_before") <(find /var/lib/apache2 -type d | sort) \
        | sort -r | while read -r d; do rmdir "$d" 2>/dev/null; done
    # apache2's logs back to their length before the test
    while read -r f; do
        if [ -n "${logsize[$f]:-}" ]; then truncate -s "${logsize[$f]}" "$f"; else rm -f "$f"; fi
    done < <(find /var/log/apache2 -type f)
    [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
    snapshot "$work/after.txt"
    if ! diff -u "$work/before.txt" "$work/after.txt" > "$work/restore.diff"; then
        echo "test-deb: the machine is not as it was before the test:" >&2
        cat "$work/restore.diff" >&2
        [ "$rc" != 0 ] || rc=1
    else
        echo "   /etc/apache2, /var/lib/apache2, /var/log/apache2 as before the test"
    fi
    if [ "$rc" = 0 ]; then say "PASS"; else say "FAILED (exit $rc)"; fi
    exit "$rc"
}
trap restore EXIT
trap 'exit 130' INT TERM

say "building the package"
bash "$top/tools/build-deb.sh" >"$work/build-deb.log" 2>&1 \
    || { tail -n 30 "$work/build-deb.log" >&2; fail "make deb failed (see $work/build-deb.log)"; }
grep -E '^[EW]: ' "$work/build-deb.log" | sed 's/^/   lintian /' || true
deb=$(ls "$top"/${pkg}_*.deb 2>/dev/null | sort -V | tail -n1)
[ -n "$deb" ] && [ -f "$deb" ] || fail "no ${pkg}_*.deb after make deb"
ok "$(basename "$deb")"

say "installing it with apt-get"
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$deb" \
    >"$work/install.log" 2>&1 || { tail -n 20 "$work/install.log" >&2; fail "apt-get install failed"; }
[ "$(state_of "$pkg")" = installed ] || fail "$pkg not installed"
ok "$pkg installed"
for f in /usr/lib/apache2/modules/mod_ocsp_guard.so /etc/apache2/mods-available/ocsp_guard.load \
         /etc/apache2/mods-available/ocsp_guard.conf /usr/bin/ocsp-guard \
         /usr/share/man/man1/ocsp-guard.1.gz /etc/logrotate.d/$pkg; do
    [ -e "$f" ] || fail "$f missing"
done
ok "module, a2enmod files, /usr/bin/ocsp-guard, its man page, logrotate file"
a2query -q -m ocsp_guard || fail "ocsp_guard not enabled after install"
ok "a2query: ocsp_guard enabled (with ssl: $(a2query -q -m ssl && echo yes || echo no))"
[ "$(stat -c '%U %a' "$statedir")" = "www-data 750" ] \
    || fail "$statedir is $(stat -c '%U:%G %a' "$statedir"), want www-data 0750"
ok "$statedir owned by www-data, mode 0750"
/usr/bin/ocsp-guard >/dev/null 2>&1 && fail "ocsp-guard without arguments should fail (usage)" || true
logrotate -d /etc/logrotate.d/$pkg >"$work/logrotate.log" 2>&1 \
    || { cat "$work/logrotate.log" >&2; fail "logrotate rejects /etc/logrotate.d/$pkg"; }
ok "logrotate -d accepts /etc/logrotate.d/$pkg"

say "a TLS vhost with a throwaway PKI"
bash "$top/t/pki/mkpki.sh" "$work/pki" >/dev/null 2>&1 || fail "t/pki/mkpki.sh failed"
a2enmod -q ssl
cat > "/etc/apache2/sites-available/$site.conf" <<CONF
# Made by mod_ocsp_guard's tools/test-deb.sh; removed when it ends.
<VirtualHost *:$port_https>
    ServerName good.test
    SSLEngine on
    SSLCertificateFile $work/pki/good.chain.pem
    SSLCertificateKeyFile $work/pki/good.key
</VirtualHost>
CONF
a2ensite -q "$site" >/dev/null
out=$(apache2ctl configtest 2>&1) || { echo "$out" >&2; fail "apache2ctl configtest fails with the vhost"; }
ok "a2enmod ssl, a2ensite $site, apache2ctl configtest: $(tail -n1 <<<"$out")"

say "apache2 in a private network namespace: stapling"
unshare --net --pid --fork --mount-proc -- bash "$0" --inside "$work"

say "purging the package"
apt-get purge -y -q "$pkg" >"$work/purge.log" 2>&1 || { tail -n 20 "$work/purge.log" >&2; fail "apt-get purge failed"; }
[ "$(state_of "$pkg")" = not-installed ] || fail "$pkg still known to dpkg after purge: $(state_of "$pkg")"
for f in /usr/lib/apache2/modules/mod_ocsp_guard.so /etc/apache2/mods-available/ocsp_guard.load \
         /etc/apache2/mods-available/ocsp_guard.conf /etc/apache2/mods-enabled/ocsp_guard.load \
         /etc/apache2/mods-enabled/ocsp_guard.conf /usr/bin/ocsp-guard \
         /usr/share/man/man1/ocsp-guard.1.gz "/etc/logrotate.d/$pkg" "$statedir" "$eventlog" \
         /usr/share/doc/$pkg; do
    [ ! -e "$f" ] && [ ! -L "$f" ] || fail "$f still there after purge"
done
left=$(find /var/lib/apache2 -name 'ocsp_guard*')
[ -z "$left" ] || fail "a2enmod state left after purge: $left"
ok "module disabled, its files, state dir and event log gone"
out=$(apache2ctl configtest 2>&1) || { echo "$out" >&2; fail "apache2ctl configtest fails after the purge"; }
ok "apache2ctl configtest: $(tail -n1 <<<"$out") without the module (the vhost still enabled)"
