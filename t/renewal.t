# SPDX-License-Identifier: Apache-2.0
# A renewed certificate after a graceful restart: the old certificate's
# response is never stapled for the new one, and the new one is fetched at
# once. Checked by the serial number inside every staple seen.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use Time::HiRes qw(time sleep);

plan tests => 5, need_module 'ssl';

my $own = start_own_httpd(name => 'renewal', port => 8690,
    vhosts => [['good.test', 'good']]);
ok defined wait_for_staple(8690, 'good.test', 15);
my $old = s_client_status(port => 8690, servername => 'good.test');
ok t_cmp(lc $old->{serial}, '3001', 'old certificate stapled');

# "renew": the same vhost now serves another certificate (serial 3005)
open my $in, '<', $own->{conf} or die;
my $conf = do { local $/; <$in> };
close $in;
$conf =~ s{/good\.chain\.pem}{/second.chain.pem}g;
$conf =~ s{/good\.key}{/second.key}g;
open my $out, '>', $own->{conf} or die;
print $out $conf;
close $out;
system($own->{httpd}, '-f', $own->{conf}, '-k', 'graceful') == 0 or die;

# the staple must always be for the certificate served in that handshake
my %serial_of = ('good.test' => '3001', 'second.test' => '3005');
my ($new_at, $mismatch, $n) = (undef, 0, 0);
my $t0 = time;
while (time - $t0 < 15) {
    my $r = s_client_status(port => 8690, servername => 'good.test');
    $n++;
    $mismatch++ if $r->{stapled}
        && lc $r->{serial} ne ($serial_of{$r->{peer_cn}} // 'none');
    if ($r->{stapled} && lc $r->{serial} eq '3005') { $new_at //= time - $t0 }
    last if defined $new_at && time - $t0 > $new_at + 1;
    sleep 0.05;
}
stop_own_httpd($own);
printf "# new certificate stapled %.2f s after the graceful restart\n",
    $new_at // -1;
print "# $n handshakes, $mismatch with a staple for another certificate\n";
ok t_cmp($mismatch, 0, 'never a staple for another certificate');
ok defined $new_at;
ok defined $new_at && $new_at < 10;
