# SPDX-License-Identifier: Apache-2.0
# A fleet sharing one cache: OCSPGuardCache memcache: with a real memcached.
# Server A fetches; server B, whose responder is down, staples from the
# shared cache. When memcached loses everything (flush_all), A notices
# within its presence check, says so, and puts the response back from its
# state dir, without a gap in stapling.
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

# memcached loses everything
my $mc = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $MC_PORT) or die;
print $mc "flush_all\r\n";
my $answer = <$mc>;
close $mc;
ok t_cmp($answer, qr/^OK/, 'memcached flushed');
# A child with no copy yet finds the cache empty, tells the fetcher, which
# puts the response back within about a second (every 15 s it also checks
# on its own). Children that had a copy keep stapling meanwhile.
my $t0 = time;
my ($seen, $gaps, $n, $last_gap) = (0, 0, 0, 0);
while (time - $t0 < 20) {
    my $r = s_client_status(port => 8760, servername => 'faulty.test');
    $n++;
    if (!$r->{stapled}) { $gaps++; $last_gap = time - $t0 }
    $seen ||= file_lines($a->{error_log}, qr/OG00303: CN=faulty\.test.*put back from the state dir/);
    last if $seen && time - $t0 > $last_gap + 2;
    sleep 0.2;
}
printf "# after the flush: %d handshakes, %d without a staple, the last at %.1f s\n",
    $n, $gaps, $last_gap;
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
sleep 12;
stop_own_httpd($fa);
stop_own_httpd($fb);
my $requests = (() = file_lines($flog, qr/ relay /)) - $from;
my $taken = () = (file_lines($fa->{error_log}, qr/OG00207/),
                  file_lines($fb->{error_log}, qr/OG00207/));
my $fetched = () = (file_lines($fa->{error_log}, qr/OG00201/),
                    file_lines($fb->{error_log}, qr/OG00201/));
print "# two servers, 12 s: $requests requests to the responder, $fetched fetched, $taken taken from the shared cache\n";
ok $taken >= 1;
ok t_cmp($requests, $fetched, 'only the fetches reached the responder');
kill 'TERM', $pid;
set_fault_mode('relay');
ok $seen;
ok $last_gap < 3;
ok $after->{stapled};
# the loss is an event an operator can alert on, with what was done about it
my @lost = grep { $_->{event} eq 'cache_full' }
           map { JSON::PP::decode_json($_) } file_lines($events, qr/^\{/);
ok t_cmp(scalar(@lost), 1, 'one cache_full event for the flush');
ok t_cmp($lost[0] && $lost[0]{detail}, qr/evicted from memcache:.*put back from the state dir/, 'cache_full: what happened');
