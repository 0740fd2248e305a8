# SPDX-License-Identifier: Apache-2.0
# The handshake never waits on a responder that is down from the start:
# down.test's AIA points at a blackhole (accepts, never answers). Its
# handshakes complete, unstapled, as fast as those of a certificate with no
# OCSP at all, while the fetcher logs its timeouts in the background.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use Time::HiRes qw(sleep);

plan tests => 5, need_module 'ssl';

my $down  = vhost_port('down');
my $noaia = vhost_port('noaia');

# side by side, alternating, so machine noise hits both alike
my (@t_down, @t_ref);
my ($all_ok, $any_stapled) = (1, 0);
for (1 .. 7) {
    my $d = s_client_status(port => $down, servername => "down.test");
    my $n = s_client_status(port => $noaia, servername => 'noaia.test');
    $all_ok &&= $d->{handshake_ok} && $n->{handshake_ok};
    $any_stapled ||= $d->{stapled};
    push @t_down, $d->{elapsed_s};
    push @t_ref, $n->{elapsed_s};
}
my $ratio = median(@t_down) / median(@t_ref);
printf "# handshake median: down %.3f s, no-OCSP %.3f s, ratio %.2f\n",
    median(@t_down), median(@t_ref), $ratio;
ok $all_ok;
ok !$any_stapled;
# mod_ssl's own stapling would hold each of these for the 2 s responder
# timeout (ratio ~40); same cost as no OCSP means a ratio near 1.
ok $ratio < 2.5;

# the fetcher did try, and failed with a timeout, in the background
my $seen;
for (1 .. 60) {
    $seen = () = error_log_lines(qr/OG00203: CN=down\.test.*read_timeout/);
    last if $seen;
    sleep 0.1;
}
ok $seen;
ok scalar error_log_lines(qr/OG00204: CN=down\.test.*staple none/);
