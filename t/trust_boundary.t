# SPDX-License-Identifier: Apache-2.0
# The trust boundary, tried from outside as an attacker and as an operator
# would, under load from a client that verifies every staple it gets:
#  1. a writer to the shared cache (memcached has no authentication) puts
#     a forged record under the certificate's key again and again: no
#     handshake carries it, and the server keeps stapling good responses;
#  2. memcached is killed under load, then the server restarts gracefully
#     (as logrotate does every night): nothing fails and the staples stay;
#  3. memcached comes back empty: the fetcher puts the responses back.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use IO::Socket::INET ();
use POSIX qw(_exit);
use Time::HiRes qw(time sleep);
use JSON::PP ();

my $libexec = `apxs -q LIBEXECDIR`;
chomp $libexec;
my ($memcached) = grep { -x } map { "$_/memcached" } split(/:/, $ENV{PATH}), '/usr/bin';
my $tls_load = t_dir() . '/tls_load';
plan tests => 12, need need_module('ssl'),
    { 'memcached is installed' => $memcached,
      'mod_socache_memcache is installed' => -f "$libexec/mod_socache_memcache.so",
      'bench/tls_load is built' => -x $tls_load };

my $MC_PORT = 11312;
my $pki = pki_dir();

sub start_memcached {
    my $pid = fork // die;
    if (!$pid) {
        open STDOUT, '>', '/dev/null';
        open STDERR, '>', '/dev/null';
        no warnings 'exec';
        exec $memcached, '-l', '127.0.0.1', '-p', $MC_PORT, '-U', '0', '-m', '8';
        _exit(127);
    }
    OCSPGuardTest::wait_listening($MC_PORT, 1, 10) or die "memcached did not start\n";
    return $pid;
}

sub mc {
    my ($cmd, $data) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $MC_PORT)
        or return undef;
    print $s $cmd, "\r\n", defined $data ? "$data\r\n" : '';
    my $answer = '';
    while (my $line = <$s>) {
        $answer .= $line;
        last if $line =~ /^(?:END|STORED|NOT_STORED|ERROR|OK)\r?$/;
    }
    close $s;
    return $answer;
}

sub slurp { open my $fh, '<:raw', $_[0] or die "$_[0]: $!"; local $/; <$fh> }

# the certificate's key in the shared cache: mod_ssl's id is the SHA-1 of
# the certificate's DER; mod_socache_memcache writes "namespace:hex(id)"
my $sha1 = `openssl x509 -in $pki/faulty.crt -outform DER | openssl dgst -sha1 -r`;
($sha1) = $sha1 =~ /^([0-9a-f]{40})/;
my $key = "ocsp-guard:$sha1";

# A well-formed record (right magic, right certificate, a thisUpdate newer
# than any real one, valid for a day) around a response signed by a rogue
# CA: what an attacker who can reach memcached writes.
sub forged_record {
    my $der = slurp("$pki/badsig.der");
    my $now = int(time * 1e6);
    return pack('a4 C C C C a20 Q> Q> Q> N N', 'OGR1', 1, 0, 0, 0,
                pack('H*', $sha1), $now + 5_000_000, $now + 86400_000_000,
                $now, length($der), 0) . $der;
}

sub load {
    my ($port, $seconds) = @_;
    my $out = `$tls_load --port $port --sni faulty.test --concurrency 2 --duration $seconds --issuer $pki/intermediate.crt`;
    return JSON::PP::decode_json($out);
}

my $mc_pid = start_memcached();
set_fault_mode('relay');
my $events = t_dir() . '/own/trust-events.json';
unlink $events;
my @conf = ("LoadModule socache_memcache_module $libexec/mod_socache_memcache.so",
            "OCSPGuardCache memcache:127.0.0.1:$MC_PORT",
            'OCSPGuardRefreshWindow 95', "OCSPGuardEventLog $events",
            'Listen 127.0.0.1:8771', '<VirtualHost 127.0.0.1:8771>',
            '<Location /s>', 'SetHandler ocsp-guard-status', '</Location>',
            '</VirtualHost>');
my $own = start_own_httpd(name => 'trust', port => 8770,
    vhosts => [['faulty.test', 'faulty']], extra => \@conf);
ok defined wait_for_staple(8770, 'faulty.test', 15);   # stapled before the attack

# 1. the poisoner: a forged record under our key every 20 ms
my $fetched_before = () = file_lines($own->{error_log}, qr/OG00201: CN=faulty\.test/);
my $poisoner = fork // die;
if (!$poisoner) {
    open STDOUT, '>', '/dev/null';
    while (1) {
        my $rec = forged_record();
        mc("set $key 0 0 " . length($rec), $rec);
        sleep 0.02;
    }
}
sleep 1;
ok t_cmp((split /\r?\n/, mc("get $key") // '')[0], "VALUE $key 0 " . length(forged_record()),
         'the forged record is in memcached');
my $r = load(8770, 20);
kill 'KILL', $poisoner;
waitpid $poisoner, 0;
my $fetched = (() = file_lines($own->{error_log}, qr/OG00201: CN=faulty\.test/)) - $fetched_before;
printf "# poisoned cache, 20 s: %d handshakes, %d stapled good, %d verified,"
     . " %d forged, %d failed; %d fresh responses fetched meanwhile\n",
    $r->{handshakes}, $r->{stapled_good}, $r->{verified}, $r->{forged},
    $r->{failed_connect} + $r->{failed_handshake}, $fetched;
ok t_cmp($r->{forged}, 0, 'no handshake carried the forged staple');
ok $r->{handshakes} > 100 && $r->{stapled_good} >= 0.9 * $r->{handshakes};   # at least 90% stapled good under attack
ok $fetched >= 2;   # the server kept refreshing from the network
my @rejected = grep { $_->{event} eq 'response_rejected'
                      && ($_->{via} // '') eq 'shared-cache' }
               map { JSON::PP::decode_json($_) } file_lines($events, qr/^\{/);
ok scalar(@rejected) >= 1 && $rejected[0]{error_class} eq 'verify_failed'
   && $rejected[0]{responder} =~ /^memcache:/;
# (the forged record is a response_rejected event naming the cache)
my $metrics = `curl -s 'http://127.0.0.1:8771/s?format=prometheus'`;
my ($count) = $metrics =~ /^ocsp_guard_shared_cache_rejected_total\{[^}]*\} (\d+)$/m;
ok defined $count && $count >= 1;   # rejections counted

# 2. memcached killed under load, then a graceful restart
my $out = t_dir() . '/own/trust-load.json';
my $loader = fork // die;
if (!$loader) {
    no warnings 'exec';
    exec "$tls_load --port 8770 --sni faulty.test --concurrency 2 --duration 16"
       . " --issuer $pki/intermediate.crt > $out";
    _exit(127);
}
sleep 3;
kill 'KILL', $mc_pid;
waitpid $mc_pid, 0;
sleep 3;
system($own->{httpd}, '-f', $own->{conf}, '-k', 'graceful') == 0 or die "graceful";
waitpid $loader, 0;
$r = JSON::PP::decode_json(slurp($out));
printf "# memcached killed at 3 s, graceful restart at 6 s, 16 s: %d handshakes,"
     . " %d stapled good, %d failed, %d forged\n", $r->{handshakes},
    $r->{stapled_good}, $r->{failed_connect} + $r->{failed_handshake}, $r->{forged};
ok t_cmp($r->{failed_connect} + $r->{failed_handshake}, 0, 'no handshake failed');
ok $r->{handshakes} > 100 && $r->{stapled_good} >= 0.95 * $r->{handshakes};   # at least 95% stapled good with memcached gone

# 3. memcached back, empty: the responses are put back
$mc_pid = start_memcached();
my $t0 = time;
my $back;
while (time - $t0 < 30) {
    last if ($back = mc("get $key") // '') =~ /VALUE \Q$key\E/;
    sleep 0.25;
}
printf "# memcached restarted empty: the response was back after %.1f s\n", time - $t0;
ok t_cmp((split /\r?\n/, $back)[0], qr/^VALUE \Q$key\E /, 'repopulated');
# A refresh can put the response back before the fetcher's probe of the
# shared cache (every 5 s) says it is up: wait for that (at most 30 s).
my @ev;
my $t1 = time;
while (time - $t1 < 30) {
    @ev = map { JSON::PP::decode_json($_) } file_lines($events, qr/^\{/);
    last if grep { $_->{event} =~ /^shared_cache_(?:up|repopulated)$/ } @ev;
    sleep 0.25;
}
ok scalar(grep { $_->{event} eq 'shared_cache_down' } @ev) >= 1;   # shared_cache_down said
ok scalar(grep { $_->{event} =~ /^shared_cache_(?:up|repopulated)$/ } @ev) >= 1;   # shared_cache_up said
stop_own_httpd($own);
kill 'TERM', $mc_pid;
