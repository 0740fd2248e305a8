# SPDX-License-Identifier: Apache-2.0
# Handshakes at full rate while the responses they staple are replaced
# about every 100 ms: 30 certificates in name-based vhosts of one httpd,
# responses valid one minute (openssl ocsp -nmin 1) refreshed when 95% of
# their validity is left, i.e. each about every 3 s. tls_load spreads its
# handshakes over the 30 names and verifies every staple against the
# issuer. Nothing may fail, nothing forged, most stapled good, and the
# children's copies must really have been replaced under the load. Under
# make test-asan (OG_STRESS_SECONDS=60) a use-after-free of a child's copy
# being replaced while a handshake reads it would be reported.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use JSON::PP ();
use POSIX ();
use Time::HiRes qw(time sleep);

my $tls_load = t_dir() . '/tls_load';
plan tests => 9, need need_module('ssl'),
    { 'bench/tls_load is built' => -x $tls_load };

my $N = 30;
my $PORT = 8780;
my $OCSP_PORT = 18886;    # this test's own responder, responses valid 1 min
my $seconds = $ENV{OG_STRESS_SECONDS} || 20;
my $pki = pki_dir();
my $dir = "$pki/stress";

# --- 30 leaves signed by the test intermediate, AIA at the responder ------
sub run { system(@_) == 0 or die "@_: failed\n" }
system('rm', '-rf', $dir);
mkdir $dir or die "$dir: $!";
run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256"
    . " -out $dir/leaf.key 2>/dev/null");
open my $ext, '>', "$dir/ext.cnf" or die;
for my $i (1 .. $N) {
    print $ext "[s$i]\nbasicConstraints = critical, CA:false\n"
      . "keyUsage = critical, digitalSignature\nextendedKeyUsage = serverAuth\n"
      . "subjectAltName = DNS:s$i.stress.test\nauthorityKeyIdentifier = keyid\n"
      . "authorityInfoAccess = OCSP;URI:http://127.0.0.1:$OCSP_PORT/\n";
}
close $ext;
open my $idx, '>', "$dir/index.txt" or die;
for my $i (1 .. $N) {
    my $serial = sprintf '%X', 0x4000 + $i;
    my $subj = "/O=OCSP Guard Test/CN=s$i.stress.test";
    run("openssl req -new -key $dir/leaf.key -subj '$subj' -out $dir/s$i.csr"
        . " && openssl x509 -req -in $dir/s$i.csr -CA $pki/intermediate.crt"
        . " -CAkey $pki/intermediate.key -set_serial 0x$serial -days 30 -sha256"
        . " -extfile $dir/ext.cnf -extensions s$i -out $dir/s$i.crt 2>/dev/null");
    run("cat $dir/s$i.crt $pki/intermediate.crt > $dir/s$i.chain.pem");
    run("cp $dir/leaf.key $dir/s$i.key");
    # the responder's database: every leaf valid, so that it answers "good"
    my $end = `openssl x509 -in $dir/s$i.crt -noout -enddate`;
    $end =~ s/^notAfter=//;
    chomp(my $db = `date -u -d '$end' +%y%m%d%H%M%SZ`);
    print $idx "V\t$db\t\t$serial\tunknown\t$subj\n";
}
close $idx;
open my $attr, '>', "$dir/index.txt.attr" or die;
print $attr "unique_subject = no\n";
close $attr;

start_responder(port => $OCSP_PORT, validity => '-nmin 1',
                index => "$dir/index.txt");
my @names = map { "s$_.stress.test" } 1 .. $N;
# generous fetch timeouts: a fetcher starved under the load must not give
# up connections the responder already accepted (see t/conf/extra.conf.in)
my $own = start_own_httpd(name => 'stress', port => $PORT,
    vhosts => [map { ["s$_.stress.test", "stress/s$_"] } 1 .. $N],
    extra  => ['OCSPGuardRefreshWindow 95', 'OCSPGuardRetry 1 2',
               'OCSPGuardTimeout 10 10']);
my $log = $own->{error_log};

sub load {
    my (%o) = @_;
    my $out = `$tls_load --port $PORT --sni @{[ join ',', @names ]} --issuer $pki/intermediate.crt $o{args}`;
    return eval { JSON::PP::decode_json($out) } || {};
}

# every certificate stapled once before the load (the first round)
my $end = time + 60;
my $ready;
while (time < $end) {
    my $r = load(args => "--count $N --concurrency 1 --duration 60");
    last if ($ready = ($r->{stapled_good} // 0) == $N);
    sleep 0.5;
}
ok $ready;   # all 30 stapled good before the load
my $first = s_client_status(port => $PORT, servername => 's1.stress.test');

my $fetched0 = () = file_lines($log, qr/OG00201: CN=s\d+\.stress\.test/);
my $t0 = time;
# the load in the background; meanwhile the responder is kept answering
my $out = t_dir() . '/own/stress-load.json';
my $loader = fork // die "fork: $!";
if (!$loader) {
    no warnings 'exec';
    exec "$tls_load --port $PORT --sni @{[ join ',', @names ]} --issuer"
       . " $pki/intermediate.crt --concurrency 4 --duration $seconds > $out";
    POSIX::_exit(127);
}
my $restarts = 0;
while (waitpid($loader, POSIX::WNOHANG()) == 0) {
    $restarts += () = check_responders(only => $OCSP_PORT, force => 1);
    sleep 2;
}
my $r = eval { open my $fh, '<', $out or die; local $/; JSON::PP::decode_json(<$fh>) } || {};
my $took = time - $t0;
my @replaced = file_lines($log, qr/OG00201: CN=s\d+\.stress\.test/);
my %per_cert;
$per_cert{$_}++ for map { /CN=(s\d+)\./ } @replaced[$fetched0 .. $#replaced];
my ($fewest) = sort { $a <=> $b } map { $per_cert{"s$_"} // 0 } 1 .. $N;
my $fetched = @replaced - $fetched0;
my $last = s_client_status(port => $PORT, servername => 's1.stress.test');
stop_own_httpd($own);
stop_responder($OCSP_PORT);

my $failed = ($r->{failed_connect} // -1) + ($r->{failed_handshake} // -1);
my $n = $r->{handshakes} // 0;
my $figures = sprintf "%d s at full rate over %d vhosts: %d handshakes (%.0f/s), %d stapled,"
     . " %d stapled good, %d verified, %d forged, %d failed; %d responses"
     . " replaced (one every %.0f ms; each certificate at least %d times);"
     . " responder restarted %d times\n",
    $seconds, $N, $n, $r->{per_second} // 0, $r->{stapled} // 0,
    $r->{stapled_good} // 0, $r->{verified} // 0, $r->{forged} // -1, $failed,
    $fetched, $fetched ? 1000 * $took / $fetched : -1, $fewest, $restarts;
print "# $figures";
if (open my $fh, '>>', t_dir() . '/logs/stress_replace.txt') { print $fh $figures }
ok t_cmp($failed, 0, 'no handshake failed');
ok $n >= 5 * $seconds;                       # handshakes at a real rate
ok t_cmp($r->{forged}, 0, 'no staple failed verification against the issuer');
ok t_cmp($r->{verified}, $r->{stapled}, 'every staple verified');
ok $n && $r->{stapled_good} >= 0.95 * $n;    # most stapled good
# about every 100 ms when the fetcher gets the CPU it needs; under ASan on
# a loaded machine a third of that: many, and every certificate's more
# than once
ok $fetched >= 1.5 * $seconds && $fewest >= 2;
# the handshakes saw the replacements: s1's staple is a newer one now
ok $first->{this_update} ne '' && $last->{this_update} ne ''
   && $first->{this_update} ne $last->{this_update};
# no child died under it
ok t_cmp(scalar(file_lines($log, qr/AH00052|exit signal|AddressSanitizer|runtime error/)), 0,
         'no child crashed');
