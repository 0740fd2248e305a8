# SPDX-License-Identifier: Apache-2.0
# Sourced first by the scripts that start servers (make bench, make
# memcheck, scale_fetch.sh): run the caller again in private network and
# PID namespaces with only lo up, so that every server it starts is on
# loopback alone and dies with it. Once inside, the marker says so and
# nested scripts stay where they are.
#   in_private_netns WHAT "$0" "$@"      (WHAT names the caller in errors)
in_private_netns() {
    local what=$1
    shift
    [ -n "${OG_IN_PRIVATE_NETNS:-}" ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "$what needs root (a private network namespace; servers run as nobody)" >&2
        exit 1
    fi
    # shellcheck disable=SC2016  # expanded by the inner bash
    exec env OG_IN_PRIVATE_NETNS=1 unshare --net --pid --fork --mount-proc -- \
        bash -c 'ip link set lo up && exec bash "$0" "$@"' "$@"
}
