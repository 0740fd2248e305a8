# SPDX-License-Identifier: Apache-2.0
# Structured events (OCSPGuardEventLog): one JSON object per line, with the
# fields an operator alerts on, for every kind of outcome; identical
# failures aggregated; a piped logger works.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use JSON::PP ();
use Time::HiRes qw(time sleep);

plan tests => 30, need_module 'ssl';

sub events {
    my $file = shift;
    open my $fh, '<', $file or return ();
    my @ev;
    while (my $line = <$fh>) {
        my $e = eval { JSON::PP::decode_json($line) };
        push @ev, $e // { _bad => $line };
    }
    return @ev;
}

sub wait_event {
    my ($file, $match, $timeout) = @_;
    my $end = time + ($timeout // 15);
    while (time < $end) {
        my @m = grep { $match->($_) } events($file);
        return @m if @m;
        sleep 0.1;
    }
    return ();
}

my $main = t_dir() . '/logs/ocsp_guard.json';
# the main server's certificates have been fetched by now (other tests ran)
wait_for_staple(vhost_port('good'), 'good.test', 15);
wait_event($main, sub { $_[0]{event} eq 'fetch_failed'
                        && ($_[0]{subject} // '') =~ /down\.test/ }, 10);
my @all = events($main);
ok @all > 0;
ok t_cmp(scalar(grep { $_->{_bad} } @all), 0, 'every line is JSON');
ok t_cmp(scalar(grep { ($_->{ts} // '') !~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/ } @all),
         0, 'every ts is RFC 3339 UTC');
# (responders and the shared cache are no one certificate's)
ok t_cmp(scalar(grep { $_->{event} !~ /^(?:responder|shared_cache)_/
                       && ($_->{cert_id} // '') !~ /^[0-9a-f]{40}$/ } @all),
         0, 'every certificate event names the certificate by its SHA-1');

my ($ok) = grep { $_->{event} eq 'fetch_ok' && $_->{subject} =~ /CN=good\.test/ } @all;
ok $ok;
ok t_cmp($ok->{via}, 'direct', 'fetch_ok via');
ok t_cmp($ok->{cert_status}, 'good', 'fetch_ok cert_status');
ok t_cmp($ok->{staple_state}, 'fresh', 'fetch_ok staple_state');
ok $ok->{staple_expires_in_s} > 3600 && defined $ok->{next_attempt_in_s};

my ($rev) = grep { $_->{event} eq 'cert_revoked' } @all;
ok $rev && $rev->{subject} =~ /revoked\.test/;
ok t_cmp($rev->{severity}, 'critical', 'cert_revoked severity');

my ($skip) = grep { $_->{event} eq 'cert_skipped' } @all;
ok $skip && $skip->{subject} =~ /noaia\.test/;

my ($fo) = grep { $_->{event} eq 'failover' } @all;
ok $fo && $fo->{subject} =~ /second\.test/ && $fo->{attempt} == 2;

my @down = grep { $_->{event} eq 'fetch_failed' && $_->{subject} =~ /down\.test/ } @all;
ok @down > 0;
ok t_cmp($down[0]{error_class}, 'read_timeout', 'blackhole class');
ok t_cmp($down[0]{ah}, 'AH01985', 'the mod_ssl message it replaces');
ok t_cmp($down[0]{staple_state}, 'none', 'no staple for down.test');
# aggregation: counts are 1, 2, 4, 8 ...: never one line per failure
ok t_cmp(join(',', map { $_->{count} } @down),
         join(',', map { 2 ** $_ } 0 .. $#down), 'identical failures aggregated');

# --- rejected, expiring and recovered, through a piped logger -----------
my $piped = t_dir() . '/own/events-piped.json';
my $notified = t_dir() . '/own/notified.txt';
unlink $piped, $notified;
set_fault_mode('relay');
my $own = start_own_httpd(name => 'events', port => 8700,
    vhosts => [['faulty.test', 'faulty']],
    extra  => ["OCSPGuardEventLog \"|\$/bin/cat >> $piped\"",
               'OCSPGuardRefreshWindow 95', 'OCSPGuardRetry 1 2',
               'OCSPGuardExpiringWarning 95',
               'OCSPGuardNotifyCmd ' . t_dir() . "/bin/notify_recorder.sh $notified"]);
ok scalar wait_event($piped, sub { $_[0]{event} eq 'fetch_ok' });
set_fault_mode('file:wrong_cert.der');
my ($rej) = wait_event($piped, sub { $_[0]{event} eq 'response_rejected' });
ok $rej && $rej->{error_class} eq 'wrong_cert';
ok $rej && ($rej->{staple_state} eq "stale-refreshing" || $rej->{staple_state} eq "fresh");
my ($exp) = wait_event($piped, sub { $_[0]{event} eq 'staple_expiring' });
ok $exp && $exp->{error_class} eq 'wrong_cert';
ok $exp && $exp->{staple_expires_in_s} > 0;
set_fault_mode('relay');
my ($rec) = wait_event($piped, sub { $_[0]{event} eq 'recovered' });
ok $rec;
ok $rec && $rec->{count} >= 1;
stop_own_httpd($own);
ok t_cmp(scalar(grep { $_->{_bad} } events($piped)), 0, 'piped lines are JSON');

# the alert program got the events to act on, as arguments and JSON; it
# runs in the background: wait until it has written both (at most 20 s)
my $end = time + 20;
while (time < $end) {
    my @done = file_lines($notified, qr/^ARGS recovered /);
    last if @done && (() = file_lines($notified, qr/^\{/))
                     == (() = file_lines($notified, qr/^ARGS /));
    sleep 0.2;
}
my @n = file_lines($notified, qr/./);
my @args = grep { /^ARGS / } @n;
my @json = map { JSON::PP::decode_json($_) } grep { /^\{/ } @n;
ok scalar grep { /^ARGS staple_expiring [0-9a-f]{40}$/ } @args;
ok scalar grep { /^ARGS recovered [0-9a-f]{40}$/ } @args;
ok t_cmp(scalar(@json), scalar(@args), 'one JSON event per run');
ok t_cmp(scalar(grep { $_->{event} =~ /^fetch_|^response_rejected/ } @json), 0,
         'routine events are not sent to the alert program');
