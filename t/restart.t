# SPDX-License-Identifier: Apache-2.0
# Restarts: a full restart with every responder down staples from the
# state dir on the first handshake; graceful restarts under a handshake
# load lose no staple; a fetcher child killed with SIGKILL in the middle of
# a fetch does not stop the refreshing.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);

plan tests => 11, need_module 'ssl';

sub wait_count {
    my ($file, $re, $more_than, $timeout) = @_;
    my $end = time + ($timeout // 15);
    while (time < $end) {
        my $n = () = file_lines($file, $re);
        return $n if $n > $more_than;
        sleep 0.1;
    }
    return 0;
}

sub httpd_cmd {
    my ($own, $what) = @_;
    system($own->{httpd}, '-f', $own->{conf}, '-k', $what) == 0
        or die "httpd -k $what failed\n";
}

set_fault_mode('relay');
my $own = start_own_httpd(name => 'restart', port => 8670,
    vhosts => [['faulty.test', 'faulty'], ['noaia.test', 'noaia']],
    extra  => ['OCSPGuardRefreshWindow 95', 'OCSPGuardRetry 1 2']);
my $log = $own->{error_log};
ok defined wait_for_staple(8670, 'faulty.test', 15);
my $before = s_client_status(port => 8670, servername => 'faulty.test');

# --- full restart with the responder down --------------------------------
set_fault_mode('blackhole');
httpd_cmd($own, 'stop');
OCSPGuardTest::wait_listening(8670, 0, 10);
httpd_cmd($own, 'start');
OCSPGuardTest::wait_listening(8670, 1, 10);
my $first = s_client_status(port => 8670, servername => 'faulty.test');
ok $first->{handshake_ok};
ok t_cmp($first->{cert_status}, 'good',
         'first handshake after a full restart is stapled (responder down)');
ok scalar file_lines($log, qr/OG00125: 1 saved response/);

# --- graceful restarts under load -----------------------------------------
set_fault_mode('relay');
my $generations = () = file_lines($log, qr/OG00206: fetcher started/);
pipe my $rd, my $wr or die;
my $pid = fork // die;
if (!$pid) {
    close $rd;
    my ($n, $ok, $stapled) = (0, 0, 0);
    my $end = time + 6;
    while (time < $end) {
        my $r = s_client_status(port => 8670, servername => 'faulty.test');
        $n++;
        $ok++ if $r->{handshake_ok};
        $stapled++ if $r->{stapled} && $r->{cert_status} eq 'good';
    }
    print $wr "$n $ok $stapled\n";
    close $wr;
    POSIX::_exit(0);
}
close $wr;
sleep 1;
httpd_cmd($own, 'graceful');
sleep 2;
httpd_cmd($own, 'graceful');
my $line = <$rd>;
waitpid $pid, 0;
my ($n, $ok, $stapled) = split ' ', $line // '0 0 0';
print "# graceful restarts under load: $n handshakes, $ok completed, $stapled stapled\n";
ok $n > 10;
ok t_cmp($ok, $n, 'every handshake completed across graceful restarts');
ok t_cmp($stapled, $n, 'every handshake stapled across graceful restarts');

# --- SIGKILL of the fetcher child in the middle of a fetch ------------------
# the fetcher of the generation after the second graceful restart: the
# third start since the load began (however slow the machine)
wait_count($log, qr/OG00206: fetcher started/, $generations + 1, 30);
my @started = file_lines($log, qr/OG00206: fetcher started in pid (\d+)/);
my ($victim) = $started[-1] =~ /pid (\d+)/;
my $flog = t_dir() . '/logs/fault_responder.log';
my $slow0 = () = file_lines($flog, qr/ slow /);
set_fault_mode('slow');         # a fetch now hangs for the 2 s timeout
wait_count($flog, qr/ slow /, $slow0, 10);    # ... and one is in flight
ok kill('KILL', $victim);
my $fetchers0 = () = file_lines($log, qr/OG00206: fetcher started/);
set_fault_mode('relay');
my $ok0 = () = file_lines($log, qr/OG00201: CN=faulty\.test/);
ok wait_count($log, qr/OG00206: fetcher started/, $fetchers0, 20);
my @after = file_lines($log, qr/OG00206: fetcher started in pid (\d+)/);
my ($successor) = $after[-1] =~ /pid (\d+)/;
ok $successor != $victim;
ok wait_count($log, qr/OG00201: CN=faulty\.test/, $ok0, 20);
stop_own_httpd($own);
