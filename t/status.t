# SPDX-License-Identifier: Apache-2.0
# The status handler: JSON per certificate and Prometheus metrics, that
# change as a responder goes down and comes back; access by Require.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use Apache::TestRequest qw(GET);
use lib 't/lib';
use OCSPGuardTest;
use JSON::PP ();
use Time::HiRes qw(time sleep);

plan tests => 26, need_module 'ssl';

wait_for_staple(vhost_port('good'), 'good.test', 15);
s_client_status(port => vhost_port('noaia'), servername => 'noaia.test');
# the blackholed responder's first fetch takes the 2 s timeout to fail
my $res;
my $end = time + 15;
while (1) {
    $res = GET '/ocsp-guard-status';
    last if $res->content =~ /"subject":"CN=down\.test[^}]*"consecutive_failures":[1-9]/
         || time > $end;
    sleep 0.2;
}
ok t_cmp($res->code, 200, 'status handler answers');
ok t_cmp($res->header('Content-Type'), qr{application/json}, 'JSON');
my $st = JSON::PP::decode_json($res->content);
my %by = map { ($_->{vhosts} =~ /^([^:]+)/)[0] => $_ } @{ $st->{certificates} };
ok t_cmp($by{'good.test'}{stapled_by}, 'mod_ocsp_guard', 'good: ours');
ok t_cmp($by{'good.test'}{state}, 'fresh', 'good: fresh');
ok t_cmp($by{'good.test'}{source}, 'direct', 'good: source');
ok $by{'good.test'}{staples_served} >= 1;
ok $by{'good.test'}{fetches_ok} >= 1;
ok t_cmp($by{'noaia.test'}{stapled_by}, 'none (no OCSP URL)', 'noaia: nobody');
ok t_cmp($by{'offvh.test'}{stapled_by}, 'mod_ssl (OCSPGuard Off)', 'offvh');
ok t_cmp($by{'down.test'}{state}, 'none', 'down: no staple');
ok t_cmp($by{'down.test'}{last_error_class}, 'read_timeout', 'down: class');
ok $by{'down.test'}{consecutive_failures} >= 1;

ok t_cmp(GET('/ocsp-guard-status-denied')->code, 403, 'Require applies');

my $prom = GET '/ocsp-guard-status?format=prometheus';
ok t_cmp($prom->header('Content-Type'), qr{text/plain}, 'metrics type');
my $m = $prom->content;
ok $m =~ /^ocsp_guard_staples_served_total\{cert_id="[0-9a-f]{40}",subject="CN=good\.test,O=OCSP Guard Test"\} [1-9]/m;
ok $m =~ /^ocsp_guard_fetches_total\{[^}]*subject="CN=down\.test[^}]*outcome="failed",error_class="read_timeout"\} [1-9]/m;
ok $m =~ /^ocsp_guard_staple_expires_in_seconds\{[^}]*good\.test[^}]*\} \d{4,}/m;
# what the cache holds: one record per stapled certificate, in a shmcb
# sized at start-up; nothing lost or refused so far
my ($entries) = $m =~ /^ocsp_guard_cache_entries\{cache="shmcb:[^"]+"\} (\d+)$/m;
my ($bytes) = $m =~ /^ocsp_guard_cache_bytes\{[^}]*\} (\d+)$/m;
my ($cap) = $m =~ /^ocsp_guard_cache_capacity_bytes\{[^}]*\} (\d+)$/m;
my $held = () = $m =~ /^ocsp_guard_staple_expires_in_seconds\{.*\} [1-9]\d*$/mg;
ok defined $entries && $entries >= 2 && $entries == $held;
ok defined $bytes && $bytes > 300 * $entries;
ok defined $cap && $cap >= 512 * 1024 && $cap > $bytes;
ok $m =~ /^ocsp_guard_cache_evictions_total 0$/m && $m =~ /^ocsp_guard_cache_store_failures_total 0$/m;

# the same numbers move as a responder goes down and comes back
set_fault_mode('relay');
my $libexec = `apxs -q LIBEXECDIR`;
chomp $libexec;
my $own = start_own_httpd(name => 'status', port => 8710,
    vhosts => [['faulty.test', 'faulty']],
    extra  => ['OCSPGuardRefreshWindow 95', 'OCSPGuardRetry 1 2',
               "LoadModule status_module $libexec/mod_status.so",
               'Listen 127.0.0.1:8711',
               '<VirtualHost 127.0.0.1:8711>',
               '<Location /s>', 'SetHandler ocsp-guard-status', '</Location>',
               '<Location /server-status>', 'SetHandler server-status', '</Location>',
               '</VirtualHost>']);
sub own_status {
    my $j = `curl -s http://127.0.0.1:8711/s`;
    my $d = eval { JSON::PP::decode_json($j) } or return {};
    return $d->{certificates}[0];
}
sub wait_status {
    my ($cond, $timeout) = @_;
    my $end = time + ($timeout // 15);
    while (time < $end) { my $c = own_status(); return $c if $cond->($c); sleep 0.2 }
    return own_status();
}
my $c = wait_status(sub { ($_[0]{state} // '') eq 'fresh' });
ok t_cmp($c->{state}, 'fresh', 'own: fresh');
set_fault_mode('http500');
$c = wait_status(sub { ($_[0]{consecutive_failures} // 0) >= 1 });
ok t_cmp("$c->{state} $c->{last_error_class}", 'stale-refreshing http_status',
         'own: responder down shows');
set_fault_mode('relay');
$c = wait_status(sub { ($_[0]{consecutive_failures} // 1) == 0 });
ok t_cmp("$c->{state} $c->{consecutive_failures}", 'fresh 0', 'own: back');
# a section in mod_status, HTML and ?auto
my $html = `curl -s http://127.0.0.1:8711/server-status`;
ok t_cmp($html, qr{<h2>mod_ocsp_guard</h2>.*CN=faulty\.test.*<td>fresh</td>}s,
         'server-status section');
my $auto = `curl -s 'http://127.0.0.1:8711/server-status?auto'`;
ok t_cmp($auto, qr/^OCSPGuard: [0-9a-f]{40} fresh \d+$/m, 'server-status?auto line');
stop_own_httpd($own);
