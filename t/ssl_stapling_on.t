# SPDX-License-Identifier: Apache-2.0
# With mod_ssl's SSLUseStapling on as well, certificates the module took are
# still answered by it alone: mod_ssl never runs its own blocking fetch,
# even for a certificate whose responder is a blackhole.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;

plan tests => 5, need_module 'ssl';

my $t = t_dir();
my $own = start_own_httpd(name => 'sslon', port => 8730,
    vhosts => [['down.test', 'down'], ['noaia.test', 'noaia'],
               ['good.test', 'good']],
    extra  => ['SSLUseStapling on', 'SSLStaplingResponderTimeout 3',
               "SSLStaplingCache shmcb:$t/own/sslon/run/stapling(65536)"]);
my (@d, @n, $all_ok, $stapled) = ();
($all_ok, $stapled) = (1, 0);
for (1 .. 5) {
    my $a = s_client_status(port => 8730, servername => 'down.test');
    my $b = s_client_status(port => 8730, servername => 'noaia.test');
    $all_ok &&= $a->{handshake_ok} && $b->{handshake_ok};
    $stapled ||= $a->{stapled};
    push @d, $a->{elapsed_s};
    push @n, $b->{elapsed_s};
}
my $ratio = median(@d) / median(@n);
printf "# SSLUseStapling on, blackholed responder: %.3f s vs %.3f s (ratio %.2f)\n",
    median(@d), median(@n), $ratio;
my $g = s_client_status(port => 8730, servername => 'good.test');
stop_own_httpd($own);
ok $all_ok;
ok !$stapled;
ok $ratio < 2.5;
ok t_cmp($g->{cert_status}, 'good', 'good staple from the module');
# mod_ssl's own fetch would log AH01941 (responder error) for down.test;
# its own lines, "AHnnnnn: ...", not the module's OG00203 that names them
# ("as mod_ssl's AH01985"), logged once the fetcher's 2 s timeout is over
ok t_cmp(scalar(file_lines($own->{error_log}, qr/\b(?:AH01941|AH01974|AH01985): /)), 0,
         'mod_ssl never fetched');
