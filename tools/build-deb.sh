#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# make deb: build libapache2-mod-ocsp-guard_<version>_<arch>.deb with
# dpkg-buildpackage from a copy of the source tree under build/deb/ (the
# build never writes into the checkout, nor next to it), copy the .deb to
# the top of the checkout and run lintian on it (fails on lintian errors).
# Needs the packages of `make deps-deb`; no network.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

die() { echo "build-deb: $*" >&2; exit 1; }

pkg=$(dpkg-parsechangelog -l debian/changelog -S Source)
debver=$(dpkg-parsechangelog -l debian/changelog -S Version)
upver=${debver%-*}
modver=$(sed -n 's/^#define OG_MODULE_VERSION "\(.*\)"/\1/p' mod_ocsp_guard.h)
[ -n "$modver" ] || die "no OG_MODULE_VERSION in mod_ocsp_guard.h"
[ "$upver" = "$modver" ] || die "debian/changelog says $debver but mod_ocsp_guard.h's OG_MODULE_VERSION is $modver: add a changelog entry ($modver-1) with dch -v $modver-1"
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$pkg                         # one binary package, named as the source
debfile=${deb}_${debver}_${arch}.deb

out="$top/build/deb"
src="$out/$pkg-$upver"
rm -rf "$out"
mkdir -p "$src"
# The working tree as it is (uncommitted changes included), without build
# products or VCS data.
tar -C "$top" --exclude=./.git --exclude=./build --exclude=./.libs \
    --exclude='./*.deb' --exclude='*.o' --exclude='*.lo' --exclude='*.slo' \
    --exclude='*.la' --exclude=./ocsp-guard -cf - . | tar -C "$src" -xf -

echo "build-deb: dpkg-buildpackage in $src"
( cd "$src" && dpkg-buildpackage -b -us -uc ) > "$out/build.log" 2>&1 || {
    tail -n 40 "$out/build.log" >&2
    die "dpkg-buildpackage failed; the whole log: $out/build.log"
}
[ -f "$out/$debfile" ] || die "dpkg-buildpackage made no $debfile (see $out/build.log)"
cp "$out/$debfile" "$top/$debfile"
echo "build-deb: built $debfile"
dpkg-deb --info "$top/$debfile" | sed -n 's/^ \(Version\|Depends\|Installed-Size\):/  \1:/p'

echo "build-deb: lintian"
# Errors fail the build; warnings and info are shown. (lintian complains
# when run as root but works.)
set +e
lintian --info --display-info --fail-on error "$out/${pkg}_${debver}_${arch}.changes" 2>&1 \
    | grep -v '^running with root privileges is not recommended' | tee "$out/lintian.txt"
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || die "lintian reported errors (see above, or $out/lintian.txt)"
[ -s "$out/lintian.txt" ] || echo "build-deb: lintian: nothing to report"
echo "build-deb: $top/$debfile"
