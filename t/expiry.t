# SPDX-License-Identifier: Apache-2.0
# Last good until it expires, and not a second longer: with every
# responder failing, the held response is stapled until its nextUpdate,
# then no staple at all (never an expired one), a staple_expired event, and
# the fetcher keeps trying: one fetch per round for the whole server, not
# one per child. Responses here are valid for one minute.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use JSON::PP ();
use Time::HiRes qw(time sleep);
use Time::Local qw(timegm);

plan tests => 8, need_module 'ssl';

my %mon; @mon{qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)} = 0 .. 11;
sub asn1_time {     # "Nov 23 04:13:45 2026 GMT"
    my ($m, $d, $H, $M, $S, $y) = $_[0] =~ /(\w+)\s+(\d+) (\d+):(\d+):(\d+) (\d+)/
        or return 0;
    return timegm($S, $M, $H, $d, $mon{$m}, $y);
}

set_fault_mode('relay');
my $events = t_dir() . '/own/expiry-events.json';
unlink $events;
my $own = start_own_httpd(name => 'expiry', port => 8740,
    vhosts => [['faulty.test', 'faulty']],
    extra  => ['OCSPGuardRetry 2 4', "OCSPGuardEventLog $events",
               # several children: fetches must still be one per round
               'StartServers 3', 'MinSpareThreads 75', 'ServerLimit 4',
               'MaxRequestWorkers 100']);
ok defined wait_for_staple(8740, 'faulty.test', 15);
my $held = s_client_status(port => 8740, servername => 'faulty.test');
my $next = asn1_time($held->{next_update});
ok $next > time;

# every responder down from now on
set_fault_mode('http500');
my $flog = t_dir() . '/logs/fault_responder.log';
my $from = () = file_lines($flog, qr/./);
my ($before, $after, $bad) = (0, 0, 0);
# until 4 s past nextUpdate and at least 3 handshakes after it (a slow
# machine can take seconds per handshake), at most 30 s past it
while (time < $next + 4 || ($after < 3 && time < $next + 30)) {
    my $r = s_client_status(port => 8740, servername => 'faulty.test');
    my $t = time;
    if ($r->{stapled}) {
        # a staple must still be valid when it is sent
        $bad++ if asn1_time($r->{next_update}) <= $t - 1;
        $before++;
    }
    elsif ($t > $next) {
        $after++;
    }
    sleep 0.5;
}
stop_own_httpd($own);
printf "# stapled %d handshakes before nextUpdate, %d unstapled after, %d stale\n",
    $before, $after, $bad;
ok $before > 10;
ok $after >= 3;
ok t_cmp($bad, 0, 'never an expired staple');
my @ev = map { JSON::PP::decode_json($_) } file_lines($events, qr/^\{/);
ok scalar grep { $_->{event} eq 'staple_expired' && $_->{severity} eq 'critical' } @ev;

# one fetch per round for the whole server: the responder saw exactly as
# many requests as the fetcher logged attempts in the same window
my @reqs = (file_lines($flog, qr/./))[$from .. (() = file_lines($flog, qr/./)) - 1];
my $attempts = () = file_lines($own->{error_log}, qr/OG00203: CN=faulty\.test.*http_status/);
print "# responder saw ", scalar(grep { / http500 / } @reqs),
      " requests, the fetcher made $attempts attempts\n";
ok t_cmp(scalar(grep { / http500 / } @reqs), $attempts, 'one fetch per round');
ok $attempts >= 5;
