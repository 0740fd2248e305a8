# SPDX-License-Identifier: Apache-2.0
# An undersized shmcb cache is refused at start-up with the size to write
# instead; a tight one is warned about; the default is sized for the
# certificates.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;

plan tests => 5, need_module 'ssl';

my @eight = map { ["$_.test", $_] }
            qw(good revoked down second offvh faulty dnsfail proxied);
my $t = t_dir();

# 8 certificates cannot fit in 8 KB: refused, with the size to use
my $own = eval { start_own_httpd(name => 'cache', port => 8720, vhosts => \@eight,
    extra => ["OCSPGuardCache shmcb:$t/own/cache/run/c(8192)"]) };
ok !$own;
ok scalar file_lines("$t/own/cache/logs/error_log",
    qr/OG00116: OCSPGuardCache shmcb:.*8192 bytes cannot hold a response for each of the 8 certificates; write OCSPGuardCache shmcb:<file>\(\d+\)/);

# 8 certificates in 30 KB: starts, with a warning
$own = start_own_httpd(name => 'cache', port => 8720, vhosts => \@eight,
    extra => ["OCSPGuardCache shmcb:$t/own/cache/run/c(30000)"]);
my $r = s_client_status(port => 8720, servername => 'good.test');
stop_own_httpd($own);
ok $r->{handshake_ok};
ok scalar file_lines($own->{error_log}, qr/OG00117: .*30000 bytes is tight for 8 certificates/);

# default: no warning at all
$own = start_own_httpd(name => 'cache', port => 8720, vhosts => \@eight);
stop_own_httpd($own);
ok t_cmp(scalar(file_lines($own->{error_log}, qr/OG0011[67]/)), 0,
         'the default cache is sized for the certificates');
