#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The README's two commands on a fresh Debian 12, as a newcomer runs them:
#   1. debootstrap bookworm into ROOT (default /work/fresh-root);
#   2. in it, as root: apt-get install make gcc git (nothing else,
#      --no-install-recommends), git clone -b BRANCH of this checkout
#      (the branch as committed), then `make demo`, then `make test`, with
#      nothing else typed; each one's time and log are kept in
#      build/fresh-root-check/ of this checkout;
#   3. every mount undone, checked, and ROOT deleted.
# Like Debian's container images and CI, the root has a policy-rc.d that
# keeps package installs from starting daemons (apache2, squid, memcached,
# redis-server would otherwise start on this machine's network). Everything runs in a
# private mount and PID namespace: the mounts are never visible outside it,
# and no process outlives the check.
# Usage (as root): tools/fresh-root-check.sh [--keep] [ROOT]
#   --keep  leave ROOT in place (still unmounted) to look at it
# About 15 minutes: debootstrap, the packages make deps installs, make test.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
keep=
if [ "${1:-}" = --keep ]; then keep=1; shift; fi
root=${1:-/work/fresh-root}
suite=bookworm
mirror=http://deb.debian.org/debian
out=$top/build/fresh-root-check

log() { printf '== fresh-root: %s\n' "$*"; }
die() { printf 'fresh-root: %s\n' "$*" >&2; exit 1; }
mounts_under() { findmnt -rn -o TARGET | awk -v r="$root" '$0 == r || index($0, r "/") == 1' | sort -r; }

# --- inside the private mount and PID namespace -----------------------------
if [ "${1:-}" = --inside ] || [ -n "${OG_FRESH_INSIDE:-}" ]; then
    branch=$OG_FRESH_BRANCH
    gitdir=$OG_FRESH_GITDIR
    umount_all() {
        local m
        for m in $(mounts_under); do umount -l "$m" 2>/dev/null || true; done
    }
    trap umount_all EXIT

    log "debootstrap $suite $root $mirror"
    s=$(date +%s)
    debootstrap "$suite" "$root" "$mirror" >"$out/debootstrap.log" 2>&1 \
        || { tail -n 20 "$out/debootstrap.log" >&2; die "debootstrap failed (see $out/debootstrap.log)"; }
    echo "debootstrap $(( $(date +%s) - s )) s" >> "$out/times.txt"

    # A machine: / is a mount point (unshare --mount, as make test uses it,
    # fails with EINVAL in a plain chroot directory), its kernel file
    # systems, its DNS, no daemons started by package installs (as in
    # Debian's container images).
    mount --bind "$root" "$root"
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount --rbind /dev "$root/dev"
    cp -L /etc/resolv.conf "$root/etc/resolv.conf"
    printf '#!/bin/sh\n# as in Debian container images: no daemon starts on install\nexit 101\n' \
        > "$root/usr/sbin/policy-rc.d"
    chmod 755 "$root/usr/sbin/policy-rc.d"
    # This checkout's repository, read-only, where git finds it.
    for d in "$top" "$gitdir"; do
        mkdir -p "$root$d"
        mount --bind "$d" "$root$d"
        mount -o remount,bind,ro "$root$d"
    done

    in_root() {
        chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
            PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            bash -c "$1"
    }
    log "apt-get install make gcc git (nothing else)"
    in_root 'set -e; export DEBIAN_FRONTEND=noninteractive; apt-get update -q;
             apt-get install -y -q --no-install-recommends make gcc git ca-certificates' \
        >"$out/apt-newcomer.log" 2>&1 || { tail -n 20 "$out/apt-newcomer.log" >&2; die "apt-get install failed"; }
    log "git clone -b $branch $top /root/mod_ocsp_guard"
    in_root "git clone -q -b '$branch' '$top' /root/mod_ocsp_guard && git -C /root/mod_ocsp_guard log --format='cloned %h %s' -1" \
        | cut -c1-100 | tee -a "$out/times.txt"

    status=0
    for target in demo test; do
        log "make $target (log: $out/$target.log)"
        s=$(date +%s)
        rc=0
        in_root "cd /root/mod_ocsp_guard && make $target" >"$out/$target.log" 2>&1 || rc=$?
        t=$(( $(date +%s) - s ))
        echo "make $target: exit $rc, $t s ($(( t / 60 )) min $(( t % 60 )) s)" | tee -a "$out/times.txt"
        if [ "$rc" != 0 ]; then
            tail -n 30 "$out/$target.log" >&2
            status=1
        fi
    done
    umount_all
    trap - EXIT
    exit "$status"
fi

# --- outside ------------------------------------------------------------------
[ "$(id -u)" = 0 ] || { echo "fresh-root: needs root (debootstrap, chroot, mounts). Run: sudo $0" >&2; exit 2; }
case "$root" in
    /|/work|/work/|/home|/usr|/var|/etc|"$top"|"$top"/*) die "refusing to use $root as the fresh root" ;;
esac
git -C "$top" rev-parse --git-dir >/dev/null 2>&1 || die "$top is not a git checkout: the check clones its branch"
branch=$(git -C "$top" rev-parse --abbrev-ref HEAD)
gitdir=$(cd "$top" && cd "$(git rev-parse --git-common-dir)" && pwd)
[ -z "$(git -C "$top" status --porcelain --untracked-files=no)" ] \
    || log "note: uncommitted changes in $top are not in the check (it clones $branch as committed)"
bash "$top/tools/deps.sh" --what "the fresh-root check" debootstrap util-linux

cleanup() {
    local rc=$? left
    set +e
    left=$(mounts_under)
    if [ -n "$left" ]; then
        log "unmounting what is left: $left"
        for m in $left; do umount -l "$m"; done
        left=$(mounts_under)
    fi
    if [ -n "$left" ]; then
        echo "fresh-root: still mounted, $root NOT deleted: $left" >&2
        [ "$rc" != 0 ] || rc=1
    elif [ -n "$keep" ]; then
        log "kept $root (nothing mounted)"
    elif [ -d "$root" ]; then
        rm -rf --one-file-system "$root" && log "removed $root (nothing was mounted under it)"
    fi
    [ -f "$out/times.txt" ] && { log "times:"; sed 's/^/   /' "$out/times.txt"; }
    exit "$rc"
}

if [ -e "$root" ]; then
    [ -z "$(mounts_under)" ] || die "$root has mounts (a check still running?): $(mounts_under | tr '\n' ' ')"
    log "removing the previous $root"
    rm -rf --one-file-system "$root"
fi
rm -rf "$out"
mkdir -p "$out"
trap cleanup EXIT
trap 'exit 130' INT TERM

OG_FRESH_INSIDE=1 OG_FRESH_BRANCH=$branch OG_FRESH_GITDIR=$gitdir \
    unshare --mount --pid --fork --propagation private -- bash "$0" ${keep:+--keep} "$root"
