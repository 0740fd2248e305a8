# SPDX-License-Identifier: Apache-2.0
# Existing mod_ssl configurations just work: with no OCSPGuardMirror,
# OCSPGuardProxy or OCSPGuardTimeout, a vhost's SSLStaplingForceURL is its
# first responder (the AIA URLs after it), SSLOCSPProxyURL its proxy (every
# request through it, as mod_ssl does) and SSLStaplingResponderTimeout the
# fetch timeout; an explicit OCSPGuard* directive wins; what comes from a
# mirror is validated like anything else.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;

plan tests => 12, need_module 'ssl';

my $pki = pki_dir();

# 1. SSLStaplingForceURL: the certificate's own responder is a blackhole,
#    the forced URL answers
my $own = start_own_httpd(name => 'forceurl', port => 8780, bare => 1,
    vhosts => [['down.test', 'down',
                "SSLStaplingForceURL http://127.0.0.1:$RESPONDER_PORT/"]]);
my $waited = wait_for_staple(8780, 'down.test', 20);
my $r = s_client_status(port => 8780, servername => 'down.test');
stop_own_httpd($own);
printf "# SSLStaplingForceURL, AIA blackholed: stapled after %s s\n",
    defined $waited ? sprintf('%.1f', $waited) : 'never';
ok defined $waited && $waited < 20;
ok t_cmp($r->{cert_status}, 'good', 'SSLStaplingForceURL: good staple');
ok t_cmp(scalar file_lines($own->{error_log},
         qr/OG00102: CN=down\.test.*trying http:\/\/127\.0\.0\.1:$RESPONDER_PORT\/, then http:\/\/127\.0\.0\.1:18881\/ \(mirror from SSLStaplingForceURL\)/),
         1, 'start-up line: the forced URL first, the AIA URL kept after it');

# 2. SSLOCSPProxyURL at server level, SSLStaplingResponderTimeout: the
#    responder's name resolves only through the proxy
my $access = start_proxy();
my $before = () = file_lines($access, qr/ocsp\.via-proxy\.test/);
$own = start_own_httpd(name => 'proxyurl', port => 8781, bare => 1,
    extra => ["SSLOCSPProxyURL http://127.0.0.1:$PROXY_PORT/",
              'SSLStaplingResponderTimeout 3'],
    vhosts => [['proxied.test', 'proxied']]);
$waited = wait_for_staple(8781, 'proxied.test', 20);
$r = s_client_status(port => 8781, servername => 'proxied.test');
stop_own_httpd($own);
my $through = (() = file_lines($access, qr/ocsp\.via-proxy\.test/)) - $before;
printf "# SSLOCSPProxyURL: stapled after %s s, %d request(s) through squid\n",
    defined $waited ? sprintf('%.1f', $waited) : 'never', $through;
ok defined $waited && $waited < 20;
ok t_cmp($r->{cert_status}, 'good', 'SSLOCSPProxyURL: good staple');
ok $through >= 1;
ok t_cmp(scalar file_lines($own->{error_log}, qr/\(direct/), 0,
         'SSLOCSPProxyURL: never directly, as mod_ssl');
ok t_cmp(scalar file_lines($own->{error_log},
         qr/OG00126: fetch timeout 3 s, from SSLStaplingResponderTimeout/), 1,
         'SSLStaplingResponderTimeout is the fetch timeout');

# 3. an explicit OCSPGuardProxy wins over SSLOCSPProxyURL
$own = start_own_httpd(name => 'proxywins', port => 8782,
    extra => ['SSLOCSPProxyURL http://127.0.0.1:1/',
              "OCSPGuardProxy http://127.0.0.1:$PROXY_PORT/ always"],
    vhosts => [['proxied.test', 'proxied']]);
$waited = wait_for_staple(8782, 'proxied.test', 20);
stop_own_httpd($own);
ok defined $waited;
ok t_cmp(scalar file_lines($own->{error_log}, qr/127\.0\.0\.1:1\//), 0,
         'the OCSPGuard* directive wins');
stop_proxy();

# 4. a forged response from the forced URL is never stapled
set_fault_mode('file:badsig.der');
$own = start_own_httpd(name => 'forcebad', port => 8783,
    vhosts => [['faulty.test', 'faulty',
                "SSLStaplingForceURL http://127.0.0.1:$FAULT_PORT/bad"]]);
my $stapled = 0;
my $t0 = time;
while (time - $t0 < 6) {
    $stapled++ if s_client_status(port => 8783, servername => 'faulty.test')->{stapled};
    select undef, undef, undef, 0.3;
}
stop_own_httpd($own);
set_fault_mode('relay');
ok t_cmp($stapled, 0, 'forged answers from the forced URL never stapled');
ok scalar file_lines($own->{error_log},
    qr/OG00203: CN=faulty\.test.*\/bad \(mirror\) failed \[verify_failed/);
