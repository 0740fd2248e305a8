#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make test-browser: runs t/browser/browser.pl the way t/run-suite.sh runs
# the suite: in private network and PID namespaces (only lo: every server
# and the browser stay on loopback, and whatever is left dies with the
# namespace), as user nobody (Firefox should not run as root), on a copy of
# t/ under build/browser-run owned by that user.
# SCREENSHOTS=1 copies the screenshots into docs/.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" != 0 ]; then
    echo "t/browser/run.sh needs root: it runs in a private network namespace" >&2
    echo "(unshare -n) as user nobody. Run: sudo make test-browser" >&2
    exit 2
fi
module="$top/.libs/mod_ocsp_guard.so"
[ -f "$module" ] || { echo "build the module first: make" >&2; exit 2; }
for cmd in firefox-esr certutil openssl apxs; do
    command -v "$cmd" >/dev/null || { echo "$cmd missing: make test-browser installs it" >&2; exit 2; }
done

run="$top/build/browser-run"
rm -rf "$run"
mkdir -p "$run" "$run/shots"
cp -a "$top/t" "$run/t"
rm -rf "$run/t/unit" "$run/t/logs" "$run/t/pki/out" "$run/t/browser-work"
cp "$module" "$run/t/mod_ocsp_guard.so"
user=${OG_TEST_USER:-nobody}
chown -R "$user" "$run"
# every parent must be traversable by the test user
d="$run"; while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done

status=0
OG_USER="$user" HOME="$run" OG_SHOTS="$run/shots" \
unshare --net --pid --fork --mount-proc -- bash -c '
    set -e
    ip link set lo up
    cd "$1"
    exec runuser -u "$OG_USER" -- env HOME="$HOME" OG_SHOTS="$OG_SHOTS" \
        XDG_RUNTIME_DIR="$HOME" perl t/browser/browser.pl
' _ "$run" || status=$?

if [ -n "${SCREENSHOTS:-}" ] && [ "${SCREENSHOTS}" != 0 ]; then
    for f in "$run"/shots/*.png; do
        [ -f "$f" ] || continue
        cp "$f" "$top/docs/$(basename "$f")"
        echo "screenshot: docs/$(basename "$f")"
    done
fi
if [ "$status" != 0 ]; then
    for log in "$run"/t/browser-work/*/logs/error_log; do
        [ -f "$log" ] || continue
        echo "---- last lines of $log ----"
        tail -n 15 "$log"
    done
fi
echo "logs: $run/t/logs, $run/t/browser-work/*/logs"
exit "$status"
