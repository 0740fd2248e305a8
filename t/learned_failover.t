# SPDX-License-Identifier: Apache-2.0
# A dead responder costs one timeout, not one per certificate: six
# certificates whose AIA responder is a blackhole, a working mirror, one
# transfer at a time. The first certificate waits out the timeout and the
# responder is marked down; the others go to the mirror at once. When the
# responder answers again, a probe finds it within the backoff and it is
# used again in its place.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use JSON::PP ();
use Time::HiRes qw(time sleep);

plan tests => 8, need_module 'ssl';

my $DEAD = 18887;           # a blackhole of this test's own
my $pki = pki_dir();
my $dir = t_dir() . '/own/learned-pki';
system('mkdir', '-p', $dir);
open my $cnf, '>', "$dir/ext.cnf" or die;
print $cnf "[leaf]\nbasicConstraints = critical, CA:false\n"
         . "authorityInfoAccess = OCSP;URI:http://127.0.0.1:$DEAD/\n";
close $cnf;
my @vhosts;
for my $i (1 .. 6) {
    my $n = "learn$i";
    system("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $dir/$n.key 2>/dev/null"
         . " && openssl req -new -key $dir/$n.key -subj /CN=$n.test -out $dir/$n.csr 2>/dev/null"
         . " && openssl x509 -req -in $dir/$n.csr -CA $pki/intermediate.crt -CAkey $pki/intermediate.key"
         . " -set_serial 0x32$i -days 30 -extfile $dir/ext.cnf -extensions leaf -out $dir/$n.crt 2>/dev/null"
         . " && cat $dir/$n.crt $pki/intermediate.crt > $dir/$n.chain.pem") == 0 or die "openssl";
    # start_own_httpd takes leaves from the suite's PKI directory
    system('cp', "$dir/$n.chain.pem", "$dir/$n.key", $pki) == 0 or die;
    push @vhosts, ["$n.test", $n];
}

start_blackhole($DEAD);
my $events = t_dir() . '/own/learned-events.json';
unlink $events;
my $t0 = time;
my $own = start_own_httpd(name => 'learned', port => 8810, vhosts => \@vhosts,
    extra => ["OCSPGuardMirror http://127.0.0.1:$RESPONDER_PORT/",
              'OCSPGuardParallel 1', "OCSPGuardEventLog $events",
              'Listen 127.0.0.1:8811', '<VirtualHost 127.0.0.1:8811>',
              '<Location /s>', 'SetHandler ocsp-guard-status', '</Location>',
              '</VirtualHost>']);
sub status { eval { JSON::PP::decode_json(`curl -s http://127.0.0.1:8811/s`) } || {} }
my ($all, $st);
while (time - $t0 < 30) {
    $st = status();
    my @fresh = grep { ($_->{state} // '') eq 'fresh' } @{ $st->{certificates} || [] };
    if (@fresh == 6) { $all = time - $t0; last }
    sleep 0.2;
}
my $timeouts = () = file_lines($own->{error_log}, qr/OG00203: .*127\.0\.0\.1:$DEAD\/ \(direct\) failed \[read_timeout/);
printf "# 6 certificates, one transfer at a time, a 2 s timeout: all stapled %.1f s after start;"
     . " %d timeout(s) waited on the dead responder\n", $all // -1, $timeouts;
ok defined $all && $all < 9;            # not 6 x 2 s
ok t_cmp($timeouts, 1, 'one timeout, not one per certificate');
my ($r) = grep { $_->{responder} =~ /:$DEAD$/ } @{ $st->{responders} || [] };
ok t_cmp($r && $r->{state}, 'down', 'the status shows it down');
my $m = `curl -s 'http://127.0.0.1:8811/s?format=prometheus'`;
ok t_cmp($m, qr/^ocsp_guard_responder_up\{responder="http:\/\/127\.0\.0\.1:$DEAD"\} 0$/m,
         'and the metric');
ok scalar grep { /"event":"responder_down"/ } file_lines($events, qr/^\{/);

# the responder comes back: the probe (30 s after the failure) finds it
stop_blackhole($DEAD);
start_responder(port => $DEAD);
my $back;
while (time - $t0 < 75) {
    $st = status();
    ($r) = grep { $_->{responder} =~ /:$DEAD$/ } @{ $st->{responders} || [] };
    if ($r && $r->{state} eq 'up') { $back = time - $t0; last }
    sleep 0.5;
}
printf "# the responder back: used again %.1f s after start\n", $back // -1;
ok defined $back;
ok scalar grep { /"event":"responder_up"/ } file_lines($events, qr/^\{/);
ok scalar file_lines($own->{error_log}, qr/OG00201: CN=learn\d\.test.*from http:\/\/127\.0\.0\.1:$DEAD\/ \(direct/);
stop_own_httpd($own);
stop_responder($DEAD);
