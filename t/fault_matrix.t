# SPDX-License-Identifier: Apache-2.0
# The fault matrix: every way a responder fails, in two situations.
#  warm: a good response is cached; the fault hits the next refresh. Every
#        handshake must keep getting that same valid staple, promptly.
#  cold: nothing cached, fault from the start. Every handshake must
#        complete promptly without a staple.
# In both: no handshake fails, none waits on the responder (timed side by
# side with a vhost whose certificate has no OCSP), nothing invalid is
# stapled, and the fetcher logs the fault under its class. The observed
# matrix is written to t/logs/resilience.md (docs/resilience.md).
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use Time::HiRes qw(time sleep);

my @faults = (
    # fault mode             expected class    what the responder does
    ['blackhole',           'read_timeout',   'accepts, never answers'],
    ['slow',                'read_timeout',   'answers one byte every 0.5 s'],
    ['refused',             'connect_refused','nothing listens'],
    ['http500',             'http_status',    'HTTP 500'],
    ['redirect',            'http_status',    '302 to an ftp:// URL'],
    ['garbage',             'malformed',      '200 with a body that is not OCSP'],
    ['oversize',            'too_large',      '200 with a 200 KB body'],
    ['trylater',            'ocsp_status',    'OCSP tryLater'],
    ['unauthorized',        'ocsp_status',    'OCSP unauthorized'],
    ['file:wrong_cert.der', 'wrong_cert',     'valid response for another certificate'],
    ['file:expired.der',    'expired',        'valid signature, nextUpdate passed'],
    ['file:badsig.der',     'verify_failed',  'signed by an unrelated CA'],
);
my $dns = ['dns', 'dns', 'responder host name does not resolve'];

plan tests => 6 * @faults + 5 * (@faults + 1), need_module 'ssl';

my $FAULTY_SERIAL = '3007';
my @rows;

sub apply_fault {
    my $mode = shift;
    if ($mode eq 'refused') { stop_fault() }
    else { start_fault() unless responder_running($FAULT_PORT);
           set_fault_mode($mode) }
}

sub restore { start_fault(mode => 'relay') unless responder_running($FAULT_PORT);
              set_fault_mode('relay') }

# Handshakes to `name` (alternating with the no-OCSP reference vhost) until
# `done` says so or `timeout` passes; what each one got.
sub probe_until {
    my (%o) = @_;
    my (@seen, @ref);
    my $end = time + $o{timeout};
    while (1) {
        push @seen, s_client_status(port => $o{port}, servername => $o{name});
        push @ref, s_client_status(port => $o{port}, servername => 'noaia.test');
        last if $o{done}->() || time > $end;
    }
    # a few more once the fault was seen
    for (1 .. 3) {
        push @seen, s_client_status(port => $o{port}, servername => $o{name});
        push @ref, s_client_status(port => $o{port}, servername => 'noaia.test');
    }
    return (\@seen, \@ref);
}

sub summary {
    my ($seen, $ref) = @_;
    my @t = map { $_->{elapsed_s} } @$seen;
    my ($max) = sort { $b <=> $a } @t;
    return (
        ok      => scalar(grep { $_->{handshake_ok} } @$seen),
        stapled => scalar(grep { $_->{stapled} } @$seen),
        n       => scalar @$seen,
        max_ms  => 1000 * $max,
        ratio   => median(@t) / median(map { $_->{elapsed_s} } @$ref),
    );
}

# ---- warm: a good response is cached when the fault starts ----------------
my $warm = start_own_httpd(
    name   => 'warm', port => 8650,
    vhosts => [['faulty.test', 'faulty'], ['noaia.test', 'noaia']],
    extra  => ['OCSPGuardRefreshWindow 95', 'OCSPGuardRetry 1 2'],
);
my $log = $warm->{error_log};
for my $f (@faults) {
    my ($mode, $class, $what) = @$f;
    restore();
    # wait for a fresh good fetch, then take its staple as the reference
    my $before = () = file_lines($log, qr/OG00201: CN=faulty\.test/);
    my $end = time + 15;
    sleep 0.1 while time < $end
        && (() = file_lines($log, qr/OG00201: CN=faulty\.test/)) <= $before;
    my $s0 = s_client_status(port => 8650, servername => 'faulty.test');
    apply_fault($mode);
    my $fails0 = () = file_lines($log, qr/OG00203: CN=faulty\.test.*\[$class,/);
    my ($seen, $ref) = probe_until(port => 8650, name => 'faulty.test',
        timeout => 15, done => sub {
            (() = file_lines($log, qr/OG00203: CN=faulty\.test.*\[$class,/)) > $fails0 });
    my $logged = (() = file_lines($log, qr/OG00203: CN=faulty\.test.*\[$class,/)) > $fails0;
    my %s = summary($seen, $ref);
    my $same = grep { $_->{this_update} eq $s0->{this_update}
                      && $_->{cert_status} eq 'good'
                      && lc($_->{serial}) eq $FAULTY_SERIAL } @$seen;
    ok t_cmp($s0->{cert_status}, 'good', "warm $mode: good staple before");
    ok t_cmp($logged, 1, "warm $mode: fetcher logged class $class");
    ok t_cmp($s{ok}, $s{n}, "warm $mode: every handshake completed");
    ok t_cmp($s{stapled}, $s{n}, "warm $mode: every handshake stapled");
    ok t_cmp($same, $s{n}, "warm $mode: always the last good response");
    ok $s{ratio} < 2.5;
    push @rows, sprintf "| %s | %s | warm | %d/%d | %d/%d stapled, the last good response | %s | %.0f | %.2f |",
        $mode, $what, $s{ok}, $s{n}, $s{stapled}, $s{n},
        $logged ? $class : "NOT LOGGED", $s{max_ms}, $s{ratio};
}
stop_own_httpd($warm);
restore();

# ---- cold: nothing cached, the fault from the start ------------------------
for my $f (@faults, $dns) {
    my ($mode, $class, $what) = @$f;
    my ($name, $leaf) = $mode eq 'dns' ? ('dnsfail.test', 'dnsfail')
                                       : ('faulty.test', 'faulty');
    apply_fault($mode) unless $mode eq 'dns';
    my $cold = start_own_httpd(
        name   => 'cold', port => 8651,
        vhosts => [[$name, $leaf], ['noaia.test', 'noaia']],
    );
    my $clog = $cold->{error_log};
    my ($seen, $ref) = probe_until(port => 8651, name => $name,
        timeout => 15, done => sub {
            scalar file_lines($clog, qr/OG00203: CN=\Q$name\E.*\[$class,/) });
    my $logged = scalar(file_lines($clog, qr/OG00203: CN=\Q$name\E.*\[$class,/)) ? 1 : 0;
    stop_own_httpd($cold);
    my %s = summary($seen, $ref);
    ok t_cmp($logged, 1, "cold $mode: fetcher logged class $class");
    ok t_cmp($s{ok}, $s{n}, "cold $mode: every handshake completed");
    ok t_cmp($s{stapled}, 0, "cold $mode: nothing stapled");
    ok $s{ratio} < 2.5;
    ok $s{max_ms} < 1500;
    push @rows, sprintf "| %s | %s | cold | %d/%d | %d/%d stapled | %s | %.0f | %.2f |",
        $mode, $what, $s{ok}, $s{n}, $s{stapled}, $s{n},
        $logged ? $class : "NOT LOGGED", $s{max_ms}, $s{ratio};
}
restore();

# ---- the matrix, as observed -----------------------------------------------
my $out = t_dir() . '/logs/resilience.md';
open my $fh, '>', $out or die "$out: $!";
print $fh <<'HEAD';
# Resilience: the fault matrix

Generated by `t/fault_matrix.t` on every `make test` run (do not edit by
hand). Each row is one responder fault in one situation, observed with real
`openssl s_client -status` handshakes against a real httpd while the fault
lasted:

- **warm**: a good response was cached when the fault began; the fault hit
  the next refresh (responses valid 60 s, refresh at 5% used).
- **cold**: nothing cached, the responder faulty from httpd's start.

*completed*: handshakes that completed / made. *staple*: what they got.
*class*: the failure class the module logged (event `OG00203`). *max ms*:
the slowest handshake during the fault. *ratio*: median handshake time for
the faulty certificate over that of a certificate without OCSP on the same
server, measured alternately in the same run (1.0 = costs nothing).

| fault | responder | situation | completed | staple | class | max ms | ratio |
|---|---|---|---|---|---|---|---|
HEAD
print $fh "$_\n" for @rows;
close $fh;
