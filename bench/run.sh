#!/usr/bin/env bash
# make bench (first step): healthy responder, warm caches. Three httpds with
# identical TLS settings (mpm_event, the same EC key and chain), each its own
# contender: no stapling (the physical limit), mod_ssl's SSLUseStapling with
# its defaults, and mod_ocsp_guard with its defaults. Each is loaded in turn
# by bench/tls_load, twice, alternating, so that machine noise hits all; only
# ratios are reported. Runs in a private network namespace (only lo).
# Results: bench/results/healthy.json and a table on stdout.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
if [ "$(id -u)" = 0 ] && [ -z "${OG_BENCH_IN_NETNS:-}" ]; then
    exec env OG_BENCH_IN_NETNS=1 unshare --net --pid --fork --mount-proc -- \
        bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
DURATION=${DURATION:-5}
CONC=${CONC:-8}
work="$top/build/bench"
rm -rf "$work"; mkdir -p "$work" "$top/bench/results"
bash "$top/t/pki/mkpki.sh" "$work/pki" >/dev/null
apache=$(command -v apache2 || command -v httpd)
moddir=$(apxs -q LIBEXECDIR)
user=nobody; group=$(id -gn nobody)
chmod -R a+rX "$work"

( cd "$work/pki" && exec openssl ocsp -index index.txt -port 18880 -rsigner ocsp.crt \
    -rkey ocsp.key -CA intermediate.crt -ndays 1 >"$work/ocsp.log" 2>&1 ) &
ocsp_pid=$!
for _ in $(seq 50); do ss -ltn 'sport = :18880' | grep -q LISTEN && break; sleep 0.1; done

contender() {   # name port extra-config
    local name=$1 port=$2 extra=$3 dir="$work/$1"
    mkdir -p "$dir/logs" "$dir/run" "$dir/state"
    chown -R "$user" "$dir"
    cat > "$dir/httpd.conf" <<CONF
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
Listen 127.0.0.1:$port
SSLProtocol -all +TLSv1.3
SSLSessionCache none
SSLSessionTickets off
$extra
<VirtualHost 127.0.0.1:$port>
    ServerName good.test
    SSLEngine on
    SSLCertificateFile $work/pki/good.chain.pem
    SSLCertificateKeyFile $work/pki/good.key
</VirtualHost>
CONF
    "$apache" -f "$dir/httpd.conf" -k start
}

contender nostaple 9441 ""
contender modssl 9442 "SSLUseStapling on
SSLStaplingCache shmcb:$work/modssl/run/stapling(128000)"
contender guard 9443 "LoadModule ocsp_guard_module $top/.libs/mod_ocsp_guard.so
OCSPGuardStateDir $work/guard/state"
sleep 2
# warm every cache: one stapled handshake each
for port in 9442 9443; do
    echo | openssl s_client -connect 127.0.0.1:$port -servername good.test -status >/dev/null 2>&1 || true
done
sleep 1

declare -A runs
for round in 1 2; do
    for c in nostaple:9441 modssl:9442 guard:9443; do
        name=${c%%:*}; port=${c##*:}
        "$top/bench/tls_load" --port "$port" --sni good.test --concurrency "$CONC" \
            --duration "$DURATION" > "$work/$name-$round.json"
        runs[$name]="${runs[$name]:-} $work/$name-$round.json"
    done
done
for c in nostaple modssl guard; do "$apache" -f "$work/$c/httpd.conf" -k stop; done
kill $ocsp_pid 2>/dev/null || true

OUT="$top/bench/results/healthy.json" perl -MJSON::PP -e '
    my %r;
    for my $f (@ARGV) {
        my ($name) = $f =~ m{/(\w+)-\d\.json$};
        open my $fh, "<", $f or die; local $/; my $j = decode_json(<$fh>);
        push @{ $r{$name} }, $j;
    }
    sub avg { my $s = 0; $s += $_ for @_; $s / @_ }
    my %s;
    for my $n (keys %r) {
        my @j = @{ $r{$n} };
        $s{$n} = { hps => avg(map { $_->{per_second} } @j),
                   p50 => avg(map { $_->{p50_ms} } @j),
                   p99 => avg(map { $_->{p99_ms} } @j),
                   max => (sort { $b <=> $a } map { $_->{max_ms} } @j)[0],
                   failed => eval { my $t = 0; $t += $_->{failed_connect} + $_->{failed_handshake} for @j; $t },
                   stapled => avg(map { $_->{handshakes} ? 100 * $_->{stapled} / $_->{handshakes} : 0 } @j) };
    }
    my $base = $s{nostaple};
    printf "| contender | handshakes/s | ratio to no stapling | p50 ms | p99 ms | max ms | failed | stapled %% |\n";
    printf "|---|---|---|---|---|---|---|---|\n";
    for my $n (qw(nostaple modssl guard)) {
        my $x = $s{$n};
        printf "| %s | %.0f | %.3f | %.2f | %.2f | %.1f | %d | %.1f |\n", $n, $x->{hps},
            $x->{hps} / $base->{hps}, $x->{p50}, $x->{p99}, $x->{max}, $x->{failed}, $x->{stapled};
    }
    printf "\nmod_ocsp_guard / mod_ssl stapling: %.3f\n", $s{guard}{hps} / $s{modssl}{hps};
    open my $o, ">", $ENV{OUT} or die; print $o encode_json(\%s); close $o;
' ${runs[nostaple]} ${runs[modssl]} ${runs[guard]}
