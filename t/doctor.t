# SPDX-License-Identifier: Apache-2.0
# ocsp-guard doctor: the verdict and the Nagios exit code for a healthy, a
# down (with and without a saved staple), a no-AIA certificate and a chain
# without its issuer; --json for machines. It is pointed only at the fault
# responder: its TCP probe would upset `openssl ocsp` (see DESIGN.md).
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use JSON::PP ();

my $doctor = t_dir() . '/ocsp-guard';
plan tests => 20, need need_module('ssl'), { 'ocsp-guard is built' => -x $doctor };

my $pki = pki_dir();
sub doctor {
    my $out = `$doctor doctor --timeout 2 @_ 2>&1`;
    return ($? >> 8, $out);
}

set_fault_mode('relay');
my ($rc, $out) = doctor("$pki/faulty.chain.pem");
ok t_cmp($rc, 0, 'healthy: exit 0');
ok t_cmp($out, qr/\[OK\s*\] ocsp\s+http:\/\/127\.0\.0\.1:18890\/: good, valid until/, 'healthy: validated answer');
ok t_cmp($out, qr/\[OK\s*\] connect\s+127\.0\.0\.1 port 18890 over IPv4: connected/, 'TCP over IPv4');
ok t_cmp($out, qr/dns\s+127\.0\.0\.1 IPv6: no address/, 'IPv6 checked separately');

# a saved staple from a run of the module itself
my $own = start_own_httpd(name => 'doctor', port => 8750,
    vhosts => [['faulty.test', 'faulty']]);
wait_for_staple(8750, 'faulty.test', 15);
stop_own_httpd($own);

set_fault_mode('blackhole');
($rc, $out) = doctor("$pki/faulty.chain.pem");
ok t_cmp($rc, 2, 'down, nothing saved: CRITICAL');
ok t_cmp($out, qr/read_timeout, as mod_ssl's AH01985/, 'down: the class and the AH');
($rc, $out) = doctor("--state-dir $own->{dir}/state $pki/faulty.chain.pem");
ok t_cmp($rc, 1, 'down, saved staple still good: WARNING');
ok t_cmp($out, qr/\[OK\s*\] saved\s+good response from direct, valid \d+ s more/, 'saved staple');
set_fault_mode('relay');

($rc, $out) = doctor("$pki/noaia.chain.pem");
ok t_cmp($rc, 0, 'no AIA: OK, nothing to fix');
ok t_cmp($out, qr/no OCSP URL in the certificate/, 'no AIA: says so');

($rc, $out) = doctor("$pki/faulty.crt");
ok t_cmp($rc, 2, 'issuer missing: CRITICAL');
ok t_cmp($out, qr/issuer of the certificate is not in the file.*AH02217/, 'issuer missing: says what to do');
# the intermediate in a file of its own, as with SSLCertificateChainFile
($rc, $out) = doctor("--chain $pki/intermediate.crt $pki/faulty.crt");
ok t_cmp($rc, 0, 'issuer in --chain: exit 0');
ok t_cmp($out, qr/\[OK\s*\] chain\s+issuer found in \S*intermediate\.crt/, 'issuer in --chain: found there');

# every certificate of an httpd configuration, as mod_ssl lists them
my $httpd = Apache::Test::config()->{vars}{httpd};
($rc, $out) = doctor("--httpd '$httpd -f $own->{conf}'");
ok t_cmp($out, qr/faulty\.chain\.pem\n.*=> OK/s, '--httpd finds the vhost certificates');

# the same vhost with its intermediate in SSLCertificateChainFile, given by
# a path relative to the ServerRoot: --httpd finds it in the configuration
my $conf = do { open my $fh, '<', $own->{conf} or die; local $/; <$fh> };
system('cp', "$pki/intermediate.crt", "$own->{dir}/chain.crt");
$conf =~ s{SSLCertificateFile \S+faulty\.chain\.pem}
          {SSLCertificateFile $pki/faulty.crt\n    SSLCertificateChainFile "chain.crt"} or die;
my $chained = "$own->{dir}/chained.conf";
open my $cf, '>', $chained or die;
print $cf $conf;
close $cf;
($rc, $out) = doctor("--httpd '$httpd -f $chained'");
ok t_cmp($rc, 0, '--httpd with SSLCertificateChainFile: exit 0');
ok t_cmp($out, qr/issuer found in \S+\/chain\.crt/, '--httpd reads SSLCertificateChainFile');

# the module's own failover order (src/og_chain.c): mirrors first, and
# only through the proxy, which here refuses; nothing is tried directly
($rc, $out) = doctor("--mirror http://127.0.0.1:18890/ --mirrors-first"
                     . " --proxy http://127.0.0.1:1 --proxy-always $pki/good.chain.pem");
my @ways = $out =~ /\] ocsp\s+(\S+ via proxy \S+):/g;
ok t_cmp("@ways", 'http://127.0.0.1:18890/ via proxy http://127.0.0.1:1 '
                  . 'http://127.0.0.1:18880/ via proxy http://127.0.0.1:1',
         'the order the module tries: mirror first, through the proxy');
ok t_cmp(scalar(() = $out =~ /\] connect /g), 0, 'nothing direct with the proxy always');

($rc, $out) = doctor("--json $pki/faulty.chain.pem $pki/noaia.chain.pem $pki/faulty.crt");
my $j = eval { JSON::PP::decode_json($out) } || {};
ok t_cmp(join(' ', $j->{status} // '', map { $_->{status} } @{ $j->{certificates} || [] }),
         'CRITICAL OK OK CRITICAL', '--json: overall and per certificate');
