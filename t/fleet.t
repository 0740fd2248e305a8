# SPDX-License-Identifier: Apache-2.0
# A fleet: httpd servers sharing one cache, a real memcached and then a
# real Redis on loopback; three certificates whose responses live 60 s and
# are refreshed when 95% of that is left; one real `openssl ocsp`
# responder behind a relay that answers 50 ms late and logs each request.
# For each backend:
#  1. one server alone (no shared cache, a relay of its own) and a fleet
#     of three run side by side for 15 s: the fleet asks the responder
#     about as often as the one server, not three times as often, and its
#     metrics (reads, misses, leases won and lost, fetches saved) move;
#  2. the server that holds a lease is killed (SIGKILL) in the middle of
#     its fetch: another one fetches within one lease (the fetch timeout
#     and 2 s), and the survivors never stop stapling;
#  3. the cache goes down, then comes back empty: the metrics say so
#     (shared_cache_up, store failures, repopulated), staples stay;
#  4. a new server that reaches no responder (its only way out is a dead
#     proxy) staples what the fleet fetched from its first handshake.
# bench/fleet.sh measures the same for 1, 3 and 5 servers over 45 s.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use IO::Socket::INET ();
use POSIX qw(_exit);
use Time::HiRes qw(time sleep);
use Time::Local qw(timelocal);

my $libexec = `apxs -q LIBEXECDIR`;
chomp $libexec;
sub which {
    my $name = shift;
    return (grep { -x } map { "$_/$name" } split(/:/, $ENV{PATH}), '/usr/bin', '/usr/sbin')[0];
}
my @backends = (
    { name => 'memcached', bin => which('memcached'), provider => 'memcache', port => 11313 },
    { name => 'redis', bin => which('redis-server'), provider => 'redis', port => 16379 },
);
my $PER_BACKEND = 15;
my $WINDOW = 15;           # seconds counted, one server beside three
# OG_FLEET_BACKENDS=redis runs one (when looking into it)
my @run = $ENV{OG_FLEET_BACKENDS}
        ? grep { my $n = $_->{name}; grep { $_ eq $n } split ' ', $ENV{OG_FLEET_BACKENDS} } @backends
        : @backends;
plan tests => $PER_BACKEND * @run, need need_module('ssl'),
    { 'memcached is installed' => $backends[0]{bin},
      'redis-server is installed' => $backends[1]{bin},
      'mod_socache_memcache is installed' => -f "$libexec/mod_socache_memcache.so",
      'mod_socache_redis is installed' => -f "$libexec/mod_socache_redis.so" };

my $pki = pki_dir();
my $FAULT_LOG = t_dir() . '/logs/fault_responder.log';
my $SOLO_PORT = 18891;
my $SOLO_LOG = t_dir() . '/logs/fault_responder-solo.log';
my $TIMEOUT = 2;           # OCSPGuardTimeout of the test servers
my $LEASE = $TIMEOUT + 2;  # the lease: one fetch's timeout and 2 s
my %sha1;
for my $leaf (qw(faulty renewed good)) {
    my $out = `openssl x509 -in $pki/$leaf.crt -outform DER | openssl dgst -sha1 -r`;
    ($sha1{$leaf}) = $out =~ /^([0-9a-f]{40})/;
}

# --- the cache ------------------------------------------------------------

sub backend_start {
    my $b = shift;
    my $pid = fork // die;
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        no warnings 'exec';
        if ($b->{name} eq 'memcached') {
            exec $b->{bin}, '-l', '127.0.0.1', '-p', $b->{port}, '-U', '0', '-m', '8';
        }
        exec $b->{bin}, '--bind', '127.0.0.1', '--port', $b->{port}, '--save', '',
             '--appendonly', 'no', '--dir', t_dir() . '/logs';
        _exit(127);
    }
    OCSPGuardTest::wait_listening($b->{port}, 1, 10) or die "$b->{name} did not start\n";
    $b->{pid} = $pid;
}

sub backend_stop {
    my $b = shift;
    kill 'KILL', $b->{pid};
    waitpid $b->{pid}, 0;
    OCSPGuardTest::wait_listening($b->{port}, 0, 5);
}

# A key's raw value (mod_socache_* write "namespace:hex(id)"), undef: none.
sub cache_get {
    my ($b, $key) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $b->{port})
        or return undef;
    binmode $s;
    print $s $b->{name} eq 'memcached' ? "get $key\r\n" : "GET $key\r\n";
    my $line = <$s> // '';
    my ($len) = $line =~ /^(?:VALUE \S+ \d+ |\$)(\d+)/;
    return undef unless defined $len;
    my $data = '';
    read $s, $data, $len;
    return $data;
}

# --- the servers ----------------------------------------------------------

# Server $i: three certificates, its status on 8790 + $i. `mirror`: every
# certificate asks this URL first (the lone server's own relay).
sub server {
    my ($b, $i, %o) = @_;
    my $sport = 8790 + $i;
    my @extra = ('OCSPGuardRefreshWindow 95', "Listen 127.0.0.1:$sport",
                 "<VirtualHost 127.0.0.1:$sport>", '<Location /s>',
                 'SetHandler ocsp-guard-status', '</Location>', '</VirtualHost>');
    push @extra, "LoadModule socache_$b->{provider}_module $libexec/mod_socache_$b->{provider}.so",
                 "OCSPGuardCache $b->{provider}:127.0.0.1:$b->{port}" if $b;
    push @extra, @{ $o{extra} || [] };
    my $mirror = 'OCSPGuardMirror first ' . ($o{mirror} // "http://127.0.0.1:$FAULT_PORT/");
    my $own = start_own_httpd(name => "fleet$i", port => 8780 + $i, extra => \@extra,
        vhosts => [['faulty.test', 'faulty', $o{mirror} ? $mirror : ()],
                   ['renewed.test', 'renewed', $o{mirror} ? $mirror : ()],
                   ['good.test', 'good', $mirror]]);
    $own->{sport} = $sport;
    return $own;
}

sub all_stapled {
    my $own = shift;
    for my $name (qw(faulty renewed good)) {
        return 0 unless s_client_status(port => $own->{port}, servername => "$name.test",
                                        timeout => 5)->{stapled};
    }
    return 1;
}

sub wait_all_stapled {
    my ($own, $seconds) = @_;
    my $end = time + $seconds;
    while (time < $end) {
        return 1 if all_stapled($own);
        sleep 0.2;
    }
    return 0;
}

# The shared-cache metrics of the Prometheus text, by short name.
sub metrics {
    my $own = shift;
    my $text = `curl -s 'http://127.0.0.1:$own->{sport}/s?format=prometheus'`;
    my %m;
    $m{$1} = $2 while $text =~ /^ocsp_guard_shared_cache_(\w+?)(?:_total)?\{[^}]*\} (\d+)$/mg;
    return \%m;
}

sub sum_metric {
    my ($name, @servers) = @_;
    my $sum = 0;
    $sum += metrics($_)->{$name} // 0 for @servers;
    return $sum;
}

sub relay_requests { scalar(() = file_lines($_[0], qr/ relay/)) }

sub slurp { open my $fh, '<', $_[0] or return ''; local $/; <$fh> }

sub children {
    my $ppid = shift;
    my @kids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        my ($pid, $parent) = (slurp($stat) =~ /^(\d+) \(.*\) \S (\d+)/s);
        push @kids, $pid if defined $parent && $parent == $ppid;
    }
    return @kids;
}

# "[Mon Nov 30 13:49:58.964632 2026] ..." as seconds since the epoch
my %MON; @MON{qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)} = (0 .. 11);
sub log_time {
    my ($mon, $d, $h, $m, $s, $frac, $y) =
        $_[0] =~ /^\[\w+ (\w+) +(\d+) (\d+):(\d+):(\d+)\.(\d+) (\d+)\]/ or return undef;
    return timelocal($s, $m, $h, $d, $MON{$mon}, $y) + "0.$frac";
}

# When each fetch of CN=faulty.test by these servers began, after line
# `from` of their logs: the log line's time less the fetch's duration.
sub faulty_fetch_starts {
    my ($from, @servers) = @_;
    my @starts;
    for my $own (@servers) {
        my @lines = file_lines($own->{error_log}, qr/OG00201: CN=faulty\.test/);
        for my $line (@lines[($from->{$own->{dir}} // 0) .. $#lines]) {
            my ($ms) = $line =~ /bytes, (\d+) ms\)/;
            my $at = log_time($line);
            push @starts, $at - $ms / 1000 if defined $at && defined $ms;
        }
    }
    return sort { $a <=> $b } @starts;
}

# --- one backend ----------------------------------------------------------

for my $b (@run) {
    my $tag = $b->{name};
    backend_start($b);
    set_fault_mode('relay:50');
    start_fault(port => $SOLO_PORT, log => $SOLO_LOG);

    # 1. one server alone beside a fleet of three
    my $fleet_start = relay_requests($FAULT_LOG);
    my $solo = server(undef, 0, mirror => "http://127.0.0.1:$SOLO_PORT/");
    my @fleet = map { server($b, $_) } 1 .. 3;
    ok !grep { !wait_all_stapled($_, 20) } $solo, @fleet;    # all stapled
    my ($s0, $f0) = (relay_requests($SOLO_LOG), relay_requests($FAULT_LOG));
    sleep $WINDOW;
    my $one = relay_requests($SOLO_LOG) - $s0;
    my $three = relay_requests($FAULT_LOG) - $f0;
    printf "# %s, %d s, 3 certificates, responder 50 ms away: one server alone"
         . " made %d requests, three servers sharing the cache %d (%.2fx)\n",
        $tag, $WINDOW, $one, $three, $one ? $three / $one : 0;
    warn "# $tag: one server $one requests, three $three\n"
        unless $one >= 6 && $three <= 1.5 * $one;
    ok $one >= 6;    # the window saw refreshes
    ok $three <= 1.5 * $one;    # the fleet asks about as often as one server
    stop_own_httpd($solo);
    stop_fault($SOLO_PORT);
    my $fetched = relay_requests($FAULT_LOG) - $fleet_start;
    my %m = map { my $k = $_; ($k => sum_metric($k, @fleet)) }
            qw(up reads misses leases_won leases_lost fetches_saved);
    print "# $tag fleet metrics: ", join(', ', map { "$_ $m{$_}" } sort keys %m),
          "; $fetched requests since the start\n";
    ok t_cmp($m{up}, 3, "$tag: shared_cache_up 1 on every server");
    my $json = `curl -s 'http://127.0.0.1:$fleet[0]{sport}/s'`;
    my ($shared) = $json =~ /("shared_cache":\{[^}]*\})/;
    print "# $tag status JSON: ", $shared // substr($json, 0, 300), "\n";
    my $moved = $m{reads} >= 3 && $m{misses} >= 1;
    my $in_json = ($shared // '') =~ /"reads":\d+.*"leases_won":\d+,"leases_lost":\d+\}/;
    warn "# $tag: reads $m{reads}, misses $m{misses}; status JSON: ",
         $shared // substr($json, 0, 300), "\n" unless $moved && $in_json;
    ok $moved;      # reads and misses counted
    ok $in_json;    # the status JSON has them, with leases won and lost
    # a lease for each fetch (a fetch or two may be between its lease and
    # its request when they are counted; on a loaded machine a fetch may
    # time out and fail over past the relay, or the lone server's past its
    # own relay to this one)
    warn "# $tag: $m{leases_won} leases won, $fetched requests\n"
        unless abs($m{leases_won} - $fetched) <= 2 + $fetched / 5;
    ok abs($m{leases_won} - $fetched) <= 2 + $fetched / 5;
    ok $m{fetches_saved} >= 3;    # the others took the holder's response

    # 2. the lease holder killed in the middle of its fetch
    set_fault_mode('relay:1500');
    sleep 1;    # fetches begun at 50 ms are over, with their leases
    my $key = "ocsp-guard:$sha1{faulty}4c";
    my ($lease, $victim);
    my $end = time + 15;
    while (time < $end && !$victim) {
        $lease = cache_get($b, $key);
        if (defined $lease && length($lease) == 56) {
            my $pid = unpack 'N', substr($lease, 52, 4);
            my ($parent) = slurp("/proc/$pid/stat") =~ /^\d+ \(.*\) \S (\d+)/s;
            ($victim) = grep { $parent && slurp("$_->{dir}/run/httpd.pid") =~ /^$parent\b/ } @fleet;
            kill 'KILL', $parent, children($parent) if $victim;
        }
        sleep 0.02 unless $victim;
    }
    ok $victim;    # a lease seen, its holder killed mid-fetch
    my $taken_at = $lease ? unpack('Q>', substr($lease, 44, 8)) / 1e6 - $LEASE : time;
    my @survivors = grep { !$victim || $_ != $victim } @fleet;
    my %from = map { ($_->{dir} => scalar(() = file_lines($_->{error_log}, qr/OG00201: CN=faulty\.test/))) } @survivors;
    my ($n, $gaps, @starts) = (0, 0);
    my $t0 = time;
    while (time - $t0 < 10) {
        for my $own (@survivors) {
            $n++;
            $gaps++ unless s_client_status(port => $own->{port}, servername => 'faulty.test',
                                           timeout => 5)->{stapled};
        }
        @starts = faulty_fetch_starts(\%from, @survivors);
        last if @starts;
        sleep 0.2;
    }
    my $delay = @starts ? $starts[0] - $taken_at : -1;
    my $waited = grep { file_lines($_->{error_log}, qr/OG00321: CN=faulty\.test/) } @survivors;
    printf "# %s: the lease holder killed mid-fetch; a survivor began fetching %.1f s"
         . " after it (the lease: %d s)%s; %d handshakes on the survivors meanwhile, %d"
         . " without a staple\n", $tag, $delay, $LEASE,
        $waited ? ', having waited for it (OG00321)' : '', $n, $gaps;
    warn "# $tag: the next fetch began $delay s after the dead holder's\n"
        unless $delay >= 0 && $delay <= $LEASE + 1;
    ok $delay >= 0 && $delay <= $LEASE + 1;    # at most one lease late
    ok t_cmp($gaps, 0, "$tag: no staple lost while the holder was dead");
    ok sum_metric('leases_lost', @survivors) >= 1;    # the survivors waited

    # 3. the cache down, then back empty
    set_fault_mode('relay:50');
    backend_stop($b);
    ($n, $gaps) = (0, 0);
    my ($down, $refused);
    $t0 = time;
    while (time - $t0 < 15) {
        $n++;
        $gaps++ unless s_client_status(port => $survivors[0]{port},
                                       servername => 'renewed.test', timeout => 5)->{stapled};
        my $sm = metrics($survivors[0]);
        $down = ($sm->{up} // 1) == 0;
        $refused = $sm->{store_failures} // 0;
        last if $down && $refused >= 1;
        sleep 0.3;
    }
    printf "# %s down: noticed after %.1f s, %d store failures; %d handshakes, %d without a staple\n",
        $tag, time - $t0, $refused, $n, $gaps;
    ok $down && $refused >= 1 && $gaps == 0;    # said, counted, staples stay
    backend_start($b);
    my $back;
    $t0 = time;
    while (time - $t0 < 30) {
        # up again on each; the responses back, put back by the first to
        # see it empty (repopulated) or stored by the next refreshes
        last if $back = sum_metric('up', @survivors) == @survivors
                        && !grep { !defined cache_get($b, "ocsp-guard:$_") } values %sha1;
        sleep 0.5;
    }
    printf "# %s back empty: up and refilled after %.1f s (%d put back by the probe)\n",
        $tag, time - $t0, sum_metric('repopulated', @survivors);
    ok $back;    # shared_cache_up 1 again, the responses back

    # 4. a new server that reaches no responder staples from its first
    #    handshake what the fleet fetched
    my $lone = server($b, 4, extra => ['OCSPGuardProxy http://127.0.0.1:1/ always']);
    my @first = map { s_client_status(port => $lone->{port}, servername => "$_.test") }
                qw(faulty renewed good);
    printf "# %s: a new server with no way to any responder, its first handshakes: %s\n",
        $tag, join(', ', map { $_->{stapled} ? 'stapled' : 'no staple' } @first);
    ok t_cmp(scalar(grep { $_->{stapled} } @first), 3, "$tag: stapled from the first handshake");
    stop_own_httpd($_) for $lone, @survivors;
    backend_stop($b);
}
set_fault_mode('relay');
