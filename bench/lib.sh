# SPDX-License-Identifier: Apache-2.0
# Shared by the bench scripts (sourced): the throwaway PKI, the responders
# and the contenders, all on 127.0.0.1 inside a private network namespace.
# Expects: top (the checkout) and work (a scratch dir) set by the caller;
# pki (the throwaway PKI) defaults to $work/pki.

pki=${pki:-$work/pki}
apache=$(command -v apache2 || command -v httpd)
moddir=$(apxs -q LIBEXECDIR)
user=nobody
group=$(id -gn nobody)

OCSP_PORT=18884        # openssl ocsp, responses valid one minute
FAULT_PORT=18890       # t/bin/fault_responder.pl, the AIA of faulty.test
CONTENDERS="nostaple modssl md guard"
SNI=faulty.test        # the vhost(s) the load asks for, comma-separated
declare -A PORT=([nostaple]=9441 [modssl]=9442 [md]=9444 [guard]=9443)

listening() { ss -ltn "sport = :$1" | grep -q LISTEN; }
wait_listening() {   # port [tenths]
    local i
    for ((i = 0; i < ${2:-100}; i++)); do listening "$1" && return 0; sleep 0.1; done
    return 1
}

# httpd is ready when its final configuration pass is done: the error
# log's AH00489 ("resuming normal operations"; a graceful restart logs it
# again) and the pid file. It listens during the first pass already, which
# with thousands of vhosts is long before it serves.
readies() { grep -c 'AH00489' "$1" 2>/dev/null || true; }   # error_log
wait_httpd_ready() {   # error_log pidfile [count [seconds]]
    local i
    for ((i = 0; i < ${4:-600} * 20; i++)); do
        [ "$(readies "$1")" -ge "${3:-1}" ] && [ -s "$2" ] && return 0
        sleep 0.05
    done
    echo "bench: httpd not ready after ${4:-600} s ($1)" >&2
    return 1
}

make_pki() {
    bash "$top/t/pki/mkpki.sh" "$pki" >/dev/null 2>&1
    chmod -R a+rX "$work"
}

# The real responder (never probed with a bare TCP connect: openssl ocsp
# spins on an empty connection; ss tells when it listens).
start_ocsp() {   # validity option, e.g. "-nmin 1"
    ( cd "$pki" && exec openssl ocsp -index index.txt -port $OCSP_PORT \
        -rsigner ocsp.crt -rkey ocsp.key -CA intermediate.crt $1 \
        >"$work/ocsp.log" 2>&1 ) &
    ocsp_pid=$!
    wait_listening $OCSP_PORT
}

# The fault responder, relaying to the real one until told otherwise.
fault() { echo "$1" > "$work/fault.mode"; }
start_fault() {
    fault relay
    perl "$top/t/bin/fault_responder.pl" --port $FAULT_PORT --mode-file "$work/fault.mode" \
        --upstream $OCSP_PORT --dir "$pki" >>"$work/fault.log" 2>&1 &
    fault_pid=$!
    wait_listening $FAULT_PORT
}
stop_fault() {   # "refused": nothing listens any more
    kill "$fault_pid" 2>/dev/null || true
    wait "$fault_pid" 2>/dev/null || true
    for _ in $(seq 50); do listening $FAULT_PORT || break; sleep 0.1; done
}

# What every httpd of the bench shares: mpm_event with two children, TLS
# 1.3 only, no session resumption (every handshake a full one).
httpd_head() {   # dir port...
    local dir=$1 port
    shift
    cat <<CONF
ServerRoot $dir
ServerName localhost
PidFile $dir/run/httpd.pid
DefaultRuntimeDir $dir/run
Mutex file:$dir/run
ErrorLog $dir/logs/error_log
LogLevel warn
User $user
Group $group
LoadModule mpm_event_module $moddir/mod_mpm_event.so
LoadModule authz_core_module $moddir/mod_authz_core.so
LoadModule socache_shmcb_module $moddir/mod_socache_shmcb.so
LoadModule ssl_module $moddir/mod_ssl.so
StartServers 2
MinSpareThreads 25
MaxSpareThreads 75
ThreadsPerChild 25
SSLProtocol -all +TLSv1.3
SSLSessionCache none
SSLSessionTickets off
CONF
    for port in "$@"; do echo "Listen 127.0.0.1:$port"; done
}

# One httpd per contender, identical TLS settings: mpm_event, TLS 1.3, the
# same EC P-256 key and chain, no session resumption.
#   contender_conf name extra-config
contender_conf() {
    local name=$1 extra=$2 dir="$work/$1" port=${PORT[$1]}
    mkdir -p "$dir/logs" "$dir/run" "$dir/state" "$dir/md"
    chown -R "$user" "$dir"
    {
        httpd_head "$dir" "$port"
        echo "$extra"
        if [ -n "${MANY_CERTS:-}" ]; then
            # MANY_CERTS=DIR:N, as mint_vhost_certs made them
            vhosts_conf "$port" "${MANY_CERTS%%:*}" "${MANY_CERTS##*:}"
        else
            cat <<CONF
<VirtualHost 127.0.0.1:$port>
    ServerName faulty.test
    SSLEngine on
    SSLCertificateFile $pki/faulty.chain.pem
    SSLCertificateKeyFile $pki/faulty.key
</VirtualHost>
CONF
        fi
    } > "$dir/httpd.conf"
}

# Name-based vhosts v1..vN.scale.test on one port, a certificate each.
vhosts_conf() {   # port certdir n
    local i
    for ((i = 1; i <= $3; i++)); do
        printf '<VirtualHost 127.0.0.1:%s>\n    ServerName v%d.scale.test\n    SSLEngine on\n    SSLCertificateFile %s/v%d.pem\n    SSLCertificateKeyFile %s/leaf.key\n</VirtualHost>\n' \
            "$1" "$i" "$2" "$i" "$2"
    done
}

# N certificates for vhosts v1..vN.scale.test, their responder at AIA_URL:
# DIR/vI.pem (leaf + issuer), DIR/leaf.key, DIR/mint/index.txt.
mint_vhost_certs() {   # dir n aia-url
    local d=$1
    mkdir -p "$d/mint"
    "$top/bench/fetch_scale" mint --count "$2" --ca-cert "$pki/intermediate.crt" \
        --ca-key "$pki/intermediate.key" --aia "$3" --dir "$d/mint" >/dev/null
    # leaves.pem holds leaf, issuer, leaf, issuer...: two certificates a file
    awk -v d="$d" '
        /-----BEGIN CERTIFICATE-----/ { n++ }
        { f = sprintf("%s/v%d.pem", d, int((n + 1) / 2)); print > f }
        /-----END CERTIFICATE-----/ && n % 2 == 0 { close(f) }
    ' "$d/mint/leaves.pem"
    cp "$d/mint/leaf.key" "$d/leaf.key"
    chmod -R a+rX "$d"
}

# What each contender is, with its defaults (the outage scenarios add only
# what makes a refresh fall inside the run: see run.sh).
contender_extra() {   # name [outage]
    local dir="$work/$1"
    case $1 in
        nostaple) ;;
        modssl) echo "SSLUseStapling on
SSLStaplingCache shmcb:$dir/run/stapling(128000)"
                [ -n "${2:-}" ] && echo "SSLStaplingStandardCacheTimeout 20" ;;
        md) echo "LoadModule md_module $moddir/mod_md.so
MDStoreDir $dir/md
MDStapling on
MDStapleOthers on" ;;
        guard) echo "LoadModule ocsp_guard_module $top/.libs/mod_ocsp_guard.so
OCSPGuardStateDir $dir/state" ;;
    esac
}

start_contender() {   # name
    "$apache" -f "$work/$1/httpd.conf" -k start
    wait_listening "${PORT[$1]}"
}
stop_contender() {   # name
    local pidfile="$work/$1/run/httpd.pid" pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    "$apache" -f "$work/$1/httpd.conf" -k stop 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
}

# Wait until a handshake gets a good staple (mod_md and mod_ocsp_guard fetch
# in the background; mod_ssl fetches in the first handshake).
wait_stapled() {   # name [seconds]
    local i n
    n=$(tr ',' '\n' <<< "$SNI" | wc -l)
    for ((i = 0; i < ${2:-20} * 4; i++)); do
        # every name once: mod_ssl fetches in a certificate's first handshake
        "$top/bench/tls_load" --port "${PORT[$1]}" --sni "$SNI" --count "$n" \
            --concurrency 1 --duration 60 | grep -q "\"stapled_good\":$n," && return 0
        sleep 0.25
    done
    echo "bench: $1 did not staple within ${2:-20} s" >&2
    return 1
}

# CPU ticks (user + system) of a process and its children, the live ones
# and those it has reaped (its cutime/cstime).
proc_ticks() {   # pid
    local total=0 pid f
    for pid in "$1" $(pgrep -P "$1" || true); do
        f=/proc/$pid/stat
        [ -r "$f" ] || continue
        # after "(comm) ": state is field 3, utime..cstime are 14..17
        total=$((total + $(sed 's/.*) //' "$f" | awk '{ print $12 + $13 + $14 + $15 }')))
    done
    echo "$total"
}
cpu_ticks() { proc_ticks "$(cat "$work/$1/run/httpd.pid")"; }   # contender
