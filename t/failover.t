# SPDX-License-Identifier: Apache-2.0
# The failover chain: the certificate's AIA URLs, then OCSPGuardMirror
# URLs, then the same through OCSPGuardProxy (a real squid). A mirror's
# answer is validated like the CA's: a mirror cannot forge a staple.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use Time::HiRes qw(time sleep);

plan tests => 16, need need_module('ssl'), { 'squid is installed' =>
    scalar grep { -x "$_/squid" } split /:/, "$ENV{PATH}:/usr/sbin" };

sub wait_log {
    my ($file, $re, $timeout) = @_;
    my $end = time + ($timeout // 15);
    while (time < $end) {
        my @l = file_lines($file, $re);
        return @l if @l;
        sleep 0.1;
    }
    return ();
}

my $access = start_proxy();

# 1. AIA refused, mirror up: the staple comes from the mirror
stop_fault();
my $own = start_own_httpd(name => 'mirror', port => 8660,
    vhosts => [['faulty.test', 'faulty']],
    extra  => ["OCSPGuardMirror http://127.0.0.1:$RESPONDER_PORT/"]);
my $waited = wait_for_staple(8660, 'faulty.test', 15);
my $r = s_client_status(port => 8660, servername => 'faulty.test');
stop_own_httpd($own);
ok defined $waited;
ok t_cmp($r->{cert_status}, 'good', 'mirror: good staple');
ok scalar file_lines($own->{error_log},
    qr/OG00203: CN=faulty\.test.*18890.*\(direct\).*connect_refused/);
ok scalar file_lines($own->{error_log},
    qr/OG00201: CN=faulty\.test.*from http:\/\/127\.0\.0\.1:$RESPONDER_PORT\/ \(mirror,/);

# 2. a mirror serving a forged answer is rejected, nothing is stapled
start_fault(mode => 'file:wrong_cert.der');
$own = start_own_httpd(name => 'forged', port => 8661,
    vhosts => [['dnsfail.test', 'dnsfail']],
    extra  => ["OCSPGuardMirror http://127.0.0.1:$FAULT_PORT/"]);
my @rej = wait_log($own->{error_log},
    qr/OG00203: CN=dnsfail\.test.*18890.*\(mirror\).*wrong_cert/);
set_fault_mode('file:badsig.der');
my @rej2 = wait_log($own->{error_log},
    qr/OG00203: CN=dnsfail\.test.*18890.*\(mirror\).*verify_failed/);
$r = s_client_status(port => 8661, servername => 'dnsfail.test');
stop_own_httpd($own);
set_fault_mode('relay');
ok scalar @rej;
ok scalar @rej2;
ok $r->{handshake_ok};
ok !$r->{stapled};

# 3. responder only reachable through the proxy (fallback mode)
$own = start_own_httpd(name => 'fallback', port => 8662,
    vhosts => [['proxied.test', 'proxied']],
    extra  => ["OCSPGuardProxy http://127.0.0.1:$PROXY_PORT/"]);
$waited = wait_for_staple(8662, 'proxied.test', 15);
$r = s_client_status(port => 8662, servername => 'proxied.test');
stop_own_httpd($own);
ok defined $waited;
ok t_cmp($r->{cert_status}, 'good', 'fallback proxy: good staple');
ok scalar file_lines($own->{error_log},
    qr/OG00203: CN=proxied\.test.*\(direct\).*\[dns,/);
ok scalar file_lines($own->{error_log},
    qr/OG00201: CN=proxied\.test.*via proxy .*\(proxy,/);

# 4. "always": egress only through the proxy, never directly
my $before = () = file_lines($access, qr/127\.0\.0\.1:$RESPONDER_PORT/);
$own = start_own_httpd(name => 'always', port => 8663,
    vhosts => [['good.test', 'good']],
    extra  => ["OCSPGuardProxy http://127.0.0.1:$PROXY_PORT/ always"]);
$waited = wait_for_staple(8663, 'good.test', 15);
stop_own_httpd($own);
my $after = () = file_lines($access, qr/127\.0\.0\.1:$RESPONDER_PORT/);
ok defined $waited;
ok $after > $before;
ok scalar file_lines($own->{error_log}, qr/OG00201: CN=good\.test.*\(proxy,/);
ok t_cmp(scalar file_lines($own->{error_log}, qr/\(direct/), 0,
         'always: no direct attempt');
stop_proxy();
