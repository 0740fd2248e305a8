# SPDX-License-Identifier: Apache-2.0
# mod_md's MDStapling uses the same hooks and runs first: a certificate it
# takes stays with it, and mod_ocsp_guard says so at start-up (OG00105)
# instead of fetching twice. Uses an httpd of its own so that MDStapling
# does not take the main test server's certificates.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;

my $libexec = Apache::Test::config()->{vars}{libexecdir}
    // `apxs -q LIBEXECDIR`;
chomp $libexec;
plan tests => 4, need need_module('ssl'),
    { 'mod_md is installed' => -f "$libexec/mod_md.so" };

my $own = start_own_httpd(
    name   => 'md',
    port   => 8640,
    vhosts => [['good.test', 'good']],
    extra  => ["LoadModule md_module $libexec/mod_md.so",
               "MDStoreDir @{[ t_dir() ]}/own/md/md",
               'MDStapling on'],
);
my $r = s_client_status(port => 8640, servername => 'good.test');
stop_own_httpd($own);

open my $fh, '<', $own->{error_log} or die;
my @log = <$fh>;
ok $r->{handshake_ok};
ok scalar grep { /OG00105: CN=good\.test.*another provider/ } @log;
ok scalar grep { /OG00109: .*0 of 1 certificate/ } @log;
my @fetches = grep { /OG0020\d/ } @log;
ok t_cmp(scalar @fetches, 0, 'mod_ocsp_guard fetched nothing');
