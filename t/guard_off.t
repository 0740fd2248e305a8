# SPDX-License-Identifier: Apache-2.0
# "OCSPGuard Off" in a vhost leaves its certificate to mod_ssl: the module
# says so at start-up and never fetches for it; mod_ssl's own stapling
# (SSLUseStapling on in that vhost) answers.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;

plan tests => 4, need_module 'ssl';

ok scalar error_log_lines(qr/OG00104: CN=offvh\.test.*OCSPGuard Off/);
my $r = s_client_status(port => vhost_port('offvh'),
                        servername => 'offvh.test');
ok $r->{handshake_ok};
ok t_cmp($r->{cert_status}, 'good', 'mod_ssl staples offvh itself');
my @ours = error_log_lines(qr/OG0020\d: CN=offvh\.test/);
ok t_cmp(scalar @ours, 0, 'mod_ocsp_guard never fetched for offvh');
