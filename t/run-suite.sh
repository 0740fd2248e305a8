#!/usr/bin/env bash
# Runs the Apache::Test suite the way `make test` needs it:
#  - in private network and PID namespaces (only lo; every process the
#    suite leaves behind dies with it), so that
#    every server the suite starts (httpd, openssl ocsp, the blackhole) is
#    loopback-only and fixed ports cannot clash with anything;
#  - as user nobody, because Apache::Test refuses to run as root;
#  - on a copy of t/ under build/test-run, owned by that user.
# Arguments are passed to t/TEST.PL (e.g. t/stapling.t, -verbose).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" != 0 ]; then
    echo "t/run-suite.sh needs root: it runs the suite in a private network" >&2
    echo "namespace (unshare -n) as user nobody. Run: sudo make test" >&2
    exit 2
fi
module="$top/.libs/mod_ocsp_guard.so"
[ -f "$module" ] || { echo "build the module first: make" >&2; exit 2; }

run="$top/build/test-run"
rm -rf "$run"
mkdir -p "$run"
cp -a "$top/t" "$run/t"
rm -rf "$run/t/unit" "$run/t/logs" "$run/t/pki/out"
cp "$module" "$run/t/mod_ocsp_guard.so"
user=${OG_TEST_USER:-nobody}
chown -R "$user" "$run"
# every parent must be traversable by the test user
d="$run"; while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done

export HOME="$run"
status=0
OG_USER="$user" unshare --net --pid --fork --mount-proc -- bash -c '
    set -e
    ip link set lo up
    cd "$1"
    shift
    exec runuser -u "$OG_USER" -- env HOME="$HOME" perl t/TEST.PL -apxs "$(command -v apxs)" "$@"
' _ "$run" "$@" || status=$?
if [ "$status" != 0 ]; then
    echo "---- last lines of $run/t/logs/error_log ----"
    tail -n 40 "$run/t/logs/error_log" 2>/dev/null || true
fi
echo "logs: $run/t/logs/error_log"
exit "$status"
