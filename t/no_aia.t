# SPDX-License-Identifier: Apache-2.0
# A certificate without an OCSP URL (many CAs dropped OCSP in 2025): the
# module declines it with one info line, and handshakes go on unstapled.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;

plan tests => 4, need_module 'ssl';

my $r = s_client_status(port => vhost_port('noaia'),
                        servername => 'noaia.test');
ok $r->{handshake_ok};
ok !$r->{stapled};
my @info = error_log_lines(qr/OG00103: CN=noaia\.test/);
ok @info >= 1;
my @errors = grep { /noaia/ && /:(error|crit|alert|emerg)\]/ }
             error_log_lines(qr/noaia/);
ok t_cmp(scalar @errors, 0, 'no error-level line about noaia');
