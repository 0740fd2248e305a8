# SPDX-License-Identifier: Apache-2.0
# A must-staple certificate (TLS Feature status_request) is refused by
# browsers without a staple: the module says so louder and earlier. Every
# event carries must_staple; staple_expiring comes at half the validity, as
# critical; the status shows it; the doctor exits CRITICAL for a
# must-staple certificate that has no OCSP URL. (t/browser/ shows Firefox.)
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use JSON::PP ();
use Time::HiRes qw(time sleep);

my $doctor = t_dir() . '/ocsp-guard';
plan tests => 10, need need_module('ssl'), { 'ocsp-guard is built' => -x $doctor };

my $PORT = 18895;
my $pki = pki_dir();
start_responder(port => $PORT, validity => '-nmin 1');
my $events = t_dir() . '/own/must-events.json';
unlink $events;
my $own = start_own_httpd(name => 'must', port => 8800,
    vhosts => [['mustaple.test', 'mustaple']],
    extra => ['OCSPGuardRefreshWindow 95', "OCSPGuardEventLog $events",
              'Listen 127.0.0.1:8801', '<VirtualHost 127.0.0.1:8801>',
              '<Location /s>', 'SetHandler ocsp-guard-status', '</Location>',
              '</VirtualHost>']);
ok defined wait_for_staple(8800, 'mustaple.test', 15);
ok t_cmp(scalar file_lines($own->{error_log}, qr/OG00102: CN=mustaple\.test.*, must-staple\)/), 1,
         'the start-up line says must-staple');

sub events { map { JSON::PP::decode_json($_) } file_lines($events, qr/^\{/) }

# the responder refuses from now on: refreshes fail every few seconds
stop_responder($PORT);
my ($expiring, $t0) = (undef, time);
while (time - $t0 < 45) {
    ($expiring) = grep { $_->{event} eq 'staple_expiring' } events();
    last if $expiring;
    sleep 0.5;
}
printf "# staple_expiring %s with %s s of a 60 s staple left\n",
    $expiring ? $expiring->{severity} : 'never said',
    $expiring ? $expiring->{staple_expires_in_s} : '-';
ok $expiring;
ok t_cmp($expiring && $expiring->{severity}, 'critical', 'critical for must-staple');
# at half the validity, not at the 25% of OCSPGuardExpiringWarning
ok $expiring && $expiring->{staple_expires_in_s} > 15
             && $expiring->{staple_expires_in_s} <= 31;
my @all = events();
ok t_cmp(scalar(grep { !$_->{must_staple} && $_->{event} !~ /^responder_/ } @all), 0,
         'every event about the certificate says must_staple');
ok scalar(grep { $_->{event} eq 'fetch_failed' } @all) >= 1;

my $st = JSON::PP::decode_json(`curl -s http://127.0.0.1:8801/s`);
my ($c) = @{ $st->{certificates} };
ok t_cmp("$c->{must_staple} $c->{state}", '1 stale-refreshing', 'status: must-staple, stale');
my $m = `curl -s 'http://127.0.0.1:8801/s?format=prometheus'`;
ok t_cmp($m, qr/^ocsp_guard_must_staple_outage\{[^}]*mustaple[^}]*\} 0$/m,
         'no outage while the last good staple lasts');
stop_own_httpd($own);

# a must-staple certificate without an OCSP URL: the doctor is CRITICAL
my $dir = t_dir() . '/own/must-noaia';
system('mkdir', '-p', $dir);
open my $cnf, '>', "$dir/ext.cnf" or die;
print $cnf "[leaf]\nbasicConstraints = critical, CA:false\n"
         . "subjectAltName = DNS:mustnoaia.test\ntlsfeature = status_request\n";
close $cnf;
system("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $dir/k.pem 2>/dev/null"
     . " && openssl req -new -key $dir/k.pem -subj /CN=mustnoaia.test -out $dir/r.csr 2>/dev/null"
     . " && openssl x509 -req -in $dir/r.csr -CA $pki/intermediate.crt -CAkey $pki/intermediate.key"
     . " -set_serial 0x3100 -days 30 -extfile $dir/ext.cnf -extensions leaf -out $dir/c.pem 2>/dev/null"
     . " && cat $dir/c.pem $pki/intermediate.crt > $dir/chain.pem") == 0 or die "openssl";
my $out = `$doctor doctor $dir/chain.pem 2>&1`;
ok t_cmp(($? >> 8) . ' ' . ($out =~ /\[CRITICAL\] aia\s+no OCSP URL in the certificate, but it is must-staple/ ? 'said' : 'not said'),
         '2 said', 'doctor: CRITICAL for must-staple without an OCSP URL');
