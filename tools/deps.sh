#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Install the Debian packages named on the command line that are missing,
# and only those. Used by `make deps` (test and demo), `make deps-deb`
# (building the .deb) and, through them, by `make test`, `make demo`,
# `make deb` and `make test-deb`.
#   - one dpkg-query for all the packages: fast when nothing is missing,
#     and then it does nothing at all (no apt-get, no network);
#   - says which packages it installs, then runs apt-get (as root);
#   - not Debian, or not root with packages missing: a clear message, exit 2.
# Usage: tools/deps.sh [--what "the tests"] PACKAGE...
set -euo pipefail

what="this target"
if [ "${1:-}" = --what ]; then
    what=$2
    shift 2
fi
[ "$#" -gt 0 ] || { echo "usage: tools/deps.sh [--what TEXT] PACKAGE..." >&2; exit 2; }

if [ ! -r /etc/debian_version ] || ! command -v dpkg-query >/dev/null; then
    echo "deps: this is not a Debian system (no /etc/debian_version or dpkg-query)." >&2
    echo "deps: install the equivalents of these Debian packages by hand: $*" >&2
    exit 2
fi

# One query for every package. Unknown names are reported on stderr and
# make dpkg-query exit 1: they count as missing.
declare -A installed=()
while read -r pkg state; do
    [ "$state" = installed ] && installed[$pkg]=1
done < <(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true)

missing=()
for p in "$@"; do
    [ -n "${installed[${p%%:*}]:-}" ] || missing+=("$p")
done
[ "${#missing[@]}" -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    echo "deps: $what needs these Debian packages, which are not installed:" >&2
    echo "deps:   ${missing[*]}" >&2
    echo "deps: run this again as root (sudo make ...), or install them yourself:" >&2
    echo "deps:   sudo apt-get install ${missing[*]}" >&2
    exit 2
fi

echo "deps: installing for $what (${#missing[@]} missing): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "deps: done"
