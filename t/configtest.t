# SPDX-License-Identifier: Apache-2.0
# A broken directive fails `apachectl configtest` (httpd -t) with a
# message that says what to write instead; good values pass.
use strict;
use warnings FATAL => 'all';
use Apache::Test;
use Apache::TestUtil;
use lib 't/lib';
use OCSPGuardTest;

my @bad = (
    ['OCSPGuard maybe'                 => qr/OCSPGuard must be On or Off/],
    ['OCSPGuardTimeout 0'              => qr/OCSPGuardTimeout takes .*e\.g\. 'OCSPGuardTimeout 10'.*'0' is not/],
    ['OCSPGuardTimeout soon'           => qr/OCSPGuardTimeout takes .*'soon' is not/],
    ['OCSPGuardTimeout 5 10'           => qr/connect no longer than total.*'10' is not/],
    ['OCSPGuardRefreshWindow 120'      => qr/OCSPGuardRefreshWindow takes .*from 5 to 95.*'120' is not/],
    ['OCSPGuardRefreshWindow half'     => qr/OCSPGuardRefreshWindow takes .*'half' is not/],
    ['OCSPGuardRetry 10 5'             => qr/OCSPGuardRetry takes .*first no longer than longest.*'5' is not/],
    ['OCSPGuardRetry 0 5'              => qr/OCSPGuardRetry takes .*'0' is not/],
    ['OCSPGuardRetry 60'               => qr/OCSPGuardRetry takes two arguments/],
    ['OCSPGuardParallel 0'             => qr/OCSPGuardParallel takes .*from 1 to 1024.*'0' is not/],
    ['OCSPGuardParallel 8 16'          => qr/OCSPGuardParallel takes .*no more than the first.*'16' is not/],
    ['OCSPGuardMaxResponseSize 12'     => qr/OCSPGuardMaxResponseSize takes .*1024 to 1048576.*'12' is not/],
    # 18014398509481985 * 1024 wraps a signed 64-bit multiply to 1024
    ['OCSPGuardMaxResponseSize 18014398509481985K' => qr/OCSPGuardMaxResponseSize takes .*'18014398509481985K' is not/],
    ['OCSPGuardCache nosuch'           => qr/no shared object cache provider 'nosuch' is loaded \(loaded: .*shmcb.*Write OCSPGuardCache provider/],
    ['OCSPGuardCache shmcb:/x(99999999999999)' => qr/OCSPGuardCache: shmcb arguments .* rejected/],
    ['OCSPGuardMirror ftp://mirror.example/' => qr/OCSPGuardMirror takes http:\/\/ or https:\/\/ URLs.*'ftp:\/\/mirror\.example\/' is not/],
    ['OCSPGuardMirror http://m.example/ first' => qr/'first' must come before the URLs/],
    ['OCSPGuardProxy proxy.example:3128'  => qr/OCSPGuardProxy takes the http:\/\/ URL of a forward proxy/],
    ['OCSPGuardProxy http://p.example:3128 sometimes' => qr/'fallback' or 'always' \('sometimes' is neither\)/],
    ['OCSPGuardNotifyCmd alert.sh --now' => qr/OCSPGuardNotifyCmd takes the absolute path of an existing program.*without a shell.*'alert\.sh --now' is not/],
    ['OCSPGuardNotifyCmd /nonexistent/alert' => qr/OCSPGuardNotifyCmd takes the absolute path/],
    ['OCSPGuardExpiringWarning 0' => qr/OCSPGuardExpiringWarning takes .*from 1 to 99.*'0' is not/],
    ['OCSPGuardEventLog "|"' => qr/OCSPGuardEventLog takes a file .* or a piped program/],
    ["<VirtualHost 127.0.0.1:9>\nOCSPGuardRetry 1 2\n</VirtualHost>"
        => qr/OCSPGuardRetry cannot occur within <VirtualHost> section .*move it out/],
);
my @good = (
    "OCSPGuardTimeout 10 3\nOCSPGuardRefreshWindow 50%\nOCSPGuardRetry 30s 1h\n"
    . "OCSPGuardMaxResponseSize 16K\nOCSPGuardCache shmcb\nOCSPGuardStateDir none\n"
    . "OCSPGuardParallel 64 16\n"
    . "OCSPGuardNotifyCmd /bin/true --flag\nOCSPGuardExpiringWarning 30%\n"
    . "OCSPGuardEventLog \"|/usr/bin/logger -t ocsp-guard\"",
    "<VirtualHost 127.0.0.1:9>\nOCSPGuard Off\n</VirtualHost>",
    "<VirtualHost 127.0.0.1:9>\nOCSPGuardMirror first http://m1.example/ https://m2.example/ocsp\n"
    . "OCSPGuardProxy http://127.0.0.1:3128 always\n</VirtualHost>",
);

plan tests => 2 * @bad + @good, need_module 'ssl';

my $cfg = Apache::Test::config();
my $httpd = $cfg->{vars}{httpd};
my $t = t_dir();

sub configtest {
    my $directive = shift;
    my $file = "$t/logs/configtest.conf";
    open my $fh, '>', $file or die "$file: $!";
    print $fh <<"CONF";
ServerRoot $t
ServerName localhost
ErrorLog $t/logs/configtest_error_log
PidFile $t/logs/configtest.pid
Include $t/conf/inherit.conf
LoadModule ocsp_guard_module $t/mod_ocsp_guard.so
Listen 127.0.0.1:9
$directive
CONF
    close $fh;
    my $out = `$httpd -t -f $file 2>&1`;
    return ($? >> 8, $out);
}

for my $case (@bad) {
    my ($directive, $want) = @$case;
    my ($rc, $out) = configtest($directive);
    (my $name = $directive) =~ s/\n/ /g;
    ok t_cmp($rc != 0, 1, "configtest fails: $name");
    ok t_cmp($out, $want, "message for: $name");
}
for my $directive (@good) {
    my ($rc, $out) = configtest($directive);
    ok t_cmp($rc, 0, "configtest passes: $out");
}
