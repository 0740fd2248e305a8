# SPDX-License-Identifier: Apache-2.0
# A good response is stapled within seconds of start, with SSLUseStapling
# off and no SSLStaplingCache for the vhost; the revoked leaf staples the
# CA's "revoked"; the leaf whose first AIA URL refuses connections is
# stapled from its second URL. Checked from outside with openssl s_client
# and curl --cert-status.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use POSIX qw(strftime);
use Time::Local qw(timegm);
use Time::HiRes qw(time);

plan tests => 13, need_module 'ssl';

my $good = vhost_port('good');

# Time from httpd start ("resuming normal operations") to the first
# stapled handshake, for the issue notes.
my $waited = wait_for_staple($good, 'good.test', 20);
my $stapled_at = time;
ok defined $waited;
my ($start) = error_log_lines(qr/AH00489/);
if ($start && $start =~ /^\[\w+ (\w+) (\d+) (\d+):(\d+):(\d+)(\.\d+)? (\d+)\]/) {
    my %mon; @mon{qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec)} = 0..11;
    my $t0 = timegm($5, $4, $3, $2, $mon{$1}, $7) + ($6 // 0);
    # error_log times are local time; the suite runs with TZ unset (UTC)
    printf "# first stapled handshake %.2f s after httpd start\n",
        $stapled_at - $t0;
}

my $r = s_client_status(port => $good, servername => 'good.test');
ok $r->{handshake_ok};
ok t_cmp($r->{response_status}, 'successful', 'good: response status');
ok t_cmp($r->{cert_status}, 'good', 'good: cert status');
ok $r->{next_update} ne '';
ok t_cmp(lc $r->{serial}, '3001', 'good: staple is for the leaf served');

my $rv = s_client_status(port => vhost_port('revoked'),
                         servername => 'revoked.test');
wait_for_staple(vhost_port('revoked'), 'revoked.test', 10)
    unless $rv->{stapled};
$rv = s_client_status(port => vhost_port('revoked'),
                      servername => 'revoked.test');
ok $rv->{handshake_ok};
ok t_cmp($rv->{cert_status}, 'revoked', 'revoked: CA status stapled as is');
ok t_cmp(lc $rv->{serial}, '3002', 'revoked: staple is for the leaf served');

# failover: first AIA URL refuses, the second answers
ok defined wait_for_staple(vhost_port('second'), 'second.test', 15);
my $sr = s_client_status(port => vhost_port('second'),
                         servername => 'second.test');
ok t_cmp($sr->{cert_status}, 'good', 'second: stapled from second AIA URL');
ok scalar error_log_lines(qr/OG00203: CN=second\.test.*18883.*connect_refused/);

# curl verifies the stapled response (signature, CertID, time) itself
my $pki = pki_dir();
my $rc = system("curl -sS --cert-status --cacert $pki/root.crt"
    . " --resolve good.test:$good:127.0.0.1 -o /dev/null"
    . " https://good.test:$good/ 2>/dev/null") >> 8;
ok t_cmp($rc, 0, 'curl --cert-status accepts the staple');
