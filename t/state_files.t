# SPDX-License-Identifier: Apache-2.0
# The state dir is read back at start-up and never trusted: a corrupt,
# truncated, foreign (another certificate's) or expired file is ignored
# with a line in the error log, and the server starts and handshakes.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;
use File::Copy qw(copy);

my @cases = (
    # name, how to make the file from a good record, expected log line
    ['garbage',   sub { "this is not a record\n" },                qr/OG00122: .*not a readable response record/],
    ['truncated', sub { substr($_[0], 0, length($_[0]) - 40) },    qr/OG00122: .*not a readable response record/],
    ['foreign',   sub { $_[1] },                                   qr/OG00122: .*not a readable response record/],
    ['tampered',  sub { my $r = $_[0]; substr($r, -20, 1) ^= "\x01"; $r },
                                                                   qr/OG00123: .*saved response not used: signature/],
);
plan tests => 1 + 3 * @cases, need_module 'ssl';

sub slurp { open my $fh, '<:raw', $_[0] or die "$_[0]: $!"; local $/; <$fh> }
sub spew  { open my $fh, '>:raw', $_[0] or die "$_[0]: $!"; print $fh $_[1]; close $fh }

# A run that saves good records for faulty.test and good.test.
set_fault_mode('relay');
my $own = start_own_httpd(name => 'state', port => 8680,
    vhosts => [['faulty.test', 'faulty'], ['good.test', 'good']]);
wait_for_staple(8680, 'faulty.test', 15);
wait_for_staple(8680, 'good.test', 15);
stop_own_httpd($own);
my $state = "$own->{dir}/state";
opendir my $dh, $state or die;
my @files = sort grep { /\.ocsp$/ } readdir $dh;
ok t_cmp(scalar @files, 2, 'two records saved');

# which file is whose: the module logs each certificate's id at start-up
my ($faulty_id) = map { /id ([0-9a-f]{40})/ } file_lines($own->{error_log}, qr/OG00102: CN=faulty\.test/);
my ($good_id)   = map { /id ([0-9a-f]{40})/ } file_lines($own->{error_log}, qr/OG00102: CN=good\.test/);
my $faulty_rec = slurp("$state/$faulty_id.ocsp");
my $good_rec   = slurp("$state/$good_id.ocsp");

set_fault_mode('blackhole');    # no help from the network
for my $case (@cases) {
    my ($name, $make, $want) = @$case;
    my $keep = "$own->{dir}/keep";
    $own = start_own_httpd(name => 'state', port => 8680,
        vhosts => [['faulty.test', 'faulty']],
        prepare => sub {
            spew("$_[0]/state/$faulty_id.ocsp", $make->($faulty_rec, $good_rec));
        });
    my $r = s_client_status(port => 8680, servername => 'faulty.test');
    stop_own_httpd($own);
    ok t_cmp(scalar(file_lines($own->{error_log}, $want)) > 0, 1,
             "$name file: said so in the log");
    ok $r->{handshake_ok};
    ok !$r->{stapled};
}
set_fault_mode('relay');
