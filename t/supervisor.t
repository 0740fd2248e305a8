# SPDX-License-Identifier: Apache-2.0
# The suite's responder supervisor (check_responders in OCSPGuardTest):
# a healthy responder is left alone; one that stops answering is restarted
# as it was started, and answers again. Two ways to stop answering: the
# known `openssl ocsp` fault (a TCP connection that closes without a
# request makes it spin, DESIGN.md) and a process that is frozen (SIGSTOP,
# as a responder starved on a loaded machine looks from outside).
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use IO::Socket::INET ();
use Time::HiRes qw(sleep);

plan tests => 9, need_module 'ssl';

sub pid_of { OCSPGuardTest::read_pid($_[0]) // 0 }
# gone, or a zombie its parent (t/TEST.PL) has not reaped yet
sub gone {
    open my $fh, '<', "/proc/$_[0]/stat" or return 1;
    return (<$fh> // '') =~ /\)\s+Z/ ? 1 : 0;
}

# healthy: nothing restarted
my $pid0 = pid_of($SHORT_PORT);
ok responder_answers($SHORT_PORT);
my @r = check_responders(force => 1);
ok t_cmp("@r", '', 'healthy responders are left alone');
ok t_cmp(pid_of($SHORT_PORT), $pid0, 'same process');

# the known fault: connect, close without a request
my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $SHORT_PORT)
    or die "connect: $!";
close $s;
sleep 0.5;
my $spinning = !responder_answers($SHORT_PORT, 2);
print "# after an empty connection the responder ",
      $spinning ? "stopped answering" : "still answers", "\n";
@r = check_responders(force => 1);
ok !$spinning || "@r" eq "$SHORT_PORT";    # restarted when it had stopped
ok responder_answers($SHORT_PORT);
ok pid_of($SHORT_PORT) != $pid0 || !$spinning;

# frozen: SIGSTOP
my $pid1 = pid_of($RESPONDER_PORT);
kill 'STOP', $pid1;
@r = check_responders(force => 1, timeout => 1);
ok t_cmp("@r", "$RESPONDER_PORT", 'a frozen responder is restarted');
ok responder_answers($RESPONDER_PORT);
ok pid_of($RESPONDER_PORT) != $pid1 && gone($pid1);
