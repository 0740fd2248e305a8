# SPDX-License-Identifier: Apache-2.0
# Renewals stapled from their first handshake: the operator's renewal hook
# runs `ocsp-guard fetch --state-dir DIR` on the new certificate before the
# graceful restart; the responder is down by the time of the restart; the
# very first handshake with the new certificate carries a good staple.
# Without the prefetch, the same restart gives the first handshakes none.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;

my $tool = t_dir() . '/ocsp-guard';
plan tests => 9, need need_module('ssl'), { 'ocsp-guard is built' => -x $tool };

my $pki = pki_dir();
set_fault_mode('relay');
my $own = start_own_httpd(name => 'prefetch', port => 8790,
    vhosts => [['faulty.test', 'faulty']]);
ok defined wait_for_staple(8790, 'faulty.test', 15);
my $state = "$own->{dir}/state";

# the renewal hook: certbot --deploy-hook, acme.sh --reloadcmd ...
my $out = `$tool fetch --state-dir $state $pki/renewed.chain.pem 2>&1`;
my $rc = $? >> 8;
print map { "# $_\n" } split /\n/, $out;
ok t_cmp($rc, 0, 'ocsp-guard fetch: exit 0');
ok t_cmp($out, qr/^OK\s+\S+renewed\.chain\.pem: good, valid until \S+, from http:\/\/127\.0\.0\.1:18890\//m,
         'one line per certificate');
# a certificate it cannot get a response for: exit non-zero, says why
my $bad = `$tool fetch --state-dir $state --timeout 1 $pki/down.chain.pem 2>&1`;
ok t_cmp($? >> 8, 2, 'no valid response: exit 2');
ok t_cmp($bad, qr/^CRITICAL\s+\S+down\.chain\.pem: no valid response: .*read_timeout/m, 'and why');

sub swap_to {
    my ($leaf) = @_;
    open my $in, '<', $own->{conf} or die;
    my $conf = do { local $/; <$in> };
    close $in;
    $conf =~ s{/\w+\.chain\.pem}{/$leaf.chain.pem}g;
    $conf =~ s{/\w+\.key}{/$leaf.key}g;
    open my $w, '>', $own->{conf} or die;
    print $w $conf;
    close $w;
    system($own->{httpd}, '-f', $own->{conf}, '-k', 'graceful') == 0 or die;
}

# the responder goes down, then the new certificate goes live
set_fault_mode('blackhole');
swap_to('renewed');
my $first;
for (1 .. 100) {
    $first = s_client_status(port => 8790, servername => 'faulty.test');
    last if $first->{handshake_ok} && lc $first->{serial} eq '300b'
         || $first->{handshake_ok} && $first->{peer_cn} eq 'renewed.test';
    select undef, undef, undef, 0.1;
}
printf "# first handshake with the new certificate: %s, serial %s\n",
    $first->{stapled} ? "stapled $first->{cert_status}" : 'no staple',
    $first->{serial} || '-';
ok t_cmp($first->{peer_cn}, 'renewed.test', 'the new certificate is served');
ok t_cmp($first->{cert_status}, 'good', 'stapled good on the first handshake');
ok t_cmp(lc $first->{serial}, '300b', 'the staple is the new certificate\'s');

# the contrast: no prefetch (its saved response removed), same restart
unlink glob("$state/*.ocsp");
swap_to('faulty');
swap_to('renewed');
my $cold;
for (1 .. 100) {
    $cold = s_client_status(port => 8790, servername => 'faulty.test');
    last if $cold->{handshake_ok} && $cold->{peer_cn} eq 'renewed.test';
    select undef, undef, undef, 0.1;
}
printf "# without the prefetch: %s\n", $cold->{stapled} ? 'stapled' : 'no staple';
ok !$cold->{stapled};
stop_own_httpd($own);
set_fault_mode('relay');
