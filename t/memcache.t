# SPDX-License-Identifier: Apache-2.0
# A fleet sharing one cache: OCSPGuardCache memcache: with a real memcached.
# Server A fetches; server B, whose responder is down, staples from the
# shared cache. When memcached loses everything (flush_all), A's children
# go on stapling from A's own cache, and A notices within its probe
# interval, says so, and puts the response back for the others.
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
plan tests => 11, need need_module('ssl'),
    { 'memcached is installed' => $memcached,
      'mod_socache_memcache is installed' => -f "$libexec/mod_socache_memcache.so" };

my $MC_PORT = 11311;
my $pid = fork // die;
if (!$pid) {
    open STDOUT, '>', '/dev/null';
    open STDERR, '>', '/dev/null';
    no warnings 'exec';
    exec $memcached, '-l', '127.0.0.1', '-p', $MC_PORT, '-U', '0', '-m', '8';
    _exit(127);
}
OCSPGuardTest::wait_listening($MC_PORT, 1, 10) or die "memcached did not start\n";

my @cache = ("LoadModule socache_memcache_module $libexec/mod_socache_memcache.so",
             "OCSPGuardCache memcache:127.0.0.1:$MC_PORT");
set_fault_mode('relay');
my $events = t_dir() . '/own/fleet-a-events.json';
unlink $events;
my $a = start_own_httpd(name => 'fleet-a', port => 8760,
    vhosts => [['faulty.test', 'faulty']],
    extra => [@cache, "OCSPGuardEventLog $events"]);
ok defined wait_for_staple(8760, 'faulty.test', 15);
my $ref = s_client_status(port => 8760, servername => 'faulty.test');

# B starts with its responder down and nothing saved: the fleet's cache has it
set_fault_mode('blackhole');
my $b = start_own_httpd(name => 'fleet-b', port => 8761,
    vhosts => [['faulty.test', 'faulty']], extra => [@cache]);
my $waited = wait_for_staple(8761, 'faulty.test', 10);
my $rb = s_client_status(port => 8761, servername => 'faulty.test');
ok defined $waited;
ok t_cmp($rb->{this_update}, $ref->{this_update}, 'B staples what A fetched');
stop_own_httpd($b);

# memcached loses everything. Children never read it (they read this
# server's own cache), so stapling goes on without a gap; the fetcher sees
# within its probe interval that the shared cache lost what it held and
# puts its responses back, for the other servers.
my $sha1 = `openssl x509 -in ${\ pki_dir()}/faulty.crt -outform DER | openssl dgst -sha1 -r`;
($sha1) = $sha1 =~ /^([0-9a-f]{40})/;
sub mc_cmd {
    my $mc = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $MC_PORT) or die;
    print $mc "$_[0]\r\n";
    my $answer = '';
    while (my $line = <$mc>) { $answer .= $line; last if $line =~ /^(?:END|OK|ERROR)/ }
    close $mc;
    return $answer;
}
my $answer = mc_cmd('flush_all');
ok t_cmp($answer, qr/^OK/, 'memcached flushed');
my $t0 = time;
my ($seen, $gaps, $n, $last_gap) = (0, 0, 0, 0);
while (time - $t0 < 20) {
    my $r = s_client_status(port => 8760, servername => 'faulty.test');
    $n++;
    if (!$r->{stapled}) { $gaps++; $last_gap = time - $t0 }
    $seen ||= mc_cmd("get ocsp-guard:$sha1") =~ /^VALUE /;
    last if $seen && time - $t0 > 2;
    sleep 0.2;
}
my $back_after = time - $t0;
printf "# after the flush: %d handshakes, %d without a staple; the response was back in memcached after %.1f s\n",
    $n, $gaps, $back_after;
my $after = s_client_status(port => 8760, servername => 'faulty.test');
stop_own_httpd($a);

# Two servers refreshing the same certificate every few seconds: the
# second to come due takes what the first stored instead of fetching.
set_fault_mode('relay');
my $flog = t_dir() . '/logs/fault_responder.log';
my $from = () = file_lines($flog, qr/ relay /);
my @fast = (@cache, 'OCSPGuardRefreshWindow 95');
my $fa = start_own_httpd(name => 'fleet-a', port => 8760,
    vhosts => [['faulty.test', 'faulty']], extra => [@fast]);
my $fb = start_own_httpd(name => 'fleet-b', port => 8761,
    vhosts => [['faulty.test', 'faulty']], extra => [@fast]);
# 12 s at least; longer (up to 60 s) until one of them took a response
# from the other, as refreshes come late on a slow machine
my $t12 = time + 12;
my $t60 = time + 60;
while (time < $t60) {
    last if time >= $t12
        && (file_lines($fa->{error_log}, qr/OG00207/) || file_lines($fb->{error_log}, qr/OG00207/));
    sleep 0.5;
}
stop_own_httpd($fa);
stop_own_httpd($fb);
my $requests = (() = file_lines($flog, qr/ relay /)) - $from;
my $taken = () = (file_lines($fa->{error_log}, qr/OG00207/),
                  file_lines($fb->{error_log}, qr/OG00207/));
my $fetched = () = (file_lines($fa->{error_log}, qr/OG00201/),
                    file_lines($fb->{error_log}, qr/OG00201/));
print "# two servers, @{[ int(time - $t12 + 12) ]} s: $requests requests to the responder, $fetched fetched, $taken taken from the shared cache\n";
ok $taken >= 1;
ok t_cmp($requests, $fetched, 'only the fetches reached the responder');
kill 'TERM', $pid;
set_fault_mode('relay');
ok $seen;   # the response is back in memcached
ok t_cmp($gaps, 0, 'no handshake without a staple after the flush');
ok $after->{stapled};
# the loss is an event an operator can alert on, with what was done about it
my @lost = grep { $_->{event} eq 'shared_cache_repopulated' }
           map { JSON::PP::decode_json($_) } file_lines($events, qr/^\{/);
ok t_cmp(scalar(@lost), 1, 'one shared_cache_repopulated event for the flush');
ok t_cmp($lost[0] && $lost[0]{detail}, qr/had lost what it held; 1 response\(s\) put back/, 'shared_cache_repopulated: what happened');
