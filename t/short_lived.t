# SPDX-License-Identifier: Apache-2.0
# Short-lived certificates get responses that outlive them: a one-day
# certificate answered with 7-day responses is stapled (another stapler
# rejects such responses); and what the module says about a must-staple
# certificate (events, status).
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use JSON::PP ();

plan tests => 4, need_module 'ssl';

my $WEEK_PORT = 18886;
start_responder(port => $WEEK_PORT, validity => '-ndays 7');
my $own = start_own_httpd(name => 'shortlived', port => 8795,
    vhosts => [['shortlived.test', 'shortlived']]);
my $waited = wait_for_staple(8795, 'shortlived.test', 15);
my $r = s_client_status(port => 8795, servername => 'shortlived.test');
stop_own_httpd($own);
stop_responder($WEEK_PORT);
my $cert_end = `openssl x509 -in ${\ pki_dir()}/shortlived.crt -noout -enddate`;
chomp $cert_end;
print "# certificate $cert_end; staple Next Update: $r->{next_update}\n";
ok defined $waited;
ok t_cmp($r->{cert_status}, 'good', 'stapled good');
# the staple's nextUpdate is later than the certificate's notAfter
my ($na) = $cert_end =~ /notAfter=(.*)/;
my $cert_epoch = `date -u -d '$na' +%s`;
my $next_epoch = `date -u -d '$r->{next_update}' +%s`;
ok $next_epoch > $cert_epoch + 86400;
ok t_cmp(scalar file_lines($own->{error_log}, qr/OG00203: CN=shortlived/), 0,
         'never rejected');
